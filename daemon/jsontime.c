/*
 * jsontime.c: ms under time keys as RFC 3339 UTC text, for crisisctl's
 * JSON and CSV and the web console's API alike.
 */
#include <string.h>

#include <jansson.h>

#include "jsontime.h"
#include "util.h"

/* Does s end with suffix? */
static bool
jsontime_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool
jsontime_is_key(const char *key)
{
	return key != NULL &&
	    (jsontime_ends_with(key, "_at") || strcmp(key, "start") == 0 ||
	        strcmp(key, "end") == 0 || strcmp(key, "at") == 0);
}

/* Copy v, turning integers under time keys into RFC 3339 text. */
static json_t *
jsontime_copy_at(json_t *v, bool is_time)
{
	char buf[RFC3339_MAX];
	const char *key;
	json_t *out, *child;
	size_t i;

	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach (v, key, child)
			json_object_set_new(out, key,
			    jsontime_copy_at(child, jsontime_is_key(key)));
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach (v, i, child)
			json_array_append_new(out,
			    jsontime_copy_at(child, false));
		return out;
	}
	if (is_time && json_is_integer(v)) {
		util_format_rfc3339(json_integer_value(v), buf);
		return json_string(buf);
	}
	return json_deep_copy(v);
}

json_t *
jsontime_copy(json_t *v)
{
	return jsontime_copy_at(v, false);
}
