/*
 * test_outbox.c: outbox.c against a fake connection and a fake store.
 * A turn's lines are settled at its commit and then wait for a sync
 * ticket: the commit's own if it wrote, else the newest so far; they leave
 * in order once outbox_release() is told their ticket is done, and the
 * drained notice with them.  A failed commit drops pushes, makes one
 * "internal" per request that wrote (or a retry) and lets the rest go,
 * still in order behind the lines that wait for an earlier sync.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "conn.h"
#include "outbox.h"
#include "store.h"
#include "util.h"

#define TEST_SENT_MAX 16

/* A connection that records what it was sent. */
struct conn {
	char *sent[TEST_SENT_MAX];
	int nsent;
	int pushes; /* conn_push calls that found something sent */
	int drained; /* conn_notify_drained calls */
	int drained_after; /* lines sent when the drained notice came */
	bool closing; /* conn_send fails, as on a connection closing */
};

/* A store whose commit succeeds or fails as told. */
struct store {
	bool batch; /* a write opened the batch */
	bool fail; /* the next commit fails */
	bool busy; /* ... for another process's write lock */
	uint64_t ticket; /* the newest sync ticket */
};

int
conn_send(struct conn *c, const char *line)
{
	if (c->closing)
		return -1;
	assert_true(c->nsent < TEST_SENT_MAX);
	c->sent[c->nsent++] = xstrdup(line);
	return 0;
}

void
conn_push(struct conn *c)
{
	c->pushes++;
}

void
conn_notify_drained(struct conn *c)
{
	c->drained++;
	c->drained_after = c->nsent;
}

bool
store_batch_open(const struct store *st)
{
	return st->batch;
}

/* As store.c's: a commit that wrote takes the next ticket. */
int
store_commit(struct store *st)
{
	if (!st->batch)
		return 0;
	st->batch = false;
	if (st->fail)
		return -1;
	st->ticket++;
	return 0;
}

bool
store_failed_busy(const struct store *st)
{
	return st->busy;
}

uint64_t
store_sync_ticket(const struct store *st)
{
	return st->ticket;
}

/* What the owner's callbacks heard. */
struct owner {
	int64_t dropped_seq; /* first result dropped, 0 if none */
	char *retried; /* the request handed back, if any */
	int attempt;
};

static void
owner_dropped(void *arg, int64_t first_seq)
{
	((struct owner *)arg)->dropped_seq = first_seq;
}

static void
owner_retry(void *arg, char *line, int attempt)
{
	struct owner *o = arg;

	free(o->retried);
	o->retried = line;
	o->attempt = attempt;
}

/* Two connections with their outboxes, and the store. */
struct fixture {
	struct store st;
	struct conn conn[2];
	struct owner owner[2];
	struct outbox *ob[2];
};

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);

	for (int i = 0; i < 2; i++) {
		struct outbox_cbs cbs = { owner_dropped, owner_retry,
			&fx->owner[i] };

		fx->ob[i] = outbox_new(&fx->conn[i], &cbs);
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 2; i++) {
		outbox_free(fx->ob[i]);
		for (int j = 0; j < fx->conn[i].nsent; j++)
			free(fx->conn[i].sent[j]);
		free(fx->owner[i].retried);
	}
	assert_false(outbox_pending());
	free(fx);
	return 0;
}

/* Queue a push. */
static void
push(struct outbox *ob, const char *text)
{
	outbox_queue(ob, xstrdup(text), OUTBOX_PUSH, NULL, 0);
}

/* Handle a request: one reply, after a write to the batch if wrote. */
static void
request(struct fixture *fx, int i, const char *reply, bool wrote)
{
	json_t *id = json_string(reply);

	outbox_request_begin(fx->ob[i]);
	if (wrote)
		fx->st.batch = true;
	outbox_queue(fx->ob[i], xstrdup(reply), OUTBOX_REPLY, id, 0);
	outbox_request_end(fx->ob[i], wrote, "{\"type\":\"contact\"}", 0);
	json_decref(id);
}

