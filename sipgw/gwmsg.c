/*
 * gwmsg.c: parse and build the gateway's messages (gwmsg.h).  jansson does
 * the JSON; every field is then checked for type, length and content, so
 * the rest of the gateway handles only plain, bounded strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gwmsg.h"
#include "log.h"
#include "util.h"

/* Kamailio's event names, in enum kam_event_type order. */
static const char *const gwmsg_event_names[] = { "invite", "cancel", "relayed",
	"gone", "answered", "failed", "bye", "lines" };

/* crisisd's message types an intake gateway acts on. */
static const struct {
	const char *name;
	enum cd_type type;
} gwmsg_cd_types[] = {
	{ "welcome", CD_WELCOME },
	{ "queued", CD_QUEUED },
	{ "routed", CD_ROUTED },
	{ "overflow", CD_OVERFLOW },
	{ "ok", CD_OK },
	{ "error", CD_ERROR },
	{ "pong", CD_PONG },
};

/* Characters a SIP user part may hold here (see gwmsg_endpoint_user). */
static const char gwmsg_user_chars[] = "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._+-";

/*
 * Copy the string member key of o into out (cap bytes with the NUL).
 * Returns 1 if copied, 0 if absent or null and not required, -1 if wrong.
 */
static int
gwmsg_string(const json_t *o, const char *key, char *out, size_t cap,
    bool required, const char **why)
{
	const json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (required)
			*why = "a required field is missing";
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		*why = "a field that must be a string is not";
		return -1;
	}
	if (json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*why = "a string field is empty, too long or holds a NUL";
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

/* A member that must be an integer 0..UINT32_MAX. */
static int
gwmsg_u32(const json_t *o, const char *key, uint32_t *out, const char **why)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX) {
		*why = "tindex and tlabel must be integers 0..2^32-1";
		return -1;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* Parse a JSON object of at most len bytes; NULL with *why. */
static json_t *
gwmsg_object(const char *text, size_t len, const char **why)
{
	json_error_t err;
	json_t *o;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (o == NULL) {
		*why = "not JSON";
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*why = "not a JSON object";
		return NULL;
	}
	return o;
}

/* The fields of the event types that carry them. */
static int
gwmsg_event_fields(const json_t *o, struct kam_event *ev, const char **why)
{
	char kind[16];
	json_int_t code;

	if (ev->type == KAM_INVITE || ev->type == KAM_FAILED) {
		if (gwmsg_u32(o, "tindex", &ev->tindex, why) == -1 ||
		    gwmsg_u32(o, "tlabel", &ev->tlabel, why) == -1)
			return -1;
		ev->has_tm = true;
	}
	if (ev->type == KAM_FAILED) {
		code = json_integer_value(json_object_get(o, "code"));
		if (!json_is_integer(json_object_get(o, "code")) ||
		    code < 100 || code > 699) {
			*why = "failed needs a SIP status code";
			return -1;
		}
		ev->code = (int)code;
		code = json_integer_value(json_object_get(o, "attempt"));
		if (!json_is_integer(json_object_get(o, "attempt")) ||
		    code < 1 || code > 1000000) {
			*why = "failed needs an attempt number";
			return -1;
		}
		ev->attempt = (int)code;
		if (gwmsg_string(o, "reason", ev->reason, sizeof ev->reason,
		        false, why) == -1)
			return -1;
	}
	if (ev->type == KAM_RELAYED) {
		if (gwmsg_string(o, "kind", kind, sizeof kind, true, why) == -1)
			return -1;
		if (strcmp(kind, "overflow") != 0 &&
		    strcmp(kind, "clinician") != 0) {
			*why = "relayed kind is neither clinician nor overflow";
			return -1;
		}
		ev->overflow = strcmp(kind, "overflow") == 0;
	}
	return 0;
}

/* Parse one evapi payload; see gwmsg.h. */
int
gwmsg_parse_event(const char *payload, size_t len, struct kam_event *ev,
    const char **why)
{
	char name[16];
	const json_t *leg;
	json_t *o;
	size_t i;
	int rc = -1;

	memset(ev, 0, sizeof *ev);
	if ((o = gwmsg_object(payload, len, why)) == NULL)
		return -1;
	if (gwmsg_string(o, "event", name, sizeof name, true, why) == -1)
		goto out;
	for (i = 0; i < nitems(gwmsg_event_names); i++) {
		if (strcmp(name, gwmsg_event_names[i]) == 0)
			break;
	}
	if (i == nitems(gwmsg_event_names)) {
		*why = "unknown event";
		goto out;
	}
	ev->type = (enum kam_event_type)i;
	if (ev->type == KAM_LINES) {
		rc = json_is_integer(json_object_get(o, "count")) ? 0 : -1;
		ev->count =
		    (int)json_integer_value(json_object_get(o, "count"));
		*why = "lines needs a count";
		goto out;
	}
	if (gwmsg_string(o, "callid", ev->callid, sizeof ev->callid, true,
	        why) == -1 ||
	    gwmsg_string(o, "line", ev->line, sizeof ev->line, false, why) ==
	        -1)
		goto out;
	leg = json_object_get(o, "leg");
	ev->leg_clinician = json_is_string(leg) &&
	    strcmp(json_string_value(leg), "clinician") == 0;
	ev->leg_overflow = json_is_string(leg) &&
	    strcmp(json_string_value(leg), "overflow") == 0;
	/* The From user is the caller's to choose: cleaned, never refused. */
	if (json_is_string(json_object_get(o, "caller")))
		gwmsg_clean_caller(json_string_value(
		                       json_object_get(o, "caller")),
		    ev->caller);
	rc = gwmsg_event_fields(o, ev, why);
out:
	json_decref(o);
	return rc;
}

/* The fields of crisisd's messages that we use. */
static int
gwmsg_cd_fields(const json_t *o, struct cd_msg *msg, const char **why)
{
	const json_t *id = json_object_get(o, "id");

	if (json_is_string(id) && json_string_length(id) <= GWMSG_ID_MAX &&
	    strlen(json_string_value(id)) == json_string_length(id))
		strlcpy_(msg->id, json_string_value(id), sizeof msg->id);
	if (gwmsg_string(o, "contact", msg->contact, sizeof msg->contact,
	        msg->type == CD_QUEUED || msg->type == CD_ROUTED ||
	            msg->type == CD_OVERFLOW,
	        why) == -1 ||
	    gwmsg_string(o, "ref", msg->ref, sizeof msg->ref,
	        msg->type == CD_ROUTED || msg->type == CD_OVERFLOW,
	        why) == -1 ||
	    gwmsg_string(o, "clinician", msg->clinician, sizeof msg->clinician,
	        false, why) == -1 ||
	    gwmsg_string(o, "target", msg->target, sizeof msg->target,
	        msg->type == CD_OVERFLOW, why) == -1 ||
	    gwmsg_string(o, "code", msg->code, sizeof msg->code,
	        msg->type == CD_ERROR, why) == -1)
		return -1;
	/* A human message may be long; a cut one is as good. */
	if (json_is_string(json_object_get(o, "message")))
		strlcpy_(msg->message,
		    json_string_value(json_object_get(o, "message")),
		    sizeof msg->message);
	if (msg->type == CD_ROUTED) {
		int rc = gwmsg_string(o, "endpoint", msg->endpoint,
		    sizeof msg->endpoint, false, why);
		if (rc == -1)
			return -1;
		msg->has_endpoint = rc == 1;
	}
	return 0;
}

/* Parse one line from crisisd; see gwmsg.h. */
int
gwmsg_parse_crisisd(const char *line, size_t len, struct cd_msg *msg,
    const char **why)
{
	char type[16];
	json_t *o;
	size_t i;
	int rc = -1;

	memset(msg, 0, sizeof *msg);
	if ((o = gwmsg_object(line, len, why)) == NULL)
		return -1;
	if (gwmsg_string(o, "type", type, sizeof type, false, why) == -1)
		goto out;
	msg->type = CD_OTHER;
	for (i = 0; i < nitems(gwmsg_cd_types); i++) {
		if (strcmp(type, gwmsg_cd_types[i].name) == 0)
			msg->type = gwmsg_cd_types[i].type;
	}
	rc = gwmsg_cd_fields(o, msg, why);
out:
	json_decref(o);
	return rc;
}

/* USER of a sip:USER@HOST endpoint; see gwmsg.h. */
int
gwmsg_endpoint_user(const char *endpoint, char user[GWMSG_USER_MAX + 1],
    const char **why)
{
	const char *p, *at;
	size_t n;

	if (strncmp(endpoint, "sip:", 4) == 0)
		p = endpoint + 4;
	else if (strncmp(endpoint, "sips:", 5) == 0)
		p = endpoint + 5;
	else {
		*why = "the endpoint is not a sip: URI";
		return -1;
	}
	if ((at = strchr(p, '@')) == NULL || at[1] == '\0') {
		*why = "the endpoint names no user@host";
		return -1;
	}
	n = (size_t)(at - p);
	if (n == 0 || n > GWMSG_USER_MAX || strspn(p, gwmsg_user_chars) != n) {
		*why = "the endpoint's user is empty, too long or holds "
		       "characters other than letters, digits and ._+-";
		return -1;
	}
	memcpy(user, p, n);
	user[n] = '\0';
	return 0;
}

/* The caller as crisisd is told it; see gwmsg.h. */
void
gwmsg_clean_caller(const char *from_user, char out[GWMSG_CALLER_MAX + 1])
{
	const unsigned char *p = (const unsigned char *)from_user;
	size_t len = strlen(from_user);

	out[0] = '\0';
	if (len == 0 || len > GWMSG_CALLER_MAX || !util_utf8_valid(from_user))
		return;
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return;
	}
	memcpy(out, from_user, len + 1);
}

