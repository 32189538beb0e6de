/*
 * test_checkpoint.c: crisisd's WAL checkpoints off the commit path
 * (STORE_OPEN_DAEMON): autocheckpoint off and a checkpointer thread on its
 * own connection; the thread copies the WAL into the database file, the
 * WAL starts over once the commits pause, stays bounded under a sustained
 * load, waits for a reader's old snapshot, and store_close() joins the
 * thread and leaves the WAL empty.  Like test_store, it reads SQLite
 * directly to check what the store's API does not show.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "../../daemon/store_int.h"
#include "util.h"

/* store_checkpoint.c's thresholds, as the tests rely on them. */
#define TEST_WAKE_PAGES 4000
#define TEST_LIMIT_PAGES 10000
/* The WAL file: a 32-byte header, then frames of a 24-byte header and a page.
 */
#define TEST_WAL_HEADER_BYTES 32
#define TEST_FRAME_HEADER_BYTES 24
/* An audit detail of this many bytes spills onto a few overflow pages. */
#define TEST_DETAIL_BYTES 12000
/* How long a test waits for the thread (long enough under valgrind). */
#define TEST_WAIT_MS 60000
#define TEST_POLL_MS 5

/* A scratch directory, the database file in it, and the store. */
struct fixture {
	char dir[64];
	char path[128];
	char wal[136];
	struct store *st;
	char *detail;
	long rows;
};

/* Make a scratch directory and a store opened for the daemon in it. */
static int
setup(void **state)
{
	struct fixture *fx;
	char *cause = NULL;

	fx = xcalloc(1, sizeof *fx);
	strlcpy_(fx->dir, "/tmp/test_checkpoint.XXXXXX", sizeof fx->dir);
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/crisisd.db", fx->dir);
	snprintf(fx->wal, sizeof fx->wal, "%s-wal", fx->path);
	/* DAEMON creates a missing file, as MIGRATE does. */
	fx->st = store_open(fx->path, STORE_OPEN_DAEMON, &cause);
	if (fx->st == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		free(cause);
		return -1;
	}
	fx->detail = xmalloc(TEST_DETAIL_BYTES + 1);
	memset(fx->detail, 'x', TEST_DETAIL_BYTES);
	fx->detail[TEST_DETAIL_BYTES] = '\0';
	*state = fx;
	return 0;
}

/* Close the store (if a test has not) and remove the scratch files. */
static int
teardown(void **state)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	struct fixture *fx = *state;
	char path[160];

	store_close(fx->st);
	for (size_t i = 0; i < nitems(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fx->path, suffixes[i]);
		unlink(path);
	}
	rmdir(fx->dir);
	free(fx->detail);
	free(fx);
	return 0;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds. */