/* Assert conn i was sent exactly these lines so far, in order. */
static void
assert_sent(struct fixture *fx, int i, int n, const char *const *lines)
{
	assert_int_equal(fx->conn[i].nsent, n);
	for (int j = 0; j < n; j++)
		assert_string_equal(fx->conn[i].sent[j], lines[j]);
}

/* A committed line waits for its own ticket, then leaves with a push. */
static void
test_waits_for_its_commits_sync(void **state)
{
	struct fixture *fx = *state;
	static const char *const want[] = { "queued-1" };

	request(fx, 0, "queued-1", true);
	assert_int_equal(outbox_flush(&fx->st), 1);
	assert_int_equal(fx->st.ticket, 1);
	outbox_release(0);
	assert_int_equal(fx->conn[0].nsent, 0);
	assert_true(outbox_pending());
	outbox_release(1);
	assert_sent(fx, 0, 1, want);
	assert_int_equal(fx->conn[0].pushes, 1);
	assert_false(outbox_pending());
}

/*
 * A turn that wrote nothing takes the newest ticket: its reply may read
 * what the pending commit wrote, so it waits for that sync too, on any
 * connection; with nothing pending it goes at once.
 */
static void
test_turn_without_writes_takes_newest_ticket(void **state)
{
	struct fixture *fx = *state;
	static const char *const queued[] = { "queued-1" };
	static const char *const pongs[] = { "pong-1", "pong-2" };

	request(fx, 0, "queued-1", true);
	outbox_flush(&fx->st);
	request(fx, 1, "pong-1", false);
	assert_int_equal(outbox_flush(&fx->st), 0);
	outbox_release(0);
	assert_int_equal(fx->conn[1].nsent, 0);
	outbox_release(1);
	assert_sent(fx, 0, 1, queued);
	assert_sent(fx, 1, 1, pongs);
	request(fx, 1, "pong-2", false);
	outbox_flush(&fx->st);
	outbox_release(1);
	assert_sent(fx, 1, 2, pongs);
}

/* Per connection, lines leave in order up to the first that must wait. */
static void
test_order_kept_across_turns(void **state)
{
	struct fixture *fx = *state;
	static const char *const want[] = { "a", "b", "c", "d" };

	request(fx, 0, "a", true); /* ticket 1 */
	outbox_flush(&fx->st);
	request(fx, 0, "b", true); /* ticket 2 */
	push(fx->ob[0], "c");
	outbox_flush(&fx->st);
	request(fx, 0, "d", false); /* ticket 2: behind b and c */
	outbox_flush(&fx->st);
	request(fx, 0, "e", true); /* not yet committed */
	outbox_release(1);
	assert_sent(fx, 0, 1, want);
	outbox_release(2);
	assert_sent(fx, 0, 4, want);
	assert_int_equal(fx->conn[0].pushes, 2);
	/* This turn's line never leaves before its commit. */
	outbox_release(UINT64_MAX);
	assert_sent(fx, 0, 4, want);
	outbox_flush(&fx->st);
	outbox_release(3);
	assert_int_equal(fx->conn[0].nsent, 5);
	assert_string_equal(fx->conn[0].sent[4], "e");
}

/*
 * A failed commit: the push (a result, seq 7) is dropped and the owner
 * told at the commit, the reply of the request that wrote becomes
 * "internal", the reply that wrote nothing and the urgent line stay; all
 * wait behind the earlier commit's sync.
 */
