/*
 * heard.c: the offers clinicians have been sent, kept across a failed
 * commit.  One small entry per offer sent and not yet ended; the ends of
 * the current turn wait on a list until its commit says whether they hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "heard.h"
#include "util.h"

struct heard_entry {
	/* contact '/' clin: contact ids never hold a '/' */
	char key[CONTACT_ID_MAX + PRINCIPAL_ID_MAX + 2];
	char contact[CONTACT_ID_MAX + 1];
	char clin[PRINCIPAL_ID_MAX + 1];
	bool added; /* sent first this turn */
	bool ending; /* ended this turn */
	bool listed; /* on the list of this turn's changes */
	UT_hash_handle hh;
};

struct heard {
	struct heard_entry *set;
	struct heard_entry **ends; /* added or ended this turn */
	size_t nends, cap;
};

/* An empty set. */
struct heard *
heard_new(void)
{
	return xcalloc(1, sizeof(struct heard));
}

/* The key of an offer. */
static void
heard_key(const char *contact, const char *clin, char *key, size_t size)
{
	snprintf(key, size, "%s/%s", contact, clin);
}

/* The entry of an offer, or NULL. */
static struct heard_entry *
heard_find(const struct heard *h, const char *contact, const char *clin)
{
	char key[sizeof(((struct heard_entry *)NULL)->key)];
	struct heard_entry *he;

	heard_key(contact, clin, key, sizeof(key));
	HASH_FIND_STR(h->set, key, he);
	return he;
}

/* Put he on the list of this turn's changes, once. */
static void
heard_list(struct heard *h, struct heard_entry *he)
{
	if (he->listed)
		return;
	he->listed = true;
	if (h->nends == h->cap) {
		h->cap = h->cap == 0 ? 64 : h->cap * 2;
		h->ends = xreallocarray(h->ends, h->cap, sizeof(*h->ends));
	}
	h->ends[h->nends++] = he;
}

/* The offer of contact to clin was sent. */
void
heard_add(struct heard *h, const char *contact, const char *clin)
{
	struct heard_entry *he = heard_find(h, contact, clin);

	if (he != NULL) {
		/* Sent again after it ended, in the same turn: still heard. */
		he->ending = false;
		return;
	}
	he = xcalloc(1, sizeof(*he));
	heard_key(contact, clin, he->key, sizeof(he->key));
	strlcpy_(he->contact, contact, sizeof(he->contact));
	strlcpy_(he->clin, clin, sizeof(he->clin));
	HASH_ADD_STR(h->set, key, he);
	/* Its line leaves only if the turn commits. */
	he->added = true;
	heard_list(h, he);
}

/* Forget one entry. */
static void
heard_forget(struct heard *h, struct heard_entry *he)
{
	HASH_DEL(h->set, he);
	free(he);
}

/* The offer ended this turn. */
void
heard_end(struct heard *h, const char *contact, const char *clin)
{
	struct heard_entry *he = heard_find(h, contact, clin);

	if (he == NULL || he->ending)
		return;
	he->ending = true;
	heard_list(h, he);
}

/*
 * The turn's commit: its sends and ends hold, or are undone (a line sent
 * in a failed turn was dropped, an end was rolled back).
 */
void
heard_committed(struct heard *h, bool ok)
{
	for (size_t i = 0; i < h->nends; i++) {
		struct heard_entry *he = h->ends[i];

		he->listed = false;
		if (ok ? he->ending : he->added) {
			heard_forget(h, he);
			continue;
		}
		he->added = false;
		he->ending = false;
	}
	h->nends = 0;
}

/* Was the offer sent, as of the last commit? */
bool
heard_has(const struct heard *h, const char *contact, const char *clin)
{
	return heard_find(h, contact, clin) != NULL;
}

/* Forget the offers that are gone. */
void
heard_keep(struct heard *h,
    bool (*live)(void *arg, const char *contact, const char *clin), void *arg)
{
	struct heard_entry *he, *tmp;

	h->nends = 0;
	HASH_ITER (hh, h->set, he, tmp) {
		he->listed = he->added = he->ending = false;
		if (!live(arg, he->contact, he->clin))
			heard_forget(h, he);
	}
}

/* Forget everything (shutdown). */
void
heard_free(struct heard *h)
{
	struct heard_entry *he, *tmp;

	if (h == NULL)
		return;
	HASH_ITER (hh, h->set, he, tmp)
		heard_forget(h, he);
	free(h->ends);
	free(h);
}
