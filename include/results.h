/*
 * results.h: the results (routed, overflow) owed to intake gateways
 * (CONTRACT §3).  A result is stored with the step that makes it and stays
 * owed until the gateway acknowledges it with "ack": it is sent live to the
 * connection that submitted the contact (or the principal's latest), again
 * after every welcome of that principal, paced by the connection's output,
 * and again on a sibling connection when the one it went to closes first.
 * Delivery is at least once; gateways drop repeats by contact id.
 */
#ifndef CRISISD_RESULTS_H
#define CRISISD_RESULTS_H

#include <stdbool.h>

#include <jansson.h>

struct session;
struct store;

/* Results fetched from the store per page of a replay. */
#define RESULTS_PAGE 256

/*
 * Store a result of contact for intake and send it where it can go now:
 * origin if open, else the principal's latest connection.  An urgent one
 * (an overflow) leaves even if the turn's commit fails; a quiet one is only
 * stored (its gateway heard it already).  *sent says whether a line was
 * queued to a connection.  -1 if the store refused it.
 */
int results_push(struct store *st, struct session *origin, const char *intake,
    const char *contact, const char *text, bool urgent, bool quiet, bool *sent);
/* The turn's commit is done: results stored until now are durable if ok. */
void results_committed(bool ok);

/* An intake connection was welcomed (after its welcome is queued). */
void results_welcome(struct store *st, struct session *s);
/* Its output drained: the next page of a replay. */
void results_drained(struct store *st, struct session *s);
/* It closed: what it was sent and did not ack goes to a sibling. */
void results_closed(struct session *s);

/* "ack": the gateway acted on contact's results. */
void results_ack(struct store *st, struct session *s, json_t *id,
    const char *contact, int64_t now);
/* A repeated ref: send contact's unacknowledged results again. */
void results_resend(struct store *st, struct session *s, const char *contact);

#endif
