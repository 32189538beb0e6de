/*
 * heard.h: which offers each clinician has been sent, as the last good
 * commit left them.  An offer is heard once sent; it stops being heard
 * when its end (withdrawn, declined, accepted) is committed.  A failed
 * commit undoes the ends of its turn, as the store does, so that when the
 * engine reads its state back it knows which of the offers it finds were
 * already sent: none is sent twice for one failure (CONTRACT §5).
 */
#ifndef CRISISD_HEARD_H
#define CRISISD_HEARD_H

#include <stdbool.h>

/* The offers heard of (the engine holds one set). */
struct heard;

struct heard *heard_new(void);
void heard_free(struct heard *h);
/* The offer of contact to clin was sent. */
void heard_add(struct heard *h, const char *contact, const char *clin);
/* It ended this turn: no longer heard once the turn commits. */
void heard_end(struct heard *h, const char *contact, const char *clin);
/* The turn's commit succeeded (the ends hold) or failed (they are undone). */
void heard_committed(struct heard *h, bool ok);
/* Was the offer of contact to clin sent, as of the last commit? */
bool heard_has(const struct heard *h, const char *contact, const char *clin);
/*
 * Keep only the offers for which live(arg, ...) says yes (after the state
 * was read back, the others are gone for good).
 */
void heard_keep(struct heard *h,
    bool (*live)(void *arg, const char *contact, const char *clin), void *arg);

#endif
