/*
 * gaps.c: warnings of tier-1 roster gaps, windows in which nobody is on
 * call on tier 1, starting within roster.gap_warning_hours.
 *
 * Checked at start, hourly, at every roster change and at every shift
 * start or end.  Each gap is told once, as a roster_gap event to watching
 * supervisors and a warning in the log; a supervisor who starts watching
 * later is told of the gaps known then.  A gap is "the same gap" as long as
 * the windows overlap, so a gap that shrinks or splits is not told again.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gaps.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "wire.h"

#define GAPS_MAX 64
#define GAPS_TIER 1

static struct roster_window gaps_told[GAPS_MAX];
static size_t gaps_ntold;

/* Every tier-1 shift of the roster, in one array (caller frees). */
static struct roster_shift *
gaps_tier_shifts(const struct roster *r, size_t *n)
{
	struct roster_shift *all = NULL;
	size_t count = 0;

	for (size_t i = 0; i < r->nclinicians; i++) {
		const struct roster_clinician *c = &r->clinicians[i];

		for (size_t j = 0; j < c->nshifts; j++) {
			if (c->shifts[j].tier != GAPS_TIER)
				continue;
			all = xreallocarray(all, count + 1, sizeof(*all));
			all[count++] = c->shifts[j];
		}
	}
	*n = count;
	return all;
}

/* The roster_gap event for one window. */
static json_t *
gaps_event(const struct roster_window *w, int64_t until, int64_t now)
{
	/* A gap running past the checked window has no known end. */
	return wire_roster_gap(now, GAPS_TIER, w->start_ms, w->end_ms,
	    w->end_ms < until);
}

/* Does w overlap any window told before? */
static bool
gaps_known(const struct roster_window *w)
{
	for (size_t i = 0; i < gaps_ntold; i++) {
		if (w->start_ms < gaps_told[i].end_ms &&
		    gaps_told[i].start_ms < w->end_ms)
			return true;
	}
	return false;
}

/* Check the roster for gaps starting within hours of now; tell new ones. */
void
gaps_check(const struct roster *r, int64_t now, int hours)
{
	struct roster_window found[GAPS_MAX];
	int64_t until = now + (int64_t)hours * 3600 * 1000;
	struct roster_shift *shifts;
	size_t nshifts, nfound;

	if (r == NULL || hours <= 0)
		return;
	shifts = gaps_tier_shifts(r, &nshifts);
	nfound = roster_gaps(shifts, nshifts, GAPS_TIER, now, until, found,
	    GAPS_MAX);
	free(shifts);
	if (nfound > GAPS_MAX)
		nfound = GAPS_MAX;
	for (size_t i = 0; i < nfound; i++) {
		char from[RFC3339_MAX];

		if (gaps_known(&found[i]))
			continue;
		util_format_rfc3339(found[i].start_ms, from);
		log_warnx("roster gap: nobody on call on tier %d from %s%s",
		    GAPS_TIER, from,
		    found[i].end_ms >= until
		        ? " (no tier-1 shift in the warning window after it)"
		        : "");
		session_broadcast(gaps_event(&found[i], until, now));
	}
	/* What is known now replaces what was told: closed gaps are forgotten.
	 */
	memcpy(gaps_told, found, nfound * sizeof(*found));
	gaps_ntold = nfound;
}

/* Tell a supervisor who just started watching about the known gaps. */
void
gaps_replay(struct session *s, int64_t now, int hours)
{
	int64_t until = now + (int64_t)hours * 3600 * 1000;

	for (size_t i = 0; i < gaps_ntold; i++)
		session_send(s, gaps_event(&gaps_told[i], until, now));
}
