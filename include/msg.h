/*
 * msg.h: decoding and validating one wire line (CONTRACT §3) into a plain
 * struct.  Pure: no sockets, no clock, no state.  String fields point into
 * the owned JSON tree and live until msg_clear().
 */
#ifndef CRISISD_MSG_H
#define CRISISD_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Limits on what a peer may send, beyond max_line_bytes. */
#define MSG_STRING_MAX_BYTES 256 /* ref, caller, patient, program, ... */
#define MSG_NOTES_MAX_BYTES 8192 /* complete.notes */
#define MSG_NEEDS_MAX 16 /* entries in contact.needs */
#define MSG_TOKEN_MAX_BYTES 128
#define MSG_DEPTH_MAX 8 /* nesting levels of objects and arrays */

enum msg_type {
	MSG_HELLO = 0,
	MSG_PING,
	MSG_CONTACT,
	MSG_ABANDON,
	MSG_STATUS,
	MSG_ACCEPT,
	MSG_DECLINE,
	MSG_COMPLETE,
	MSG_WATCH,
	MSG_SNAPSHOT,
	MSG_ACK,
	MSG_ENDED,
	MSG_FAILED,
	MSG_TYPE_COUNT,
};

/* Roles are bits so a dispatch table can allow several. */
enum role {
	ROLE_NONE = 0,
	ROLE_INTAKE = 1,
	ROLE_CLINICIAN = 2,
	ROLE_SUPERVISOR = 4,
};

/* Ordered most urgent first. */
enum risk {
	RISK_IMMINENT = 0,
	RISK_HIGH,
	RISK_MODERATE,
	RISK_LOW,
	RISK_UNKNOWN,
};

enum channel {
	CHANNEL_VOICE = 0,
	CHANNEL_TEXT,
	CHANNEL_CHAT,
};

enum disposition {
	DISPOSITION_RESOLVED = 0,
	DISPOSITION_SAFETY_PLAN,
	DISPOSITION_REFERRED,
	DISPOSITION_EMERGENCY_DISPATCHED,
	DISPOSITION_FOLLOW_UP,
	DISPOSITION_OTHER,
};

/* The error codes of CONTRACT §3. */
enum msg_code {
	CODE_BAD_REQUEST = 0,
	CODE_UNAUTHORIZED,
	CODE_FORBIDDEN,
	CODE_NOT_FOUND,
	CODE_CONFLICT,
	CODE_TOO_LARGE,
	CODE_OVERLOADED,
	CODE_INTERNAL,
};

struct msg_hello {
	enum role role;
	const char *principal;
	const char *token;
};

struct msg_contact {
	const char *ref;
	enum channel channel;
	enum risk risk;
	const char *caller; /* optional: NULL */
	const char *patient; /* optional */
	const char *program; /* optional */
	const char *language; /* optional */
	const char *needs[MSG_NEEDS_MAX];
	size_t nneeds;
};

struct msg_disclosure {
	const char *recipient;
	const char *affiliation;
	const char *nature;
};

struct msg {
	enum msg_type type;
	json_t *root; /* owned */
	json_t *id; /* borrowed from root; NULL if the request had none */
	union {
		struct msg_hello hello;
		struct msg_contact contact;
		struct {
			/* abandon, ack, accept, decline, ended, failed */
			const char *contact;
			const char *reason; /* decline: optional; failed */
		} ref;
		struct {
			bool available;
		} status;
		struct {
			const char *contact;
			enum disposition disposition;
			const char *notes; /* optional */
			bool has_disclosure;
			struct msg_disclosure disclosure;
		} complete;
	} u;
};

struct msg_error {
	enum msg_code code;
	char message[160]; /* human text for the error reply */
};

/*
 * Decode and validate one line (without its '\n').  Returns 0 and fills m,
 * or -1 and fills err; even on -1, m->id is set where the line had a usable
 * "id" so the reply can echo it, and m must be passed to msg_clear().
 */
int
msg_decode(const char *line, size_t len, struct msg *m, struct msg_error *err);
void msg_clear(struct msg *m);

/* Names as they appear on the wire, and back (-1 if unknown). */
const char *msg_type_name(enum msg_type t);
const char *msg_role_name(enum role r);
int msg_role_from_name(const char *name);
const char *msg_risk_name(enum risk r);
int msg_risk_from_name(const char *name);
const char *msg_channel_name(enum channel c);
const char *msg_disposition_name(enum disposition d);
const char *msg_code_name(enum msg_code c);

#endif