static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A file's size in bytes (0 if it does not exist). */
static int64_t
file_bytes(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* How many frames the WAL file has room for. */
static int64_t
wal_frames(struct fixture *fx)
{
	int64_t bytes = file_bytes(fx->wal);

	if (bytes <= TEST_WAL_HEADER_BYTES)
		return 0;
	return (bytes - TEST_WAL_HEADER_BYTES) /
	    (4096 + TEST_FRAME_HEADER_BYTES);
}

/* The checkpointer's counts (the store must have a checkpointer). */
static struct store_checkpoint_counts
counts(struct fixture *fx)
{
	struct store_checkpoint_counts c;

	assert_int_equal(store_checkpoint_counts(fx->st, &c), 0);
	return c;
}

/* One integer that sql selects on db. */
static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Commit n batches of one audit row each. */
static void
write_batches(struct fixture *fx, long n)
{
	for (long i = 0; i < n; i++) {
		assert_int_equal(store_audit_add(fx->st, fx->rows, "test", "os",
		                     "test.write", NULL, fx->detail),
		    STORE_OK);
		assert_int_equal(store_commit(fx->st), 0);
		fx->rows++;
	}
}

/*
 * Wait until the thread has run more than `since` checkpoints and is
 * caught up: idle, its last checkpoint begun after the last commit (its
 * run once the commits paused); the counts then.
 */
static struct store_checkpoint_counts
wait_caught_up(struct fixture *fx, long since)
{
	struct store_checkpoint_counts c = counts(fx);
	int64_t deadline = now_ms() + TEST_WAIT_MS;

	while (!(c.caught_up && c.passive > since) && now_ms() < deadline) {
		sleep_ms(TEST_POLL_MS);
		c = counts(fx);
	}
	if (!c.caught_up || c.passive <= since)
		fail_msg("the checkpointer did not catch up (%ld runs)",
		    c.passive);
	return c;
}

/* The daemon's connection has autocheckpoint off; crisisctl's keeps it. */
static void
test_modes(void **state)
{
	struct fixture *fx = *state;
	struct store_checkpoint_counts c;
	struct store *other;
	char *cause = NULL;

	assert_int_not_equal(sqlite3_threadsafe(), 0);
	assert_int_equal(query_int(db_sqlite_handle(fx->st->db),
	                     "PRAGMA wal_autocheckpoint"),
	    0);
	c = counts(fx);
	assert_int_equal(c.passive, 0);
	assert_int_equal(c.tails, 0);

	other = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(other);
	assert_int_equal(store_checkpoint_counts(other, &c), -1);
	assert_int_equal(query_int(db_sqlite_handle(other->db),
	                     "PRAGMA wal_autocheckpoint"),
	    4000);
	store_close(other);
	other = store_open(fx->path, STORE_OPEN_MIGRATE, &cause);
	assert_non_null(other);
	assert_int_equal(store_checkpoint_counts(other, &c), -1);
	store_close(other);
}

/*
 * Commits past the threshold wake the thread, which copies the WAL into
 * the database file (which nothing else writes: the daemon's connection
 * never checkpoints below the limit), and the WAL starts over.
 */
static void
test_thread_checkpoints(void **state)
{
	struct fixture *fx = *state;
	struct store_checkpoint_counts c;
	int64_t db_before = file_bytes(fx->path), frames;

	/* Below the threshold, only the commits' pause wakes the thread. */
	write_batches(fx, 20);
	c = wait_caught_up(fx, 0);
	assert_true(c.idle >= 1);
	assert_int_equal(c.passive, c.idle);
	assert_int_equal(c.done_pages, c.wal_pages);
	assert_true(file_bytes(fx->path) >= db_before + 20 * TEST_DETAIL_BYTES);
	db_before = file_bytes(fx->path);

	write_batches(fx, 800);
	frames = wal_frames(fx);
	assert_true(frames >= TEST_WAKE_PAGES);
	c = wait_caught_up(fx, c.passive);
	assert_true(c.passive > c.idle);
	assert_int_equal(c.failures, 0);
	assert_int_equal(c.tails, 0);
	assert_int_equal(c.done_pages, c.wal_pages);
	assert_true(
	    file_bytes(fx->path) >= db_before + 800 * TEST_DETAIL_BYTES);

	/* All copied: the next commits reuse the WAL from its start. */
	write_batches(fx, 100);
	assert_int_equal(wal_frames(fx), frames);
	assert_int_equal(query_int(db_sqlite_handle(fx->st->db),
	                     "SELECT count(*) FROM audit"),
	    fx->rows);
}

/* Bursts of commits with pauses between: the WAL never outgrows a burst. */
static void
test_wal_reused(void **state)
{
	struct fixture *fx = *state;
	struct store_checkpoint_counts c = { 0 };
	int64_t first = 0;

	for (int burst = 0; burst < 4; burst++) {
		write_batches(fx, 300);
		if (burst == 0)
			first = wal_frames(fx);
		c = wait_caught_up(fx, c.passive);
		assert_int_equal(c.done_pages, c.wal_pages);
	}
	assert_int_equal(c.failures, 0);
	/*
	 * Appended rather than reused, four bursts would need four times as
	 * much; reused, the file is as long as the longest burst (each a
	 * little longer than the last, as the tables grow).
	 */
	assert_true(first >= 300 * 4);
	assert_true(wal_frames(fx) < first + first / 4);
	assert_int_equal(query_int(db_sqlite_handle(fx->st->db),
	                     "SELECT count(*) FROM audit"),
	    fx->rows);
}

/*
 * Commits without a pause: the WAL passes the limit, the commit path
 * copies the short tail the thread leaves, and the WAL starts over.
 */
static void
test_wal_bounded(void **state)
{
	struct fixture *fx = *state;
	struct store_checkpoint_counts c;
	long batches = 0;
	int64_t frames;

	/* About 6 frames a batch: the limit is some 1,700 batches away. */
	do {
		write_batches(fx, 100);
		batches += 100;
		c = counts(fx);
	} while (c.tails == 0 && batches < 20000);
	assert_int_equal(c.failures, 0);
	frames = wal_frames(fx);
	if (c.tails == 0) {
		/*
		 * The thread copied every frame each time before the WAL
		 * reached the limit (an idle machine can): bounded all the
		 * same, with no tail to copy.
		 */
		print_message("no tail needed: the WAL stayed at %lld frames\n",
		    (long long)frames);
		assert_true(frames < 2 * TEST_LIMIT_PAGES);
		return;
	}
	assert_true(frames >= TEST_LIMIT_PAGES);
	assert_true(frames < 2 * TEST_LIMIT_PAGES);
	/* Started over: another 1,200 frames go where the first ones were. */
	write_batches(fx, 200);
	assert_int_equal(wal_frames(fx), frames);
	assert_int_equal(query_int(db_sqlite_handle(fx->st->db),
	                     "SELECT count(*) FROM audit"),
	    fx->rows);
}

/*
 * A reader's snapshot keeps the frames after it in the WAL (PASSIVE does
 * not wait for it, nor does any commit); once it ends, all are copied.
 */
static void
test_reader_holds_wal(void **state)
{
	struct fixture *fx = *state;
	struct store_checkpoint_counts c;
	sqlite3 *reader;

	write_batches(fx, 10);
	assert_int_equal(sqlite3_open_v2(fx->path, &reader,
	                     SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(query_int(reader, "SELECT count(*) FROM audit"), 10);

	write_batches(fx, 500);
	c = wait_caught_up(fx, 0);
	assert_int_equal(c.failures, 0);
	assert_true(c.done_pages < c.wal_pages);
	assert_int_equal(query_int(reader, "SELECT count(*) FROM audit"), 10);

	assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	write_batches(fx, 250);
	c = wait_caught_up(fx, c.passive);
	assert_int_equal(c.done_pages, c.wal_pages);
	assert_int_equal(query_int(reader, "SELECT count(*) FROM audit"),
	    fx->rows);
	sqlite3_close(reader);
}

/*
 * store_close() joins the thread and checkpoints with TRUNCATE: with
 * another connection open (so closing the last one does not remove the
 * WAL), the WAL is left empty and every row is in the database.
 */
static void
test_close_truncates(void **state)
{
	struct fixture *fx = *state;
	struct store *st;
	char *cause = NULL;
	sqlite3 *other;

	assert_int_equal(sqlite3_open_v2(fx->path, &other, SQLITE_OPEN_READONLY,
	                     NULL),
	    SQLITE_OK);
	write_batches(fx, 700);
	assert_true(file_bytes(fx->wal) > 0);
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(file_bytes(fx->wal), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM audit"),
	    fx->rows);
	sqlite3_close(other);

	st = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(st);
	assert_int_equal(store_check(st, &cause), 0);
	store_close(st);
}

/* A test with its own scratch database, made and removed around it. */
#define CHECKPOINT_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Run every test on a fresh scratch database. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		CHECKPOINT_TEST(test_modes),
		CHECKPOINT_TEST(test_thread_checkpoints),
		CHECKPOINT_TEST(test_wal_reused),
		CHECKPOINT_TEST(test_wal_bounded),
		CHECKPOINT_TEST(test_reader_holds_wal),
		CHECKPOINT_TEST(test_close_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