static void
test_failed_commit_settles_then_waits(void **state)
{
	struct fixture *fx = *state;
	const char *sent;

	request(fx, 0, "queued-1", true);
	outbox_flush(&fx->st);
	outbox_queue(fx->ob[0], xstrdup("result"), OUTBOX_PUSH, NULL, 7);
	request(fx, 0, "queued-2", true);
	request(fx, 0, "pong", false);
	outbox_queue(fx->ob[0], xstrdup("overflow"), OUTBOX_URGENT, NULL, 8);
	fx->st.fail = true;
	assert_int_equal(outbox_flush(&fx->st), -1);
	assert_int_equal(fx->owner[0].dropped_seq, 7);
	outbox_release(0);
	assert_int_equal(fx->conn[0].nsent, 0);
	outbox_release(1);
	assert_int_equal(fx->conn[0].nsent, 4);
	assert_string_equal(fx->conn[0].sent[0], "queued-1");
	sent = fx->conn[0].sent[1];
	assert_non_null(strstr(sent, "\"internal\""));
	assert_non_null(strstr(sent, "\"queued-2\""));
	assert_string_equal(fx->conn[0].sent[2], "pong");
	assert_string_equal(fx->conn[0].sent[3], "overflow");
}

/* A commit lost to the write lock hands the request back, at the commit. */
static void
test_busy_commit_retries_at_commit(void **state)
{
	struct fixture *fx = *state;

	request(fx, 0, "queued-1", true);
	fx->st.fail = true;
	fx->st.busy = true;
	outbox_flush(&fx->st);
	assert_non_null(fx->owner[0].retried);
	assert_string_equal(fx->owner[0].retried, "{\"type\":\"contact\"}");
	assert_int_equal(fx->owner[0].attempt, 1);
	outbox_release(UINT64_MAX);
	assert_int_equal(fx->conn[0].nsent, 0);
}

/* The drained notice comes once the lines before it have left. */
static void
test_drained_notice_waits_for_lines(void **state)
{
	struct fixture *fx = *state;

	request(fx, 0, "queued-1", true);
	outbox_notify_drained(fx->ob[0]);
	outbox_flush(&fx->st);
	request(fx, 0, "queued-2", true);
	outbox_flush(&fx->st);
	outbox_release(0);
	assert_int_equal(fx->conn[0].drained, 0);
	outbox_release(1);
	assert_int_equal(fx->conn[0].drained, 1);
	assert_int_equal(fx->conn[0].drained_after, 1);
	outbox_release(2);
	assert_int_equal(fx->conn[0].drained, 1);
	assert_int_equal(fx->conn[0].nsent, 2);
}

/* A connection gone with lines waiting: they go with it, others still go. */
static void
test_freed_outbox_leaves_waiting_list(void **state)
{
	struct fixture *fx = *state;

	request(fx, 0, "queued-1", true);
	request(fx, 1, "queued-2", true);
	outbox_flush(&fx->st);
	outbox_free(fx->ob[0]);
	fx->ob[0] = NULL;
	outbox_release(1);
	assert_int_equal(fx->conn[0].nsent, 0);
	assert_int_equal(fx->conn[1].nsent, 1);
	assert_false(outbox_pending());
}

/* A connection closing: what it held is dropped, nothing more is tried. */
static void
test_closing_connection_drops_held_lines(void **state)
{
	struct fixture *fx = *state;

	request(fx, 0, "queued-1", true);
	push(fx->ob[0], "offer");
	outbox_notify_drained(fx->ob[0]);
	outbox_flush(&fx->st);
	fx->conn[0].closing = true;
	outbox_release(1);
	assert_int_equal(fx->conn[0].nsent, 0);
	assert_int_equal(fx->conn[0].drained, 0);
	assert_false(outbox_pending());
}

#define OUTBOX_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		OUTBOX_TEST(test_waits_for_its_commits_sync),
		OUTBOX_TEST(test_turn_without_writes_takes_newest_ticket),
		OUTBOX_TEST(test_order_kept_across_turns),
		OUTBOX_TEST(test_failed_commit_settles_then_waits),
		OUTBOX_TEST(test_busy_commit_retries_at_commit),
		OUTBOX_TEST(test_drained_notice_waits_for_lines),
		OUTBOX_TEST(test_freed_outbox_leaves_waiting_list),
		OUTBOX_TEST(test_closing_connection_drops_held_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
