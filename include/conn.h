/*
 * conn.h: one TCP connection: line framing with a length cap, the hello
 * deadline, caps on unsent output (its own and all connections'), and the
 * one way a connection ends.
 *
 * The owner (proto.c) sees whole lines through conn_cbs.line and is told,
 * once, through conn_cbs.closed just before the connection is freed.
 */
#ifndef CRISISD_CONN_H
#define CRISISD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "msg.h"

/*
 * Unsent output beyond this when another line is queued, and the peer is
 * not reading: drop it.  One line may take the output past it (a large
 * snapshot), so a reading peer is never cut off by a big reply.
 */
#define CONN_OUTPUT_MAX_BYTES (4u * 1024 * 1024)
/* How long a half-closed connection may take to drain its last error. */
#define CONN_LINGER_MS 2000

struct conn;

struct conn_limits {
	size_t max_line_bytes; /* a longer line: too_large, then close */
	int64_t
	    hello_timeout_ms; /* no conn_hello_done() by then: unauthorized */
};

struct conn_cbs {
	/* A whole line, without '\n' (and without a trailing '\r'). */
	void (*line)(struct conn *c, const char *line, size_t len);
	/* The connection is about to be freed; why is for the log. */
	void (*closed)(struct conn *c, const char *why);
	/* The output drained, after conn_notify_drained() asked (may be NULL).
	 */
	void (*drained)(struct conn *c);
};

/*
 * Take over an accepted, connected socket (made non-blocking here).  Returns
 * NULL, closing fd, if the connection cannot be set up.
 */
struct conn *conn_new(struct event_base *base, int fd,
    const struct conn_limits *limits, const struct conn_cbs *cbs);

struct ssl_st;

/*
 * conn_new over TLS, with ssl from tls_ssl_new() (taken over).  The
 * handshake comes first and counts against the hello deadline; a failed
 * handshake closes the connection with a log line and nothing sent (no
 * error line can be).  Everything else is as over plain TCP.
 */
struct conn *conn_new_tls(struct event_base *base, int fd, struct ssl_st *ssl,
    const struct conn_limits *limits, const struct conn_cbs *cbs);

/*
 * listen.c, around the accept callback of a TLS socket: the next
 * conn_new() of fd becomes conn_new_tls() with ssl.  conn_tls_handoff_end()
 * frees ssl if no conn_new() took it.
 */
void conn_tls_handoff(int fd, struct ssl_st *ssl);
void conn_tls_handoff_end(void);

/*
 * The subject CN of the client certificate the peer presented and that was
 * verified against tls.ca, or NULL (plain TCP, or no certificate).
 */
const char *conn_peer_cert_cn(const struct conn *c);

/* The owner's per-connection data. */
void conn_set_data(struct conn *c, void *data);
void *conn_data(const struct conn *c);

/* "127.0.0.1:51234" for the log. */
const char *conn_peer(const struct conn *c);
/* A small number unique for the life of the process, for the log. */
uint64_t conn_serial(const struct conn *c);

/* The hello succeeded: stop the hello deadline. */
void conn_hello_done(struct conn *c);

/*
 * Queue one line (a '\n' is appended).  Returns -1 if the connection is
 * closing or its unsent output was already past CONN_OUTPUT_MAX_BYTES, in
 * which case the connection is closed ("peer not reading").  A line that
 * takes all connections' unsent output past conn_set_output_total_max()
 * closes the connections holding the most the same way, this one among
 * them (-1) or not.  Either close runs from the event loop: nothing is
 * freed inside the call.
 */
int conn_send(struct conn *c, const char *line);

/*
 * Call the owner's drained callback once everything queued so far has gone
 * to the kernel (soon, from the loop, if it already has): the owner paces
 * a long stream of lines by the peer's reading, not by our memory.
 */
void conn_notify_drained(struct conn *c);

/* Bytes queued but not yet written to the socket. */
size_t conn_unsent(const struct conn *c);

/*
 * Cap the unsent output of all connections together
 * (limits.max_output_bytes_total; none until this is called).  Past it the
 * stalled connections holding the most are closed as slow readers until
 * the rest is under 90% of it (past twice the cap, stalled or not); a
 * lower cap applies at once.
 */
void conn_set_output_total_max(size_t max);
/*
 * How long a connection's output may wait with none of it leaving before
 * the connection counts as stalled (CONN_STALLED_MS unless set; 0: at
 * once, as the unit tests of the cap's arithmetic want).
 */
void conn_set_output_stall_ms(int64_t ms);
/* The unsent output of all connections, closing ones included. */
size_t conn_output_total(void);
/*
 * Hand what is queued to the kernel now, on a plain TCP connection, instead
 * of at the write event of the next loop turn; whatever the socket does not
 * take (or an error) is left to that write event.
 */
void conn_push(struct conn *c);

/*
 * Send an error reply, stop reading, half-close once it is written and close
 * after (or after CONN_LINGER_MS): the peer reads the error, not a reset.
 */
void
conn_fail(struct conn *c, json_t *id, enum msg_code code, const char *message);

/* End gracefully: stop reading, write out what is queued, half-close, close. */
void conn_finish(struct conn *c, const char *why);

/* Close now: the owner's closed callback runs, then the memory is freed. */
void conn_close(struct conn *c, const char *why);

/* Is the connection on its way out (conn_fail called)? */
bool conn_closing(const struct conn *c);

/* How many connections are open now. */
size_t conn_count(void);
/* How many of them are still waiting for their hello (or TLS handshake). */
size_t conn_unauthenticated(void);
/*
 * Make room for one more connection without a hello: the one that has
 * waited longest gets "overloaded" and is closed.
 */
void conn_evict_unauthenticated(void);

#endif
