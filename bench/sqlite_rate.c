/*
 * sqlite_rate.c: the storage baseline of the benchmark.  How fast can
 * this machine commit to SQLite with the settings crisisd uses (WAL,
 * synchronous=FULL) on the file system the benchmark's database lives on?
 *
 *   single      one row per commit, for S seconds: commits/s and the
 *               latency of each commit (BEGIN IMMEDIATE .. COMMIT), with
 *               wal_autocheckpoint = 4000 pages as crisisd sets it, so
 *               checkpoints run inside an unlucky commit;
 *   batch100    100 rows per commit: rows/s;
 *   single_bg   one row per commit with autocheckpoint off and a second
 *               connection checkpointing (PASSIVE) from its own thread:
 *               what commit latency is with checkpoints off the commit path.
 *
 * The rows are shaped like crisisd's contact_events (an indexed text key).
 * usage: sqlite_rate DIR [SECONDS]    (prints one JSON object)
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* crisisd's STORE_WAL_AUTOCHECKPOINT_PAGES (daemon/store.c). */
#define RATE_WAL_AUTOCHECKPOINT_PAGES 4000
#define RATE_BATCH_ROWS 100
/* How often the background checkpointer runs. */
#define RATE_BG_CHECKPOINT_MS 50
#define RATE_PATH_MAX_BYTES 4096

struct rate_samples {
	double *v;
	size_t n, cap;
};

struct rate_bg {
	const char *path;
	volatile bool stop;
	int checkpoints;
};

static const char rate_schema[] =
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  contact TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  tier INTEGER,"
    "  clinician TEXT,"
    "  detail TEXT);"
    "CREATE INDEX events_contact ON events(contact, seq);";

/* Seconds on the monotonic clock. */
static double
rate_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print the error and exit 1. */
static void
rate_die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite_rate: %s: %s\n", what,
	    db ? sqlite3_errmsg(db) : strerror(errno));
	exit(1);
}

/* Run SQL that returns nothing we need. */
static void
rate_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		rate_die(db, sql);
}

/* Step a prepared statement to its end and reset it. */
static void
rate_step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		rate_die(db, sqlite3_sql(st));
	sqlite3_reset(st);
}

/* Keep one sample. */
static void
rate_sample(struct rate_samples *s, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8192;
		if ((s->v = realloc(s->v, s->cap * sizeof(*s->v))) == NULL)
			rate_die(NULL, "realloc");
	}
	s->v[s->n++] = v;
}

/* Order doubles ascending, for qsort. */
static int
rate_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-quantile of sorted samples, nearest rank, in microseconds. */
static double
rate_quantile_us(const struct rate_samples *s, double p)
{
	size_t rank = (size_t)ceil(p * (double)s->n);

	if (s->n == 0)
		return NAN;
	return s->v[(rank < 1 ? 1 : rank) - 1] * 1e6;
}

/* Open the database with crisisd's settings. */
static sqlite3 *
rate_open(const char *path, int autocheckpoint)
{
	char sql[128];
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		rate_die(db, path);
	sqlite3_busy_timeout(db, 5000);
	rate_exec(db, "PRAGMA journal_mode = WAL");
	rate_exec(db, "PRAGMA synchronous = FULL");
	snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d",
	    autocheckpoint);
	rate_exec(db, sql);
	rate_exec(db, "PRAGMA journal_size_limit = 67108864");
	return db;
}

/*
 * Commit batches of rows for the given time; each commit's latency goes
 * to lat (if not NULL).  Returns the number of commits.
 */
static size_t
rate_run(sqlite3 *db, int rows, double seconds, struct rate_samples *lat)
{
	static size_t serial;
	sqlite3_stmt *begin, *commit, *ins;
	double t0 = rate_now(), t;
	size_t commits = 0;
	char contact[32];

	if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) ||
	    sqlite3_prepare_v2(db,
	        "INSERT INTO events(contact, at, event,"
	        " tier, clinician) VALUES (?1, ?2, 'offered', 1, 'bench-c001')",
	        -1, &ins, NULL))
		rate_die(db, "prepare");
	while ((t = rate_now()) - t0 < seconds) {
		rate_step(db, begin);
		for (int i = 0; i < rows; i++) {
			snprintf(contact, sizeof contact, "01JBENCH%018zu",
			    serial++);
			sqlite3_bind_text(ins, 1, contact, -1,
			    SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)serial);
			rate_step(db, ins);
		}
		rate_step(db, commit);
		if (lat != NULL)
			rate_sample(lat, rate_now() - t);
		commits++;
	}
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(ins);
	return commits;
}

