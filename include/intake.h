/*
 * intake.h: what each intake principal may ask of the daemon at once: a
 * contact rate (a token bucket) and a cap on its contacts still being
 * routed.  Beyond either, a new contact gets "overloaded", so the gateway
 * can send the caller to its own overflow instead of waiting on us.
 */
#ifndef CRISISD_INTAKE_H
#define CRISISD_INTAKE_H

#include <stdint.h>

enum intake_verdict {
	INTAKE_ADMIT = 0,
	INTAKE_TOO_FAST,
	INTAKE_TOO_MANY_OPEN,
	INTAKE_TOO_MANY_TOTAL, /* from all principals together */
};

/* What admission allows; 0 turns a check off. */
struct intake_limits {
	int rate_per_s; /* contacts a second, per principal */
	int max_open; /* being routed, per principal */
	int max_open_total; /* being routed, all principals */
};

/* Every principal's budget (the engine holds one set). */
struct intakes;

struct intakes *intake_new(void);
void intake_free(struct intakes *ins);

/*
 * May principal queue one more contact at now?  Admitting takes a token
 * from the principal's bucket.
 */
enum intake_verdict intake_admit(struct intakes *ins, const char *principal,
    int64_t now, const struct intake_limits *limits);

/* One of principal's contacts started or stopped being routed. */
void intake_opened(struct intakes *ins, const char *principal);
void intake_closed(struct intakes *ins, const char *principal);

/* How many of principal's contacts are being routed; of all principals'. */
int intake_open_count(const struct intakes *ins, const char *principal);
int intake_open_total(const struct intakes *ins);

#endif
