/*
 * loadgen.c: the load generator of the benchmark (bench/run).  One process
 * and one libevent loop hold every connection; it speaks crisisd's wire
 * protocol (CONTRACT §3) and checks what comes back as it runs.
 *
 * Modes:
 *   closed  K intake connections keep W contacts each outstanding (sent and
 *           not yet routed); C clinician connections go available, accept
 *           every offer at once and complete every assignment at once.
 *   open    the same clinicians; contacts at a fixed rate R, spread over
 *           the K intakes.  Every Nth contact may be an escalation probe
 *           (program "bench-probe") that tier-1 clinicians let expire, so
 *           the lateness of the tier-1 timer can be measured at the moment
 *           the next tier's offer arrives.
 *   idle    N clinician connections say hello and then sit idle; "ready N"
 *           is printed once all are welcomed, and they stay until stdin
 *           closes (bench/idle_rss reads the daemon's RSS meanwhile).
 *   echo    N connections, one request outstanding each, against
 *           bench/echo: the floor for any JSON-over-TCP server.
 *
 * Latencies are kept as exact samples and sorted at the end.  The result
 * is one JSON object on stdout; a readable summary goes to stderr
 * (loadgen_report.c).  With --answer-deadline-ms, the contacts answered
 * (routed, overflow or refused) within that long of their send are
 * counted: the open loop's surge steps (bench/surge.py).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <uthash.h>

#include "loadgen.h"

struct lg lg;

/* Seconds on the monotonic clock. */
double
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds since the epoch on the wall clock (compared with the store's). */
double
lg_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print a complaint to stderr, only the first LG_WARN_MAX of them. */
void
lg_warn(const char *fmt, ...)
{
	static int warned;
	va_list ap;

	if (warned++ >= LG_WARN_MAX)
		return;
	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void lg_usage(void) __attribute__((noreturn));

/* Give up: print why and exit 1. */
void
lg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/*
 * The value of "key" in a compact JSON line as crisisd writes it: a
 * string's text (escapes are not undone) or a number's digits.  Returns 0,
 * or -1 if the key is absent or the value does not fit.
 */
int
lg_field(const char *line, size_t len, const char *key, char *out, size_t size)
{
	char pat[LG_KEY_MAX_BYTES];
	const char *p, *q, *end = line + len;
	int n = snprintf(pat, sizeof pat, "\"%s\":", key);

	if (n < 0 || (size_t)n >= sizeof pat ||
	    (p = memmem(line, len, pat, (size_t)n)) == NULL)
		return -1;
	p += n;
	if (p < end && *p == '"') {
		for (q = ++p; q < end && *q != '"'; q++) {
			if (*q == '\\')
				q++;
		}
	} else {
		for (q = p; q < end && *q != ',' && *q != '}'; q++)
			;
	}
	if (q > end || (size_t)(q - p) >= size)
		return -1;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return 0;
}

/* An integer field, or fallback when absent. */
long long
lg_field_int(const char *line, size_t len, const char *key, long long fallback)
{
	char buf[32];

	if (lg_field(line, len, key, buf, sizeof buf) == -1)
		return fallback;
	return strtoll(buf, NULL, 10);
}

/*
 * Send one line: straight to the socket when nothing is queued (so the
 * send time is the time it left), else behind what is queued.
 */
void
lg_send(struct lg_conn *c, const char *line, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ssize_t n = 0;

	if (c->closed)
		return;
	if (evbuffer_get_length(out) == 0) {
		n = write(bufferevent_getfd(c->bev), line, len);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			lg_warn("%s: write: %s", c->principal, strerror(errno));
			n = 0;
		}
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < len)
		bufferevent_write(c->bev, line + n, len - (size_t)n);
}

/* Send a formatted line. */
void
lg_sendf(struct lg_conn *c, const char *fmt, ...)
{
	char line[LG_LINE_MAX_BYTES];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		lg_fatal("a request of %d bytes does not fit", n);
	lg_send(c, line, (size_t)n);
}

/* --- contacts and what was seen of them --- */

/* The contact with this request number (also its "id" on the wire). */
struct lg_contact *
lg_contact_at(size_t n)
{
	if (n >= lg.ncontacts)
		return NULL;
	return &lg.chunks[n / LG_CHUNK][n % LG_CHUNK];
}

/* A new contact record, numbered in order. */
static struct lg_contact *
lg_contact_new(void)
{
	size_t n = lg.ncontacts;

	if (n % LG_CHUNK == 0) {
		lg.chunks =
		    realloc(lg.chunks, (n / LG_CHUNK + 1) * sizeof(*lg.chunks));
		if (lg.chunks == NULL ||
		    (lg.chunks[n / LG_CHUNK] = calloc(LG_CHUNK,
		         sizeof(struct lg_contact))) == NULL)
			lg_fatal("out of memory");
	}
	lg.ncontacts++;
	return lg_contact_at(n);
}

/* The record of a contact id, made on first sight from either side. */
struct lg_cid *
lg_cid_get(const char *cid)
{
	struct lg_cid *e;

	HASH_FIND_STR(lg.by_cid, cid, e);
	if (e != NULL)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		lg_fatal("out of memory");
	snprintf(e->cid, sizeof e->cid, "%s", cid);
	e->assigned_to = -1;
	HASH_ADD_STR(lg.by_cid, cid, e);
	return e;
}

/* Is the run inside its measurement window now? */
bool
lg_measuring(double now)
{
	return now >= lg.t_measure && now < lg.t_end;
}

/* Send a new contact on intake connection c. */
void
lg_contact_send(struct lg_conn *c)
{
	static const char *const risks[] = { "high", "moderate", "low",
		"unknown" };
	static const char *const channels[] = { "voice", "text", "chat" };
	struct lg_contact *ct = lg_contact_new();
	size_t n = lg.ncontacts - 1;

	ct->intake = c->index;
	ct->probe = lg.probe_every > 0 &&
	    n % (size_t)lg.probe_every == (size_t)lg.probe_every - 1;
	ct->sent = lg_now();
	ct->measured = lg_measuring(ct->sent);
	c->outstanding++;
	lg.outstanding++;
	lg.n.sent++;
	if (ct->probe)
		lg.n.probes++;
	lg_sendf(c,
	    "{\"type\":\"contact\",\"id\":%zu,\"ref\":\"%s-%zu\","
	    "\"channel\":\"%s\",\"risk\":\"%s\",\"program\":\"%s\","
	    "\"language\":\"en\"}\n",
	    n, lg.runid, n, channels[n % nitems(channels)],
	    risks[n % nitems(risks)], ct->probe ? LG_PROBE_PROGRAM : "adult");
}

/* --- connections --- */

static void lg_read_cb(struct bufferevent *, void *);
static void lg_event_cb(struct bufferevent *, short, void *);

/* Open connection c to the daemon (or the echo server). */
void
lg_connect(struct lg_conn *c)
{
	c->bev = bufferevent_socket_new(lg.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		lg_fatal("bufferevent_socket_new failed");
	bufferevent_setcb(c->bev, lg_read_cb, NULL, lg_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&lg.addr,
	        sizeof lg.addr) == -1)
		lg_fatal("connect: %s", strerror(errno));
	lg.connecting++;
}

/* Close every connection; with abort, by reset (no TIME_WAIT left). */
void
lg_close_all(bool abort)
{
	struct linger lin = { 1, 0 };

	for (int i = 0; i < lg.nconns; i++) {
		struct lg_conn *c = &lg.conns[i];

		if (c->bev == NULL)
			continue;
		if (abort)
			(void)setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET,
			    SO_LINGER, &lin, sizeof lin);
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->closed = true;
	}
}

