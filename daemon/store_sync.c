/*
 * store_sync.c: the WAL's fdatasync, in a thread of its own.
 *
 * crisisd's connection commits with synchronous=NORMAL: in WAL mode a
 * commit then writes its frames into the WAL and returns without syncing
 * it.  SQLite stays consistent after a power loss that way, but the last
 * commits may be gone, and crisisd promises more: nothing that depends on
 * a write is sent before the write is on disk.  So each commit that wrote
 * takes a ticket (a number that only grows, store_commit()), this thread
 * fdatasyncs the WAL, and the outbox holds the lines that depend on the
 * commit until its ticket is done.  One fdatasync covers every commit made
 * before it began: the commits made while one runs wait for the next one
 * together (group commit), and the event loop never waits for the disk.
 * synchronous=NORMAL plus this sync before any dependent line leaves is the
 * promise of synchronous=FULL, with the fsync off the loop.
 *
 * fdatasync syncs a file, not a descriptor, so the thread opens the WAL
 * itself, read-only.  Before each sync it checks that its descriptor is
 * still the file at the WAL's path (a WAL deleted and created again is
 * another file, and syncing the old one would make nothing durable) and
 * opens the path again if not; after each open it syncs the directory too,
 * so that a new WAL's name is on disk with its frames.
 *
 * A failed sync is final.  After fdatasync fails, the kernel may have
 * dropped the dirty pages it could not write, and a second fdatasync would
 * succeed without writing them.  So the thread records the failure and
 * stops, the ticket is never done, and the loop exits on seeing it without
 * sending anything that waited (store_synced() fails): systemd starts
 * crisisd again, and SQLite recovers from the WAL what reached the disk.
 *
 * The loop and the thread share the counts under a mutex that is never
 * held across a system call; the thread wakes the loop through an eventfd
 * that libevent watches.
 */
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* The thread's name, as top and perf show it (15 bytes at most). */
#define STORE_SYNC_THREAD_NAME "crisisd-sync"

struct store_sync {
	/* How a sync is done: the WAL's fdatasync, or another store's way. */
	struct store_sync_method method;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread: a ticket was asked for, or stop */
	pthread_cond_t ended; /* store_sync_wait(): a sync ended */
	int event_fd; /* counts the syncs ended, for the loop */
	char *wal_path;
	char *dir_path;
	int wal_fd; /* the thread's alone; -1 until opened */
	/* Under lock: */
	uint64_t asked; /* the newest ticket */
	uint64_t done; /* every ticket up to this one is on disk */
	bool failed; /* a sync failed: done never moves again */
	bool stop; /* store_sync_stop() asks the thread to end */
	char why[STORE_ERROR_BYTES]; /* what failed, once failed */
};

/* Say which call failed on which file; return its errno (never 0). */
static int
store_sync_failed(char *why, size_t size, const char *call, const char *path)
{
	int err = errno != 0 ? errno : EIO;

	snprintf(why, size, "%s %s", call, path);
	return err;
}

/*
 * Make sure wal_fd is the file now at the WAL's path, opening it (and
 * syncing the directory that names it) if not: 0, or the errno of the call
 * that failed, with why filled in.
 */
static int
store_sync_open(struct store_sync *ss, char *why, size_t size)
{
	struct stat at_path, open_now;
	int dir, err;

	if (stat(ss->wal_path, &at_path) == -1)
		return store_sync_failed(why, size, "stat", ss->wal_path);
	if (ss->wal_fd != -1 && fstat(ss->wal_fd, &open_now) == 0 &&
	    open_now.st_dev == at_path.st_dev &&
	    open_now.st_ino == at_path.st_ino)
		return 0;
	if (ss->wal_fd != -1)
		close(ss->wal_fd);
	if ((ss->wal_fd = open(ss->wal_path, O_RDONLY | O_CLOEXEC)) == -1)
		return store_sync_failed(why, size, "open", ss->wal_path);
	dir = open(ss->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir == -1)
		return store_sync_failed(why, size, "open", ss->dir_path);
	/*
	 * EINVAL: this file system cannot sync a directory (SQLite carries
	 * on then too).
	 */
	err = fsync(dir) == -1 && errno != EINVAL
	    ? store_sync_failed(why, size, "fsync", ss->dir_path)
	    : 0;
	close(dir);
	return err;
}

/*
 * One sync of the WAL: 0, or the errno of the call that failed (why says
 * which).  Not inlined, and not static, so that bench/run can time each
 * sync with a uprobe on its name.
 */
__attribute__((noinline)) int
store_sync_once(struct store_sync *ss, char *why, size_t size)
{
	int err;

	if ((err = store_sync_open(ss, why, size)) != 0)
		return err;
	if (fdatasync(ss->wal_fd) == -1)
		return store_sync_failed(why, size, "fdatasync", ss->wal_path);
	return 0;
}

