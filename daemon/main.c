/*
 * main.c: crisisd's start, loop and stop.
 *
 * The loop runs one libevent turn at a time and ends each turn with
 * main_flush(): every store write of the turn is committed in one
 * transaction (group commit), without waiting for the disk.  The store's
 * sync thread then fdatasyncs the WAL and wakes the loop (main_synced_cb),
 * and only then do the replies and pushes that depend on those writes
 * leave (outbox.c).  What a failed commit means for the daemon's state is
 * the engine's to decide, told from here; a failed sync ends the daemon.
 *
 * The engine reads no clock and holds no timer: main.c is its edge.  Each
 * call into it is given the time read here (or in proto.c), and one timer,
 * re-armed after every turn, wakes the engine at its earliest deadline.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "engine.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "ha.h"
#include "lockfile.h"
#include "notify.h"
#include "outbox.h"
#include "proto.h"
#include "results.h"
#include "session.h"
#include "store.h"
#include "tls.h"
#include "token.h"
#include "util.h"
#include "version.h"

/* How long SIGTERM waits for connections to take their last bytes. */
#define MAIN_STOP_MS 2000

static struct {
	struct event_base *base;
	struct conf *conf;
	struct store *st;
	struct engine *engine;
	struct event *engine_timer; /* at the engine's next deadline */
	int64_t engine_timer_at; /* INT64_MAX: not armed */
	struct listener *listener;
	struct http *http; /* the web console, if configured */
	struct lockfile *lock; /* SQLite: one daemon per database file */
	struct ha *ha; /* PostgreSQL: standby until the lease is ours */
	struct event *sigs[3];
	struct event *turn_ev; /* ends a loop turn once lines wait */
	struct event *synced; /* the store's sync thread finished a sync */
	struct event *release_next; /* the next synced commit's lines go */
	uint64_t released; /* the lines of every ticket up to this one went */
	bool stopping;
	size_t last_open, last_clinicians;
} d;

static struct log_limit main_commit_limit;

/*
 * A sync of the WAL failed.  What the kernel did with the pages it could
 * not write is unknown, and syncing again could report success without
 * them: exit without sending anything that waited for it.  systemd starts
 * crisisd again, SQLite recovers what is on disk, and gateways resend what
 * they were never told was queued.
 */
static void
main_sync_failed(void)
{
	fatalx("database %s: %s: %s; stopping without sending what depends "
	       "on them",
	    d.conf->database_shown,
	    store_shared(d.st) ? "commits could not be made durable"
	                       : "the WAL could not be synced",
	    store_error(d.st));
}

/*
 * A write was refused for an old epoch: another node took the lease over
 * while this one was paused or cut off.  Whatever this turn holds must
 * never be sent; exit at once (systemd starts crisisd again, a standby).
 */
static void
main_fenced(const char *why)
{
	log_error("%s; stepping down without sending anything more", why);
	_exit(1);
}

/*
 * Send the lines whose commits are on disk, at the end of a loop turn (after
 * its writes, so that what the last turn sent has gone out to every peer
 * that reads), one more commit's per turn.  A sync covers every commit made
 * while the one before it ran; their lines all sent in one turn would queue
 * several turns' output to every connection at once, and the limit on all
 * connections' unsent output forgives a burst of one turn, not of several.
 */
static void
main_release(void)
{
	static const struct timeval next_turn = { 0, 0 };
	uint64_t synced;

	if (store_synced(d.st, &synced) == -1)
		main_sync_failed();
	if (synced > d.released)
		d.released++;
	outbox_release(d.released);
	if (synced > d.released &&
	    evtimer_add(d.release_next, &next_turn) == -1)
		fatalx("cannot schedule the release of synced lines");
}

/*
 * The sync thread finished a sync (or failed): the turn this wakes ends
 * with main_flush(), which sends what the sync released.
 */
static void
main_synced_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	store_sync_clear(d.st);
	/* Before the console's lower-priority work (see main_turn_cb). */
	event_base_loopbreak(d.base);
}

