/*
 * fuzz_msg.c: libFuzzer target for the wire decoder (issue 6).
 *
 * The input is everything a peer sends on one connection.  It is cut into
 * lines as conn.c cuts them (at '\n', one trailing '\r' dropped; a line
 * over max_line_bytes gets too_large and ends the reading), each line is
 * decoded with msg_decode(), the result is checked against what msg.h
 * promises, and the error reply the daemon would send is built with
 * wire_error() and read back.  The bytes after the last '\n' count as
 * a line too, so that an input needs no newline to reach the decoder.
 *
 * Each line is handed over in a buffer of exactly its length (conn.c's
 * copy has a NUL after it), so a read past len is caught by
 * AddressSanitizer rather than stopped by the terminator.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg.h"
#include "util.h"
#include "wire.h"

#include "fuzz.h"

/* The daemon's default max_line_bytes (CONTRACT §2, limits). */
#define FUZZ_LINE_MAX_BYTES 16384
/* Peer text quoted into a second error reply, as session_error does. */
#define FUZZ_QUOTE_MAX_BYTES 100

/* Check an optional (or required) decoded string: 1..max bytes if set. */
static void
fuzz_msg_string(const char *s, bool required, size_t max_bytes)
{
	size_t len;

	FUZZ_CHECK(s != NULL || !required);
	if (s == NULL)
		return;
	len = strlen(s);
	FUZZ_CHECK(len >= 1 && len <= max_bytes);
}

/* Check a contact id: 1..CONTACT_ID_MAX bytes of '!'..'~'. */
static void
fuzz_msg_contact_id(const char *s)
{
	fuzz_msg_string(s, true, CONTACT_ID_MAX);
	for (; *s != '\0'; s++)
		FUZZ_CHECK(*s >= '!' && *s <= '~');
}

/* Check the fields of a decoded contact message. */
static void
fuzz_msg_contact(const struct msg_contact *c)
{
	size_t i;

	fuzz_msg_string(c->ref, true, MSG_STRING_MAX_BYTES);
	FUZZ_CHECK(c->channel <= CHANNEL_CHAT);
	FUZZ_CHECK(c->risk <= RISK_UNKNOWN);
	FUZZ_CHECK(msg_risk_from_name(msg_risk_name(c->risk)) == (int)c->risk);
	FUZZ_CHECK(strcmp(msg_channel_name(c->channel), "invalid") != 0);
	fuzz_msg_string(c->caller, false, MSG_STRING_MAX_BYTES);
	fuzz_msg_string(c->patient, false, MSG_STRING_MAX_BYTES);
	fuzz_msg_string(c->program, false, MSG_STRING_MAX_BYTES);
	fuzz_msg_string(c->language, false, MSG_STRING_MAX_BYTES);
	FUZZ_CHECK(c->nneeds <= MSG_NEEDS_MAX);
	for (i = 0; i < MSG_NEEDS_MAX; i++) {
		if (i < c->nneeds)
			fuzz_msg_string(c->needs[i], true,
			    MSG_STRING_MAX_BYTES);
		else
			FUZZ_CHECK(c->needs[i] == NULL);
	}
}

/* Check the fields of a decoded complete message. */
static void
fuzz_msg_complete(const struct msg *m)
{
	const struct msg_disclosure *d = &m->u.complete.disclosure;

	fuzz_msg_contact_id(m->u.complete.contact);
	FUZZ_CHECK(m->u.complete.disposition <= DISPOSITION_OTHER);
	FUZZ_CHECK(strcmp(msg_disposition_name(m->u.complete.disposition),
	               "invalid") != 0);
	fuzz_msg_string(m->u.complete.notes, false, MSG_NOTES_MAX_BYTES);
	if (m->u.complete.disposition == DISPOSITION_EMERGENCY_DISPATCHED)
		FUZZ_CHECK(m->u.complete.has_disclosure);
	if (!m->u.complete.has_disclosure) {
		FUZZ_CHECK(d->recipient == NULL && d->affiliation == NULL &&
		    d->nature == NULL);
		return;
	}
	fuzz_msg_string(d->recipient, true, MSG_STRING_MAX_BYTES);
	fuzz_msg_string(d->affiliation, true, MSG_STRING_MAX_BYTES);
	fuzz_msg_string(d->nature, true, MSG_STRING_MAX_BYTES);
}

/* Check a message msg_decode() accepted, field by field. */
static void
fuzz_msg_decoded(const struct msg *m)
{
	json_t *type;

	FUZZ_CHECK(m->type < MSG_TYPE_COUNT);
	FUZZ_CHECK(m->root != NULL && json_is_object(m->root));
	FUZZ_CHECK(m->id == json_object_get(m->root, "id"));
	FUZZ_CHECK(
	    m->id == NULL || json_is_string(m->id) || json_is_number(m->id));
	type = json_object_get(m->root, "type");
	FUZZ_CHECK(json_is_string(type) &&
	    strcmp(json_string_value(type), msg_type_name(m->type)) == 0);
	switch (m->type) {
	case MSG_HELLO:
		FUZZ_CHECK(m->u.hello.role == ROLE_INTAKE ||
		    m->u.hello.role == ROLE_CLINICIAN ||
		    m->u.hello.role == ROLE_SUPERVISOR);
		FUZZ_CHECK(msg_role_from_name(msg_role_name(m->u.hello.role)) ==
		    (int)m->u.hello.role);
		fuzz_msg_string(m->u.hello.principal, true, PRINCIPAL_ID_MAX);
		FUZZ_CHECK(util_valid_principal_id(m->u.hello.principal));
		fuzz_msg_string(m->u.hello.token, true, MSG_TOKEN_MAX_BYTES);
		break;
	case MSG_CONTACT:
		fuzz_msg_contact(&m->u.contact);
		break;
	case MSG_ABANDON:
	case MSG_ACK:
	case MSG_ACCEPT:
	case MSG_ENDED:
		fuzz_msg_contact_id(m->u.ref.contact);
		FUZZ_CHECK(m->u.ref.reason == NULL);
		break;
	case MSG_FAILED:
		fuzz_msg_contact_id(m->u.ref.contact);
		fuzz_msg_string(m->u.ref.reason, true, MSG_STRING_MAX_BYTES);
		break;
	case MSG_DECLINE:
		fuzz_msg_contact_id(m->u.ref.contact);
		fuzz_msg_string(m->u.ref.reason, false, MSG_STRING_MAX_BYTES);
		break;
	case MSG_COMPLETE:
		fuzz_msg_complete(m);
		break;
	case MSG_PING:
	case MSG_STATUS:
	case MSG_WATCH:
	case MSG_SNAPSHOT:
	case MSG_TYPE_COUNT:
		break;
	}
}

