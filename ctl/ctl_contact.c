/*
 * ctl_contact.c: contact close CID --by SUPERVISOR --reason TEXT.
 *
 * A contact that is open or assigned lives in crisisd's memory, so the
 * close is filed as a request (and audited) and crisisd carries it out on
 * its next poll, within a second: it withdraws the offers, tells the
 * gateway `overflow` if the caller never got a result, and records who
 * closed it and why (daemon/engine_close.c).  We wait for that and print
 * what was done.  With no crisisd running the request stays filed and is
 * carried out when crisisd starts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "ctl.h"
#include "lockfile.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* Longest reason kept with the contact (its notes, when completed). */
#define CTL_REASON_MAX_BYTES 1024
/* crisisd polls every second; allow it a busy moment or two more. */
#define CTL_CLOSE_WAIT_MS 5000
#define CTL_CLOSE_POLL_MS 100

/* Check the arguments: a contact id, a supervisor id and a reason. */
static int
ctl_contact_close_args(const struct ctl *ctl)
{
	const char *by = ctl_opt(ctl, "by"), *reason = ctl_opt(ctl, "reason");

	if (!ctl_valid_cid(ctl->pos[0]))
		return ctl_usage_error(ctl,
		    "bad contact id: 1 to %d printable characters",
		    CONTACT_ID_MAX);
	if (by == NULL || reason == NULL)
		return ctl_usage_error(ctl, "--by and --reason are required");
	if (!util_valid_principal_id(by))
		return ctl_usage_error(ctl, "bad supervisor id \"%s\"", by);
	if (!ctl_text_ok(reason, CTL_REASON_MAX_BYTES))
		return ctl_usage_error(ctl, "--reason: 1 to %d bytes of text",
		    CTL_REASON_MAX_BYTES);
	return CTL_OK;
}

/* Is by an enabled supervisor?  CTL_OK, or CTL_FAIL with the reason said. */
static int
ctl_contact_supervisor(const struct ctl *ctl, const char *by)
{
	uint8_t hash[TOKEN_HASH_BYTES];
	char role[16];
	bool disabled;
	int rc = store_principal_get(ctl->store, by, role, hash, &disabled);

	if (rc == STORE_NOTFOUND ||
	    (rc == STORE_OK && strcmp(role, "supervisor") != 0)) {
		log_error("no supervisor %s", by);
		return CTL_FAIL;
	}
	if (rc != STORE_OK)
		return ctl_store_fail(ctl, NULL);
	if (disabled) {
		log_error("supervisor %s is disabled", by);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Is the contact open or assigned?  CTL_OK, or CTL_FAIL with why not. */
static int
ctl_contact_closable(const struct ctl *ctl, const char *cid)
{
	char state[16], intake[PRINCIPAL_ID_MAX + 1];
	int rc = store_contact_state(ctl->store, cid, state, intake);

	if (rc == STORE_NOTFOUND) {
		log_error("no contact %s", cid);
		return CTL_FAIL;
	}
	if (rc != STORE_OK)
		return ctl_store_fail(ctl, NULL);
	if (strcmp(state, STORE_STATE_OPEN) != 0 &&
	    strcmp(state, STORE_STATE_ASSIGNED) != 0) {
		log_error("contact %s is already closed: %s", cid, state);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* File the request and its audit row in one commit; its id into *id. */
static int
ctl_contact_file(struct ctl *ctl, const char *cid, const char *by,
    const char *reason, int64_t *id)
{
	int rc = store_close_file(ctl->store, cid, by, reason, ctl->actor,
	    ctl->now_ms, id);

	if (rc != STORE_OK) {
		store_rollback(ctl->store);
		return ctl_store_fail(ctl, "filing the close");
	}
	rc = ctl_audit_change(ctl, "change.contact_close", cid, NULL,
	    json_pack("{s:I, s:s, s:s}", "request", (json_int_t)*id,
	        "supervisor", by, "reason", reason));
	if (rc != CTL_OK) {
		store_rollback(ctl->store);
		return rc;
	}
	return ctl_commit(ctl);
}

/* Wait for crisisd to carry request id out; true if it did. */
static bool
ctl_contact_wait(struct ctl *ctl, int64_t id, char *result, size_t len)
{
	const struct timespec pause = { 0, CTL_CLOSE_POLL_MS * 1000000L };
	bool done = false;

	for (int64_t waited = 0; waited <= CTL_CLOSE_WAIT_MS;
	     waited += CTL_CLOSE_POLL_MS) {
		if (store_close_result(ctl->store, id, &done, result, len) ==
		        STORE_OK &&
		    done)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

int
ctl_contact_close(struct ctl *ctl)
{
	const char *cid = ctl->pos[0], *by = ctl_opt(ctl, "by");
	const char *reason = ctl_opt(ctl, "reason");
	char result[256] = "";
	int64_t id = 0;
	int rc, running;
	json_t *out;

	if ((rc = ctl_contact_close_args(ctl)) != CTL_OK)
		return rc;
	if ((rc = ctl_contact_supervisor(ctl, by)) != CTL_OK ||
	    (rc = ctl_contact_closable(ctl, cid)) != CTL_OK ||
	    (rc = ctl_contact_file(ctl, cid, by, reason, &id)) != CTL_OK)
		return rc;
	out =
	    json_pack("{s:s, s:I}", "contact", cid, "request", (json_int_t)id);
	running = ctl_daemon_serving(ctl);
	if (running == 0) {
		json_object_set_new(out, "done", json_false());
		json_object_set_new(out, "result",
		    json_string("filed; crisisd is not running and carries it "
		                "out when it starts"));
	} else if (ctl_contact_wait(ctl, id, result, sizeof(result))) {
		json_object_set_new(out, "done", json_true());
		json_object_set_new(out, "result", json_string(result));
	} else {
		log_error("close request %lld is filed, but crisisd has not "
		          "carried it out within %d s; it will when it can",
		    (long long)id, CTL_CLOSE_WAIT_MS / 1000);
		json_decref(out);
		return CTL_FAIL;
	}
	rc = ctl_print_object(ctl, out);
	json_decref(out);
	return rc;
}
