/*
 * intake.c: per-intake-principal budgets.  One small record per principal
 * that ever sent a contact; principals are created by crisisctl, so their
 * number is bounded by the roster, not by the network.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "intake.h"
#include "util.h"

struct intake {
	char id[PRINCIPAL_ID_MAX + 1];
	double tokens; /* contacts it may send now */
	int64_t refill_at; /* when tokens was last topped up */
	int open; /* contacts being routed */
	UT_hash_handle hh;
};

struct intakes {
	struct intake *by_id;
	int total; /* contacts being routed, all principals */
};

/* An empty set of budgets. */
struct intakes *
intake_new(void)
{
	return xcalloc(1, sizeof(struct intakes));
}

/* Forget every principal (shutdown). */
void
intake_free(struct intakes *ins)
{
	struct intake *in, *tmp;

	if (ins == NULL)
		return;
	HASH_ITER (hh, ins->by_id, in, tmp) {
		HASH_DEL(ins->by_id, in);
		free(in);
	}
	free(ins);
}

/* The record of principal, created on first use. */
static struct intake *
intake_get(struct intakes *ins, const char *principal)
{
	struct intake *in;

	HASH_FIND_STR(ins->by_id, principal, in);
	if (in == NULL) {
		in = xcalloc(1, sizeof(*in));
		strlcpy_(in->id, principal, sizeof(in->id));
		in->tokens = -1; /* full on first admit */
		HASH_ADD_STR(ins->by_id, id, in);
	}
	return in;
}

/* Top the bucket up: rate_per_s tokens a second, holding at most one second's
 * worth. */
static void
intake_refill(struct intake *in, int64_t now, int rate_per_s)
{
	double burst = rate_per_s;

	if (in->tokens < 0)
		in->tokens = burst;
	else if (now > in->refill_at)
		in->tokens +=
		    (double)(now - in->refill_at) * rate_per_s / 1000.0;
	if (in->tokens > burst)
		in->tokens = burst;
	in->refill_at = now;
}

/* May principal queue one more contact now? */
enum intake_verdict
intake_admit(struct intakes *ins, const char *principal, int64_t now,
    const struct intake_limits *limits)
{
	struct intake *in = intake_get(ins, principal);

	if (limits->max_open_total > 0 && ins->total >= limits->max_open_total)
		return INTAKE_TOO_MANY_TOTAL;
	if (limits->max_open > 0 && in->open >= limits->max_open)
		return INTAKE_TOO_MANY_OPEN;
	if (limits->rate_per_s <= 0)
		return INTAKE_ADMIT;
	intake_refill(in, now, limits->rate_per_s);
	if (in->tokens < 1.0)
		return INTAKE_TOO_FAST;
	in->tokens -= 1.0;
	return INTAKE_ADMIT;
}

/* A contact of principal is being routed. */
void
intake_opened(struct intakes *ins, const char *principal)
{
	intake_get(ins, principal)->open++;
	ins->total++;
}

/* A contact of principal is no longer being routed. */
void
intake_closed(struct intakes *ins, const char *principal)
{
	struct intake *in = intake_get(ins, principal);

	if (in->open > 0) {
		in->open--;
		ins->total--;
	}
}

/* How many of principal's contacts are being routed. */
int
intake_open_count(const struct intakes *ins, const char *principal)
{
	struct intake *in;

	HASH_FIND_STR(ins->by_id, principal, in);
	return in != NULL ? in->open : 0;
}

/* How many contacts are being routed, from all principals. */
int
intake_open_total(const struct intakes *ins)
{
	return ins->total;
}
