/*
 * roster.c: who is on call when, in memory.  Pure: no I/O, no clock; the
 * store fills a roster from its rows and the engine asks it questions with
 * the time as a parameter.
 *
 * Clinicians are kept sorted by id as they are added (the store adds them in
 * id order, so that is an append), which makes the duplicate check and every
 * lookup a binary search.  Each clinician's shifts are sorted by start in
 * roster_finish, so an on-call lookup stops at the first shift that starts
 * after t.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "roster.h"
#include "util.h"

/* Arrays grow in powers of two from this many slots. */
#define ROSTER_GROW_MIN 4

/* Make room for element n (0-based) of an array grown by roster_grow only. */
static void *
roster_grow(void *array, size_t n, size_t size)
{
	if (n == 0)
		return xreallocarray(array, ROSTER_GROW_MIN, size);
	if (n >= ROSTER_GROW_MIN && (n & (n - 1)) == 0)
		return xreallocarray(array, n * 2, size);
	return array;
}

/* A new, empty roster. */
struct roster *
roster_new(void)
{
	return xcalloc(1, sizeof(struct roster));
}

/* Free a list of strings. */
static void
roster_free_list(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Free a roster and everything in it; NULL is fine. */
void
roster_free(struct roster *r)
{
	struct roster_clinician *c;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nclinicians; i++) {
		c = &r->clinicians[i];
		free(c->id);
		free(c->name);
		roster_free_list(c->languages, c->nlanguages);
		roster_free_list(c->skills, c->nskills);
		free(c->endpoint);
		free(c->shifts);
	}
	free(r->clinicians);
	free(r);
}

/* The len bytes at s without white space around: the start, *out the length. */
static const char *
roster_trim(const char *s, size_t len, size_t *out)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	*out = len;
	return s;
}

/* Is the len bytes at s, compared without case, an entry of list? */
static bool
roster_list_has(char *const *list, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strncasecmp(list[i], s, len) == 0 && list[i][len] == '\0')
			return true;
	}
	return false;
}

/* Split "en, ES ,fr" into lower-cased, trimmed, distinct entries. */
static void
roster_parse_list(const char *text, char ***out, size_t *nout)
{
	const char *p, *item;
	size_t len, i, n = 0;
	char **list = NULL;

	for (p = text; p != NULL && *p != '\0'; p += len + (p[len] == ',')) {
		len = strcspn(p, ",");
		item = roster_trim(p, len, &i);
		if (i == 0 || roster_list_has(list, n, item, i))
			continue;
		list = roster_grow(list, n, sizeof *list);
		list[n] = xmalloc(i + 1);
		memcpy(list[n], item, i);
		list[n][i] = '\0';
		for (i = 0; list[n][i] != '\0'; i++)
			list[n][i] = (char)tolower((unsigned char)list[n][i]);
		n++;
	}
	*out = list;
	*nout = n;
}

