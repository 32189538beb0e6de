/*
 * store_checkpoint.c: crisisd's WAL checkpoints, in a thread of their own.
 *
 * A checkpoint copies the pages of the WAL into the database file and
 * syncs it.  Run inside a commit (SQLite's wal_autocheckpoint) it stalls
 * the single-threaded event loop for the length of that copy, every few
 * thousand pages.  So crisisd's connection has wal_autocheckpoint off, and
 * a hook on its commits wakes a thread each time STORE_CHECKPOINT_PAGES
 * more frames have gone into the WAL; the thread runs a PASSIVE checkpoint
 * on a second connection of its own.  PASSIVE takes no lock a writer
 * needs: the daemon's commits go on while it copies.  Once the commits
 * pause for STORE_CHECKPOINT_IDLE_MS, the thread also copies what came
 * since its last checkpoint began, so that the WAL is all copied and the
 * next write starts it over from its first page.
 *
 * The two connections share no statement.  The thread touches nothing of
 * struct store but the struct store_checkpoint it was given; the hook and
 * the thread share its flags and counts under a mutex that is never held
 * across a call into SQLite, so the hook never waits for a checkpoint.
 *
 * Under a sustained load the daemon commits during every checkpoint, so
 * the WAL is never all copied and never starts over: it grew by 290 MB in
 * 10 s of single-row commits.  Crash recovery reads the whole WAL, so its
 * size is also how long crisisd takes to start after a crash.  A RESTART
 * checkpoint from the thread does not help: it needs the write lock, which
 * SQLite only polls for (sleeping 1, 2, 5 ms...) while the daemon takes it
 * again after every commit, and it lost that race nearly every time.  So
 * past STORE_CHECKPOINT_LIMIT_PAGES the thread is woken every
 * STORE_CHECKPOINT_TAIL_PAGES frames, and once it is idle with no more
 * than that left uncopied, the hook copies that tail itself (PASSIVE on the
 * daemon's connection, at most once per STORE_CHECKPOINT_TAIL_EVERY_MS
 * unless the WAL started over), and the daemon's next write starts the WAL
 * over.  That is the one copy left on the commit path, once per 40 MiB of
 * WAL under a sustained load: a few pages and a sync of the database file,
 * 1.4 ms median in the closed-loop benchmark, about one commit, where the
 * autocheckpoint took 4 to 30 ms.  SQLite syncs the database file only
 * after a checkpoint that reached the end of the WAL, so the thread syncs
 * it after each of its own: the tail's sync then has only the tail to
 * write.  The limit (40 MiB at 4 KiB pages) is under the
 * journal_size_limit, so the WAL file is reused rather than truncated and
 * grown again.  While a reader holds an old snapshot nothing can start the
 * WAL over; the tail is then long and the hook leaves it alone.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/*
 * Wake the thread each time commits add this many frames to the WAL: the
 * cadence the daemon's autocheckpoint had.  Off the commit path a smaller
 * one gains nothing and copies the same hot pages more often: at 1000 the
 * process spent 5% more CPU per commit (measured with 30 KB commits).
 */
#define STORE_CHECKPOINT_PAGES 4000
/* Past this many frames, the commit path copies the tail to bound the WAL. */
#define STORE_CHECKPOINT_LIMIT_PAGES 10000
/* The longest tail the commit path copies itself. */
#define STORE_CHECKPOINT_TAIL_PAGES 128
/* At most one tail copy per this long (a reader may keep the WAL anyway). */
#define STORE_CHECKPOINT_TAIL_EVERY_MS 1000
/* Commits paused this long: copy what came after the last checkpoint. */
#define STORE_CHECKPOINT_IDLE_MS 200
/* The thread's busy timeout: PASSIVE itself never waits for a lock. */
#define STORE_CHECKPOINT_BUSY_MS 5
/* How long store_checkpoint_stop()'s last checkpoint waits for readers. */
#define STORE_CHECKPOINT_CLOSE_BUSY_MS 1000
/* The thread's name, as top and perf show it (15 bytes at most). */
#define STORE_CHECKPOINT_THREAD_NAME "crisisd-ckpt"

struct store_checkpoint {
	sqlite3 *db; /* the thread's own connection */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock: */
	bool wanted; /* commits added frames enough for a checkpoint */
	bool running; /* the thread is checkpointing or syncing */
	bool stop; /* store_checkpoint_stop() asks the thread to end */
	bool asleep; /* the thread waits for the next commit, all copied */
	unsigned long commits; /* the hook's calls so far */
	unsigned long commits_run; /* as the thread's last checkpoint began */
	struct store_checkpoint_counts counts;
	/* The thread's alone: the WAL's frames copied as of its last sync. */
	int synced_pages;
	/* The commit path's alone: */
	int woken_at_pages; /* the WAL's frames when the thread was last woken
	                     */
	int64_t tail_at_ms; /* the monotonic time of the next tail copy */
};

