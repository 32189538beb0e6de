/*
 * conn.c: one TCP connection on a libevent bufferevent.
 *
 * Input is cut into lines with a cap: the read high-watermark stops libevent
 * from buffering more than one capped line (plus its "\r\n"), so a peer that
 * never sends '\n' costs us at most max_line_bytes + 2 bytes before it gets
 * too_large.  Output is capped twice: at CONN_OUTPUT_MAX_BYTES for one
 * connection, and at limits.max_output_bytes_total for all of them together
 * (conn_set_output_total_max), where the connections holding the most are
 * closed as slow readers.  The total is kept as bytes are queued and
 * written, by a callback on each output buffer, so checking it costs
 * nothing; choosing whom to close walks every connection, but only when
 * the total crosses the limit.
 *
 * A connection ends in one of three ways, all through conn_close():
 *   - at once (conn_close, the peer's EOF or a socket error);
 *   - gracefully (conn_fail, or EOF with replies still queued): reading
 *     stops, the output drains, the write side is shut down, and the close
 *     waits for the peer's EOF or CONN_LINGER_MS, so the peer reads our last
 *     line instead of a reset;
 *   - soon (conn_send over the output cap): all I/O stops and the close
 *     runs from the event loop, never inside the caller's conn_send.
 *
 * The owner's line callback may close the very connection it is handed, so
 * the struct is not freed while lines are being dispatched: conn_close only
 * marks it, and the dispatcher frees it when the callback returns.
 *
 * Over TLS (conn_new_tls, or conn_new after listen.c's conn_tls_handoff)
 * the bufferevent is libevent's bufferevent_openssl, accepting; tls.c
 * answers what needs OpenSSL.  The handshake runs first, under the hello
 * deadline; if it fails the connection is closed with a log line, as no
 * error line can reach the peer.  Then all of the above holds, with two
 * differences:
 *   - no read high-watermark: bufferevent_openssl stops at it with bytes
 *     already decrypted inside OpenSSL, and would not deliver them until
 *     the peer sent more, stalling a peer that pipelines its requests.
 *     Without it, each read callback gets at most one 4 KB read plus the
 *     rest of one TLS record (16 KB), and the line cap is checked after
 *     each, so a peer never costs more than max_line_bytes + 20 KB;
 *   - the graceful close sends close_notify before shutting the write side.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"
#include "conn_int.h"
#include "log.h"
#include "msg.h"
#include "tls.h"
#include "util.h"
#include "wire.h"

/* "[" INET6_ADDRSTRLEN "]:" port, with room to spare. */
#define CONN_PEER_MAX_BYTES 64
/* Room for "no hello within N ms" and "peer not reading (N bytes unsent)". */
#define CONN_REASON_MAX_BYTES 96
/* A client certificate's CN, and OpenSSL's reason for a failure. */
#define CONN_CN_MAX_BYTES 256
#define CONN_TLS_REASON_MAX_BYTES 256

enum conn_state {
	CONN_OPEN, /* reading and delivering lines */
	CONN_DRAINING, /* reading stopped, writing out the last bytes */
	CONN_LINGER, /* write side shut, waiting for the peer's EOF */
	CONN_DYING, /* I/O stopped, closing from the event loop */
	CONN_CLOSED, /* closed callback ran; freed once dispatch ends */
};

struct conn {
	struct bufferevent *bev;
	struct event *hello_ev; /* until conn_hello_done(); then freed */
	struct event *linger_ev; /* made when the connection starts to end */
	struct event *drained_ev; /* calls cbs.drained from the loop */
	bool want_drained; /* conn_notify_drained() asked */
	/*
	 * Bytes of lines longer than the cap still being written: they do not
	 * count against it, so a reading peer is not cut off for lines sent
	 * behind a big reply.  Cleared when the output drains.
	 */
	size_t big_bytes;
	struct conn_limits limits;
	struct conn_cbs cbs;
	void *data;
	char *why; /* the reason given when the graceful close began */
	uint64_t serial;
	enum conn_state state;
	bool dispatching; /* inside the line callback loop */
	bool tls; /* a bufferevent_openssl */
	bool handshaking; /* TLS, and the handshake is not done yet */
	char *cert_cn; /* the verified client certificate's CN, or NULL */
	bool unauth; /* on the list of connections waiting for hello */
	TAILQ_ENTRY(conn) unauth_entry;
	/* Its part in the total of all connections' output (conn_output.c). */
	struct conn_output_track output;
	char peer[CONN_PEER_MAX_BYTES];
};