/* The WAL's method: every ticket so far is on disk after one fdatasync. */
static int
store_sync_wal(void *arg, uint64_t target, char *why, size_t size)
{
	(void)target;
	return store_sync_once(arg, why, size);
}

/* Wake the loop: a sync ended (done moved, or the thread failed). */
static void
store_sync_tell_loop(struct store_sync *ss)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, so the loop is woken already. */
	while (write(ss->event_fd, &one, sizeof one) == -1 && errno == EINTR)
		;
}

/* What the thread does next. */
enum store_sync_next {
	STORE_SYNC_STOP, /* stopped, with nothing left to sync */
	STORE_SYNC_TICKETS, /* sync up to *target */
	STORE_SYNC_IDLE, /* idle_ms passed without a ticket */
};

/* The deadline idle_ms from now, for pthread_cond_timedwait. */
static struct timespec
store_sync_deadline(int idle_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += idle_ms / 1000;
	ts.tv_nsec += (long)(idle_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Wait for a ticket newer than done (*target the newest), for
 * store_sync_stop() with nothing left to sync, or, with an idle method,
 * for its idle_ms to pass.
 */
static enum store_sync_next
store_sync_next(struct store_sync *ss, uint64_t *target)
{
	enum store_sync_next next = STORE_SYNC_IDLE;
	struct timespec until;

	if (ss->method.idle_ms > 0)
		until = store_sync_deadline(ss->method.idle_ms);
	pthread_mutex_lock(&ss->lock);
	while (ss->asked == ss->done && !ss->stop) {
		if (ss->method.idle_ms <= 0)
			pthread_cond_wait(&ss->wake, &ss->lock);
		else if (pthread_cond_timedwait(&ss->wake, &ss->lock, &until) ==
		    ETIMEDOUT)
			break;
	}
	if (ss->asked != ss->done)
		next = STORE_SYNC_TICKETS;
	else if (ss->stop)
		next = STORE_SYNC_STOP;
	*target = ss->asked;
	pthread_mutex_unlock(&ss->lock);
	return next;
}

/* Every ticket up to target is on disk: done moves, waiters hear it. */
__attribute__((noinline)) void
store_sync_completed(struct store_sync *ss, uint64_t target)
{
	pthread_mutex_lock(&ss->lock);
	ss->done = target;
	pthread_cond_broadcast(&ss->ended);
	pthread_mutex_unlock(&ss->lock);
}

/* A sync failed with err (why says which call): done never moves again. */
static void
store_sync_failed_for_good(struct store_sync *ss, int err, const char *why)
{
	pthread_mutex_lock(&ss->lock);
	ss->failed = true;
	snprintf(ss->why, sizeof ss->why, "%s: %s", why, strerror(err));
	pthread_cond_broadcast(&ss->ended);
	pthread_mutex_unlock(&ss->lock);
}

/*
 * The thread: one sync for every ticket asked for so far, again while
 * more are asked for; on stop it first syncs what was asked for; after a
 * failure it syncs nothing ever again.
 */
static void *
store_sync_main(void *arg)
{
	struct store_sync *ss = arg;
	char why[STORE_ERROR_BYTES - 64];
	uint64_t target;
	int err = 0;

	enum store_sync_next next;

	while (err == 0 &&
	    (next = store_sync_next(ss, &target)) != STORE_SYNC_STOP) {
		if (next == STORE_SYNC_IDLE) {
			err = ss->method.idle(ss->method.arg, why, sizeof why);
			if (err == 0)
				continue;
		} else
			err = ss->method.once(ss->method.arg, target, why,
			    sizeof why);
		if (err != 0)
			store_sync_failed_for_good(ss, err, why);
		else
			store_sync_completed(ss, target);
		store_sync_tell_loop(ss);
	}
	return NULL;
}

/* Free a sync whose thread is not running (half-built is fine). */
static void
store_sync_free(struct store_sync *ss)
{
	pthread_cond_destroy(&ss->ended);
	pthread_cond_destroy(&ss->wake);
	pthread_mutex_destroy(&ss->lock);
	if (ss->event_fd != -1)
		close(ss->event_fd);
	if (ss->wal_fd != -1)
		close(ss->wal_fd);
	free(ss->wal_path);
	free(ss->dir_path);
	if (ss->method.free != NULL)
		ss->method.free(ss->method.arg);
	free(ss);
}

/* The eventfd, the mutex and the condition variables. */
static struct store_sync *
store_sync_new(const struct store_sync_method *method)
{
	struct store_sync *ss = xcalloc(1, sizeof *ss);

	ss->wal_fd = -1;
	if (method != NULL)
		ss->method = *method;
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->wake, NULL);
	pthread_cond_init(&ss->ended, NULL);
	ss->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return ss;
}

/* Start the thread with every signal blocked: they are the event loop's. */
static int
store_sync_spawn(struct store_sync *ss)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ss->thread, NULL, store_sync_main, ss);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(ss->thread, STORE_SYNC_THREAD_NAME);
	return rc;
}