/* Connected, closed or failed. */
static void
lg_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lg_conn *c = arg;
	int on = 1;

	if (what & BEV_EVENT_CONNECTED) {
		lg.connecting--;
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &on, sizeof on);
		lg_on_connected(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		const char *why = (what & BEV_EVENT_EOF)
		    ? "closed by peer"
		    : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());

		if (!lg.finishing)
			lg_warn("%s: connection: %s", c->principal, why);
		lg.n.conn_errors++;
		c->closed = true;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		lg_on_closed(c);
	}
}

/* Every complete line on a connection goes to its role's handler. */
static void
lg_read_cb(struct bufferevent *bev, void *arg)
{
	struct lg_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (!c->closed &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		lg_on_line(c, line, len);
		free(line);
	}
}

/* --- the run --- */

/* Read "ID TOKEN" lines; keep the first n ids starting with prefix. */
static void
lg_load_principals(const char *prefix, int n, enum lg_role role)
{
	char id[LG_PRINCIPAL_MAX_BYTES], token[LG_TOKEN_MAX_BYTES];
	FILE *f = fopen(lg.tokens, "r");
	int found = 0;

	if (f == NULL)
		lg_fatal("%s: %s", lg.tokens, strerror(errno));
	while (found < n && fscanf(f, "%127s %127s", id, token) == 2) {
		struct lg_conn *c;

		if (strncmp(id, prefix, strlen(prefix)) != 0)
			continue;
		c = &lg.conns[lg.nconns];
		c->index = lg.nconns++;
		c->role = role;
		c->assigned = -1;
		snprintf(c->principal, sizeof c->principal, "%s", id);
		snprintf(c->token, sizeof c->token, "%s", token);
		found++;
	}
	fclose(f);
	if (found < n)
		lg_fatal("%s: %d principals named %s*, %d wanted", lg.tokens,
		    found, prefix, n);
}