/* More synced lines wait: run a turn, which ends by sending them. */
static void
main_release_next_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(d.base);
}

/* Wait for the last commit's sync, then send all that waited (shutdown). */
static void
main_release_all(void)
{
	if (store_sync_wait(d.st, store_sync_ticket(d.st)) == -1 ||
	    store_synced(d.st, &d.released) == -1)
		main_sync_failed();
	outbox_release(d.released);
}

/*
 * End of a loop turn: commit, settle the lines, and tell the engine how the
 * commit went; then send what no longer waits for a sync.  A recovery from
 * a failed store routes everything again, which is flushed at once rather
 * than at the next event.
 */
static void
main_flush(void)
{
	for (int round = 0; round < 3; round++) {
		int rc = outbox_flush(d.st);
		int64_t now = util_now_ms();
		bool ok = rc >= 0;

		results_committed(ok);
		if (!ok)
			log_limited(&main_commit_limit, LOG_LEVEL_ERROR,
			    "database commit failed: %s; replies that needed "
			    "it get \"internal\", overflows still go out, and "
			    "the database is tried again",
			    store_error(d.st));
		if (!engine_committed(d.engine, ok, rc == 1, now))
			break;
	}
	main_release();
}

/* The engine's deadline came: it acts on everything due by now. */
static void
main_engine_due_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	d.engine_timer_at = INT64_MAX;
	engine_run_due(d.engine, util_now_ms());
}

/*
 * After a turn: wake the engine at its earliest deadline, which the turn
 * may have moved (a deadline already past wakes it in the next turn).
 */
static void
main_engine_arm(void)
{
	int64_t at = engine_next_due(d.engine), ms;
	struct timeval tv;

	if (at == d.engine_timer_at)
		return;
	d.engine_timer_at = at;
	if (at == INT64_MAX) {
		evtimer_del(d.engine_timer);
		return;
	}
	ms = at - util_now_ms();
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(d.engine_timer, &tv);
}

/*
 * Lines wait for the flush: the loop turn ends after the events of
 * routing's priority already active, so that the web console's (below
 * it) do not hold an offer until they are all done: event_base_loop's
 * EVLOOP_ONCE would otherwise run them all first.
 */
static void
main_turn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(d.base);
}

/* Print the usage to f. */
static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: crisisd [-t] [-c FILE]\n"
	    "  -c, --config FILE  the config (default $CRISISD_CONF, then %s)\n"
	    "  -t, --test         check the config and the database, then "
	    "exit\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      the version\n",
	    CONF_DEFAULT_PATH);
}

/* Load the config or exit 2 with every error found. */
static struct conf *
main_load_conf(const char *path)
{
	struct conf *conf;
	char *cause = NULL;

	if (conf_load(path, &conf, &cause) == -1) {
		fprintf(stderr, "%s", cause);
		if (cause[0] != '\0' && cause[strlen(cause) - 1] != '\n')
			fputc('\n', stderr);
		free(cause);
		exit(2);
	}
	return conf;
}

/* crisisd -t: the config, then the database; 0 if both are good. */
static int
main_test(const char *path)
{
	struct conf *conf = main_load_conf(path);
	char *cause = NULL;
	struct store *st;
	struct tls *tls;
	int rc = 0;

	/* A key that does not fit its certificate is a config error too. */
	if (conf->tls.nlisten > 0) {
		if ((tls = tls_new(&conf->tls, &cause)) == NULL) {
			fprintf(stderr, "%s: tls: %s\n", path, cause);
			free(cause);
			conf_free(conf);
			return 2;
		}
		tls_free(tls);
	}
	st = store_open(conf->database, STORE_OPEN_EXISTING, &cause);
	if (st == NULL || store_check(st, &cause) == -1) {
		fprintf(stderr, "crisisd: database %s: %s\n", conf->database,
		    cause);
		free(cause);
		rc = 1;
	} else
		printf("configuration OK, database OK (%s)\n", path);
	store_close(st);
	conf_free(conf);
	return rc;
}

