/*
 * loadgen.h: the load generator's state, shared by loadgen.c (connections
 * and the run), loadgen_proto.c (what each role says and checks) and
 * loadgen_report.c (samples and the report).
 */
#ifndef CRISISD_BENCH_LOADGEN_H
#define CRISISD_BENCH_LOADGEN_H

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <uthash.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Longest request line we format. */
#define LG_LINE_MAX_BYTES 512
/* Longest JSON key lg_field looks for, with quotes and colon. */
#define LG_KEY_MAX_BYTES 40
#define LG_PRINCIPAL_MAX_BYTES 128
#define LG_TOKEN_MAX_BYTES 128
/* Contact ids are at most 64 bytes (CONTRACT §3). */
#define LG_CID_MAX_BYTES 64
/* Contact records are allocated this many at a time (stable addresses). */
#define LG_CHUNK 4096
/* Connections being opened at once (the listen backlog is finite). */
#define LG_CONNECT_BATCH 256
/* How often the run's timer looks at the clock. */
#define LG_TICK_MS 1
/* Connecting and saying hello must be done by then. */
#define LG_SETUP_TIMEOUT_S 60
/* How long to keep reading once nothing is outstanding. */
#define LG_QUIET_S 0.2
/* Unexpected messages printed before going quiet. */
#define LG_WARN_MAX 20
/* The program of escalation probes: tier-1 clinicians let them expire. */
#define LG_PROBE_PROGRAM "bench-probe"

enum lg_mode {
	LG_MODE_CLOSED,
	LG_MODE_OPEN,
	LG_MODE_IDLE,
	LG_MODE_ECHO,
};

enum lg_role {
	LG_ROLE_INTAKE,
	LG_ROLE_CLINICIAN,
	LG_ROLE_HOLDER, /* a clinician that holds probes' offers open */
	LG_ROLE_ECHO,
};

struct lg_conn {
	struct bufferevent *bev;
	enum lg_role role;
	int index;
	bool welcomed;
	bool ready; /* welcomed, and (clinicians) available */
	bool closed;
	int outstanding; /* intake: contacts not yet routed; echo: replies */
	int assigned; /* clinician: contact number held, or -1 */
	double echo_sent;
	size_t echo_seq;
	char principal[LG_PRINCIPAL_MAX_BYTES];
	char token[LG_TOKEN_MAX_BYTES];
};

/* A contact as sent by an intake. */
struct lg_contact {
	struct lg_cid *cid; /* NULL until its queued reply */
	int intake;
	bool probe;
	bool measured; /* sent inside the measurement window */
	bool failed; /* an error reply or an overflow */
	double sent, queued;
};

/* What was seen of a contact id, from either side (offers can come first). */
struct lg_cid {
	char cid[LG_CID_MAX_BYTES + 1];
	struct lg_contact *ct;
	int nqueued, noffers, nassigned, nrouted;
	int assigned_to; /* clinician connection index, or -1 */
	double offered, routed; /* monotonic */
	double t1_offer_wall, next_offer_wall; /* wall clock, probes */
	double t1_expires_in_s;
	bool expired_seen; /* an offer of it expired (a timer fired) */
	char routed_to[LG_PRINCIPAL_MAX_BYTES]; /* from the routed push */
	UT_hash_handle hh;
};

struct lg_samples {
	double *v; /* seconds */
	size_t n, cap;
};

/* Everything counted; printed as "counts". */
struct lg_counts {
	uint64_t sent, queued, dup_queued, offers, accepts, accept_conflicts;
	uint64_t decline_conflicts;
	uint64_t declines, assigned, completed, routed, dup_routed;
	uint64_t routed_in_window;
	uint64_t routed_mismatch, overflow, overloaded, internal;
	uint64_t contact_errors, errors;
	uint64_t answered_in_time; /* routed, overflow or refused by then */
	uint64_t withdrawn_taken, withdrawn_busy, withdrawn_expired;
	uint64_t withdrawn_other, set_away, conn_errors;
	uint64_t probes, probe_ignored, probe_escalated, probe_untimed;
	uint64_t never_queued, never_offered, never_routed, unknown_cid;
	uint64_t replies, replies_in_window, echo_bad;
};

struct lg {
	struct event_base *base;
	struct event *tick;
	enum lg_mode mode;
	struct sockaddr_in addr;
	const char *tokens, *clin_prefix, *intake_prefix, *holder_prefix, *db;
	char runid[48];
	int nclin, nintake, nholder, nconn, window, probe_every, t1_timeout_ms;
	double rate, duration_s, warmup_s, drain_s;
	double answer_deadline_s; /* answered_in_time counts within it */

	struct lg_conn *conns;
	int nconns, next_connect, connecting, welcomed, ready;
	int outstanding; /* contacts (or echo requests) not yet answered */
	struct event *stdin_ev; /* idle: the end of stdin ends the run */

	double t_setup, t0, t_measure, t_end, t_done;
	double t_quiet; /* all answered: finish at this time */
	bool started, stopped, finishing;
	bool drained_out; /* the drain ended with contacts unanswered */
	size_t open_sent;

	struct lg_contact **chunks;
	size_t ncontacts;
	struct lg_cid *by_cid;

	struct lg_counts n;
	struct lg_samples lat_queued, lat_offer, lat_routed, lat_echo;
	struct lg_samples lat_answer; /* sent -> routed, overflow or error */
	struct lg_samples late_store, late_expires, late_fire, fire_to_offer;
};

extern struct lg lg;

/* loadgen.c */
double lg_now(void);
void lg_fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
double lg_wall(void);
void lg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int
lg_field(const char *line, size_t len, const char *key, char *out, size_t size);
long long
lg_field_int(const char *line, size_t len, const char *key, long long fallback);
void lg_send(struct lg_conn *c, const char *line, size_t len);
void lg_sendf(struct lg_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct lg_contact *lg_contact_at(size_t n);
struct lg_cid *lg_cid_get(const char *cid);
bool lg_measuring(double now);
void lg_contact_send(struct lg_conn *c);
void lg_connect(struct lg_conn *c);
void lg_close_all(bool abort);
void lg_start(void);
void lg_finish(void);

/* loadgen_report.c */
void lg_sample(struct lg_samples *s, double v);
void lg_report(void);

/* loadgen_proto.c */
int lg_mode_parse(const char *name);
const char *lg_mode_name(enum lg_mode mode);
void lg_connect_more(void);
void lg_on_connected(struct lg_conn *c);
void lg_on_line(struct lg_conn *c, const char *line, size_t len);
void lg_on_closed(struct lg_conn *c);
void lg_begin_load(void);
void lg_open_sends(double now);
void lg_maybe_finish(void);
void lg_verify(void);
bool lg_verdict(bool *kept_up);
void lg_print_counts(void);

#endif
