/*
 * fake_store.c: the in-memory store of fake_store.h.
 *
 * Tables are plain arrays.  A batch opens at its first write and keeps
 * what it needs to undo itself: the lengths of the tables that only grow,
 * a copy of the (few) open offers, and the old value of each contact row
 * and acknowledgement it changed.  A commit forgets that; a failed commit
 * or a rollback puts it back.  Rows the real schema would refuse (a row of
 * an unknown contact, a ref used twice) are refused here too and counted
 * as violations, which the tests expect to stay at 0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fake_store.h"
#include "fake_store_int.h"
#include "store.h"
#include "util.h"

/* Grow an array by one zeroed element; returns it. */
void *
fake_append(void *arrayp, size_t *n, size_t size)
{
	void **array = arrayp;
	char *p;

	*array = xreallocarray(*array, *n + 1, size);
	p = (char *)*array + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

/* Remember the message of the last failure. */
void
fake_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
}

/* A write the real schema would refuse. */
int
fake_violation(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (st->violations++ == 0)
		vsnprintf(st->violation, sizeof(st->violation), fmt, ap);
	va_end(ap);
	fake_error(st, "constraint failed");
	return STORE_ERROR;
}

/* Do two possibly NULL strings match (SQL's IS)? */
bool
fake_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* --- contact rows --- */

/* A deep copy of a contact row. */
void
fake_contact_copy(struct fake_contact *dst, const struct fake_contact *src)
{
	*dst = *src;
	dst->ref = xstrdup_null(src->ref);
	dst->channel = xstrdup_null(src->channel);
	dst->risk = xstrdup_null(src->risk);
	dst->caller = xstrdup_null(src->caller);
	dst->patient = xstrdup_null(src->patient);
	dst->program = xstrdup_null(src->program);
	dst->language = xstrdup_null(src->language);
	dst->needs = xstrdup_null(src->needs);
	dst->route = xstrdup_null(src->route);
	dst->disposition = xstrdup_null(src->disposition);
	dst->notes = xstrdup_null(src->notes);
}

/* Free what a contact row holds. */
void
fake_contact_clear(struct fake_contact *c)
{
	free(c->ref);
	free(c->channel);
	free(c->risk);
	free(c->caller);
	free(c->patient);
	free(c->program);
	free(c->language);
	free(c->needs);
	free(c->route);
	free(c->disposition);
	free(c->notes);
}