/* Check a refusal: bad_request with a short sentence of printable ASCII. */
static void
fuzz_msg_refused(const struct msg *m, const struct msg_error *err)
{
	size_t i, len = strnlen(err->message, sizeof(err->message));

	FUZZ_CHECK(err->code == CODE_BAD_REQUEST);
	FUZZ_CHECK(len > 0 && len < sizeof(err->message));
	for (i = 0; i < len; i++)
		FUZZ_CHECK(err->message[i] >= 0x20 && err->message[i] < 0x7f);
	FUZZ_CHECK(
	    m->id == NULL || json_is_string(m->id) || json_is_number(m->id));
	FUZZ_CHECK(m->id == NULL ||
	    (m->root != NULL && m->id == json_object_get(m->root, "id")));
}

/*
 * The message an error reply must carry for text: itself when it is
 * valid UTF-8, else with every byte from 0x7f up replaced by '?' (caller
 * frees).
 */
static char *
fuzz_msg_expected_text(const char *text)
{
	json_t *s = json_string(text);
	char *copy = xstrdup(text), *p;

	if (s == NULL) {
		for (p = copy; *p != '\0'; p++) {
			if ((unsigned char)*p >= 0x7f)
				*p = '?';
		}
	}
	json_decref(s);
	return copy;
}

/* Build an error reply as the daemon would, read it back and compare. */
static void
fuzz_msg_reply(json_t *id, enum msg_code code, const char *text)
{
	char *line = wire_error(code, text, id), *want;
	json_t *o, *v;

	FUZZ_CHECK(line != NULL && strchr(line, '\n') == NULL);
	o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(o != NULL && json_is_object(o));
	v = json_object_get(o, "type");
	FUZZ_CHECK(
	    json_is_string(v) && strcmp(json_string_value(v), "error") == 0);
	v = json_object_get(o, "code");
	FUZZ_CHECK(json_is_string(v) &&
	    strcmp(json_string_value(v), msg_code_name(code)) == 0);
	v = json_object_get(o, "message");
	want = fuzz_msg_expected_text(text);
	FUZZ_CHECK(
	    json_is_string(v) && strcmp(json_string_value(v), want) == 0);
	free(want);
	v = json_object_get(o, "id");
	if (id == NULL)
		FUZZ_CHECK(v == NULL);
	else
		FUZZ_CHECK(v != NULL && json_equal(v, id));
	json_decref(o);
	free(line);
}

/*
 * Quote up to FUZZ_QUOTE_MAX_BYTES of the raw line into an error text, as
 * a handler quoting a peer's field might: whatever bytes it holds, the
 * reply must stay one valid JSON line.
 */
static void
fuzz_msg_reply_raw(json_t *id, const char *line, size_t len)
{
	char text[FUZZ_QUOTE_MAX_BYTES + 1];
	size_t n = len < FUZZ_QUOTE_MAX_BYTES ? len : FUZZ_QUOTE_MAX_BYTES;

	/* A NUL in the line simply ends the quoted text early. */
	memcpy(text, line, n);
	text[n] = '\0';
	fuzz_msg_reply(id, CODE_CONFLICT, text);
}

/* Decode one line and check everything about the result. */
static void
fuzz_msg_line(const uint8_t *data, size_t len)
{
	char *line = xmalloc(len);
	struct msg m;
	struct msg_error err;

	memcpy(line, data, len);
	if (msg_decode(line, len, &m, &err) == 0) {
		fuzz_msg_decoded(&m);
		fuzz_msg_reply(m.id, CODE_CONFLICT, "not offered to you");
	} else {
		fuzz_msg_refused(&m, &err);
		fuzz_msg_reply(m.id, err.code, err.message);
	}
	fuzz_msg_reply_raw(m.id, line, len);
	msg_clear(&m);
	FUZZ_CHECK(m.root == NULL && m.id == NULL);
	free(line);
}

/* Frame the input into lines as conn.c does and decode each. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *nl;
	size_t len;

	while (data < end) {
		nl = memchr(data, '\n', (size_t)(end - data));
		len = (size_t)((nl != NULL ? nl : end) - data);
		if (len > 0 && data[len - 1] == '\r')
			len--;
		if (len > FUZZ_LINE_MAX_BYTES) {
			fuzz_msg_reply(NULL, CODE_TOO_LARGE,
			    "line longer than 16384 bytes");
			break;
		}
		fuzz_msg_line(data, len);
		if (nl == NULL)
			break;
		data = nl + 1;
	}
	return 0;
}
