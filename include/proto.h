/*
 * proto.h: the wire protocol's entry points for main.c.
 */
#ifndef CRISISD_PROTO_H
#define CRISISD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* The limits new connections get (start and reload). */
void proto_set_limits(size_t max_line_bytes, int64_t hello_timeout_ms);

/* A listener's accept callback; arg is the event_base. */
void proto_accept_cb(int fd, void *arg);

/*
 * Start the protocol's timers (the check of live sessions against their
 * principals) once the engine is up; requests go to engine e.
 */
struct engine;
struct event_base;
void proto_init(struct event_base *base, struct engine *e);

/* Free what the protocol keeps beyond its connections (at exit). */
void proto_free(void);

#endif
