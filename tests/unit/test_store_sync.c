/*
 * test_store_sync.c: the daemon's store (STORE_OPEN_DAEMON) commits with
 * synchronous=NORMAL and leaves the WAL's sync to its thread: each commit
 * that wrote takes the next ticket, the thread makes it done and says so
 * on its descriptor; a WAL replaced at its path is synced through a
 * descriptor of the new file; a failed sync (here: the WAL gone) is final,
 * even once the file is back.  crisisctl's store keeps FULL and never
 * waits for a ticket.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "../../daemon/store_int.h"
#include "util.h"

/* How long a test waits for the thread's descriptor (valgrind too). */
#define TEST_WAIT_MS 30000

struct fixture {
	char dir[64];
	char path[128];
	char wal[136];
	struct store *st;
	int64_t rows;
};

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);
	char *cause = NULL;

	strlcpy_(fx->dir, "/tmp/test_store_sync.XXXXXX", sizeof fx->dir);
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/crisisd.db", fx->dir);
	snprintf(fx->wal, sizeof fx->wal, "%s-wal", fx->path);
	if ((fx->st = store_open(fx->path, STORE_OPEN_DAEMON, &cause)) ==
	    NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		free(cause);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const suffixes[] = { "", "-wal", "-shm",
		"-wal.old" };
	struct fixture *fx = *state;
	char path[160];

	store_close(fx->st);
	for (size_t i = 0; i < nitems(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fx->path, suffixes[i]);
		unlink(path);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The connection's synchronous level (1 NORMAL, 2 FULL). */
static int
synchronous(struct store *st)
{
	sqlite3_stmt *s;
	int level;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite_handle(st->db),
	                     "PRAGMA synchronous", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	level = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return level;
}

/* Commit one batch of one audit row. */
static void
write_batch(struct fixture *fx)
{
	assert_int_equal(store_audit_add(fx->st, fx->rows++, "test", "os",
	                     "test.write", NULL, NULL),
	    STORE_OK);
	assert_int_equal(store_commit(fx->st), 0);
}

/* Wait until the sync descriptor is readable; true if it became so. */
static bool
sync_fd_readable(struct store *st)
{
	struct pollfd p = { store_sync_fd(st), POLLIN, 0 };

	return poll(&p, 1, TEST_WAIT_MS) == 1 && (p.revents & POLLIN) != 0;
}

/* Does this process hold a descriptor of the file with sb's identity? */
static bool
holds_file(const struct stat *want)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat sb;
	char path[300];
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		found = e->d_name[0] != '.' && stat(path, &sb) == 0 &&
		    sb.st_dev == want->st_dev && sb.st_ino == want->st_ino;
	}
	closedir(d);
	return found;
}

/* NORMAL on the daemon's connection; FULL on crisisctl's, with no ticket. */
static void
test_daemon_commits_with_normal(void **state)
{
	struct fixture *fx = *state;
	struct store *ctl;
	char *cause = NULL;
	uint64_t done;

	assert_int_equal(synchronous(fx->st), 1);
	ctl = store_open(fx->path, STORE_OPEN_EXISTING, &cause);
	assert_non_null(ctl);
	assert_int_equal(synchronous(ctl), 2);
	assert_int_equal(store_sync_fd(ctl), -1);
	assert_int_equal(store_audit_add(ctl, 1, "test", "os", "test.write",
	                     NULL, NULL),
	    STORE_OK);
	assert_int_equal(store_commit(ctl), 0);
	assert_int_equal(store_sync_ticket(ctl), 0);
	assert_int_equal(store_synced(ctl, &done), 0);
	assert_int_equal(store_sync_wait(ctl, 0), 0);
	store_close(ctl);
}

/*
 * Each commit that wrote takes the next ticket, a commit of nothing none;
 * the descriptor becomes readable once a sync ended, and the ticket is
 * then done.
 */
static void
test_tickets_done_by_the_thread(void **state)
{
	struct fixture *fx = *state;
	uint64_t done;

	assert_int_equal(store_sync_ticket(fx->st), 0);
	write_batch(fx);
	assert_int_equal(store_sync_ticket(fx->st), 1);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_sync_ticket(fx->st), 1);
	assert_true(sync_fd_readable(fx->st));
	store_sync_clear(fx->st);
	assert_int_equal(store_synced(fx->st, &done), 0);
	assert_int_equal(done, 1);
	write_batch(fx);
	write_batch(fx);
	assert_int_equal(store_sync_ticket(fx->st), 3);
	assert_int_equal(store_sync_wait(fx->st, 3), 0);
	assert_int_equal(store_synced(fx->st, &done), 0);
	assert_int_equal(done, 3);
}

/*
 * A WAL replaced at its path (renamed away, a new file made in its place)
 * is synced through a descriptor of the new file.
 */
static void
test_replaced_wal_is_opened_again(void **state)
{
	struct fixture *fx = *state;
	char old[160];
	struct stat now;
	int fd;

	write_batch(fx);
	assert_int_equal(store_sync_wait(fx->st, store_sync_ticket(fx->st)), 0);
	snprintf(old, sizeof old, "%s.old", fx->wal);
	assert_int_equal(rename(fx->wal, old), 0);
	fd = open(fx->wal, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &now), 0);
	close(fd);
	assert_false(holds_file(&now));
	write_batch(fx);
	assert_int_equal(store_sync_wait(fx->st, store_sync_ticket(fx->st)), 0);
	assert_true(holds_file(&now));
}

/*
 * A failed sync (the WAL gone from its path) fails the ticket and every
 * later one, even once a file is back at the path: nothing is retried.
 */
static void
test_failed_sync_is_final(void **state)
{
	struct fixture *fx = *state;
	uint64_t before, done;
	int fd;

	write_batch(fx);
	before = store_sync_ticket(fx->st);
	assert_int_equal(store_sync_wait(fx->st, before), 0);
	assert_int_equal(unlink(fx->wal), 0);
	write_batch(fx);
	assert_int_equal(store_sync_wait(fx->st, before + 1), -1);
	assert_non_null(strstr(store_error(fx->st), fx->wal));
	assert_int_equal(store_synced(fx->st, &done), -1);
	assert_int_equal(done, before);
	fd = open(fx->wal, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	close(fd);
	write_batch(fx);
	assert_int_equal(store_sync_wait(fx->st, before + 2), -1);
	assert_int_equal(store_synced(fx->st, &done), -1);
	assert_int_equal(done, before);
}

#define SYNC_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SYNC_TEST(test_daemon_commits_with_normal),
		SYNC_TEST(test_tickets_done_by_the_thread),
		SYNC_TEST(test_replaced_wal_is_opened_again),
		SYNC_TEST(test_failed_sync_is_final),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
