/*
 * engine_rig.h: the real engine (with the real session, outbox and results
 * on top of fake connections, and the fake store beneath) driven the way
 * the daemon drives it, for test_engine.c and fuzz/fuzz_engine.c.
 *
 * Each call is one loop turn of the daemon: a peer connects, sends one
 * request line, or disconnects, or deadlines come due; then the turn's
 * commit, the release of the held lines, and the engine told how the commit
 * went, as main.c's main_flush() does.  Time is the rig's own clock, moved
 * only by rig_advance().
 */
#ifndef CRISISD_ENGINE_RIG_H
#define CRISISD_ENGINE_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"
#include "util.h"

#define RIG_PARTIES_MAX 16

struct engine;
struct session;
struct store;

/* A peer: a gateway, clinician or supervisor, on its own connection. */
struct rig_party {
	char name[PRINCIPAL_ID_MAX + 1];
	enum role role;
	struct conn *conn; /* the latest connection */
	struct session *s; /* its session; NULL once it closed */
	struct clin *clin; /* a clinician's, from the engine */
};

struct rig {
	struct store *st;
	struct engine *e;
	int64_t now;
	struct rig_party parties[RIG_PARTIES_MAX];
	size_t nparties;
	struct conn **old; /* connections replaced by a reconnect */
	size_t nold;
};

/*
 * The engine on store st (roster set up already), with conf, at now; NULL
 * (and *cause) if it does not start.  st stays the caller's.
 */
struct rig *
rig_new(struct store *st, const struct conf *conf, int64_t now, char **cause);
void rig_free(struct rig *r);

/* The party named name, or NULL. */
struct rig_party *rig_party(struct rig *r, const char *name);
/* name says hello as role (again, if it is connected: a reconnect). */
struct rig_party *rig_connect(struct rig *r, enum role role, const char *name);
/* name's connection closes. */
void rig_disconnect(struct rig *r, const char *name);
/* name sends one request line (a message of CONTRACT §3). */
void rig_request(struct rig *r, const char *name, const char *line);
/*
 * Move the clock to until, acting on each deadline on its time, earliest
 * first, each in a turn of its own; late_ms makes every one act that much
 * after its time (a slow loop), never past until.
 */
void rig_advance(struct rig *r, int64_t until, int64_t late_ms);
/*
 * The daemon is killed and started again with conf: nothing it held in
 * memory survives, the store does, and every peer is disconnected.
 */
void rig_restart(struct rig *r, const struct conf *conf);
/* The next line name was sent and has not read, or NULL. */
const char *rig_read(struct rig *r, const char *name);

#endif
