/*
 * fake_store_int.h: what the two halves of the fake store share: its
 * tables (fake_store.c has the batches, the roster and the policies;
 * fake_store_contact.c the contacts, offers, events and results).
 */
#ifndef CRISISD_FAKE_STORE_INT_H
#define CRISISD_FAKE_STORE_INT_H

#include "fake_store.h"

struct fake_clinician {
	char id[PRINCIPAL_ID_MAX + 1];
	char *languages, *skills, *endpoint;
};

struct fake_policy {
	int version;
	char *text;
};

struct fake_patient {
	char id[PRINCIPAL_ID_MAX + 1];
	char primary[PRINCIPAL_ID_MAX + 1];
};

/* A contact row as it was before the open batch changed it. */
struct fake_undo {
	size_t idx;
	struct fake_contact row;
};

/* A result's acknowledgement before the open batch changed it. */
struct fake_undo_ack {
	size_t idx;
	int64_t acked_at;
};

/* What the open batch must put back if it fails. */
struct fake_batch {
	bool open;
	bool failed; /* a write failed in it */
	size_t ncontacts, nevents, npushes, nfollowups, npolicies;
	int64_t push_seq;
	struct fake_offer *offers;
	size_t noffers;
	struct fake_undo *undo;
	size_t nundo;
	struct fake_undo_ack *acks;
	size_t nacks;
	struct fake_undo_ack *closes; /* the closes' done_at, as acks */
	size_t ncloses;
};

struct store {
	struct fake_contact *contacts;
	size_t ncontacts;
	struct fake_offer *offers;
	size_t noffers;
	struct fake_event *events;
	size_t nevents;
	struct fake_push *pushes;
	size_t npushes;
	int64_t push_seq;
	struct fake_followup *followups;
	size_t nfollowups;
	struct fake_policy *policies;
	size_t npolicies;
	size_t ndisclosures;
	struct fake_close *closes;
	size_t ncloses;
	struct fake_batch batch;

	struct fake_clinician *clinicians;
	size_t nclinicians;
	struct store_shift *shifts;
	size_t nshifts;
	struct fake_patient *patients;
	size_t npatients;
	int64_t roster_version;

	int fail_commits;
	bool writes_fail;
	uint64_t writes;
	unsigned commits, failed_commits, violations;
	char violation[256];
	char error[256];
};

void *fake_append(void *arrayp, size_t *n, size_t size);
void fake_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int fake_violation(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool fake_same(const char *a, const char *b);
void
fake_contact_copy(struct fake_contact *dst, const struct fake_contact *src);
void fake_contact_clear(struct fake_contact *c);
long fake_contact_idx(const struct store *st, const char *id);
/* Every write starts here; STORE_ERROR while writes fail. */
int fake_write(struct store *st);
/* Contact row idx is about to change in the open batch. */
void fake_save_contact(struct store *st, size_t idx);

#endif
