/*
 * fake_store.h: an in-memory store for the engine's unit test and fuzzer
 * (fake_store.c).  It implements exactly the store_* functions of store.h
 * that the engine, results.c and outbox.c call, with the daemon's batch
 * semantics: writes go into a batch that store_commit() makes durable or,
 * when told to fail, rolls back, so the engine's read-back after a failed
 * commit (engine_resync) finds what a real store would.
 *
 * Tests set the roster and patients up directly (no batch), and read what
 * was stored through the rows below.
 */
#ifndef CRISISD_FAKE_STORE_H
#define CRISISD_FAKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/* A contacts row. */
struct fake_contact {
	char id[CONTACT_ID_MAX + 1];
	char intake[PRINCIPAL_ID_MAX + 1];
	char *ref, *channel, *risk, *caller, *patient, *program, *language;
	char *needs, *route, *disposition, *notes;
	char state[16];
	char clinician[PRINCIPAL_ID_MAX + 1]; /* "" if none */
	int tier; /* the tier the route is on, 0 if none */
	int64_t queued_at, deadline_at, assigned_at, closed_at, ended_at;
	int policy_version;
	int answered_tier;
	int64_t accept_ms; /* -1 if not assigned */
};

/* An open offer row. */
struct fake_offer {
	char contact[CONTACT_ID_MAX + 1];
	char clin[PRINCIPAL_ID_MAX + 1];
	int tier;
	int64_t offered_at, expires_at;
};

/* A contact_events row. */
struct fake_event {
	char contact[CONTACT_ID_MAX + 1];
	char event[32];
	char clin[PRINCIPAL_ID_MAX + 1]; /* "" if none */
	int tier;
	int64_t at;
	char *detail; /* JSON text or NULL */
};

/* A result owed to a gateway. */
struct fake_push {
	int64_t seq;
	char intake[PRINCIPAL_ID_MAX + 1];
	char contact[CONTACT_ID_MAX + 1];
	char *message;
	int64_t acked_at; /* 0 if not acked */
};

/* A supervisor's request to close a contact (crisisctl contact close). */
struct fake_close {
	int64_t id;
	char contact[CONTACT_ID_MAX + 1];
	char supervisor[PRINCIPAL_ID_MAX + 1];
	char reason[128];
	int64_t done_at; /* 0 until the daemon carried it out */
	char result[128];
};

/* A follow-up owed to a caller. */
struct fake_followup {
	char contact[CONTACT_ID_MAX + 1];
	char reason[16];
	int64_t at;
};

struct store *fake_store_new(void);
void fake_store_free(struct store *st);

/* The roster and patients (written at once, no batch; bumps the version). */
void fake_store_add_clinician(struct store *st, const char *id,
    const char *languages, const char *skills, const char *endpoint);
void fake_store_add_shift(struct store *st, const char *clin, int tier,
    int64_t start_ms, int64_t end_ms);
void fake_store_add_patient(struct store *st, const char *patient,
    const char *primary);

/* crisisctl contact close: a request filed for the daemon's poll. */
void fake_store_file_close(struct store *st, const char *contact,
    const char *supervisor, const char *reason);
const struct fake_close *fake_store_closes(const struct store *st, size_t *n);

/*
 * Failures on demand: the next n commits fail (their batch is rolled
 * back); while writes_fail is set every write fails, and so does the commit
 * of its batch (a full disk).
 */
void fake_store_fail_commits(struct store *st, int n);
void fake_store_fail_writes(struct store *st, bool fail);

/* What is stored now (the open batch included), by id; NULL if none. */
const struct fake_contact *
fake_store_contact(const struct store *st, const char *id);
const struct fake_offer *
fake_store_offer(const struct store *st, const char *contact, const char *clin);
size_t fake_store_noffers(const struct store *st);
const struct fake_offer *fake_store_offers(const struct store *st, size_t *n);
/* Events of a contact (every contact if NULL) named event (any if NULL). */
size_t fake_store_count_events(const struct store *st, const char *contact,
    const char *event);
const struct fake_event *fake_store_events(const struct store *st, size_t *n);
const struct fake_push *fake_store_pushes(const struct store *st, size_t *n);
const struct fake_followup *
fake_store_followups(const struct store *st, size_t *n);
const struct fake_contact *
fake_store_contacts(const struct store *st, size_t *n);
/* Commits that made a batch durable, and that failed. */
unsigned fake_store_commits(const struct store *st);
unsigned fake_store_failed_commits(const struct store *st);
/*
 * Writes the real schema would refuse (a row of a contact that does not
 * exist, a second contact with one ref): an engine bug.  0 if none; the
 * first one's description in *what.
 */
unsigned fake_store_violations(const struct store *st, const char **what);

#endif
