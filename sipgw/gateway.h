/*
 * gateway.h: crisis-sipgw's logic.  Kamailio's events and crisisd's
 * messages come in; relay commands, contacts, acks, abandons, ends and
 * failures go out, each decided here from the call's state (call.h).
 *
 * The rule above all: a caller always reaches someone.  When crisisd is
 * away, slow, refuses a contact or never answers, the call goes to the
 * overflow target; when the table of calls is full, too.
 */
#ifndef SIPGW_GATEWAY_H
#define SIPGW_GATEWAY_H

#include <event2/event.h>

#include "gwconf.h"

struct gateway;

/* NULL with *cause (TLS files that cannot be used). */
struct gateway *
gateway_new(struct event_base *base, const struct gwconf *conf, char **cause);
/* Connect to both sides. */
void gateway_start(struct gateway *g);
void gateway_free(struct gateway *g);

#endif