static size_t conn_open_count;
/* Connections waiting for their hello, oldest first. */
static TAILQ_HEAD(, conn) conn_unauth = TAILQ_HEAD_INITIALIZER(conn_unauth);
static size_t conn_unauth_count;
/* Peers that never finish a TLS handshake, logged once a minute. */
static struct log_limit conn_slow_tls_limit;
/* Connections closed for leaving over CONN_OUTPUT_MAX_BYTES unread. */
static struct log_limit conn_slow_reader_limit;
static uint64_t conn_last_serial;

/* The TLS session listen.c hands to the next conn_new() of its socket. */
static struct {
	int fd;
	struct ssl_st *ssl;
} conn_handoff = { -1, NULL };

static void conn_free(struct conn *);
static void conn_half_close(struct conn *);

/* Convert a duration in milliseconds into a struct timeval. */
static void
conn_timeval(int64_t ms, struct timeval *tv)
{
	if (ms < 0)
		ms = 0;
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* Write "127.0.0.1:51234" or "[::1]:51234" for fd's peer into buf. */
static void
conn_format_peer(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	char host[INET6_ADDRSTRLEN], port[sizeof "65535"];

	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof host, port,
	        sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy_(buf, "local", size);
		return;
	}
	if (ss.ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
}

/*
 * Replies are small and latency matters more than packet count; keepalive
 * finds gateways that vanished without a FIN.  Both fail harmlessly on
 * sockets that are not TCP, so failures are ignored.
 */
static void
conn_tune_socket(int fd)
{
	int on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
}

/* The read high-watermark: one capped line plus "\r\n". */
static size_t
conn_read_high_bytes(const struct conn_limits *limits)
{
	if (limits->max_line_bytes > SIZE_MAX - 2)
		return 0;
	return limits->max_line_bytes + 2;
}

/* Are len buffered bytes without a '\n' already more than a capped line? */
static bool
conn_partial_too_long(const struct conn *c, size_t len)
{
	return len >= 2 && len - 2 >= c->limits.max_line_bytes;
}

/* The connection no longer waits for its hello (done, or ending). */
static void
conn_unauth_leave(struct conn *c)
{
	if (!c->unauth)
		return;
	c->unauth = false;
	TAILQ_REMOVE(&conn_unauth, c, unauth_entry);
	conn_unauth_count--;
}

/* Stop the hello deadline and give back its memory. */
static void
conn_hello_stop(struct conn *c)
{
	conn_unauth_leave(c);
	if (c->hello_ev != NULL) {
		event_free(c->hello_ev);
		c->hello_ev = NULL;
	}
}

/* The linger timer fired: close with the reason the ending began with. */
static void
conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_close(c, c->why);
}

/* Close the connection ms from now unless something closes it first. */
static void
conn_linger_arm(struct conn *c, int64_t ms)
{
	struct timeval tv;

	if (c->linger_ev == NULL) {
		c->linger_ev = evtimer_new(bufferevent_get_base(c->bev),
		    conn_linger_cb, c);
		if (c->linger_ev == NULL)
			fatalx("conn_linger_arm: out of memory");
	}
	conn_timeval(ms, &tv);
	evtimer_add(c->linger_ev, &tv);
}

/*
 * Begin the graceful end: stop reading and let the output drain; the write
 * callback then half-closes.  Takes ownership of why.
 */
