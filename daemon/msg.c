/*
 * msg.c: one wire line (CONTRACT §3) into a struct msg, and the names of
 * the wire's words (wire.c builds every message sent back).
 *
 * Pure: the line is parsed with jansson, checked field by field against the
 * message type's decoder, and the struct points into the parsed tree.  Every
 * refusal is bad_request with a sentence that names the field, so that the
 * person writing a gateway can fix it from the error alone.  Fields this
 * version does not know are ignored, so newer peers keep working.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "msg.h"
#include "util.h"

/* Peer text quoted back in an error is cut to this many bytes. */
#define MSG_QUOTE_MAX_BYTES 40

static const char *const msg_type_names[MSG_TYPE_COUNT] = {
	[MSG_HELLO] = "hello",
	[MSG_PING] = "ping",
	[MSG_CONTACT] = "contact",
	[MSG_ABANDON] = "abandon",
	[MSG_STATUS] = "status",
	[MSG_ACCEPT] = "accept",
	[MSG_DECLINE] = "decline",
	[MSG_COMPLETE] = "complete",
	[MSG_WATCH] = "watch",
	[MSG_SNAPSHOT] = "snapshot",
	[MSG_ACK] = "ack",
	[MSG_ENDED] = "ended",
	[MSG_FAILED] = "failed",
};

/* Roles are bits; the holes (none, combinations) have no wire name. */
static const char *const msg_role_names[] = {
	[ROLE_INTAKE] = "intake",
	[ROLE_CLINICIAN] = "clinician",
	[ROLE_SUPERVISOR] = "supervisor",
};

static const char *const msg_risk_names[] = {
	[RISK_IMMINENT] = "imminent",
	[RISK_HIGH] = "high",
	[RISK_MODERATE] = "moderate",
	[RISK_LOW] = "low",
	[RISK_UNKNOWN] = "unknown",
};

static const char *const msg_channel_names[] = {
	[CHANNEL_VOICE] = "voice",
	[CHANNEL_TEXT] = "text",
	[CHANNEL_CHAT] = "chat",
};

static const char *const msg_disposition_names[] = {
	[DISPOSITION_RESOLVED] = "resolved",
	[DISPOSITION_SAFETY_PLAN] = "safety_plan",
	[DISPOSITION_REFERRED] = "referred",
	[DISPOSITION_EMERGENCY_DISPATCHED] = "emergency_dispatched",
	[DISPOSITION_FOLLOW_UP] = "follow_up",
	[DISPOSITION_OTHER] = "other",
};

static const char *const msg_code_names[] = {
	[CODE_BAD_REQUEST] = "bad_request",
	[CODE_UNAUTHORIZED] = "unauthorized",
	[CODE_FORBIDDEN] = "forbidden",
	[CODE_NOT_FOUND] = "not_found",
	[CODE_CONFLICT] = "conflict",
	[CODE_TOO_LARGE] = "too_large",
	[CODE_OVERLOADED] = "overloaded",
	[CODE_INTERNAL] = "internal",
};

/* status.status: index 0 is the only "available" one. */
static const char *const msg_status_names[] = { "available", "away" };

/* The fields of a disclosure, in the order errors report them. */
static const char *const msg_disclosure_fields[] = {
	"recipient",
	"affiliation",
	"nature",
};

static int msg_decode_hello(json_t *, struct msg *, struct msg_error *);
static int msg_decode_empty(json_t *, struct msg *, struct msg_error *);
static int msg_decode_contact(json_t *, struct msg *, struct msg_error *);
static int msg_decode_ref(json_t *, struct msg *, struct msg_error *);
static int msg_decode_status(json_t *, struct msg *, struct msg_error *);
static int msg_decode_decline(json_t *, struct msg *, struct msg_error *);
static int msg_decode_complete(json_t *, struct msg *, struct msg_error *);
static int msg_decode_failed(json_t *, struct msg *, struct msg_error *);