/* The index of contact id, or -1. */
long
fake_contact_idx(const struct store *st, const char *id)
{
	for (size_t i = 0; i < st->ncontacts; i++) {
		if (strcmp(st->contacts[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

/* --- batches --- */

/* Free what the batch kept to undo itself. */
static void
fake_batch_end(struct store *st)
{
	struct fake_batch *b = &st->batch;

	for (size_t i = 0; i < b->nundo; i++)
		fake_contact_clear(&b->undo[i].row);
	free(b->undo);
	free(b->acks);
	free(b->closes);
	free(b->offers);
	memset(b, 0, sizeof(*b));
}

/*
 * Every write starts here: it counts, it opens the batch, and it fails
 * while writes fail.
 */
int
fake_write(struct store *st)
{
	struct fake_batch *b = &st->batch;

	st->writes++;
	if (!b->open) {
		b->open = true;
		b->ncontacts = st->ncontacts;
		b->nevents = st->nevents;
		b->npushes = st->npushes;
		b->nfollowups = st->nfollowups;
		b->npolicies = st->npolicies;
		b->push_seq = st->push_seq;
		b->noffers = st->noffers;
		b->offers =
		    xreallocarray(NULL, st->noffers + 1, sizeof(*b->offers));
		if (st->noffers > 0)
			memcpy(b->offers, st->offers,
			    st->noffers * sizeof(*b->offers));
	}
	if (st->writes_fail) {
		b->failed = true;
		fake_error(st, "disk I/O error");
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Contact row idx is about to change: keep its old value, once a batch. */
void
fake_save_contact(struct store *st, size_t idx)
{
	struct fake_batch *b = &st->batch;
	struct fake_undo *u;

	if (idx >= b->ncontacts)
		return; /* inserted in this batch: the undo drops it */
	for (size_t i = 0; i < b->nundo; i++) {
		if (b->undo[i].idx == idx)
			return;
	}
	u = fake_append(&b->undo, &b->nundo, sizeof(*b->undo));
	u->idx = idx;
	fake_contact_copy(&u->row, &st->contacts[idx]);
}

/* Put everything the open batch changed back. */
static void
fake_batch_undo(struct store *st)
{
	struct fake_batch *b = &st->batch;

	for (size_t i = b->ncontacts; i < st->ncontacts; i++)
		fake_contact_clear(&st->contacts[i]);
	st->ncontacts = b->ncontacts;
	for (size_t i = 0; i < b->nundo; i++) {
		fake_contact_clear(&st->contacts[b->undo[i].idx]);
		st->contacts[b->undo[i].idx] = b->undo[i].row;
	}
	b->nundo = 0;
	for (size_t i = b->nevents; i < st->nevents; i++)
		free(st->events[i].detail);
	st->nevents = b->nevents;
	for (size_t i = b->npushes; i < st->npushes; i++)
		free(st->pushes[i].message);
	st->npushes = b->npushes;
	for (size_t i = 0; i < b->nacks; i++)
		st->pushes[b->acks[i].idx].acked_at = b->acks[i].acked_at;
	for (size_t i = 0; i < b->ncloses; i++)
		st->closes[b->closes[i].idx].done_at = b->closes[i].acked_at;
	st->push_seq = b->push_seq;
	st->nfollowups = b->nfollowups;
	for (size_t i = b->npolicies; i < st->npolicies; i++)
		free(st->policies[i].text);
	st->npolicies = b->npolicies;
	free(st->offers);
	st->offers = b->offers;
	st->noffers = b->noffers;
	b->offers = NULL;
}

/* Is a batch open? */
bool
store_batch_open(const struct store *st)
{
	return st->batch.open;
}

/* Make the batch durable, or roll it back if told to fail. */
int
store_commit(struct store *st)
{
	if (!st->batch.open)
		return STORE_OK;
	if (st->fail_commits > 0 || st->batch.failed) {
		if (st->fail_commits > 0)
			st->fail_commits--;
		fake_batch_undo(st);
		fake_batch_end(st);
		st->failed_commits++;
		fake_error(st, "commit failed (on demand)");
		return STORE_ERROR;
	}
	fake_batch_end(st);
	st->commits++;
	return STORE_OK;
}

/*
 * The fake has no sync thread: each commit is durable as it ends, as a
 * crisisctl connection's is, so the ticket stays 0 and is always done.
 */
uint64_t
store_sync_ticket(const struct store *st)
{
	(void)st;
	return 0;
}

/* Undo the open batch. */
void
store_rollback(struct store *st)
{
	if (!st->batch.open)
		return;
	fake_batch_undo(st);
	fake_batch_end(st);
}

/* Writes tried so far. */
uint64_t
store_write_count(const struct store *st)
{
	return st->writes;
}

/* There is no lock to wait for. */
void
store_wait_for_lock(struct store *st, int ms)
{
	(void)st;
	(void)ms;
}

/* A failed commit here is never a lost lock. */
bool
store_failed_busy(const struct store *st)
{
	(void)st;
	return false;
}

/* The retry's small write. */
int
store_alive(struct store *st, int64_t now)
{
	(void)now;
	return fake_write(st);
}

/* The last failure's message. */
const char *
store_error(const struct store *st)
{
	return st->error;
}

/* --- set-up and inspection --- */

/* An empty store, roster version 1. */
struct store *
fake_store_new(void)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->roster_version = 1;
	return st;
}

/* Free everything. */
void
fake_store_free(struct store *st)
{
	if (st == NULL)
		return;
	store_rollback(st);
	for (size_t i = 0; i < st->ncontacts; i++)
		fake_contact_clear(&st->contacts[i]);
	free(st->contacts);
	free(st->offers);
	for (size_t i = 0; i < st->nevents; i++)
		free(st->events[i].detail);
	free(st->events);
	for (size_t i = 0; i < st->npushes; i++)
		free(st->pushes[i].message);
	free(st->pushes);
	free(st->followups);
	for (size_t i = 0; i < st->npolicies; i++)
		free(st->policies[i].text);
	free(st->policies);
	for (size_t i = 0; i < st->nclinicians; i++) {
		free(st->clinicians[i].languages);
		free(st->clinicians[i].skills);
		free(st->clinicians[i].endpoint);
	}
	free(st->clinicians);
	for (size_t i = 0; i < st->nshifts; i++)
		free((char *)st->shifts[i].clinician);
	free(st->shifts);
	free(st->patients);
	free(st->closes);
	free(st);
}

/* A roster clinician. */
void
fake_store_add_clinician(struct store *st, const char *id,
    const char *languages, const char *skills, const char *endpoint)
{
	struct fake_clinician *c =
	    fake_append(&st->clinicians, &st->nclinicians, sizeof(*c));

	strlcpy_(c->id, id, sizeof(c->id));
	c->languages = xstrdup_null(languages);
	c->skills = xstrdup_null(skills);
	c->endpoint = xstrdup_null(endpoint);
	st->roster_version++;
}

/* A shift of a roster clinician. */
void
fake_store_add_shift(struct store *st, const char *clin, int tier,
    int64_t start_ms, int64_t end_ms)
{
	struct store_shift *s =
	    fake_append(&st->shifts, &st->nshifts, sizeof(*s));

	s->clinician = xstrdup(clin);
	s->tier = tier;
	s->start_ms = start_ms;
	s->end_ms = end_ms;
	st->roster_version++;
}

/* A patient and its primary clinician. */
void
fake_store_add_patient(struct store *st, const char *patient,
    const char *primary)
{
	struct fake_patient *p =
	    fake_append(&st->patients, &st->npatients, sizeof(*p));

	strlcpy_(p->id, patient, sizeof(p->id));
	strlcpy_(p->primary, primary, sizeof(p->primary));
	st->roster_version++;
}

/* A supervisor's close request, filed as crisisctl files it. */
void
fake_store_file_close(struct store *st, const char *contact,
    const char *supervisor, const char *reason)
{
	struct fake_close *c =
	    fake_append(&st->closes, &st->ncloses, sizeof(*c));

	c->id = (int64_t)st->ncloses;
	strlcpy_(c->contact, contact, sizeof(c->contact));
	strlcpy_(c->supervisor, supervisor, sizeof(c->supervisor));
	strlcpy_(c->reason, reason, sizeof(c->reason));
}

/* Every close request. */
const struct fake_close *
fake_store_closes(const struct store *st, size_t *n)
{
	*n = st->ncloses;
	return st->closes;
}

/* The next n commits fail. */
void
fake_store_fail_commits(struct store *st, int n)
{
	st->fail_commits = n;
}

/* Every write fails, or none does. */
void
fake_store_fail_writes(struct store *st, bool fail)
{
	st->writes_fail = fail;
}

/* Contact id's row, or NULL. */
const struct fake_contact *
fake_store_contact(const struct store *st, const char *id)
{
	long i = fake_contact_idx(st, id);

	return i < 0 ? NULL : &st->contacts[i];
}

/* Every contact row. */
const struct fake_contact *
fake_store_contacts(const struct store *st, size_t *n)
{
	*n = st->ncontacts;
	return st->contacts;
}

/* The open offer of contact to clin, or NULL. */
const struct fake_offer *
fake_store_offer(const struct store *st, const char *contact, const char *clin)
{
	for (size_t i = 0; i < st->noffers; i++) {
		if (strcmp(st->offers[i].contact, contact) == 0 &&
		    strcmp(st->offers[i].clin, clin) == 0)
			return &st->offers[i];
	}
	return NULL;
}

/* Every open offer. */
const struct fake_offer *
fake_store_offers(const struct store *st, size_t *n)
{
	*n = st->noffers;
	return st->offers;
}

/* How many offers are open. */
size_t
fake_store_noffers(const struct store *st)
{
	return st->noffers;
}

/* How many events match. */
size_t
fake_store_count_events(const struct store *st, const char *contact,
    const char *event)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nevents; i++) {
		const struct fake_event *ev = &st->events[i];

		n += (contact == NULL || strcmp(ev->contact, contact) == 0) &&
		    (event == NULL || strcmp(ev->event, event) == 0);
	}
	return n;
}

/* Every event row. */
const struct fake_event *
fake_store_events(const struct store *st, size_t *n)
{
	*n = st->nevents;
	return st->events;
}

/* Every result row. */
const struct fake_push *
fake_store_pushes(const struct store *st, size_t *n)
{
	*n = st->npushes;
	return st->pushes;
}

/* Every follow-up row. */
const struct fake_followup *
fake_store_followups(const struct store *st, size_t *n)
{
	*n = st->nfollowups;
	return st->followups;
}

/* Commits that made a batch durable. */
unsigned
fake_store_commits(const struct store *st)
{
	return st->commits;
}

/* Commits that failed. */
unsigned
fake_store_failed_commits(const struct store *st)
{
	return st->failed_commits;
}

/* Writes the real schema would have refused. */
unsigned
fake_store_violations(const struct store *st, const char **what)
{
	if (what != NULL)
		*what = st->violation;
	return st->violations;
}

/* --- the roster (read only) --- */

/* The roster's version. */
int
store_roster_version(struct store *st, int64_t *version)
{
	*version = st->roster_version;
	return STORE_OK;
}

/* The clinicians, then the shifts overlapping [since, until). */
int
store_roster_load(struct store *st, int64_t since_ms, int64_t until_ms,
    const struct store_roster_cbs *cbs)
{
	for (size_t i = 0; i < st->nclinicians; i++) {
		const struct fake_clinician *fc = &st->clinicians[i];
		struct store_clinician c = { fc->id, fc->id, fc->languages,
			fc->skills, fc->endpoint };

		if (cbs->clinician(cbs->arg, &c) == -1)
			return STORE_ERROR;
	}
	for (size_t i = 0; i < st->nshifts; i++) {
		if (st->shifts[i].end_ms > since_ms &&
		    st->shifts[i].start_ms < until_ms &&
		    cbs->shift(cbs->arg, &st->shifts[i]) == -1)
			return STORE_ERROR;
	}
	return STORE_OK;
}

/* A patient's primary clinician. */
int
store_patient_primary(struct store *st, const char *patient,
    char out[PRINCIPAL_ID_MAX + 1])
{
	for (size_t i = 0; i < st->npatients; i++) {
		if (strcmp(st->patients[i].id, patient) == 0) {
			strlcpy_(out, st->patients[i].primary,
			    PRINCIPAL_ID_MAX + 1);
			return STORE_OK;
		}
	}
	fake_error(st, "no patient %s", patient);
	return STORE_NOTFOUND;
}

/* --- policies --- */

/* The version of a policy text: the last one if the same, else new. */
int
store_policy_save(struct store *st, const char *routing, int64_t now,
    int *version)
{
	struct fake_policy *p;
	int rc;

	(void)now;
	if (st->npolicies > 0 &&
	    strcmp(st->policies[st->npolicies - 1].text, routing) == 0) {
		*version = st->policies[st->npolicies - 1].version;
		return STORE_OK;
	}
	if ((rc = fake_write(st)) != STORE_OK)
		return rc;
	p = fake_append(&st->policies, &st->npolicies, sizeof(*p));
	p->version = st->npolicies == 1
	    ? 1
	    : st->policies[st->npolicies - 2].version + 1;
	p->text = xstrdup(routing);
	*version = p->version;
	return STORE_OK;
}

/* The text of a policy version. */
int
store_policy_load(struct store *st, int version, char **routing)
{
	for (size_t i = 0; i < st->npolicies; i++) {
		if (st->policies[i].version == version) {
			*routing = xstrdup(st->policies[i].text);
			return STORE_OK;
		}
	}
	fake_error(st, "no policy %d", version);
	return STORE_NOTFOUND;
}