/* Commit without syncing: the thread syncs.  Read back to be sure. */
static int
store_sync_normal(struct store *st)
{
	sqlite3_stmt *s;
	int level = -1;

	if (sqlite3_exec(db_sqlite_handle(st->db),
	        "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db_sqlite_handle(st->db), "PRAGMA synchronous",
	        -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, "synchronous = NORMAL");
	if (sqlite3_step(s) == SQLITE_ROW)
		level = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (level != 1) {
		store_set_error(st, "synchronous = NORMAL: got %d, not 1",
		    level);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Start ss's thread, ready to run: STORE_OK (st->sync is ss) or not. */
static int
store_sync_launch(struct store *st, struct store_sync *ss)
{
	int rc;

	if (ss->event_fd == -1) {
		store_set_error(st, "sync thread: eventfd: %s",
		    strerror(errno));
		store_sync_free(ss);
		return STORE_ERROR;
	}
	if ((rc = store_sync_spawn(ss)) != 0) {
		store_set_error(st, "sync thread: pthread_create: %s",
		    strerror(rc));
		store_sync_free(ss);
		return STORE_ERROR;
	}
	st->sync = ss;
	return STORE_OK;
}

/*
 * Start the thread with method (its arg then belongs to the thread, freed
 * with it, even on failure).
 */
int
store_sync_start_method(struct store *st,
    const struct store_sync_method *method)
{
	return store_sync_launch(st, store_sync_new(method));
}

/* Start the sync thread for the database at path, then commit with NORMAL. */
int
store_sync_start(struct store *st, const char *path)
{
	/* Its state is the sync's own (the WAL's paths and descriptor). */
	struct store_sync_method wal = { store_sync_wal, NULL, NULL, NULL, 0 };
	struct store_sync *ss = store_sync_new(&wal);
	char *copy = xstrdup(path);

	xasprintf(&ss->wal_path, "%s-wal", path);
	ss->dir_path = xstrdup(dirname(copy));
	free(copy);
	ss->method.arg = ss;
	if (store_sync_launch(st, ss) != STORE_OK)
		return STORE_ERROR;
	return store_sync_normal(st);
}

/*
 * Stop and join the thread once it has synced what was asked for (the
 * loop waits for that itself before it stops: this is the last resort).
 */
void
store_sync_stop(struct store *st)
{
	struct store_sync *ss = st->sync;

	if (ss == NULL)
		return;
	pthread_mutex_lock(&ss->lock);
	ss->stop = true;
	pthread_cond_signal(&ss->wake);
	pthread_mutex_unlock(&ss->lock);
	pthread_join(ss->thread, NULL);
	st->sync = NULL;
	store_sync_free(ss);
}

/* A commit wrote: ask for a sync of it, and return its ticket. */
uint64_t
store_sync_ask(struct store_sync *ss)
{
	uint64_t ticket;

	pthread_mutex_lock(&ss->lock);
	ticket = ++ss->asked;
	pthread_cond_signal(&ss->wake);
	pthread_mutex_unlock(&ss->lock);
	return ticket;
}

/* The newest ticket: every commit so far is on disk once it is done. */
uint64_t
store_sync_ticket(const struct store *st)
{
	return st->sync_ticket;
}

/* Readable when a sync ended; -1 without a sync thread. */
int
store_sync_fd(const struct store *st)
{
	return st->sync != NULL ? st->sync->event_fd : -1;
}

/* Read the eventfd empty, so that it is readable again after the next sync. */
void
store_sync_clear(struct store *st)
{
	uint64_t count;

	if (st->sync != NULL)
		while (read(st->sync->event_fd, &count, sizeof count) == -1 &&
		    errno == EINTR)
			;
}

/* Copy the thread's state out (lock held): -1 and the error if it failed. */
static int
store_sync_state(struct store *st, uint64_t *done)
{
	struct store_sync *ss = st->sync;

	*done = ss->done;
	if (!ss->failed)
		return 0;
	store_set_error(st, "%s", ss->why);
	return -1;
}

/*
 * The last ticket done, into *done; -1 once a sync failed (store_error()
 * says which): from then on nothing that waits for a sync may be sent.
 */
int
store_synced(struct store *st, uint64_t *done)
{
	int rc;

	*done = 0;
	if (st->sync == NULL)
		return 0;
	pthread_mutex_lock(&st->sync->lock);
	rc = store_sync_state(st, done);
	pthread_mutex_unlock(&st->sync->lock);
	return rc;
}

/* Block until ticket is done: 0, or -1 if a sync failed. */
int
store_sync_wait(struct store *st, uint64_t ticket)
{
	struct store_sync *ss = st->sync;
	uint64_t done = 0;
	int rc;

	if (ss == NULL)
		return 0;
	pthread_mutex_lock(&ss->lock);
	while ((rc = store_sync_state(st, &done)) == 0 && done < ticket)
		pthread_cond_wait(&ss->ended, &ss->lock);
	pthread_mutex_unlock(&ss->lock);
	return rc;
}