/* Copy the WAL's last frames on the commit path, so it can start over. */
static void
store_checkpoint_tail(struct store_checkpoint *cp, sqlite3 *db,
    const char *name)
{
	int64_t now = util_monotonic_ms();

	if (now < cp->tail_at_ms)
		return;
	/* SQLITE_BUSY: another connection is checkpointing; try again later. */
	if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
	        NULL) != SQLITE_OK)
		return;
	cp->tail_at_ms = now + STORE_CHECKPOINT_TAIL_EVERY_MS;
	pthread_mutex_lock(&cp->lock);
	cp->counts.tails++;
	pthread_mutex_unlock(&cp->lock);
}

/*
 * After each commit (the wal hook, with the WAL's frame count): wake the
 * thread every STORE_CHECKPOINT_PAGES new frames, and past the limit every
 * STORE_CHECKPOINT_TAIL_PAGES so that the tail it leaves stays short; copy
 * that tail here once it is short and the thread is idle.
 */
static int
store_checkpoint_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store_checkpoint *cp = arg;
	bool past, wake, tail;
	int left;

	/* Fewer frames than at the last wake: the WAL started over. */
	if (pages < cp->woken_at_pages) {
		cp->woken_at_pages = 0;
		cp->tail_at_ms = 0;
	}
	past = pages >= STORE_CHECKPOINT_LIMIT_PAGES;
	wake = pages - cp->woken_at_pages >=
	    (past ? STORE_CHECKPOINT_TAIL_PAGES : STORE_CHECKPOINT_PAGES);
	pthread_mutex_lock(&cp->lock);
	cp->commits++;
	if (cp->asleep) {
		cp->asleep = false;
		pthread_cond_signal(&cp->wake);
	}
	left = pages - cp->counts.done_pages;
	tail = past && !cp->running && !cp->wanted && left >= 0 &&
	    left <= STORE_CHECKPOINT_TAIL_PAGES;
	if (wake && !tail) {
		cp->woken_at_pages = pages;
		cp->wanted = true;
		pthread_cond_signal(&cp->wake);
	}
	pthread_mutex_unlock(&cp->lock);
	if (tail)
		store_checkpoint_tail(cp, db, name);
	return SQLITE_OK;
}

/*
 * Make what a checkpoint copied durable now, through SQLite's own handle
 * of the file (closing another descriptor of it would drop SQLite's locks).
 */
static void
store_checkpoint_sync(struct store_checkpoint *cp)
{
	sqlite3_file *file = NULL;

	if (sqlite3_file_control(cp->db, "main", SQLITE_FCNTL_FILE_POINTER,
	        &file) == SQLITE_OK &&
	    file != NULL && file->pMethods != NULL)
		file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
}

/* One PASSIVE checkpoint of the thread and a sync, counted (lock held). */
static void
store_checkpoint_run(struct store_checkpoint *cp, bool requested)
{
	int wal = -1, done = -1, rc;

	cp->wanted = false;
	cp->running = true;
	cp->commits_run = cp->commits;
	pthread_mutex_unlock(&cp->lock);
	rc = sqlite3_wal_checkpoint_v2(cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &wal, &done);
	if (rc == SQLITE_OK && done > 0 && done != cp->synced_pages) {
		store_checkpoint_sync(cp);
		cp->synced_pages = done;
	}
	pthread_mutex_lock(&cp->lock);
	cp->running = false;
	cp->counts.passive++;
	if (!requested)
		cp->counts.idle++;
	if (rc == SQLITE_BUSY)
		cp->counts.busy++;
	else if (rc != SQLITE_OK)
		cp->counts.failures++;
	else {
		cp->counts.wal_pages = wal;
		cp->counts.done_pages = done;
	}
}

/*
 * Wait (lock held) for a commit's request or for store_checkpoint_stop():
 * true.  With commits since the last checkpoint began, wait only until
 * they pause for STORE_CHECKPOINT_IDLE_MS: false.
 */
static bool
store_checkpoint_wait(struct store_checkpoint *cp)
{
	struct timespec until;
	unsigned long seen;

	while (!cp->wanted && !cp->stop) {
		if (cp->commits == cp->commits_run) {
			/* All copied: sleep until the next commit. */
			cp->asleep = true;
			pthread_cond_wait(&cp->wake, &cp->lock);
			cp->asleep = false;
			continue;
		}
		seen = cp->commits;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += STORE_CHECKPOINT_IDLE_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!cp->wanted && !cp->stop &&
		    pthread_cond_timedwait(&cp->wake, &cp->lock, &until) !=
		        ETIMEDOUT)
			;
		if (!cp->wanted && !cp->stop && cp->commits == seen)
			return false;
	}
	return true;
}

