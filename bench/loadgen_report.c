/*
 * loadgen_report.c: what the load generator measured, printed.  Latency
 * samples are kept exact and sorted at the end; the escalation probes'
 * deadlines are read back from crisisd's store; the result is one JSON
 * object on stdout and a readable summary on stderr.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>
#include <uthash.h>

#include "loadgen.h"

/* Append a sample to a set. */
void
lg_sample(struct lg_samples *s, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL)
			lg_fatal("out of memory");
	}
	s->v[s->n++] = v;
}

/* Order doubles ascending, for qsort. */
static int
lg_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-quantile (0..1) of sorted samples, nearest rank. */
static double
lg_quantile(const struct lg_samples *s, double p)
{
	size_t rank;

	if (s->n == 0)
		return NAN;
	rank = (size_t)ceil(p * (double)s->n);
	if (rank < 1)
		rank = 1;
	return s->v[rank - 1];
}

/* Sort a set and print it as a JSON object, in microseconds. */
static void
lg_print_samples(const char *name, struct lg_samples *s, bool last)
{
	double sum = 0;

	qsort(s->v, s->n, sizeof(*s->v), lg_cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	if (s->n == 0) {
		printf("\"%s\":{\"n\":0}%s", name, last ? "" : ",");
		return;
	}
	printf("\"%s\":{\"n\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,"
	       "\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
	       "\"max_us\":%.1f}%s",
	    name, s->n, sum / (double)s->n * 1e6, lg_quantile(s, 0.5) * 1e6,
	    lg_quantile(s, 0.9) * 1e6, lg_quantile(s, 0.99) * 1e6,
	    lg_quantile(s, 0.999) * 1e6, s->v[s->n - 1] * 1e6, last ? "" : ",");
	fprintf(stderr,
	    "  %-22s n=%-8zu p50 %9.1f us  p99 %9.1f us  "
	    "p99.9 %9.1f us  max %9.1f us\n",
	    name, s->n, lg_quantile(s, 0.5) * 1e6, lg_quantile(s, 0.99) * 1e6,
	    lg_quantile(s, 0.999) * 1e6, s->v[s->n - 1] * 1e6);
}

/*
 * The escalation lateness of each probe whose tier-1 offers expired: the
 * tier-1 deadline is its first tier-1 offer's time in the store plus the
 * tier's offer_timeout_ms (ring-all offers of a tier share one deadline).
 * It is split in two at the "escalated" event the store has: how late the
 * timer fired (millisecond resolution), and from then until the offer
 * arrived (the loop turn's work, its commit, the send).  The estimate
 * from expires_in_ms is kept too; it reads low by the time the offer spent
 * between being made and arriving.
 */
static void
lg_probe_deadlines(void)
{
	static const char sql[] =
	    "SELECT"
	    " min(CASE WHEN event = 'offered' AND tier = 1 THEN at END),"
	    " min(CASE WHEN event = 'escalated' AND tier > 1 THEN at END)"
	    " FROM contact_events WHERE contact = ?1";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct lg_cid *e, *tmp;

	if (lg.db != NULL &&
	    (sqlite3_open_v2(lg.db, &db, SQLITE_OPEN_READONLY, NULL) !=
	            SQLITE_OK ||
	        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK))
		lg_fatal("%s: %s", lg.db, sqlite3_errmsg(db));
	HASH_ITER (hh, lg.by_cid, e, tmp) {
		if (e->t1_offer_wall == 0 || e->next_offer_wall == 0)
			continue;
		if (!e->expired_seen) {
			lg.n.probe_untimed++;
			continue;
		}
		lg.n.probe_escalated++;
		lg_sample(&lg.late_expires,
		    e->next_offer_wall -
		        (e->t1_offer_wall + e->t1_expires_in_s));
		if (st == NULL)
			continue;
		sqlite3_bind_text(st, 1, e->cid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL) {
			double deadline = (double)(sqlite3_column_int64(st, 0) +
			                      lg.t1_timeout_ms) /
			    1000.0;
			double fired =
			    (double)sqlite3_column_int64(st, 1) / 1000.0;

			lg_sample(&lg.late_store,
			    e->next_offer_wall - deadline);
			if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
				lg_sample(&lg.late_fire, fired - deadline);
				lg_sample(&lg.fire_to_offer,
				    e->next_offer_wall - fired);
			}
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Print the results: JSON on stdout, a summary on stderr. */
void
lg_report(void)
{
	double window = lg.duration_s;
	bool ok, kept_up;

	lg_probe_deadlines();
	lg_verify();
	ok = lg_verdict(&kept_up);
	fprintf(stderr,
	    "loadgen: %s: %.1f routed/s, %.1f requests/s "
	    "(%.0f s measured)\n",
	    lg_mode_name(lg.mode), (double)lg.n.routed_in_window / window,
	    (double)lg.n.replies_in_window / window, window);
	printf("{\"mode\":\"%s\",\"duration_s\":%.3f,\"routed_per_s\":%.1f,"
	       "\"requests_per_s\":%.1f,\"welcomed\":%d,\"ok\":%s,"
	       "\"kept_up\":%s,\"lat\":{",
	    lg_mode_name(lg.mode), window,
	    (double)lg.n.routed_in_window / window,
	    (double)lg.n.replies_in_window / window, lg.welcomed,
	    ok ? "true" : "false", kept_up ? "true" : "false");
	lg_print_samples("queued", &lg.lat_queued, false);
	lg_print_samples("offer", &lg.lat_offer, false);
	lg_print_samples("routed", &lg.lat_routed, false);
	lg_print_samples("echo", &lg.lat_echo, false);
	lg_print_samples("answer", &lg.lat_answer, false);
	lg_print_samples("escalation_late", &lg.late_store, false);
	lg_print_samples("escalation_fire_late", &lg.late_fire, false);
	lg_print_samples("escalation_fire_to_offer", &lg.fire_to_offer, false);
	lg_print_samples("escalation_late_expires_in", &lg.late_expires, true);
	printf("},\"counts\":{");
	lg_print_counts();
	printf("}}\n");
}
