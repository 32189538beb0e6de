/*
 * wire.h: every message crisisd sends (CONTRACT §3), built in one place.
 *
 * Each function takes plain values, never the engine's structs, and
 * returns the message as today's clients see it: keys in the order they
 * have always come (jansson keeps insertion order), optional fields
 * omitted or null exactly as before.  tests/unit/test_wire.c pins the
 * text of every message, so a change in the wire format fails a test.
 *
 * Most return a json_t (the caller owns it; wire_line serialises it as
 * connections write it).  A request's "id" is not set here: session_reply
 * echoes it last.  The error and the snapshot carry it second, so their
 * builders take it and return the finished text.
 */
#ifndef CRISISD_WIRE_H
#define CRISISD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "msg.h"
#include "util.h"

/* A message (stolen) as one line without its '\n' (caller frees). */
char *wire_line(json_t *msg);

/* --- any role --- */

/*
 * {"type":"error","id":ID,"code":C,"message":M} as a line (caller frees);
 * id (borrowed) may be NULL, and is then left out.  A message that is not
 * valid UTF-8 is sent with its non-ASCII bytes as '?', never dropped.
 */
char *wire_error(enum msg_code code, const char *message, json_t *id);

#endif
