/*
 * tally.c: what crisisctl stats (store_stats.c) counts with: growable
 * arrays of durations with their mean and quantiles, and maps from a key
 * (a clinician, a program, a period's start) to a tally.  Plain C, no
 * SQLite.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tally.h"
#include "util.h"

/* Append one duration. */
void
tally_times_add(struct tally_times *t, int64_t v)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = v;
}

/*
 * Put the k-th smallest of v[0..n) at v[k], with nothing larger before it
 * and nothing smaller after it (Hoare's selection: linear time on average,
 * where a full sort of a million times would cost several times more).
 */
static void
tally_select(int64_t *v, size_t n, size_t k)
{
	int64_t lo = 0, hi = (int64_t)n - 1, want = (int64_t)k;

	while (lo < hi) {
		int64_t pivot = v[lo + (hi - lo) / 2], i = lo, j = hi, tmp;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				tmp = v[i];
				v[i++] = v[j];
				v[j--] = tmp;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			return; /* between the halves: equal to the pivot */
	}
}

/*
 * Quantile q of the times, in whole ms, by linear interpolation between
 * the closest ranks (the usual median; numpy's default percentile); null
 * if there are none.  Reorders the times.
 */
json_t *
tally_quantile(struct tally_times *t, double q)
{
	double pos, frac;
	size_t lo;
	int64_t a, b;

	if (t->n == 0)
		return json_null();
	pos = q * (double)(t->n - 1);
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	tally_select(t->v, t->n, lo);
	a = b = t->v[lo];
	/* The next rank up is the least of what selection left above lo. */
	for (size_t i = lo + 1; i < t->n; i++) {
		if (i == lo + 1 || t->v[i] < b)
			b = t->v[i];
	}
	return json_integer(
	    (json_int_t)llround((double)a + (double)(b - a) * frac));
}

/* The mean of the times in whole ms, or null if there are none. */
json_t *
tally_mean(const struct tally_times *t)
{
	double sum = 0;

	if (t->n == 0)
		return json_null();
	for (size_t i = 0; i < t->n; i++)
		sum += (double)t->v[i];
	return json_integer((json_int_t)llround(sum / (double)t->n));
}

/* FNV-1a of a key, for the lookup cache. */
static size_t
tally_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h & (TALLY_CACHE_SLOTS - 1);
}

/* A new entry for key (NULL: none) and num. */
static struct tally_entry *
tally_entry_new(const char *key, int64_t num)
{
	struct tally_entry *e = xcalloc(1, sizeof(*e));

	e->key = xstrdup_null(key);
	e->num = num;
	return e;
}

/* Find key in the sorted array, or insert it there. */
static struct tally_entry *
tally_map_find(struct tally_map *m, const char *key, int64_t num)
{
	size_t lo = 0, hi = m->n, mid;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((cmp = strcmp(key, m->v[mid]->key)) == 0)
			return m->v[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 16 : m->cap * 2;
		m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
	}
	memmove(m->v + lo + 1, m->v + lo, (m->n - lo) * sizeof(*m->v));
	m->n++;
	return m->v[lo] = tally_entry_new(key, num);
}

/* The entry of key (NULL: the entry of contacts without one). */
struct tally_entry *
tally_map_get(struct tally_map *m, const char *key, int64_t num)
{
	struct tally_entry *e;
	size_t slot;

	if (key == NULL) {
		if (m->none == NULL)
			m->none = tally_entry_new(NULL, 0);
		return m->none;
	}
	slot = tally_hash(key);
	e = m->cache[slot];
	if (e == NULL || strcmp(e->key, key) != 0)
		e = m->cache[slot] = tally_map_find(m, key, num);
	return e;
}

/*
 * The entry of a number (a period's start, a tier).  Its key is the
 * number as zero-padded text of the sign-flipped value, so the sorted
 * order of the keys is the numbers' order.
 */
struct tally_entry *
tally_map_num(struct tally_map *m, int64_t num)
{
	char key[TALLY_NUM_KEY_BYTES];

	if (m->last != NULL && m->last->num == num)
		return m->last;
	snprintf(key, sizeof(key), "%020llu",
	    (unsigned long long)((uint64_t)num ^ (UINT64_C(1) << 63)));
	return m->last = tally_map_get(m, key, num);
}

/* Free a tally's arrays. */
void
tally_free(struct tally *t)
{
	free(t->answer.v);
	free(t->talk.v);
	free(t->accept.v);
}

/* Free an entry. */
static void
tally_entry_free(struct tally_entry *e)
{
	if (e == NULL)
		return;
	tally_free(&e->t);
	free(e->key);
	free(e);
}

/* Free a map's entries. */
void
tally_map_free(struct tally_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		tally_entry_free(m->v[i]);
	tally_entry_free(m->none);
	free(m->v);
}
