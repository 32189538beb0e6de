/*
 * wire.c: every message crisisd sends, built in one place (see wire.h).
 *
 * The order of the calls that set keys is the order of the keys on the
 * wire: clients and stored results have always seen them so, and the
 * tests compare whole lines.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "msg.h"
#include "util.h"
#include "wire.h"

/* A message (stolen) as one line, as every connection writes it. */
char *
wire_line(json_t *msg)
{
	char *line = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (line == NULL)
		fatalx("wire_line: out of memory");
	return line;
}

/* --- any role --- */

/*
 * The "message" of an error reply.  jansson refuses text that is not valid
 * UTF-8; such text (quoted from a peer, say) keeps its ASCII and shows '?'
 * for the rest, so the client still gets its error.
 */
static json_t *
wire_error_text(const char *message)
{
	json_t *s;
	char *copy, *p;

	if (message == NULL)
		message = "";
	if ((s = json_string(message)) != NULL)
		return s;
	copy = xstrdup(message);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x7f)
			*p = '?';
	}
	s = json_string(copy);
	free(copy);
	return s;
}

/* The id goes second, where clients of the first release found it. */
char *
wire_error(enum msg_code code, const char *message, json_t *id)
{
	json_t *o;

	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "type", json_string("error")) == -1 ||
	    (id != NULL && json_object_set(o, "id", id) == -1) ||
	    json_object_set_new(o, "code", json_string(msg_code_name(code))) ==
	        -1 ||
	    json_object_set_new(o, "message", wire_error_text(message)) == -1)
		fatalx("wire_error: out of memory");
	return wire_line(o);
}
