/*
 * ctl_status.c: crisisctl status: is a crisisd serving this database, and
 * which one.
 *
 * On PostgreSQL (CONTRACT §10) the lease says it: the active node, since
 * when it has held the lease, how long ago it renewed it and when it
 * expires, by the database's clock (the nodes' clocks play no part).  A
 * lease that has expired means nobody serves: a standby takes over within
 * a moment, or none is running.  On SQLite the lock file says whether a
 * crisisd serves the file.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "ctl.h"
#include "lockfile.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* Does a node hold the lease now, by the database's clock? */
static bool
ctl_status_live(const struct store_lease *l)
{
	return l->node[0] != '\0' && l->expires_at > l->now;
}

/* The PostgreSQL lease as a JSON object. */
static json_t *
ctl_status_lease(const struct store_lease *l)
{
	bool live = ctl_status_live(l);
	char since[RFC3339_MAX];
	json_t *out =
	    json_pack("{s:s, s:b}", "store", "postgresql", "serving", live);

	if (l->node[0] == '\0') {
		json_object_set_new(out, "active", json_null());
		return out;
	}
	json_object_set_new(out, live ? "active" : "last_active",
	    json_string(l->node));
	json_object_set_new(out, "epoch", json_integer(l->epoch));
	util_format_rfc3339(l->acquired_at, since);
	json_object_set_new(out, "since", json_string(since));
	json_object_set_new(out, "lease_age_ms",
	    json_integer(l->now - l->renewed_at));
	json_object_set_new(out, "expires_in_ms",
	    json_integer(l->expires_at - l->now));
	return out;
}

/* crisisctl status: print who serves the database. */
int
ctl_status(struct ctl *ctl)
{
	struct store_lease lease;
	json_t *out;
	int rc, held;

	memset(&lease, 0, sizeof lease);
	rc = store_lease_read(ctl->store, &lease);
	if (rc == STORE_ERROR)
		return ctl_store_fail(ctl, "status");
	if (rc == STORE_OK)
		out = ctl_status_lease(&lease);
	else {
		if ((held = lockfile_held(ctl->conf->database)) == -1) {
			log_error("%s.lock: %s", ctl->conf->database,
			    strerror(errno));
			return CTL_FAIL;
		}
		out = json_pack("{s:s, s:b}", "store", "sqlite", "serving",
		    held == 1);
	}
	json_object_set_new(out, "database",
	    json_string(ctl->conf->database_shown));
	rc = ctl_print_object(ctl, out);
	json_decref(out);
	return rc;
}

/*
 * Does a crisisd serve the database now: 1 yes, 0 no, -1 error (said)?
 * (contact close waits for the daemon only if one serves.)
 */
int
ctl_daemon_serving(struct ctl *ctl)
{
	struct store_lease lease;
	int rc;

	memset(&lease, 0, sizeof lease);
	rc = store_lease_read(ctl->store, &lease);
	if (rc == STORE_OK)
		return ctl_status_live(&lease);
	if (rc == STORE_ERROR) {
		ctl_store_fail(ctl, "status");
		return -1;
	}
	return lockfile_held(ctl->conf->database);
}
