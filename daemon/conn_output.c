/*
 * conn_output.c: the unsent output of all connections together, against
 * limits.max_output_bytes_total.  Each connection's output buffer tells
 * the running sums of every change (an evbuffer callback, O(1)); past the
 * cap, one walk over the connections closes the stalled ones holding the
 * most as slow readers (conn.c closes them, from the loop).
 */
#include <sys/queue.h>

#include <stdlib.h>

#include <event2/buffer.h>

#include "conn.h"
#include "conn_int.h"
#include "log.h"
#include "util.h"

/*
 * A connection whose output has waited this long without any of it
 * reaching the peer is stalled: a slow reader.  Only stalled connections
 * are closed for holding too much together, unless they hold twice the
 * limit: a burst queued to many readers in one turn is not theirs to pay.
 */
#define CONN_STALLED_MS 200

/* Every connection whose output counts, for conn_output_shed's walk. */
static TAILQ_HEAD(, conn_output_track) conn_output_all = TAILQ_HEAD_INITIALIZER(
    conn_output_all);
static size_t conn_output_count;
/*
 * The unsent output of all connections.  total is what every output buffer
 * holds (kept by conn_output_cb and conn_output_forget); doomed is the part
 * held by connections already closing, whose buffers the loop frees within
 * a turn; the rest may not pass max (limits.max_output_bytes_total; no
 * limit until conn_set_output_total_max).  Over TLS the buffer keeps the
 * plaintext until OpenSSL has written it whole, and OpenSSL holds at most
 * one encrypted record (16 KB) besides; that is not counted.
 */
static struct {
	size_t total;
	size_t doomed;
	size_t max;
	unsigned long long shed; /* slow readers closed for it, since start */
	struct log_limit log;
	struct log_limit mismatch_log;
	/* No pass before then: the last could not get under the limit. */
	int64_t calm_until_ms;
	int64_t stall_ms; /* waited this long: stalled */
} conn_output = { .max = SIZE_MAX, .stall_ms = CONN_STALLED_MS };

/* The output buffer changed: bytes were queued, or written (or dropped). */
static void
conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn_output_track *t = arg;

	(void)buf;
	conn_output.total += info->n_added;
	conn_output.total -= info->n_deleted;
	if (info->orig_size + info->n_added - info->n_deleted == 0)
		t->waits_ms = 0;
	else if (info->n_deleted > 0 || t->waits_ms == 0)
		t->waits_ms = util_monotonic_ms();
	if (t->doomed) {
		conn_output.doomed += info->n_added;
		conn_output.doomed -= info->n_deleted;
	}
}

int
conn_output_start(struct conn_output_track *t, struct conn *c,
    struct evbuffer *out)
{
	t->c = c;
	t->out = out;
	if ((t->cb = evbuffer_add_cb(out, conn_output_cb, t)) == NULL)
		return -1;
	TAILQ_INSERT_TAIL(&conn_output_all, t, entry);
	conn_output_count++;
	return 0;
}

void
conn_output_doom(struct conn_output_track *t)
{
	if (t->doomed || t->cb == NULL)
		return;
	t->doomed = true;
	conn_output.doomed += evbuffer_get_length(t->out);
}

void
conn_output_forget(struct conn_output_track *t)
{
	size_t held;

	if (t->cb == NULL)
		return;
	held = evbuffer_get_length(t->out);
	evbuffer_remove_cb_entry(t->out, t->cb);
	t->cb = NULL;
	TAILQ_REMOVE(&conn_output_all, t, entry);
	conn_output_count--;
	conn_output.total -= held;
	if (t->doomed)
		conn_output.doomed -= held;
}

/* One connection and the unsent output it holds, for conn_output_shed. */
struct conn_holding {
	struct conn *c;
	size_t bytes;
	bool stalled; /* nothing of it reached the peer for a while */
};

/*
 * qsort: stalled connections first, then the one holding the most.  With
 * many slow readers each holding a little, a reader that is only behind
 * for a moment may hold as much as any of them; it is still reading, so
 * the ones that stopped go first.
 */