static void
conn_drain(struct conn *c, char *why)
{
	c->state = CONN_DRAINING;
	c->why = why;
	conn_hello_stop(c);
	bufferevent_disable(c->bev, EV_READ);
	conn_linger_arm(c, CONN_LINGER_MS);
	if (conn_unsent(c) == 0)
		conn_half_close(c);
}

/*
 * Everything is written: shut the write side so the peer sees EOF after our
 * last line, and read (discarding) until its EOF, so that unread input does
 * not turn our close into a reset.
 */
static void
conn_half_close(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->tls)
		tls_shutdown(c->bev);
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_close(c, c->why);
		return;
	}
	c->state = CONN_LINGER;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
}

/*
 * Stop all I/O and close from the event loop, not from our caller.  The
 * output cannot be drained here (a socket bufferevent freezes its front), so
 * it is dropped with the bufferevent on the next turn of the loop.
 */
static void
conn_close_soon(struct conn *c, const char *why)
{
	c->state = CONN_DYING;
	conn_output_doom(&c->output);
	/* A draining connection has the reason its ending began with. */
	free(c->why);
	c->why = xstrdup(why);
	conn_hello_stop(c);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	conn_linger_arm(c, 0);
}

/* Close, as above, a connection that leaves its output unread. */
void
conn_close_slow_reader(struct conn *c)
{
	char why[CONN_REASON_MAX_BYTES];

	snprintf(why, sizeof why, "peer not reading (%zu bytes unsent)",
	    conn_unsent(c));
	conn_close_soon(c, why);
}

/* The line cap was passed: too_large, then the graceful close. */
static void
conn_fail_too_large(struct conn *c)
{
	char message[CONN_REASON_MAX_BYTES];

	snprintf(message, sizeof message, "line longer than %zu bytes",
	    c->limits.max_line_bytes);
	conn_fail(c, NULL, CODE_TOO_LARGE, message);
}

/* Deliver each whole line in the input while the connection stays open. */
static void
conn_dispatch_lines(struct conn *c, struct evbuffer *in)
{
	char *line;
	size_t len;

	while (c->state == CONN_OPEN &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > c->limits.max_line_bytes) {
			free(line);
			conn_fail_too_large(c);
			return;
		}
		c->cbs.line(c, line, len);
		free(line);
	}
	if (c->state == CONN_OPEN &&
	    conn_partial_too_long(c, evbuffer_get_length(in)))
		conn_fail_too_large(c);
}

/* Input arrived: frame it into lines, or discard it once we are ending. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state != CONN_OPEN) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	c->dispatching = true;
	conn_dispatch_lines(c, in);
	c->dispatching = false;
	if (c->state == CONN_CLOSED)
		conn_free(c);
}

/* Tell the owner the output drained, if it asked and it has. */
static void
conn_drained(struct conn *c)
{
	if (c->state != CONN_OPEN || !c->want_drained || conn_unsent(c) > 0)
		return;
	c->want_drained = false;
	if (c->cbs.drained != NULL)
		c->cbs.drained(c);
}

/* The loop's turn to tell the owner the output drained. */
static void
conn_drained_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_drained(arg);
}

/* The output drained: if we were ending, half-close now. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (conn_unsent(c) == 0)
		c->big_bytes = 0;
	if (c->state == CONN_DRAINING)
		conn_half_close(c);
	else
		conn_drained(c);
}

/* The TLS handshake is done: note the client certificate, if any. */
static void
conn_tls_ready(struct conn *c)
{
	char cn[CONN_CN_MAX_BYTES];

	c->handshaking = false;
	if (tls_peer_cn(c->bev, cn, sizeof cn) == 0)
		c->cert_cn = xstrdup(cn);
	log_debug("%s: %s, client certificate %s%s", c->peer,
	    tls_version(c->bev), c->cert_cn != NULL ? "CN " : "",
	    c->cert_cn != NULL ? c->cert_cn : "none");
}

/*
 * The TLS handshake failed: nothing can be sent, so say why in the log.  A
 * peer that merely hung up (a health check, a port scan) is logged only at
 * debug.
 */