/* Make the connection table for the mode. */
static void
lg_setup_conns(void)
{
	int total = lg.nclin + lg.nintake + lg.nholder + lg.nconn;

	lg.conns = calloc((size_t)total, sizeof(*lg.conns));
	if (lg.conns == NULL)
		lg_fatal("out of memory");
	switch (lg.mode) {
	case LG_MODE_ECHO:
		for (int i = 0; i < lg.nconn; i++) {
			struct lg_conn *c = &lg.conns[lg.nconns];

			c->index = lg.nconns++;
			c->role = LG_ROLE_ECHO;
			snprintf(c->principal, sizeof c->principal, "echo-%d",
			    i);
		}
		break;
	case LG_MODE_IDLE:
		lg_load_principals(lg.clin_prefix, lg.nconn, LG_ROLE_CLINICIAN);
		break;
	default:
		/* Intakes follow the clinicians (see lg_open_sends). */
		lg_load_principals(lg.clin_prefix, lg.nclin, LG_ROLE_CLINICIAN);
		lg_load_principals(lg.intake_prefix, lg.nintake,
		    LG_ROLE_INTAKE);
		lg_load_principals(lg.holder_prefix, lg.nholder,
		    LG_ROLE_HOLDER);
		break;
	}
}

/* Every LG_TICK_MS: start, stop, send open-loop contacts, give up. */
static void
lg_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	double now = lg_now();

	(void)fd;
	(void)what;
	(void)arg;
	if (!lg.started) {
		if (now - lg.t_setup > LG_SETUP_TIMEOUT_S)
			lg_fatal("set-up did not finish in %d s (%d of %d "
			         "connections ready)",
			    LG_SETUP_TIMEOUT_S, lg.ready, lg.nconns);
		return;
	}
	if (lg.mode == LG_MODE_OPEN && now < lg.t_end)
		lg_open_sends(now);
	if (now >= lg.t_end && !lg.stopped) {
		lg.stopped = true;
		lg_maybe_finish();
	}
	if (!lg.stopped || lg.finishing)
		return;
	if (lg.t_quiet != 0 && now >= lg.t_quiet)
		lg_finish();
	else if (now >= lg.t_end + lg.drain_s) {
		lg.drained_out = true;
		lg_finish();
	}
}

/* The run's load phase begins: every connection is ready. */
void
lg_start(void)
{
	lg.started = true;
	lg.t0 = lg_now();
	lg.t_measure = lg.t0 + lg.warmup_s;
	lg.t_end = lg.t_measure + lg.duration_s;
	fprintf(stderr, "loadgen: %s: %d connections ready in %.2f s\n",
	    lg_mode_name(lg.mode), lg.ready, lg.t0 - lg.t_setup);
	lg_begin_load();
}

/* Stop the loop: the results are printed after it returns. */
void
lg_finish(void)
{
	lg.finishing = true;
	lg.t_done = lg_now();
	event_base_loopbreak(lg.base);
}