/* How each message type's fields are checked, indexed by type. */
static int (*const msg_decoders[MSG_TYPE_COUNT])(json_t *, struct msg *,
    struct msg_error *) = {
	[MSG_HELLO] = msg_decode_hello,
	[MSG_PING] = msg_decode_empty,
	[MSG_CONTACT] = msg_decode_contact,
	[MSG_ABANDON] = msg_decode_ref,
	[MSG_STATUS] = msg_decode_status,
	[MSG_ACCEPT] = msg_decode_ref,
	[MSG_DECLINE] = msg_decode_decline,
	[MSG_COMPLETE] = msg_decode_complete,
	[MSG_WATCH] = msg_decode_empty,
	[MSG_SNAPSHOT] = msg_decode_empty,
	[MSG_ACK] = msg_decode_ref,
	[MSG_ENDED] = msg_decode_ref,
	[MSG_FAILED] = msg_decode_failed,
};

/* The name at index i of a name table, or "invalid" for a hole. */
static const char *
msg_name(const char *const *names, size_t count, int i)
{
	if (i < 0 || (size_t)i >= count || names[i] == NULL)
		return "invalid";
	return names[i];
}

/* The index of name in a name table, or -1. */
static int
msg_lookup(const char *const *names, size_t count, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < count; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/* Fill err with code and a formatted sentence; always returns -1. */
static int __attribute__((format(printf, 3, 4)))
msg_fail(struct msg_error *err, enum msg_code code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Copy peer text for quoting in an error: printable ASCII only (anything
 * else becomes '?', so the reply is valid UTF-8 whatever was sent), cut at
 * MSG_QUOTE_MAX_BYTES with "..." appended.
 */
static void
msg_quote(const char *src, char dst[MSG_QUOTE_MAX_BYTES + 4])
{
	size_t i;

	for (i = 0; i < MSG_QUOTE_MAX_BYTES && src[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (src[i] != '\0') {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* Join a name table's names as "a, b, c" for an error sentence. */
static void
msg_join(const char *const *names, size_t count, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < count && used < size; i++) {
		if (names[i] == NULL)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    used == 0 ? "" : ", ", names[i]);
	}
}

/*
 * Refuse nesting deeper than MSG_DEPTH_MAX before parsing: jansson's own
 * limit is in the thousands, and no message needs more than two levels.
 * Brackets inside strings do not count.
 */
static int
msg_check_depth(const char *line, size_t len, struct msg_error *err)
{
	size_t i, depth = 0;
	bool in_string = false, escaped = false;

	for (i = 0; i < len; i++) {
		char ch = line[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (ch == '\\')
				escaped = true;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > MSG_DEPTH_MAX)
				return msg_fail(err, CODE_BAD_REQUEST,
				    "JSON nested deeper than %d levels",
				    MSG_DEPTH_MAX);
		} else if ((ch == '}' || ch == ']') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* Parse the line into m->root, which must be a JSON object. */
static int
msg_parse(const char *line, size_t len, struct msg *m, struct msg_error *err)
{
	json_error_t jerr;
	char text[MSG_QUOTE_MAX_BYTES + 4];

	if (len == 0)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "empty line: expected a JSON object");
	if (memchr(line, '\0', len) != NULL)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "line contains a NUL byte");
	if (msg_check_depth(line, len, err) == -1)
		return -1;
	m->root = json_loadb(line, len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (m->root == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_null_character:
		case json_error_null_byte_in_key:
			return msg_fail(err, CODE_BAD_REQUEST,
			    "strings must not contain NUL (\\u0000)");
		case json_error_duplicate_key:
			return msg_fail(err, CODE_BAD_REQUEST,
			    "invalid JSON: duplicate key at column %d",
			    jerr.column);
		default:
			msg_quote(jerr.text, text);
			return msg_fail(err, CODE_BAD_REQUEST,
			    "invalid JSON at column %d: %s", jerr.column, text);
		}
	}
	if (!json_is_object(m->root))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "a message must be a JSON object");
	return 0;
}

/* Borrow "id" for the reply; a present id must be a string or a number. */
static int
msg_take_id(struct msg *m, struct msg_error *err)
{
	json_t *id = json_object_get(m->root, "id");

	if (id == NULL)
		return 0;
	if (!json_is_string(id) && !json_is_number(id))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'id' must be a string or a number");
	m->id = id;
	return 0;
}

/* Set m->type from "type", which must name a known message. */
static int
msg_take_type(struct msg *m, struct msg_error *err)
{
	json_t *v = json_object_get(m->root, "type");
	char quoted[MSG_QUOTE_MAX_BYTES + 4];
	int t;

	if (v == NULL || json_is_null(v))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'type' is required");
	if (!json_is_string(v))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'type' must be a string");
	t = msg_lookup(msg_type_names, MSG_TYPE_COUNT, json_string_value(v));
	if (t == -1) {
		msg_quote(json_string_value(v), quoted);
		return msg_fail(err, CODE_BAD_REQUEST,
		    "unknown message type '%s'", quoted);
	}
	m->type = (enum msg_type)t;
	return 0;
}

/*
 * Check one string value labelled label: at most max_bytes, no NUL.  An
 * empty string is refused when required and means "absent" (NULL)
 * otherwise, as a gateway may send "caller":"" for a withheld number.
 */
static int
msg_string_value(json_t *v, const char *label, bool required, size_t max_bytes,
    const char **out, struct msg_error *err)
{
	const char *s;
	size_t len;

	*out = NULL;
	if (!json_is_string(v))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field '%s' must be a string", label);
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field '%s' must not contain NUL", label);
	if (len == 0 && required)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field '%s' must not be empty", label);
	if (len > max_bytes)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field '%s' is longer than %zu bytes", label, max_bytes);
	*out = len == 0 ? NULL : s;
	return 0;
}

/* Fetch field name of o; JSON null counts as absent.  *v is NULL if so. */
static int
msg_field(json_t *o, const char *name, bool required, json_t **v,
    struct msg_error *err)
{
	*v = json_object_get(o, name);
	if (*v != NULL && json_is_null(*v))
		*v = NULL;
	if (*v == NULL && required)
		return msg_fail(err, CODE_BAD_REQUEST, "field '%s' is required",
		    name);
	return 0;
}

/* A string field of o: see msg_string_value. */
static int
msg_string(json_t *o, const char *name, bool required, size_t max_bytes,
    const char **out, struct msg_error *err)
{
	json_t *v;

	*out = NULL;
	if (msg_field(o, name, required, &v, err) == -1)
		return -1;
	if (v == NULL)
		return 0;
	return msg_string_value(v, name, required, max_bytes, out, err);
}

/* A required contact id field: 1..CONTACT_ID_MAX of ASCII '!'..'~'. */
static int
msg_contact_id(json_t *o, const char *name, const char **out,
    struct msg_error *err)
{
	const char *s;

	if (msg_string(o, name, true, CONTACT_ID_MAX, out, err) == -1)
		return -1;
	for (s = *out; *s != '\0'; s++) {
		if (*s < '!' || *s > '~')
			return msg_fail(err, CODE_BAD_REQUEST,
			    "field '%s' must be printable ASCII without spaces",
			    name);
	}
	return 0;
}

/* A required enum field of o, whose value must be in the name table. */
static int
msg_enum(json_t *o, const char *name, const char *const *names, size_t count,
    int *out, struct msg_error *err)
{
	json_t *v;
	char list[128];

	if (msg_field(o, name, true, &v, err) == -1)
		return -1;
	*out = json_is_string(v)
	    ? msg_lookup(names, count, json_string_value(v))
	    : -1;
	if (*out == -1) {
		msg_join(names, count, list, sizeof(list));
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field '%s' must be one of %s", name, list);
	}
	return 0;
}

/* contact.needs: an optional array of at most MSG_NEEDS_MAX strings. */
static int
msg_needs(json_t *o, struct msg_contact *c, struct msg_error *err)
{
	json_t *v, *need;
	size_t i;
	char label[32];

	if (msg_field(o, "needs", false, &v, err) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'needs' must be an array of strings");
	if (json_array_size(v) > MSG_NEEDS_MAX)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'needs' has more than %d entries", MSG_NEEDS_MAX);
	json_array_foreach (v, i, need) {
		snprintf(label, sizeof(label), "needs[%zu]", i);
		if (msg_string_value(need, label, true, MSG_STRING_MAX_BYTES,
		        &c->needs[i], err) == -1)
			return -1;
	}
	c->nneeds = json_array_size(v);
	return 0;
}

/* hello: role, principal, token. */
static int
msg_decode_hello(json_t *o, struct msg *m, struct msg_error *err)
{
	struct msg_hello *h = &m->u.hello;
	int role;

	if (msg_enum(o, "role", msg_role_names, nitems(msg_role_names), &role,
	        err) == -1)
		return -1;
	h->role = (enum role)role;
	if (msg_string(o, "principal", true, PRINCIPAL_ID_MAX, &h->principal,
	        err) == -1)
		return -1;
	if (!util_valid_principal_id(h->principal))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'principal' "
		    "may hold only letters, digits, '.', '_', '@' and '-'");
	return msg_string(o, "token", true, MSG_TOKEN_MAX_BYTES, &h->token,
	    err);
}

/* ping, watch, snapshot: nothing beyond the type. */
static int
msg_decode_empty(json_t *o, struct msg *m, struct msg_error *err)
{
	(void)o;
	(void)m;
	(void)err;
	return 0;
}

/* contact: what a gateway knows about a new call, text or chat. */
static int
msg_decode_contact(json_t *o, struct msg *m, struct msg_error *err)
{
	struct msg_contact *c = &m->u.contact;
	int channel, risk;

	if (msg_string(o, "ref", true, MSG_STRING_MAX_BYTES, &c->ref, err) ==
	        -1 ||
	    msg_enum(o, "channel", msg_channel_names, nitems(msg_channel_names),
	        &channel, err) == -1 ||
	    msg_enum(o, "risk", msg_risk_names, nitems(msg_risk_names), &risk,
	        err) == -1)
		return -1;
	c->channel = (enum channel)channel;
	c->risk = (enum risk)risk;
	if (msg_string(o, "caller", false, MSG_STRING_MAX_BYTES, &c->caller,
	        err) == -1 ||
	    msg_string(o, "patient", false, MSG_STRING_MAX_BYTES, &c->patient,
	        err) == -1 ||
	    msg_string(o, "program", false, MSG_STRING_MAX_BYTES, &c->program,
	        err) == -1 ||
	    msg_string(o, "language", false, MSG_STRING_MAX_BYTES, &c->language,
	        err) == -1)
		return -1;
	return msg_needs(o, c, err);
}

/* abandon, ack, accept, ended: the contact id alone. */
static int
msg_decode_ref(json_t *o, struct msg *m, struct msg_error *err)
{
	return msg_contact_id(o, "contact", &m->u.ref.contact, err);
}

/* decline: the contact id and an optional reason. */
static int
msg_decode_decline(json_t *o, struct msg *m, struct msg_error *err)
{
	if (msg_contact_id(o, "contact", &m->u.ref.contact, err) == -1)
		return -1;
	return msg_string(o, "reason", false, MSG_STRING_MAX_BYTES,
	    &m->u.ref.reason, err);
}

/* failed: the contact id and why the caller could not be connected. */
static int
msg_decode_failed(json_t *o, struct msg *m, struct msg_error *err)
{
	if (msg_contact_id(o, "contact", &m->u.ref.contact, err) == -1)
		return -1;
	return msg_string(o, "reason", true, MSG_STRING_MAX_BYTES,
	    &m->u.ref.reason, err);
}

/* status: available or away. */
static int
msg_decode_status(json_t *o, struct msg *m, struct msg_error *err)
{
	int status;

	if (msg_enum(o, "status", msg_status_names, nitems(msg_status_names),
	        &status, err) == -1)
		return -1;
	m->u.status.available = status == 0;
	return 0;
}

/*
 * complete.disclosure: an object of three non-empty strings.  Required for
 * emergency_dispatched (42 CFR §2.51); checked the same way when present
 * with any other disposition.
 */
static int
msg_disclosure(json_t *o, bool required, struct msg *m, struct msg_error *err)
{
	const char **out[] = {
		&m->u.complete.disclosure.recipient,
		&m->u.complete.disclosure.affiliation,
		&m->u.complete.disclosure.nature,
	};
	json_t *d, *v;
	char label[32];
	size_t i;

	d = json_object_get(o, "disclosure");
	if (d != NULL && json_is_null(d))
		d = NULL;
	if (d == NULL && !required)
		return 0;
	if (d == NULL)
		return msg_fail(err, CODE_BAD_REQUEST,
		    "disposition "
		    "'emergency_dispatched' requires field 'disclosure' "
		    "with recipient, affiliation and nature");
	if (!json_is_object(d))
		return msg_fail(err, CODE_BAD_REQUEST,
		    "field 'disclosure' "
		    "must be an object with recipient, affiliation and nature");
	for (i = 0; i < nitems(msg_disclosure_fields); i++) {
		snprintf(label, sizeof(label), "disclosure.%s",
		    msg_disclosure_fields[i]);
		v = json_object_get(d, msg_disclosure_fields[i]);
		if (v == NULL || json_is_null(v))
			return msg_fail(err, CODE_BAD_REQUEST,
			    "field '%s' is required", label);
		if (msg_string_value(v, label, true, MSG_STRING_MAX_BYTES,
		        out[i], err) == -1)
			return -1;
	}
	m->u.complete.has_disclosure = true;
	return 0;
}

/* complete: contact, disposition, optional notes and disclosure. */
static int
msg_decode_complete(json_t *o, struct msg *m, struct msg_error *err)
{
	int disposition;

	if (msg_contact_id(o, "contact", &m->u.complete.contact, err) == -1 ||
	    msg_enum(o, "disposition", msg_disposition_names,
	        nitems(msg_disposition_names), &disposition, err) == -1)
		return -1;
	m->u.complete.disposition = (enum disposition)disposition;
	if (msg_string(o, "notes", false, MSG_NOTES_MAX_BYTES,
	        &m->u.complete.notes, err) == -1)
		return -1;
	return msg_disclosure(o,
	    disposition == DISPOSITION_EMERGENCY_DISPATCHED, m, err);
}

/* Decode and validate one line; see msg.h. */
int
msg_decode(const char *line, size_t len, struct msg *m, struct msg_error *err)
{
	memset(m, 0, sizeof(*m));
	memset(err, 0, sizeof(*err));
	if (msg_parse(line, len, m, err) == -1 || msg_take_id(m, err) == -1 ||
	    msg_take_type(m, err) == -1)
		return -1;
	return msg_decoders[m->type](m->root, m, err);
}

/* Release the parsed tree; m may be decoded again afterwards. */
void
msg_clear(struct msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

/* The wire name of a message type. */
const char *
msg_type_name(enum msg_type t)
{
	return msg_name(msg_type_names, nitems(msg_type_names), (int)t);
}

/* The wire name of one role; "none" for ROLE_NONE. */
const char *
msg_role_name(enum role r)
{
	if (r == ROLE_NONE)
		return "none";
	return msg_name(msg_role_names, nitems(msg_role_names), (int)r);
}

/* The role a wire name stands for, or -1. */
int
msg_role_from_name(const char *name)
{
	return msg_lookup(msg_role_names, nitems(msg_role_names), name);
}

/* The wire name of a risk level. */
const char *
msg_risk_name(enum risk r)
{
	return msg_name(msg_risk_names, nitems(msg_risk_names), (int)r);
}

/* The risk level a wire name stands for, or -1. */
int
msg_risk_from_name(const char *name)
{
	return msg_lookup(msg_risk_names, nitems(msg_risk_names), name);
}

/* The wire name of a channel. */
const char *
msg_channel_name(enum channel c)
{
	return msg_name(msg_channel_names, nitems(msg_channel_names), (int)c);
}

/* The wire name of a disposition. */
const char *
msg_disposition_name(enum disposition d)
{
	return msg_name(msg_disposition_names, nitems(msg_disposition_names),
	    (int)d);
}

/* The wire name of an error code. */
const char *
msg_code_name(enum msg_code c)
{
	return msg_name(msg_code_names, nitems(msg_code_names), (int)c);
}