static int
conn_holding_cmp(const void *a, const void *b)
{
	const struct conn_holding *x = a, *y = b;

	if (x->stalled != y->stalled)
		return x->stalled ? -1 : 1;
	return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

/*
 * Fill h (room for every connection) with the connections that hold output
 * and are not closing already; returns how many.  On the way the buffers
 * are summed: the running sums must match them, or the limit is blind.
 */
static size_t
conn_output_holders(struct conn_holding *h)
{
	size_t n = 0, total = 0, doomed = 0, held;
	int64_t now = util_monotonic_ms();
	struct conn_output_track *t;

	TAILQ_FOREACH (t, &conn_output_all, entry) {
		held = evbuffer_get_length(t->out);
		total += held;
		if (t->doomed)
			doomed += held;
		else if (held > 0)
			h[n++] = (struct conn_holding){ t->c, held,
				t->waits_ms != 0 &&
				    now - t->waits_ms >= conn_output.stall_ms };
	}
	/*
	 * A bug in the counting must not take the crisis line down: say so
	 * and count again from the buffers.
	 */
	if (total != conn_output.total || doomed != conn_output.doomed) {
		log_limited(&conn_output.mismatch_log, LOG_LEVEL_ERROR,
		    "unsent output: %zu bytes (%zu closing) in the buffers, "
		    "%zu (%zu) counted; counting again",
		    total, doomed, conn_output.total, conn_output.doomed);
		conn_output.total = total;
		conn_output.doomed = doomed;
	}
	return n;
}

/*
 * The live output passed limits.max_output_bytes_total: close the stalled
 * connections holding the most, as slow readers, until it is back under
 * 90% of the limit.  The next pass is then at least a tenth of the limit
 * of new output away, so the walk and the sort stay rare; when too few
 * were stalled to get there, not before CONN_STALLED_MS / 4 has passed
 * (or twice the limit is reached).  Nothing is freed here, the caller's
 * connection included: conn_close_soon closes from the loop.
 */
static void
conn_output_shed(void)
{
	size_t target = conn_output.max - conn_output.max / 10;
	struct conn_holding *h;
	size_t n, i, live, freed = 0;

	h = xreallocarray(NULL, conn_output_count, sizeof *h);
	n = conn_output_holders(h);
	live = conn_output.total - conn_output.doomed;
	qsort(h, n, sizeof *h, conn_holding_cmp);
	for (i = 0; i < n && live - freed > target; i++) {
		if (!h[i].stalled && live - freed <= 2 * conn_output.max)
			break;
		freed += h[i].bytes;
		conn_close_slow_reader(h[i].c);
	}
	free(h);
	if (live - freed > conn_output.max)
		conn_output.calm_until_ms =
		    util_monotonic_ms() + conn_output.stall_ms / 4;
	if (i == 0)
		return;
	conn_output.shed += i;
	log_limited(&conn_output.log, LOG_LEVEL_WARNING,
	    "unsent output of all connections reached %zu bytes, "
	    "limits.max_output_bytes_total is %zu: closed %zu slow readers "
	    "holding %zu bytes (%llu since start)",
	    live, conn_output.max, i, freed, conn_output.shed);
}

void
conn_output_check(void)
{
	size_t live = conn_output.total - conn_output.doomed;

	if (live > conn_output.max &&
	    (live > 2 * conn_output.max ||
	        util_monotonic_ms() >= conn_output.calm_until_ms))
		conn_output_shed();
}

/* Cap the unsent output of all connections together (checked at once). */
void
conn_set_output_total_max(size_t max)
{
	conn_output.max = max;
	conn_output_check();
}

void
conn_set_output_stall_ms(int64_t ms)
{
	conn_output.stall_ms = ms;
}

/* Unsent output of all connections, closing ones included. */
size_t
conn_output_total(void)
{
	return conn_output.total;
}
