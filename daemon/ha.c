/*
 * ha.c: a standby crisisd, until this node holds the lease (CONTRACT §10).
 *
 * On a shared PostgreSQL database one crisisd is active.  The others
 * listen as usual, so that clients find them, but answer every hello with
 * "unavailable" naming the active node (proto.c), and ask for the lease
 * every HA_TRY_MS.  The database's clock decides when a lease has expired,
 * so the nodes' clocks never matter.  Once the lease is ours the daemon
 * starts serving exactly as after a restart (§5): main.c's callback opens
 * the engine, which resumes every open contact from the database.
 *
 * Losing the lease is not handled here: the store refuses every write of
 * an old epoch and the sync thread every renewal, and the daemon exits
 * without sending what depended on them (main.c); systemd starts it again,
 * as a standby.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "ha.h"
#include "log.h"
#include "notify.h"
#include "proto.h"
#include "store.h"
#include "util.h"

/* How often a standby asks for the lease. */
#define HA_TRY_MS 250

struct ha {
	struct event_base *base;
	struct store *st;
	/* The ha group as started: a reload's takes a restart. */
	char *node;
	int64_t lease_ms;
	struct event *timer;
	void (*activate)(void *);
	void *arg;
	char message[160]; /* what a hello is told */
	struct log_limit errors;
	bool active;
};

/* What a standby's hello is told: who is active, so that a person sees. */
static void
ha_set_message(struct ha *ha, const struct store_lease *holder, bool failed)
{
	char text[sizeof ha->message];

	if (failed)
		snprintf(text, sizeof text,
		    "standby; the database does not answer");
	else
		snprintf(text, sizeof text, "standby; active is %s",
		    holder->node[0] != '\0' ? holder->node : "(none yet)");
	if (strcmp(text, ha->message) == 0)
		return;
	strlcpy_(ha->message, text, sizeof ha->message);
	proto_standby(ha->message);
	notify_status(ha->base, "%s", ha->message);
}

/* Ask for the lease once: true if it is ours now. */
static bool
ha_try(struct ha *ha)
{
	struct store_lease holder;
	int rc;

	rc = store_lease_take(ha->st, ha->node, ha->lease_ms, &holder);
	if (rc == STORE_OK) {
		log_notice("node %s holds the lease now (epoch %lld): serving",
		    ha->node, (long long)store_lease_epoch(ha->st));
		return true;
	}
	if (rc == STORE_CONFLICT) {
		if (ha->message[0] == '\0' ||
		    strstr(ha->message, holder.node) == NULL)
			log_notice("standby: %s is active (epoch %lld, lease "
			           "renewed %lld ms ago)",
			    holder.node, (long long)holder.epoch,
			    (long long)(holder.now - holder.renewed_at));
		ha_set_message(ha, &holder, false);
	} else {
		log_limited(&ha->errors, LOG_LEVEL_ERROR,
		    "standby: cannot ask for the lease: %s",
		    store_error(ha->st));
		ha_set_message(ha, &holder, true);
	}
	return false;
}

/* Become active: stop asking, let hellos in, start serving. */
static void
ha_activate(struct ha *ha)
{
	ha->active = true;
	evtimer_del(ha->timer);
	proto_standby(NULL);
	ha->activate(ha->arg);
}

static void
ha_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ha *ha = arg;

	(void)fd;
	(void)what;
	if (!ha->active && ha_try(ha))
		ha_activate(ha);
}

/*
 * Ask for the lease now; if another node holds it, stay a standby and ask
 * again every HA_TRY_MS.  activate(arg) runs once the lease is ours (at
 * once, before this returns, if it is free now).
 */
struct ha *
ha_start(struct event_base *base, struct store *st, const struct conf *conf,
    void (*activate)(void *), void *arg)
{
	struct ha *ha = xcalloc(1, sizeof *ha);
	struct timeval every = { 0, HA_TRY_MS * 1000 };

	ha->base = base;
	ha->st = st;
	ha->node = xstrdup(conf->ha.node);
	ha->lease_ms = conf->ha.lease_ms;
	ha->activate = activate;
	ha->arg = arg;
	ha->timer = event_new(base, -1, EV_PERSIST, ha_timer_cb, ha);
	if (ha->timer == NULL)
		fatalx("cannot make the lease timer");
	if (ha_try(ha)) {
		ha_activate(ha);
		return ha;
	}
	if (evtimer_add(ha->timer, &every) == -1)
		fatalx("cannot start the lease timer");
	return ha;
}

/* Is this node serving (the lease is ours)? */
bool
ha_active(const struct ha *ha)
{
	return ha == NULL || ha->active;
}

/* Stop asking; a lease held is handed back by store_lease_release(). */
void
ha_free(struct ha *ha)
{
	if (ha == NULL)
		return;
	event_free(ha->timer);
	free(ha->node);
	free(ha);
}
