/*
 * jsontime.h: times in the JSON crisisd's tools print and its console
 * answers.  The store keeps times as ms since the epoch; whoever reads
 * them gets RFC 3339 UTC text under every key that holds a time.
 */
#ifndef CRISISD_JSONTIME_H
#define CRISISD_JSONTIME_H

#include <stdbool.h>

#include <jansson.h>

/* Does key hold a time ("..._at", "at", "start", "end")? */
bool jsontime_is_key(const char *key);

/* A deep copy of v with every time turned into RFC 3339 UTC text. */
json_t *jsontime_copy(json_t *v);

#endif