static void
conn_tls_failed(struct conn *c, short what, int error)
{
	char reason[CONN_TLS_REASON_MAX_BYTES];

	if (what & BEV_EVENT_EOF) {
		log_debug("%s: peer closed during the TLS handshake", c->peer);
		conn_close(c, "peer closed during the TLS handshake");
		return;
	}
	tls_error(c->bev, error, reason, sizeof reason);
	log_limited_cause(reason, LOG_LEVEL_INFO,
	    "%s: TLS handshake failed: %s", c->peer, reason);
	conn_close(c, "TLS handshake failed");
}

/* EOF or an error from the socket (or TLS: the handshake's end). */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int error = EVUTIL_SOCKET_ERROR();
	char reason[CONN_TLS_REASON_MAX_BYTES];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_tls_ready(c);
		return;
	}
	if (c->handshaking) {
		conn_tls_failed(c, what, error);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->state == CONN_OPEN &&
	    conn_unsent(c) > 0) {
		/* The peer may only have shut its write side: answer it. */
		conn_drain(c, xstrdup("peer closed"));
		return;
	}
	if (c->tls && c->why == NULL && (what & BEV_EVENT_ERROR)) {
		tls_error(c->bev, error, reason, sizeof reason);
		conn_close(c, reason);
		return;
	}
	if (c->why != NULL)
		conn_close(c, c->why);
	else if ((what & BEV_EVENT_EOF) || error == 0)
		conn_close(c, "peer closed");
	else
		conn_close(c, evutil_socket_error_to_string(error));
}

/* The hello deadline passed. */
static void
conn_hello_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char message[CONN_REASON_MAX_BYTES];

	(void)fd;
	(void)what;
	if (c->handshaking) {
		log_limited(&conn_slow_tls_limit, LOG_LEVEL_INFO,
		    "%s: no TLS handshake within %" PRId64 " ms", c->peer,
		    c->limits.hello_timeout_ms);
		conn_close(c, "no TLS handshake in time");
		return;
	}
	snprintf(message, sizeof message, "no hello within %" PRId64 " ms",
	    c->limits.hello_timeout_ms);
	conn_fail(c, NULL, CODE_UNAUTHORIZED, message);
}

/* Free everything; safe on a half-built connection. */
static void
conn_free(struct conn *c)
{
	conn_hello_stop(c);
	if (c->linger_ev != NULL)
		event_free(c->linger_ev);
	if (c->drained_ev != NULL)
		event_free(c->drained_ev);
	if (c->bev != NULL) {
		conn_output_forget(&c->output);
		bufferevent_free(c->bev);
	}
	free(c->why);
	free(c->cert_cn);
	free(c);
}

/*
 * A plain bufferevent on fd, or with ssl a TLS one in the accepting state.
 * On failure fd is closed; ssl is not freed, as libevent's constructor may
 * have freed it already: a leak on an out-of-memory path beats a double
 * free.
 */
