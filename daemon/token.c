/*
 * token.c: bearer tokens.  A token is 32 bytes from libsodium's CSPRNG;
 * with that much entropy a fast keyless BLAKE2b hash is enough to store
 * (no password stretching needed), and sodium_memcmp keeps the comparison
 * free of timing leaks.
 */
#include <string.h>

#include <sodium.h>

#include "token.h"

#define TOKEN_RANDOM_BYTES 32

/* Initialise libsodium once. */
int
token_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* Hash a token's text with BLAKE2b-256. */
void
token_hash(const char *text, uint8_t hash[TOKEN_HASH_BYTES])
{
	crypto_generichash(hash, TOKEN_HASH_BYTES, (const unsigned char *)text,
	    strlen(text), NULL, 0);
}

/* Make a token's text and its stored hash. */
void
token_new(char text[TOKEN_TEXT_MAX], uint8_t hash[TOKEN_HASH_BYTES])
{
	unsigned char raw[TOKEN_RANDOM_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, TOKEN_TEXT_MAX, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	token_hash(text, hash);
}

/* Does the presented text hash to the stored hash?  Constant time. */
bool
token_matches(const char *text, const uint8_t stored[TOKEN_HASH_BYTES])
{
	uint8_t hash[TOKEN_HASH_BYTES];

	token_hash(text, hash);
	return sodium_memcmp(hash, stored, TOKEN_HASH_BYTES) == 0;
}