/* Where id is in r's sorted clinicians, or where it would go; sets *found. */
static size_t
roster_position(const struct roster *r, const char *id, bool *found)
{
	size_t lo = 0, hi = r->nclinicians, mid;
	int cmp;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(r->clinicians[mid].id, id);
		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add a clinician in id order; -1 if the id is empty or already there. */
int
roster_add_clinician(struct roster *r, const char *id, const char *name,
    const char *languages, const char *skills, const char *endpoint)
{
	struct roster_clinician *c;
	size_t at;
	bool found;

	if (id == NULL || id[0] == '\0')
		return -1;
	at = roster_position(r, id, &found);
	if (found)
		return -1;
	r->clinicians =
	    roster_grow(r->clinicians, r->nclinicians, sizeof *r->clinicians);
	memmove(&r->clinicians[at + 1], &r->clinicians[at],
	    (r->nclinicians - at) * sizeof *r->clinicians);
	r->nclinicians++;
	c = &r->clinicians[at];
	memset(c, 0, sizeof *c);
	c->id = xstrdup(id);
	c->name = xstrdup_null(name);
	c->endpoint = xstrdup_null(endpoint);
	roster_parse_list(languages, &c->languages, &c->nlanguages);
	roster_parse_list(skills, &c->skills, &c->nskills);
	return 0;
}

/* Add a shift; -1 for an unknown clinician, a bad tier or an empty window. */
int
roster_add_shift(struct roster *r, const char *clinician, int tier,
    int64_t start_ms, int64_t end_ms)
{
	struct roster_clinician *c;
	size_t at;
	bool found;

	if (clinician == NULL || tier < 1 || tier > ROSTER_TIER_MAX ||
	    start_ms >= end_ms)
		return -1;
	at = roster_position(r, clinician, &found);
	if (!found)
		return -1;
	c = &r->clinicians[at];
	c->shifts = roster_grow(c->shifts, c->nshifts, sizeof *c->shifts);
	c->shifts[c->nshifts].tier = tier;
	c->shifts[c->nshifts].start_ms = start_ms;
	c->shifts[c->nshifts].end_ms = end_ms;
	c->nshifts++;
	return 0;
}

/* qsort order of shifts: by start, then end, then tier. */
static int
roster_shift_cmp(const void *a, const void *b)
{
	const struct roster_shift *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	if (x->end_ms != y->end_ms)
		return x->end_ms < y->end_ms ? -1 : 1;
	return (x->tier > y->tier) - (x->tier < y->tier);
}

/* Sort every clinician's shifts by start for the lookups. */
void
roster_finish(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->nclinicians; i++) {
		/* qsort must not be handed the NULL of an empty array. */
		if (r->clinicians[i].nshifts > 1)
			qsort(r->clinicians[i].shifts, r->clinicians[i].nshifts,
			    sizeof(struct roster_shift), roster_shift_cmp);
	}
}

/* The clinician with this id, or NULL. */
const struct roster_clinician *
roster_find(const struct roster *r, const char *id)
{
	size_t at;
	bool found;

	if (r == NULL || id == NULL)
		return NULL;
	at = roster_position(r, id, &found);
	return found ? &r->clinicians[at] : NULL;
}

/* The tiers c is on call for at t: bit n set for tier n. */
uint32_t
roster_oncall_tiers(const struct roster_clinician *c, int64_t t)
{
	uint32_t tiers = 0;
	size_t i;

	for (i = 0; i < c->nshifts && c->shifts[i].start_ms <= t; i++) {
		if (t < c->shifts[i].end_ms)
			tiers |= UINT32_C(1) << c->shifts[i].tier;
	}
	return tiers;
}

/* The lowest tier in a mask, 0 for an empty mask. */
int
roster_lowest_tier(uint32_t tiers)
{
	int tier;

	for (tier = 1; tier <= ROSTER_TIER_MAX; tier++) {
		if (tiers & (UINT32_C(1) << tier))
			return tier;
	}
	return 0;
}

/* The earlier of best and the first edge of w after t. */
static int64_t
roster_edge_after(const struct roster_window *w, int64_t t, int64_t best)
{
	int64_t edge;

	if (w->start_ms > t)
		edge = w->start_ms;
	else if (w->end_ms > t)
		edge = w->end_ms;
	else
		return best;
	return edge < best ? edge : best;
}

/*
 * The first moment after t at which c's on-call set changes.  Overlapping
 * and back-to-back shifts of one tier are merged into runs first, so the
 * seam between two shifts of a double shift is not a change: only the edges
 * of the merged runs are.
 */
static int64_t
roster_clinician_next_change(const struct roster_clinician *c, int64_t t)
{
	struct roster_window run[ROSTER_TIER_MAX + 1];
	bool open[ROSTER_TIER_MAX + 1] = { false };
	const struct roster_shift *s;
	int64_t best = INT64_MAX;
	size_t i;
	int k;

	for (i = 0; i < c->nshifts; i++) {
		s = &c->shifts[i];
		k = s->tier;
		if (open[k] && s->start_ms <= run[k].end_ms) {
			if (s->end_ms > run[k].end_ms)
				run[k].end_ms = s->end_ms;
			continue;
		}
		if (open[k])
			best = roster_edge_after(&run[k], t, best);
		run[k].start_ms = s->start_ms;
		run[k].end_ms = s->end_ms;
		open[k] = true;
	}
	for (k = 1; k <= ROSTER_TIER_MAX; k++) {
		if (open[k])
			best = roster_edge_after(&run[k], t, best);
	}
	return best;
}

