/*
 * fake_conn.h: connections without sockets, for the engine's unit test and
 * fuzzer (fake_conn.c).  They implement the conn_* functions that session.c,
 * outbox.c and results.c call, so the real session and outbox run on top:
 * each line the outbox releases after a commit is captured in order, per
 * connection, for the test to read.
 */
#ifndef CRISISD_FAKE_CONN_H
#define CRISISD_FAKE_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

/*
 * A connection whose owner hears of its close through cbs->closed; owner
 * is for the callbacks (fake_conn_owner).
 */
struct conn *fake_conn_new(const struct conn_cbs *cbs, void *owner);
void *fake_conn_owner(const struct conn *c);
/* Free it (closed or not: a closed one's owner was told already). */
void fake_conn_free(struct conn *c);

/* The lines sent so far, and the next one not read yet (NULL if none). */
size_t fake_conn_nlines(const struct conn *c);
const char *fake_conn_line(const struct conn *c, size_t i);
const char *fake_conn_read(struct conn *c);
/* Has it been closed (conn_close, conn_finish)? */
bool fake_conn_closed(const struct conn *c);
/*
 * Did its owner ask to hear when its output drained?  Taking the answer
 * clears it: the caller then calls the owner's drained callback.
 */
bool fake_conn_take_drained(struct conn *c);

#endif