/* Command-line options. */
static const struct option lg_options[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "tokens", required_argument, NULL, 'k' },
	{ "clinicians", required_argument, NULL, 'c' },
	{ "clinician-prefix", required_argument, NULL, 'C' },
	{ "intakes", required_argument, NULL, 'i' },
	{ "intake-prefix", required_argument, NULL, 'I' },
	{ "window", required_argument, NULL, 'w' },
	{ "rate", required_argument, NULL, 'r' },
	{ "duration", required_argument, NULL, 'd' },
	{ "warmup", required_argument, NULL, 'W' },
	{ "drain", required_argument, NULL, 'D' },
	{ "probe-every", required_argument, NULL, 'P' },
	{ "tier1-timeout-ms", required_argument, NULL, 'T' },
	{ "db", required_argument, NULL, 'b' },
	{ "connections", required_argument, NULL, 'n' },
	{ "holders", required_argument, NULL, 'h' },
	{ "holder-prefix", required_argument, NULL, 'H' },
	{ "answer-deadline-ms", required_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

/* How to run it. */
static void
lg_usage(void)
{
	fprintf(stderr,
	    "usage: loadgen closed|open|idle|echo --port P"
	    " [--tokens FILE] [--clinicians C] [--clinician-prefix S]\n"
	    "    [--intakes K] [--intake-prefix S] [--window W] [--rate R]"
	    " [--duration T] [--warmup S]\n"
	    "    [--drain S] [--probe-every N] [--tier1-timeout-ms MS]"
	    " [--db FILE] [--connections N]\n"
	    "    [--holders N] [--holder-prefix S]"
	    " [--answer-deadline-ms MS]\n");
	exit(2);
}

/* Parse a positive number or exit with usage. */
static double
lg_arg(const char *text, double min)
{
	char *end;
	double v = strtod(text, &end);

	if (*end != '\0' || !(v >= min))
		lg_usage();
	return v;
}

/* Fill lg from argv. */
static void
lg_parse(int argc, char **argv)
{
	int ch, mode, port = 0;

	lg.nclin = 50;
	lg.nintake = 4;
	lg.window = 16;
	lg.rate = 1000;
	lg.duration_s = 10;
	lg.warmup_s = 1;
	lg.drain_s = 5;
	lg.nconn = 10;
	lg.clin_prefix = "bench-c";
	lg.intake_prefix = "bench-i";
	lg.holder_prefix = "bench-h";
	if (argc < 2 || (mode = lg_mode_parse(argv[1])) < 0)
		lg_usage();
	lg.mode = (enum lg_mode)mode;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lg_options, NULL)) != -1) {
		switch (ch) {
		case 'p':
			port = (int)lg_arg(optarg, 1);
			break;
		case 'k':
			lg.tokens = optarg;
			break;
		case 'c':
			lg.nclin = (int)lg_arg(optarg, 1);
			break;
		case 'C':
			lg.clin_prefix = optarg;
			break;
		case 'i':
			lg.nintake = (int)lg_arg(optarg, 1);
			break;
		case 'I':
			lg.intake_prefix = optarg;
			break;
		case 'w':
			lg.window = (int)lg_arg(optarg, 1);
			break;
		case 'r':
			lg.rate = lg_arg(optarg, 1);
			break;
		case 'd':
			lg.duration_s = lg_arg(optarg, 0.1);
			break;
		case 'W':
			lg.warmup_s = lg_arg(optarg, 0);
			break;
		case 'D':
			lg.drain_s = lg_arg(optarg, 0.1);
			break;
		case 'P':
			lg.probe_every = (int)lg_arg(optarg, 0);
			break;
		case 'T':
			lg.t1_timeout_ms = (int)lg_arg(optarg, 0);
			break;
		case 'b':
			lg.db = optarg;
			break;
		case 'n':
			lg.nconn = (int)lg_arg(optarg, 1);
			break;
		case 'h':
			lg.nholder = (int)lg_arg(optarg, 0);
			break;
		case 'H':
			lg.holder_prefix = optarg;
			break;
		case 'A':
			lg.answer_deadline_s = lg_arg(optarg, 1) / 1000.0;
			break;
		default:
			lg_usage();
		}
	}
	if (port == 0 || port > 65535 || optind != argc ||
	    (lg.mode != LG_MODE_ECHO && lg.tokens == NULL))
		lg_usage();
	if (lg.mode == LG_MODE_ECHO || lg.mode == LG_MODE_IDLE)
		lg.nclin = lg.nintake = lg.nholder = 0;
	else
		lg.nconn = 0;
	lg.addr.sin_family = AF_INET;
	lg.addr.sin_port = htons((uint16_t)port);
	lg.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(lg.runid, sizeof lg.runid, "lg%ld-%ld", (long)getpid(),
	    (long)time(NULL));
}

int
main(int argc, char **argv)
{
	struct timeval tick = { 0, LG_TICK_MS * 1000 };

	lg_parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((lg.base = event_base_new()) == NULL)
		lg_fatal("event_base_new failed");
	lg_setup_conns();
	lg.tick = event_new(lg.base, -1, EV_PERSIST, lg_tick_cb, NULL);
	if (lg.tick == NULL || event_add(lg.tick, &tick) == -1)
		lg_fatal("cannot add the tick timer");
	lg.t_setup = lg_now();
	lg_connect_more();
	event_base_dispatch(lg.base);
	if (lg.mode == LG_MODE_IDLE) {
		lg_close_all(true);
		return lg.n.conn_errors + lg.n.errors == 0 ? 0 : 1;
	}
	lg_report();
	lg_close_all(true);
	return 0;
}