/* The background checkpointer: its own connection, PASSIVE, every 50 ms. */
static void *
rate_bg_main(void *arg)
{
	struct rate_bg *bg = arg;
	struct timespec pause = { 0, RATE_BG_CHECKPOINT_MS * 1000000L };
	sqlite3 *db = rate_open(bg->path, 0);

	while (!bg->stop) {
		nanosleep(&pause, NULL);
		if (sqlite3_wal_checkpoint_v2(db, NULL,
		        SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
			bg->checkpoints++;
	}
	sqlite3_close(db);
	return NULL;
}

/* Print one commit-latency run as a JSON member. */
static void
rate_print_single(const char *name, struct rate_samples *lat, double seconds,
    const char *extra)
{
	qsort(lat->v, lat->n, sizeof(*lat->v), rate_cmp);
	printf("\"%s\":{\"commits_per_s\":%.1f,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f%s}",
	    name, (double)lat->n / seconds, rate_quantile_us(lat, 0.5),
	    rate_quantile_us(lat, 0.99), rate_quantile_us(lat, 0.999),
	    lat->n ? lat->v[lat->n - 1] * 1e6 : NAN, extra);
	fprintf(stderr,
	    "sqlite_rate: %-9s %8.1f commits/s  p50 %7.1f us  "
	    "p99.9 %8.1f us  max %8.1f us\n",
	    name, (double)lat->n / seconds, rate_quantile_us(lat, 0.5),
	    rate_quantile_us(lat, 0.999),
	    lat->n ? lat->v[lat->n - 1] * 1e6 : NAN);
}

/* A fresh database file with the events table. */
static sqlite3 *
rate_fresh(const char *path, int autocheckpoint)
{
	static const char *const suffixes[] = { "", "-wal", "-shm",
		"-journal" };
	char file[RATE_PATH_MAX_BYTES + 16];
	sqlite3 *db;

	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
		if (unlink(file) == -1 && errno != ENOENT)
			rate_die(NULL, file);
	}
	db = rate_open(path, autocheckpoint);
	rate_exec(db, rate_schema);
	return db;
}

int
main(int argc, char **argv)
{
	struct rate_samples single = { 0 }, bg_lat = { 0 };
	struct rate_bg bg = { 0 };
	char path[RATE_PATH_MAX_BYTES], extra[64];
	double seconds = 2, t0;
	size_t commits;
	pthread_t th;
	sqlite3 *db;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (seconds = atof(argv[2])) <= 0) ||
	    snprintf(path, sizeof path, "%s/rate.db", argv[1]) >=
	        (int)sizeof path) {
		fprintf(stderr, "usage: sqlite_rate DIR [SECONDS]\n");
		return 2;
	}
	db = rate_fresh(path, RATE_WAL_AUTOCHECKPOINT_PAGES);
	rate_run(db, 1, seconds, &single);
	rate_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	t0 = rate_now();
	commits = rate_run(db, RATE_BATCH_ROWS, seconds, NULL);
	t0 = rate_now() - t0;
	sqlite3_close(db);

	db = rate_fresh(path, 0);
	bg.path = path;
	if (pthread_create(&th, NULL, rate_bg_main, &bg) != 0)
		rate_die(NULL, "pthread_create");
	rate_run(db, 1, seconds, &bg_lat);
	bg.stop = true;
	pthread_join(th, NULL);
	sqlite3_close(db);

	printf("{\"seconds\":%.1f,", seconds);
	rate_print_single("single", &single, seconds, "");
	printf(",\"batch100\":{\"rows_per_s\":%.1f,\"commits_per_s\":%.1f},",
	    (double)commits * RATE_BATCH_ROWS / t0, (double)commits / t0);
	fprintf(stderr, "sqlite_rate: batch100  %8.1f rows/s\n",
	    (double)commits * RATE_BATCH_ROWS / t0);
	snprintf(extra, sizeof extra, ",\"checkpoints\":%d", bg.checkpoints);
	rate_print_single("single_bg", &bg_lat, seconds, extra);
	printf("}\n");
	free(single.v);
	free(bg_lat.v);
	return 0;
}