static struct bufferevent *
conn_bufferevent(struct event_base *base, int fd, struct ssl_st *ssl)
{
	struct bufferevent *bev;

	if (ssl == NULL)
		bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	else
		bev = bufferevent_openssl_socket_new(base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return NULL;
	}
	/* Peers that close without close_notify have just closed. */
	if (ssl != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Set up a connection, plain or (with ssl) TLS; NULL and fd closed. */
static struct conn *
conn_start(struct event_base *base, int fd, struct ssl_st *ssl,
    const struct conn_limits *limits, const struct conn_cbs *cbs)
{
	struct conn *c;
	struct timeval tv;

	if (evutil_make_socket_nonblocking(fd) == -1) {
		tls_ssl_free(ssl);
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->limits = *limits;
	c->cbs = *cbs;
	c->state = CONN_OPEN;
	c->serial = ++conn_last_serial;
	conn_format_peer(fd, c->peer, sizeof c->peer);
	conn_tune_socket(fd);

	if ((c->bev = conn_bufferevent(base, fd, ssl)) == NULL) {
		conn_free(c);
		return NULL;
	}
	if (conn_output_start(&c->output, c, bufferevent_get_output(c->bev)) ==
	    -1) {
		conn_free(c);
		return NULL;
	}

	c->tls = c->handshaking = ssl != NULL;
	if (limits->hello_timeout_ms > 0) {
		if ((c->hello_ev = evtimer_new(base, conn_hello_cb, c)) ==
		    NULL) {
			conn_free(c);
			return NULL;
		}
		conn_timeval(limits->hello_timeout_ms, &tv);
		evtimer_add(c->hello_ev, &tv);
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    c->tls ? 0 : conn_read_high_bytes(limits));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1) {
		conn_free(c);
		return NULL;
	}
	conn_open_count++;
	c->unauth = true;
	TAILQ_INSERT_TAIL(&conn_unauth, c, unauth_entry);
	conn_unauth_count++;
	return c;
}

/* Take over an accepted socket; NULL (fd closed) if it cannot be set up. */
struct conn *
conn_new(struct event_base *base, int fd, const struct conn_limits *limits,
    const struct conn_cbs *cbs)
{
	struct ssl_st *ssl = conn_handoff.ssl;

	if (ssl != NULL && conn_handoff.fd == fd) {
		conn_handoff.ssl = NULL;
		conn_handoff.fd = -1;
		return conn_start(base, fd, ssl, limits, cbs);
	}
	return conn_start(base, fd, NULL, limits, cbs);
}

/* Take over an accepted socket and speak TLS on it with ssl. */
struct conn *
conn_new_tls(struct event_base *base, int fd, struct ssl_st *ssl,
    const struct conn_limits *limits, const struct conn_cbs *cbs)
{
	return conn_start(base, fd, ssl, limits, cbs);
}

/* The next conn_new() of fd speaks TLS with ssl. */
void
conn_tls_handoff(int fd, struct ssl_st *ssl)
{
	conn_tls_handoff_end();
	conn_handoff.fd = fd;
	conn_handoff.ssl = ssl;
}

/* Forget the hand-off, freeing a session no conn_new() took. */
void
conn_tls_handoff_end(void)
{
	tls_ssl_free(conn_handoff.ssl);
	conn_handoff.ssl = NULL;
	conn_handoff.fd = -1;
}

/* The verified client certificate's CN, or NULL. */
const char *
conn_peer_cert_cn(const struct conn *c)
{
	return c->cert_cn;
}

/* Attach the owner's data. */
void
conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

/* The owner's data. */
void *
conn_data(const struct conn *c)
{
	return c->data;
}

/* The peer's address for the log. */
const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

/* This connection's serial number. */
uint64_t
conn_serial(const struct conn *c)
{
	return c->serial;
}

/* The hello succeeded: no deadline any more. */
void
conn_hello_done(struct conn *c)
{
	conn_hello_stop(c);
}

/*
 * Queue one line and its '\n'; -1 if closing or the peer is not reading, or
 * if the line took all connections' output past its limit and this
 * connection was among those holding the most.
 */
int
conn_send(struct conn *c, const char *line)
{
	struct evbuffer *out;
	size_t unsent, len;

	if (c->state != CONN_OPEN)
		return -1;
	out = bufferevent_get_output(c->bev);
	unsent = evbuffer_get_length(out);
	if (unsent == 0)
		c->big_bytes = 0;
	if (unsent > CONN_OUTPUT_MAX_BYTES + c->big_bytes) {
		log_limited(&conn_slow_reader_limit, LOG_LEVEL_WARNING,
		    "%s: closed: peer not reading, %zu bytes unsent (over "
		    "%u per connection)",
		    c->peer, unsent, CONN_OUTPUT_MAX_BYTES);
		conn_close_slow_reader(c);
		return -1;
	}
	len = strlen(line);
	if (evbuffer_add(out, line, len) == -1 ||
	    evbuffer_add(out, "\n", 1) == -1) {
		conn_close_soon(c, "out of memory for output");
		return -1;
	}
	if (len > CONN_OUTPUT_MAX_BYTES)
		c->big_bytes += len + 1;
	conn_output_check();
	return c->state == CONN_OPEN ? 0 : -1;
}

/* Write queued output now (plain TCP); the write event does the rest. */
void
conn_push(struct conn *c)
{
	struct evbuffer *out;

	if (c->tls || c->state != CONN_OPEN)
		return;
	out = bufferevent_get_output(c->bev);
	/*
	 * A socket bufferevent keeps its output's start frozen, so that only
	 * its write callback drains it: evbuffer_write would write nothing.
	 * Unfrozen for this one write, the line leaves now, before the loop
	 * polls again (and before the writes of every other connection that
	 * has output this turn: a thousand watchers, say).
	 */
	if (evbuffer_get_length(out) > 0) {
		evbuffer_unfreeze(out, 1);
		(void)evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
	}
	/* All of it went: no write event will come to say so. */
	if (c->want_drained && evbuffer_get_length(out) == 0)
		event_active(c->drained_ev, EV_TIMEOUT, 0);
}

void
conn_set_priority(struct conn *c, int priority)
{
	if (bufferevent_priority_set(c->bev, priority) == -1)
		log_warnx("conn: cannot set a connection's priority");
}

/* Ask for the drained callback once the output is empty. */
void
conn_notify_drained(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	if (c->drained_ev == NULL) {
		c->drained_ev = evtimer_new(bufferevent_get_base(c->bev),
		    conn_drained_cb, c);
		if (c->drained_ev == NULL)
			fatalx("conn_notify_drained: out of memory");
	}
	c->want_drained = true;
	if (conn_unsent(c) == 0)
		event_active(c->drained_ev, EV_TIMEOUT, 0);
}

/* Bytes queued and not yet handed to the kernel. */
size_t
conn_unsent(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Send an error reply, then end gracefully. */
void
conn_fail(struct conn *c, json_t *id, enum msg_code code, const char *message)
{
	struct evbuffer *out;
	char *line, *why;

	if (c->state != CONN_OPEN)
		return;
	if (c->handshaking) {
		conn_close(c, message);
		return;
	}
	line = wire_error(code, message, id);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_add(out, line, strlen(line)) == -1 ||
	    evbuffer_add(out, "\n", 1) == -1) {
		free(line);
		conn_close_soon(c, "out of memory for output");
		return;
	}
	free(line);
	xasprintf(&why, "%s: %s", msg_code_name(code), message);
	conn_drain(c, why);
	conn_output_check();
}

/* End gracefully: stop reading, write out what is queued, then close. */
void
conn_finish(struct conn *c, const char *why)
{
	if (c->state == CONN_OPEN && c->handshaking)
		conn_close(c, why);
	else if (c->state == CONN_OPEN)
		conn_drain(c, xstrdup(why));
}

/* Close now: tell the owner once, then free (after dispatch if inside). */
void
conn_close(struct conn *c, const char *why)
{
	if (c == NULL || c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	conn_open_count--;
	conn_output_doom(&c->output);
	conn_unauth_leave(c);
	if (c->cbs.closed != NULL)
		c->cbs.closed(c, why != NULL ? why : "closed");
	if (!c->dispatching)
		conn_free(c);
}

/* Is the connection ending? */
bool
conn_closing(const struct conn *c)
{
	return c->state != CONN_OPEN;
}

/* Connections open now. */
size_t
conn_count(void)
{
	return conn_open_count;
}

/* Connections waiting for their hello now. */
size_t
conn_unauthenticated(void)
{
	return conn_unauth_count;
}

/* Close the connection that has waited longest for its hello. */
void
conn_evict_unauthenticated(void)
{
	struct conn *c = TAILQ_FIRST(&conn_unauth);

	if (c == NULL)
		return;
	conn_unauth_leave(c);
	conn_fail(c, NULL, CODE_OVERLOADED,
	    "too many connections without a hello");
}