/* The first moment after t at which anyone's on-call set changes. */
int64_t
roster_next_change(const struct roster *r, int64_t t)
{
	int64_t best = INT64_MAX, next;
	size_t i;

	for (i = 0; i < r->nclinicians; i++) {
		next = roster_clinician_next_change(&r->clinicians[i], t);
		if (next < best)
			best = next;
	}
	return best;
}

/* Length of the primary language subtag of s ("en" of "en-US"). */
static size_t
roster_primary_len(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i] != '-' && s[i] != '_'; i++)
		continue;
	return i;
}

/*
 * Does the language have (lower-cased) match want?  Exactly, without case,
 * or when one side is a bare language and the other a regional form of it:
 * "en" serves an "en-US" caller and "es-MX" an "es" caller, but "en-GB" is
 * not taken to mean "en-US".
 */
static bool
roster_language_match(const char *have, const char *want, size_t len)
{
	size_t hlen = strlen(have), hp, wp;

	if (hlen == len && strncasecmp(have, want, len) == 0)
		return true;
	hp = roster_primary_len(have, hlen);
	wp = roster_primary_len(want, len);
	if (hp != hlen && wp != len)
		return false;
	return hp == wp && strncasecmp(have, want, hp) == 0;
}

/* Does c speak language (NULL or "" matches everyone)? */
bool
roster_speaks(const struct roster_clinician *c, const char *language)
{
	const char *want;
	size_t len, i;

	if (language == NULL)
		return true;
	want = roster_trim(language, strlen(language), &len);
	if (len == 0)
		return true;
	for (i = 0; i < c->nlanguages; i++) {
		if (roster_language_match(c->languages[i], want, len))
			return true;
	}
	return false;
}

/* Does c have every one of needs (empty needs are ignored)? */
bool
roster_has_skills(const struct roster_clinician *c, const char *const *needs,
    size_t nneeds)
{
	const char *need;
	size_t i, len;

	for (i = 0; i < nneeds; i++) {
		if (needs[i] == NULL)
			continue;
		need = roster_trim(needs[i], strlen(needs[i]), &len);
		if (len > 0 &&
		    !roster_list_has(c->skills, c->nskills, need, len))
			return false;
	}
	return true;
}

/* qsort order of windows by start. */
static int
roster_window_cmp(const void *a, const void *b)
{
	const struct roster_window *x = a, *y = b;

	return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
}

/* Count one gap, writing it to out if there is room. */
static void
roster_gap(struct roster_window *out, size_t max, size_t *n, int64_t start,
    int64_t end)
{
	if (out != NULL && *n < max) {
		out[*n].start_ms = start;
		out[*n].end_ms = end;
	}
	(*n)++;
}

/* Windows within [from_ms, to_ms) that no shift on tier covers. */
size_t
roster_gaps(const struct roster_shift *shifts, size_t nshifts, int tier,
    int64_t from_ms, int64_t to_ms, struct roster_window *out, size_t max)
{
	struct roster_window *w;
	int64_t cursor = from_ms;
	size_t i, nw = 0, n = 0;

	if (from_ms >= to_ms)
		return 0;
	w = xreallocarray(NULL, nshifts > 0 ? nshifts : 1, sizeof *w);
	for (i = 0; i < nshifts; i++) {
		if (shifts[i].tier == tier &&
		    shifts[i].start_ms < shifts[i].end_ms) {
			w[nw].start_ms = shifts[i].start_ms;
			w[nw++].end_ms = shifts[i].end_ms;
		}
	}
	qsort(w, nw, sizeof *w, roster_window_cmp);
	/* Sweeping in start order merges overlapping and touching shifts. */
	for (i = 0; i < nw && cursor < to_ms && w[i].start_ms < to_ms; i++) {
		if (w[i].end_ms <= cursor)
			continue;
		if (w[i].start_ms > cursor)
			roster_gap(out, max, &n, cursor, w[i].start_ms);
		cursor = w[i].end_ms;
	}
	if (cursor < to_ms)
		roster_gap(out, max, &n, cursor, to_ms);
	free(w);
	return n;
}
