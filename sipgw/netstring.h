/*
 * netstring.h: netstrings ("LEN:PAYLOAD,") as Kamailio's evapi module
 * frames its messages, parsed strictly and within a bound.
 *
 * The parser is pure: it looks at the bytes received so far and says
 * whether they start with a whole frame, need more bytes, or can never be
 * one.  A peer that sends a length over the bound, a length with a sign,
 * leading zeros or more digits than the bound allows, or a frame that does
 * not end in ',' is broken or hostile; the caller closes the connection.
 */
#ifndef SIPGW_NETSTRING_H
#define SIPGW_NETSTRING_H

#include <stddef.h>

enum netstring_result {
	NETSTRING_FRAME, /* a whole frame starts the buffer */
	NETSTRING_MORE, /* a valid prefix: wait for more bytes */
	NETSTRING_BAD, /* never a valid frame: close */
};

struct netstring_frame {
	size_t payload_off; /* where the payload starts in the buffer */
	size_t payload_len;
	size_t frame_len; /* bytes to drain: length, ':', payload, ',' */
};

/*
 * Look at the len bytes at buf.  On NETSTRING_FRAME fills *frame; on
 * NETSTRING_BAD points *why at a short reason.  Payloads longer than
 * max_payload are NETSTRING_BAD as soon as their length is read.
 */
enum netstring_result netstring_parse(const char *buf, size_t len,
    size_t max_payload, struct netstring_frame *frame, const char **why);

/*
 * The header "LEN:" for a payload of len bytes into out (at least
 * NETSTRING_HEADER_MAX bytes); returns its length.
 */
#define NETSTRING_HEADER_MAX 24
size_t netstring_header(size_t len, char out[NETSTRING_HEADER_MAX]);

#endif
