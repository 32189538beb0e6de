/*
 * password.h: web console passwords (CONTRACT §8).  crisisctl password set
 * checks and hashes them; the console verifies them against the stored
 * hash.  Only libsodium's Argon2id string is stored, never the password.
 */
#ifndef CRISISD_PASSWORD_H
#define CRISISD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Fewest characters (Unicode code points, not bytes) a password may have. */
#define PASSWORD_MIN_CHARS 12
/*
 * Most bytes a password may have: room for a long passphrase in any
 * script, and a bound on what one login makes the daemon hash.
 */
#define PASSWORD_MAX_BYTES 1024
/* An encoded hash with its NUL: libsodium's crypto_pwhash_STRBYTES. */
#define PASSWORD_HASH_BYTES 128

/* What password_check() found wrong, if anything. */
enum password_problem {
	PASSWORD_OK = 0,
	PASSWORD_EMPTY,
	PASSWORD_TOO_SHORT, /* fewer than PASSWORD_MIN_CHARS code points */
	PASSWORD_TOO_LONG, /* more than PASSWORD_MAX_BYTES bytes */
	PASSWORD_BAD_UTF8, /* not valid UTF-8 (RFC 3629) */
	PASSWORD_CONTROL, /* a C0 or C1 control character, DEL or NUL */
};

/* Does the len bytes at pw make an acceptable password? */
enum password_problem password_check(const char *pw, size_t len);

/* The problem as a phrase for an error message ("is not valid UTF-8"). */
const char *password_problem_text(enum password_problem problem);

/*
 * Hash a password into out, a NUL-terminated "$argon2id$..." string.  -1
 * if pw fails password_check() or the hash cannot be computed (out of
 * memory).  Costs tens of milliseconds and 64 MiB: see password.c.
 */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_BYTES]);

/*
 * Does pw match hash, a string from password_hash()?  false for a hash
 * that is malformed or not NUL-terminated within PASSWORD_HASH_BYTES, and
 * at once, without hashing, for a pw longer than PASSWORD_MAX_BYTES (no
 * stored password is).  Costs what password_hash() did when it made hash:
 * never call it on the daemon's event loop.
 */
bool password_verify(const char *hash, const char *pw, size_t len);

#endif
