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

/* Free what the protocol keeps beyond its connections (at exit). */
void proto_free(void);

#endif