/* Tell systemd what we are doing, when it changed. */
static void
main_status(void)
{
	size_t open = engine_open_contacts(d.engine);
	size_t clinicians = engine_connected_clinicians(d.engine);

	if (open == d.last_open && clinicians == d.last_clinicians)
		return;
	d.last_open = open;
	d.last_clinicians = clinicians;
	notify_status(d.base, "%zu open contacts, %zu clinicians connected",
	    open, clinicians);
}

/* SIGHUP: a new config replaces the old only if it is whole. */
static void
main_reload(void)
{
	struct conf *conf;
	char *cause = NULL;

	notify_reloading();
	if (conf_load(d.conf->path, &conf, &cause) == -1) {
		log_error("reload failed, keeping the running config:\n%s",
		    cause);
		free(cause);
		notify_ready("reload failed; running config kept");
		return;
	}
	if (strcmp(conf->database, d.conf->database) != 0)
		log_warnx("reload: a new database path takes a restart");
	if (strcmp(conf->timezone, d.conf->timezone) != 0)
		log_warnx("reload: a new timezone takes a restart");
	if (strcmp(conf->ha.node, d.conf->ha.node) != 0 ||
	    conf->ha.lease_ms != d.conf->ha.lease_ms)
		log_warnx("reload: a new ha group takes a restart");
	log_set_level((enum log_level)conf->log_level);
	proto_set_limits(conf->max_line_bytes, conf->hello_timeout_ms);
	listen_set_max_connections(d.listener, (size_t)conf->max_connections);
	listen_set_max_unauthenticated(d.listener,
	    (size_t)conf->max_unauthenticated);
	conn_set_output_total_max(conf->max_output_bytes_total);
	listen_reload_tls(d.listener, &conf->tls);
	if ((conf->http.nlisten > 0) != (d.http != NULL))
		log_warnx("reload: adding or removing the http group takes a "
		          "restart");
	http_reload(d.http, conf);
	if (d.engine != NULL)
		engine_set_conf(d.engine, conf, util_now_ms());
	conf_free(d.conf);
	d.conf = conf;
	log_notice("config reloaded from %s", conf->path);
	notify_ready("config reloaded");
}

/* Signals: TERM and INT stop, HUP reloads. */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	/* Once stopping, the listener is gone: a reload has nothing to do. */
	if (sig == SIGHUP) {
		if (!d.stopping)
			main_reload();
		return;
	}
	log_notice("signal %d: stopping", (int)sig);
	d.stopping = true;
	event_base_loopbreak(d.base);
}

/*
 * The event base.  libevent normally reads the clock once per loop turn and
 * adds new timeouts to that cached time, so a timer armed late in a long
 * turn (after a slow commit, in a connection storm) would fire early by the
 * time the turn already took; with the cache off every timeout counts from
 * the real clock (a vDSO call, cheap).
 */
static struct event_base *
main_event_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	/*
	 * The web console's events run below routing's (LOOP_PRIORITIES), and
	 * a loop turn runs at most this many of them before it looks for
	 * routing's again: a thousand wallboards' events are a long queue.
	 */
	if (cfg == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME) == -1 ||
	    event_config_set_max_dispatch_interval(cfg, NULL,
	        LOOP_WEB_CALLBACKS_MAX, LOOP_PRIORITY_WEB) == -1)
		fatalx("event_config failed");
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL)
		fatalx("event_base_new failed");
	if (event_base_priority_init(base, LOOP_PRIORITIES) == -1)
		fatalx("event_base_priority_init failed");
	return base;
}

/*
 * Watch TERM, INT and HUP before any socket is open: a peer (or systemd)
 * may connect and signal as soon as the listener exists, and a SIGTERM that
 * met the default action then would kill the daemon mid-commit instead of
 * stopping it.
 */
