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
};

/*
 * May principal queue one more contact at now?  rate_per_s and max_open of
 * 0 turn the checks off.  Admitting takes a token from the bucket.
 */
enum intake_verdict
intake_admit(const char *principal, int64_t now, int rate_per_s, int max_open);

/* One of principal's contacts started or stopped being routed. */
void intake_opened(const char *principal);
void intake_closed(const char *principal);

/* How many of principal's contacts are being routed. */
int intake_open_count(const char *principal);

void intake_free_all(void);

#endif
