/*
 * proto.h: the wire protocol's entry points for main.c.
 */
#ifndef CRISISD_PROTO_H
#define CRISISD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct conn;
struct event_base;

/* The limits new connections get (start and reload). */
void proto_set_limits(size_t max_line_bytes, int64_t hello_timeout_ms);

/* A listener's accept callback; arg is the event_base. */
void proto_accept_cb(int fd, void *arg);

/*
 * A connection the daemon opens on fd (one end of a socketpair) for a
 * principal it has authenticated itself (the web console's login): it is
 * welcomed at once, as if it had said hello, and its first line out is
 * the welcome.  NULL and *why (fd closed) if the principal is unknown,
 * disabled or of another role.
 */
struct conn *proto_open_welcomed(struct event_base *base, int fd,
    const char *principal, enum role role, const char **why);

/*
 * Start the protocol's timers (the check of live sessions against their
 * principals) once the engine is up; requests go to engine e.
 */
struct engine;
void proto_init(struct event_base *base, struct engine *e);
/*
 * A standby (CONTRACT §10): every hello is answered "unavailable" with
 * message, and the connection closed; NULL ends it (the node serves).
 */
void proto_standby(const char *message);

/* Free what the protocol keeps beyond its connections (at exit). */
void proto_free(void);

#endif