static void
main_watch_signals(void)
{
	const int signos[3] = { SIGTERM, SIGINT, SIGHUP };

	for (size_t i = 0; i < 3; i++) {
		d.sigs[i] =
		    evsignal_new(d.base, signos[i], main_signal_cb, NULL);
		if (d.sigs[i] == NULL || evsignal_add(d.sigs[i], NULL) == -1)
			fatalx("cannot watch signal %d", signos[i]);
	}
}

/* Hear from the store's sync thread after each sync. */
static void
main_watch_syncs(void)
{
	int fd = store_sync_fd(d.st);

	d.release_next = evtimer_new(d.base, main_release_next_cb, NULL);
	if (d.release_next == NULL)
		fatalx("cannot make the release timer");
	if (fd == -1)
		return;
	d.synced =
	    event_new(d.base, fd, EV_READ | EV_PERSIST, main_synced_cb, NULL);
	if (d.synced == NULL || event_add(d.synced, NULL) == -1)
		fatalx("cannot watch the database's sync thread");
}

/*
 * Open the database.  One daemon per database, before any contact is read
 * or written: on SQLite the lock file says so; on PostgreSQL the lease
 * (ha.c), taken once the sockets are open.
 */
static void
main_open_store(void)
{
	char *cause = NULL;

	if (!util_is_postgresql_uri(d.conf->database) &&
	    (d.lock = lockfile_take(d.conf->database, &cause)) == NULL)
		fatalx("%s", cause);
	d.st = store_open(d.conf->database, STORE_OPEN_DAEMON, &cause);
	if (d.st == NULL || store_check(d.st, &cause) == -1)
		fatalx("database %s: %s", d.conf->database_shown, cause);
	store_on_fenced(d.st, main_fenced);
	/* store_open read these settings back; say so for the operator. */
	if (store_shared(d.st))
		log_info("database %s: PostgreSQL, schema %d; node %s, "
		         "lease %lld ms (nothing that depends on a commit is "
		         "sent before a synchronous commit covers it)",
		    d.conf->database_shown, STORE_SCHEMA_VERSION,
		    d.conf->ha.node, (long long)d.conf->ha.lease_ms);
	else
		log_info("database %s: schema %d, journal_mode wal, "
		         "synchronous normal with a WAL fdatasync thread "
		         "(nothing that depends on a commit is sent before "
		         "its sync), quick_check ok",
		    d.conf->database_shown, STORE_SCHEMA_VERSION);
}

/*
 * Serve: resume the open contacts and route (at the start, or when a
 * standby takes the lease over: the same as after a restart, §5).
 */
static void
main_serve(void *arg)
{
	char *cause = NULL;

	(void)arg;
	main_watch_syncs();
	d.engine = engine_new(d.st, d.conf, util_now_ms(), &cause);
	if (d.engine == NULL)
		fatalx("%s", cause);
	d.engine_timer = evtimer_new(d.base, main_engine_due_cb, NULL);
	if (d.engine_timer == NULL)
		fatalx("cannot create the engine's timer");
	d.engine_timer_at = INT64_MAX;
	main_engine_arm();
	proto_init(d.base, d.engine);
	d.http = http_open(d.base, d.conf, d.st, &cause);
	if (cause != NULL)
		fatalx("%s", cause);
	if (outbox_flush(d.st) == -1)
		fatalx("database %s: cannot write: %s", d.conf->database_shown,
		    store_error(d.st));
	log_notice("crisisd %s serving on %zu sockets, %zu open contacts",
	    CRISISD_VERSION, listen_count(d.listener),
	    engine_open_contacts(d.engine));
	if (d.ha != NULL)
		notify_status(d.base, "serving (node %s)", d.conf->ha.node);
}

