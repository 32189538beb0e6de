/*
 * conn_int.h: what conn.c and conn_output.c share: each connection's part
 * in the total of all connections' unsent output
 * (limits.max_output_bytes_total), and the close that total calls for.
 */
#ifndef CRISISD_CONN_INT_H
#define CRISISD_CONN_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>

struct conn;

/* One connection's output, as the total sees it. */
struct conn_output_track {
	struct conn *c;
	struct evbuffer *out;
	struct evbuffer_cb_entry *cb; /* keeps the sums as out changes */
	bool doomed; /* closing: the output will be dropped, not sent */
	/*
	 * Since when its output has waited (monotonic ms): since the buffer
	 * stopped being empty, or since bytes last left it; 0 when empty.
	 */
	int64_t waits_ms;
	TAILQ_ENTRY(conn_output_track) entry;
};

/* Count c's output buffer out in the total; -1 if it cannot be watched. */
int conn_output_start(struct conn_output_track *t, struct conn *c,
    struct evbuffer *out);
/* The connection is closing: its output no longer counts against the cap. */
void conn_output_doom(struct conn_output_track *t);
/* The output buffer is about to be freed: off the sums and the list. */
void conn_output_forget(struct conn_output_track *t);
/* Make room if the output not yet on its way out is over the cap. */
void conn_output_check(void);

/* conn.c: close, from the loop, a connection that leaves its output unread. */
void conn_close_slow_reader(struct conn *c);

#endif