/* The thread: a checkpoint per request and once the commits pause. */
static void *
store_checkpoint_main(void *arg)
{
	struct store_checkpoint *cp = arg;
	bool requested;

	pthread_mutex_lock(&cp->lock);
	for (;;) {
		requested = store_checkpoint_wait(cp);
		if (cp->stop)
			break;
		store_checkpoint_run(cp, requested);
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

/* Open the thread's connection: read-write, no mutex, FULL sync. */
static int
store_checkpoint_connect(struct store *st, struct store_checkpoint *cp,
    const char *path)
{
	int rc;

	/*
	 * NOMUTEX: only the thread uses this connection once it runs, so
	 * SQLite need not serialise calls on it; its file locks and the
	 * shared WAL index are still guarded by SQLite's global mutexes.
	 */
	rc = sqlite3_open_v2(path, &cp->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		store_set_error(st, "checkpointer: open: %s",
		    cp->db != NULL ? sqlite3_errmsg(cp->db)
		                   : sqlite3_errstr(rc));
		return STORE_ERROR;
	}
	if (sqlite3_busy_timeout(cp->db, STORE_CHECKPOINT_BUSY_MS) !=
	        SQLITE_OK ||
	    sqlite3_exec(cp->db, "PRAGMA synchronous = FULL", NULL, NULL,
	        NULL) != SQLITE_OK) {
		store_set_error(st, "checkpointer: %s", sqlite3_errmsg(cp->db));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Free a checkpointer whose thread is not running (half-built is fine). */
static void
store_checkpoint_free(struct store_checkpoint *cp, bool sync_ready)
{
	if (sync_ready) {
		pthread_cond_destroy(&cp->wake);
		pthread_mutex_destroy(&cp->lock);
	}
	sqlite3_close_v2(cp->db);
	free(cp);
}

/* The mutex and the condition variable (on the monotonic clock). */
static int
store_checkpoint_sync_init(struct store_checkpoint *cp)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0 &&
	    (rc = pthread_cond_init(&cp->wake, &attr)) == 0 &&
	    (rc = pthread_mutex_init(&cp->lock, NULL)) != 0)
		pthread_cond_destroy(&cp->wake);
	pthread_condattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

/* Start the thread with every signal blocked: they are the event loop's. */
static int
store_checkpoint_spawn(struct store_checkpoint *cp)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&cp->thread, NULL, store_checkpoint_main, cp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(cp->thread, STORE_CHECKPOINT_THREAD_NAME);
	return rc;
}

/* Turn autocheckpoint off on st and start the checkpointer thread. */
int
store_checkpoint_start(struct store *st, const char *path)
{
	struct store_checkpoint *cp;
	int rc;

	/* Without thread support, checkpoints stay inside commits. */
	if (sqlite3_threadsafe() == 0)
		return STORE_OK;
	cp = xcalloc(1, sizeof *cp);
	if (store_checkpoint_sync_init(cp) != 0) {
		store_set_error(st, "checkpointer: cannot make its mutex");
		store_checkpoint_free(cp, false);
		return STORE_ERROR;
	}
	if (store_checkpoint_connect(st, cp, path) != STORE_OK)
		goto fail;
	if (sqlite3_exec(db_sqlite_handle(st->db),
	        "PRAGMA wal_autocheckpoint = 0", NULL, NULL,
	        NULL) != SQLITE_OK) {
		store_fail(st, "wal_autocheckpoint");
		goto fail;
	}
	if ((rc = store_checkpoint_spawn(cp)) != 0) {
		store_set_error(st, "checkpointer: pthread_create: %s",
		    strerror(rc));
		goto fail;
	}
	st->checkpoint = cp;
	sqlite3_wal_hook(db_sqlite_handle(st->db), store_checkpoint_hook, cp);
	return STORE_OK;
fail:
	store_checkpoint_free(cp, true);
	return STORE_ERROR;
}

/* Stop and join the thread, then checkpoint (TRUNCATE) on st itself. */
void
store_checkpoint_stop(struct store *st)
{
	struct store_checkpoint *cp = st->checkpoint;

	if (cp == NULL)
		return;
	sqlite3_wal_hook(db_sqlite_handle(st->db), NULL, NULL);
	pthread_mutex_lock(&cp->lock);
	cp->stop = true;
	pthread_cond_signal(&cp->wake);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	st->checkpoint = NULL;
	store_checkpoint_free(cp, true);
	/*
	 * Leave the WAL empty for the next start (crash recovery reads all of
	 * it).  This is the last use of st before it closes; a failure (a
	 * reader outlasting the wait) leaves the WAL whole for the next open.
	 */
	sqlite3_busy_timeout(db_sqlite_handle(st->db),
	    STORE_CHECKPOINT_CLOSE_BUSY_MS);
	sqlite3_wal_checkpoint_v2(db_sqlite_handle(st->db), NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* Copy the thread's counts; -1 if st has no checkpointer thread. */
int
store_checkpoint_counts(struct store *st, struct store_checkpoint_counts *out)
{
	struct store_checkpoint *cp = st->checkpoint;

	if (cp == NULL)
		return -1;
	pthread_mutex_lock(&cp->lock);
	*out = cp->counts;
	out->caught_up =
	    !cp->running && !cp->wanted && cp->commits == cp->commits_run;
	pthread_mutex_unlock(&cp->lock);
	return 0;
}