/* Serialise o as one line with '\n' and free it. */
static char *
gwmsg_line(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER), *line;

	json_decref(o);
	if (text == NULL)
		fatalx("json_dumps: out of memory");
	xasprintf(&line, "%s\n", text);
	free(text);
	return line;
}

/* Serialise o without a newline (a netstring payload) and free it. */
static char *
gwmsg_payload(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	if (text == NULL)
		fatalx("json_dumps: out of memory");
	return text;
}

/* hello as an intake principal. */
char *
gwmsg_hello(const char *id, const char *principal, const char *token)
{
	return gwmsg_line(
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "hello", "id", id,
	        "role", "intake", "principal", principal, "token", token));
}

/* A new caller; the optional fields only when the line has them. */
char *
gwmsg_contact(const char *id, const char *ref, const struct gwconf_line *line,
    const char *caller)
{
	json_t *o, *needs;
	int i;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "contact", "id", id,
	    "ref", ref, "channel", "voice", "risk", line->risk);
	if (caller != NULL && caller[0] != '\0')
		json_object_set_new(o, "caller", json_string(caller));
	if (line->program != NULL)
		json_object_set_new(o, "program", json_string(line->program));
	if (line->language != NULL)
		json_object_set_new(o, "language", json_string(line->language));
	if (line->nneeds > 0) {
		needs = json_array();
		for (i = 0; i < line->nneeds; i++)
			json_array_append_new(needs,
			    json_string(line->needs[i]));
		json_object_set_new(o, "needs", needs);
	}
	return gwmsg_line(o);
}

