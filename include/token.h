/*
 * token.h: bearer tokens for principals.  Tokens are 32 random bytes shown
 * once as 43 characters of unpadded base64url; only their BLAKE2b-256 hash
 * is stored, and hashes are compared in constant time.
 */
#ifndef CRISISD_TOKEN_H
#define CRISISD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_HASH_BYTES 32
#define TOKEN_TEXT_MAX 64

/* Initialise libsodium; -1 if it cannot be. */
int token_init(void);

/* Make a new token: its text (for the person) and its hash (for the store). */
void token_new(char text[TOKEN_TEXT_MAX], uint8_t hash[TOKEN_HASH_BYTES]);

/* Hash a presented token's text. */
void token_hash(const char *text, uint8_t hash[TOKEN_HASH_BYTES]);

/* Does text hash to stored?  Constant time in the hash comparison. */
bool token_matches(const char *text, const uint8_t stored[TOKEN_HASH_BYTES]);

#endif