/* Open everything; any failure here is fatal. */
static void
main_start(const char *path)
{
	char *cause = NULL;

	d.conf = main_load_conf(path);
	log_init("crisisd", (enum log_level)d.conf->log_level);
	if (token_init() == -1)
		fatalx("libsodium cannot be initialised");
	signal(SIGPIPE, SIG_IGN);
	/*
	 * The configured zone is the process's, set before any thread
	 * starts: the console's stats group hours and days in it (the C
	 * library's calendar works only through $TZ).
	 */
	setenv("TZ", d.conf->timezone, 1);
	tzset();
	d.base = main_event_base();
	if ((d.turn_ev = event_new(d.base, -1, 0, main_turn_cb, NULL)) == NULL)
		fatalx("event_new failed");
	outbox_set_turn_event(d.turn_ev);
	main_watch_signals();
	main_open_store();
	/*
	 * The sockets before the contacts: a daemon that cannot serve must
	 * not resume and route contacts first.  Nothing is accepted until the
	 * loop runs.
	 */
	proto_set_limits(d.conf->max_line_bytes, d.conf->hello_timeout_ms);
	d.listener = listen_open(d.base, d.conf->listen, d.conf->nlisten,
	    proto_accept_cb, d.base, &cause);
	if (d.listener == NULL ||
	    listen_add_tls(d.listener, &d.conf->tls, &cause) == -1)
		fatalx("%s", cause);
	listen_set_max_connections(d.listener, (size_t)d.conf->max_connections);
	listen_set_max_unauthenticated(d.listener,
	    (size_t)d.conf->max_unauthenticated);
	conn_set_output_total_max(d.conf->max_output_bytes_total);
	if (store_shared(d.st))
		d.ha = ha_start(d.base, d.st, d.conf, main_serve, NULL);
	else
		main_serve(NULL);
}

static void main_stop_serving(int64_t deadline);

/* Stop: no new connections, commit what is in flight, close, free. */
static void
main_stop(void)
{
	int64_t deadline = util_now_ms() + MAIN_STOP_MS;

	notify_stopping();
	listen_close(d.listener);
	d.listener = NULL;
	if (d.engine != NULL)
		main_stop_serving(deadline);
	session_close_all("daemon stopping");
	proto_free();
	ha_free(d.ha);
	notify_watchdog_stop();
	if (d.synced != NULL)
		event_free(d.synced);
	if (d.release_next != NULL)
		event_free(d.release_next);
	store_close(d.st);
	lockfile_release(d.lock);
	for (size_t i = 0; i < 3; i++)
		event_free(d.sigs[i]);
	outbox_set_turn_event(NULL);
	event_free(d.turn_ev);
	event_base_free(d.base);
	conf_free(d.conf);
	log_notice("stopped");
}

/*
 * Stop serving: commit what is in flight, let the peers have what was
 * committed, close every connection, and hand the lease back (PostgreSQL)
 * once every commit is durable, so that a standby takes over at once.
 */
static void
main_stop_serving(int64_t deadline)
{
	engine_stop(d.engine);
	evtimer_del(d.engine_timer);
	/* Console sessions end like the connections they are. */
	http_close(d.http);
	d.http = NULL;
	main_flush();
	/* Replies already committed still reach their peers, once on disk. */
	main_release_all();
	session_finish_all("daemon stopping");
	while (session_count() > 0 && util_now_ms() < deadline) {
		if (event_base_loop(d.base, EVLOOP_ONCE) == -1)
			break;
		main_flush();
	}
	session_close_all("daemon stopping");
	main_flush();
	store_lease_release(d.st);
	engine_free(d.engine);
	event_free(d.engine_timer);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool test = false;
	int ch;

	log_init("crisisd", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("crisisd %s\n", CRISISD_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return 2;
	}
	if (test)
		return main_test(conf_path(config));

	main_start(conf_path(config));
	notify_watchdog_start(d.base);
	if (d.engine == NULL)
		log_notice("crisisd %s standby on %zu sockets (node %s)",
		    CRISISD_VERSION, listen_count(d.listener), d.conf->ha.node);
	notify_ready(d.engine != NULL ? "serving" : "standby");
	while (!d.stopping) {
		if (event_base_loop(d.base, EVLOOP_ONCE) == -1)
			fatalx("event loop failed");
		if (d.engine == NULL)
			continue;
		main_flush();
		main_engine_arm();
		main_status();
	}
	main_stop();
	return 0;
}