/* abandon, ack or ended for a contact. */
char *
gwmsg_about_contact(const char *id, const char *type, const char *contact)
{
	return gwmsg_line(json_pack("{s:s, s:s, s:s}", "type", type, "id", id,
	    "contact", contact));
}

/* failed, with the reason kept in crisisd's timeline. */
char *
gwmsg_failed(const char *id, const char *contact, const char *reason)
{
	return gwmsg_line(json_pack("{s:s, s:s, s:s, s:s}", "type", "failed",
	    "id", id, "contact", contact, "reason", reason));
}

/* ping, to find a dead connection before a caller does. */
char *
gwmsg_ping(const char *id)
{
	return gwmsg_line(json_pack("{s:s, s:s}", "type", "ping", "id", id));
}

/* Continue a suspended call towards a registered clinician. */
char *
gwmsg_relay_clinician(const char *callid, uint32_t tindex, uint32_t tlabel,
    const char *user)
{
	return gwmsg_payload(json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "cmd",
	    "relay", "callid", callid, "tindex", (json_int_t)tindex, "tlabel",
	    (json_int_t)tlabel, "kind", "clinician", "user", user));
}

/* Continue a suspended call towards an overflow URI. */
char *
gwmsg_relay_overflow(const char *callid, uint32_t tindex, uint32_t tlabel,
    const char *uri)
{
	return gwmsg_payload(json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "cmd",
	    "relay", "callid", callid, "tindex", (json_int_t)tindex, "tlabel",
	    (json_int_t)tlabel, "kind", "overflow", "uri", uri));
}

/* Ask Kamailio to tell us again of every call it holds suspended. */
char *
gwmsg_resync(void)
{
	return gwmsg_payload(json_pack("{s:s}", "cmd", "resync"));
}

/* Tell Kamailio which users are crisis lines (it routes those to us). */
char *
gwmsg_lines(const struct gwconf *conf)
{
	json_t *users = json_array();
	int i;

	for (i = 0; i < conf->nlines; i++)
		json_array_append_new(users, json_string(conf->lines[i].user));
	return gwmsg_payload(
	    json_pack("{s:s, s:o}", "cmd", "lines", "users", users));
}
