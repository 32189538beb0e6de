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

struct heard {
	/* contact '/' clin: contact ids never hold a '/' */
	char key[CONTACT_ID_MAX + PRINCIPAL_ID_MAX + 2];
	char contact[CONTACT_ID_MAX + 1];
	char clin[PRINCIPAL_ID_MAX + 1];
	bool added; /* sent first this turn */
	bool ending; /* ended this turn */
	bool listed; /* on the list of this turn's changes */
	UT_hash_handle hh;
};

static struct heard *heard_set;
static struct heard **heard_ends; /* added or ended this turn */
static size_t heard_nends, heard_cap;

/* The key of an offer. */
static void
heard_key(const char *contact, const char *clin, char *key, size_t size)
{
	snprintf(key, size, "%s/%s", contact, clin);
}

/* The entry of an offer, or NULL. */
static struct heard *
heard_find(const char *contact, const char *clin)
{
	char key[sizeof(((struct heard *)NULL)->key)];
	struct heard *h;

	heard_key(contact, clin, key, sizeof(key));
	HASH_FIND_STR(heard_set, key, h);
	return h;
}

/* Put h on the list of this turn's changes, once. */
static void
heard_list(struct heard *h)
{
	if (h->listed)
		return;
	h->listed = true;
	if (heard_nends == heard_cap) {
		heard_cap = heard_cap == 0 ? 64 : heard_cap * 2;
		heard_ends =
		    xreallocarray(heard_ends, heard_cap, sizeof(*heard_ends));
	}
	heard_ends[heard_nends++] = h;
}

/* The offer of contact to clin was sent. */
void
heard_add(const char *contact, const char *clin)
{
	struct heard *h = heard_find(contact, clin);

	if (h != NULL) {
		/* Sent again after it ended, in the same turn: still heard. */
		h->ending = false;
		return;
	}
	h = xcalloc(1, sizeof(*h));
	heard_key(contact, clin, h->key, sizeof(h->key));
	strlcpy_(h->contact, contact, sizeof(h->contact));
	strlcpy_(h->clin, clin, sizeof(h->clin));
	HASH_ADD_STR(heard_set, key, h);
	/* Its line leaves only if the turn commits. */
	h->added = true;
	heard_list(h);
}

/* Free one entry. */
static void
heard_free(struct heard *h)
{
	HASH_DEL(heard_set, h);
	free(h);
}

/* The offer ended this turn. */
void
heard_end(const char *contact, const char *clin)
{
	struct heard *h = heard_find(contact, clin);

	if (h == NULL || h->ending)
		return;
	h->ending = true;
	heard_list(h);
}

/*
 * The turn's commit: its sends and ends hold, or are undone (a line sent
 * in a failed turn was dropped, an end was rolled back).
 */
void
heard_committed(bool ok)
{
	for (size_t i = 0; i < heard_nends; i++) {
		struct heard *h = heard_ends[i];

		h->listed = false;
		if (ok ? h->ending : h->added) {
			heard_free(h);
			continue;
		}
		h->added = false;
		h->ending = false;
	}
	heard_nends = 0;
}

/* Was the offer sent, as of the last commit? */
bool
heard_has(const char *contact, const char *clin)
{
	return heard_find(contact, clin) != NULL;
}

/* Forget the offers that are gone. */
void
heard_keep(bool (*live)(const char *contact, const char *clin))
{
	struct heard *h, *tmp;

	heard_nends = 0;
	HASH_ITER (hh, heard_set, h, tmp) {
		h->listed = h->added = h->ending = false;
		if (!live(h->contact, h->clin))
			heard_free(h);
	}
}

/* Forget everything (shutdown). */
void
heard_free_all(void)
{
	struct heard *h, *tmp;

	HASH_ITER (hh, heard_set, h, tmp)
		heard_free(h);
	free(heard_ends);
	heard_ends = NULL;
	heard_nends = heard_cap = 0;
}
