/*
 * gwmsg.h: the gateway's messages, both sides, as pure functions.
 *
 * Kamailio speaks to us in JSON objects inside netstrings (the events
 * kamailio.cfg sends: invite, cancel, relayed, gone, answered, failed,
 * bye) and we answer with commands (relay, resync).  crisisd speaks JSON
 * lines (CONTRACT §3).  Everything here parses into fixed-size structs,
 * checking every field as hostile input, or builds the exact text to send;
 * nothing here does I/O.
 */
#ifndef SIPGW_GWMSG_H
#define SIPGW_GWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwconf.h"

#define GWMSG_CALLID_MAX 256 /* a crisisd ref holds at most 256 bytes */
#define GWMSG_USER_MAX 64
#define GWMSG_CALLER_MAX 128
#define GWMSG_TEXT_MAX 256
#define GWMSG_REASON_MAX 128 /* a SIP reason phrase we keep */
#define GWMSG_ID_MAX 64
#define GWMSG_CONTACT_MAX 64

/* What Kamailio tells us about a call. */
enum kam_event_type {
	KAM_INVITE, /* a new call, suspended: tindex/tlabel */
	KAM_CANCEL, /* the caller hung up before an answer */
	KAM_RELAYED, /* our relay command went out: kind */
	KAM_GONE, /* our relay command found no transaction */
	KAM_ANSWERED, /* the far end answered (200 OK) */
	KAM_FAILED, /* the clinician's leg failed; suspended again */
	KAM_BYE, /* a connected call ended */
	KAM_LINES, /* Kamailio took our lines command: count */
};

struct kam_event {
	enum kam_event_type type;
	char callid[GWMSG_CALLID_MAX + 1];
	char line[GWMSG_USER_MAX + 1]; /* the dialled crisis line */
	char caller[GWMSG_CALLER_MAX + 1]; /* From user; "" if none */
	bool has_tm; /* tindex and tlabel are set */
	uint32_t tindex, tlabel;
	int code; /* failed: the SIP status */
	int count; /* lines: how many lines Kamailio now routes to us */
	int attempt; /* failed: how many times this call's clinician leg failed
	              */
	char reason[GWMSG_REASON_MAX + 1]; /* failed: its reason phrase */
	bool overflow; /* relayed: to the overflow URI */
	bool leg_clinician; /* cancel, bye, failed: a clinician's phone rang */
	bool leg_overflow; /* cancel, bye: the call went to overflow */
};

/* What crisisd sends us. */
enum cd_type {
	CD_WELCOME,
	CD_QUEUED,
	CD_ROUTED,
	CD_OVERFLOW,
	CD_OK,
	CD_ERROR,
	CD_PONG,
	CD_OTHER, /* a type an intake gateway has no use for */
};

struct cd_msg {
	enum cd_type type;
	char id[GWMSG_ID_MAX + 1]; /* "" when the message has none */
	char contact[GWMSG_CONTACT_MAX + 1];
	char ref[GWMSG_CALLID_MAX + 1];
	char clinician[GWMSG_CONTACT_MAX + 1];
	bool has_endpoint; /* routed: endpoint is a string */
	char endpoint[GWMSG_TEXT_MAX + 1];
	char target[GWMSG_TEXT_MAX + 1];
	char code[32];
	char message[GWMSG_TEXT_MAX + 1];
};

/*
 * Parse one evapi payload.  0, or -1 with *why (a static string) when it
 * is not one of our events or a field is missing, of the wrong type or
 * too long.
 */
int gwmsg_parse_event(const char *payload, size_t len, struct kam_event *ev,
    const char **why);

/* Parse one line from crisisd (without its '\n'); 0 or -1 with *why. */
int gwmsg_parse_crisisd(const char *line, size_t len, struct cd_msg *msg,
    const char **why);

/*
 * The SIP user a clinician's endpoint names: "sip:USER@HOST" (or sips:,
 * with parameters after HOST) gives USER.  -1 with *why when the endpoint
 * is no such URI or USER holds more than letters, digits and "._+-".
 */
int gwmsg_endpoint_user(const char *endpoint, char user[GWMSG_USER_MAX + 1],
    const char **why);

/*
 * The caller as crisisd is told it: the From user when it is printable
 * UTF-8 of at most GWMSG_CALLER_MAX bytes, else "" (left out).  The same
 * input always gives the same output, so a contact sent again after a
 * restart has the same fields.
 */
void gwmsg_clean_caller(const char *from_user, char out[GWMSG_CALLER_MAX + 1]);

/* JSON lines for crisisd, each ending in '\n' (the caller frees). */
char *gwmsg_hello(const char *id, const char *principal, const char *token);
char *gwmsg_contact(const char *id, const char *ref,
    const struct gwconf_line *line, const char *caller);
/* type is "abandon", "ack" or "ended". */
char *
gwmsg_about_contact(const char *id, const char *type, const char *contact);
char *gwmsg_failed(const char *id, const char *contact, const char *reason);
char *gwmsg_ping(const char *id);

/* Netstring payloads for Kamailio (the caller frees). */
char *gwmsg_relay_clinician(const char *callid, uint32_t tindex,
    uint32_t tlabel, const char *user);
char *gwmsg_relay_overflow(const char *callid, uint32_t tindex, uint32_t tlabel,
    const char *uri);
char *gwmsg_resync(void);
char *gwmsg_lines(const struct gwconf *conf);

#endif
