/*
 * netstring.c: the strict, bounded netstring parser of netstring.h.
 */
#include <stdio.h>
#include <string.h>

#include "netstring.h"

/* Decimal digits in n (at least 1). */
static size_t
netstring_digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/*
 * Read the decimal length at the start of buf.  Returns the number of
 * digits read with *value set, 0 when more bytes are needed, or -1 with
 * *why set when the bytes cannot start a frame.
 */
static long
netstring_length(const char *buf, size_t len, size_t max_payload, size_t *value,
    const char **why)
{
	size_t i, v = 0, max_digits = netstring_digits(max_payload);

	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i == max_digits) {
			*why = "length has too many digits";
			return -1;
		}
		v = v * 10 + (size_t)(buf[i] - '0');
		if (v > max_payload) {
			*why = "payload longer than the limit";
			return -1;
		}
	}
	if (i == len)
		return 0; /* digits so far, or nothing yet */
	if (i == 0) {
		*why = "frame does not start with a length";
		return -1;
	}
	if (buf[i] != ':') {
		*why = "length not followed by ':'";
		return -1;
	}
	/* "0" is a length; "007" is not: one spelling per frame. */
	if (buf[0] == '0' && i > 1) {
		*why = "length has leading zeros";
		return -1;
	}
	*value = v;
	return (long)i;
}

/* Look at the bytes received so far; see netstring.h. */
enum netstring_result
netstring_parse(const char *buf, size_t len, size_t max_payload,
    struct netstring_frame *frame, const char **why)
{
	size_t payload_len = 0, off;
	long digits;

	digits = netstring_length(buf, len, max_payload, &payload_len, why);
	if (digits < 0)
		return NETSTRING_BAD;
	if (digits == 0)
		return NETSTRING_MORE;
	off = (size_t)digits + 1;
	if (len - off < payload_len + 1)
		return NETSTRING_MORE;
	if (buf[off + payload_len] != ',') {
		*why = "payload not followed by ','";
		return NETSTRING_BAD;
	}
	frame->payload_off = off;
	frame->payload_len = payload_len;
	frame->frame_len = off + payload_len + 1;
	return NETSTRING_FRAME;
}

/* The "LEN:" header of a payload of len bytes. */
size_t
netstring_header(size_t len, char out[NETSTRING_HEADER_MAX])
{
	int n = snprintf(out, NETSTRING_HEADER_MAX, "%zu:", len);

	return n > 0 ? (size_t)n : 0;
}
