/*
 * ha.h: a standby crisisd until this node holds the lease of a shared
 * PostgreSQL database (CONTRACT §10; ha.c).
 */
#ifndef CRISISD_HA_H
#define CRISISD_HA_H

#include <stdbool.h>

struct conf;
struct event_base;
struct store;

struct ha *ha_start(struct event_base *base, struct store *st,
    const struct conf *conf, void (*activate)(void *), void *arg);
bool ha_active(const struct ha *ha);
void ha_free(struct ha *ha);

#endif
