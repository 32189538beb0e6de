/*
 * gaps.h: warnings of tier-1 roster gaps to supervisors and the log.
 */
#ifndef CRISISD_GAPS_H
#define CRISISD_GAPS_H

#include <stdint.h>

#include "roster.h"

struct session;

/* Check for tier-1 gaps starting within hours of now; tell new ones once. */
void gaps_check(const struct roster *r, int64_t now, int hours);

/* Send the known gaps to a supervisor that just started watching. */
void gaps_replay(struct session *s, int64_t now, int hours);

#endif
