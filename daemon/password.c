/*
 * password.c: web console passwords.  Unlike a token, a password is chosen
 * by a person and has little entropy, so it is stretched with Argon2id
 * (libsodium's crypto_pwhash) before it is stored: a stolen database then
 * costs an attacker 64 MiB and tens of milliseconds per guess.
 *
 * The rules: at least PASSWORD_MIN_CHARS characters, counted as code
 * points (a person counts "contraseña" as 10 characters, not 11 bytes); at
 * most PASSWORD_MAX_BYTES bytes; valid UTF-8 (the console's login is JSON,
 * which is UTF-8: a password it cannot carry could never be used); and no
 * control characters (a browser's password field cannot take them, and a
 * NUL would cut the password short wherever it is handled as a C string).
 */
#include <string.h>

#include <sodium.h>

#include "password.h"
#include "util.h"

#define PASSWORD_STR_(x) #x
#define PASSWORD_STR(x) PASSWORD_STR_(x)

_Static_assert(PASSWORD_HASH_BYTES == crypto_pwhash_STRBYTES,
    "a stored hash is libsodium's string");

/*
 * The cost of one hash, fixed into the stored string and so paid again by
 * every verify: libsodium's interactive limits (2 passes over 64 MiB, tens
 * of milliseconds), the usual choice for a login.  The moderate ones (256
 * MiB, most of a second) would make each login slow, and several at once
 * would hold that memory each, for little gain: online guessing is capped
 * by the console's 5 failures a minute per principal (CONTRACT §8), and the
 * 12-character minimum keeps offline guessing dear at this cost.
 */
#define PASSWORD_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PASSWORD_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

/* Is cp a control character: C0 (NUL among them), DEL or C1? */
static bool
password_control(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Check the rules: length in bytes, UTF-8, controls, then code points. */
enum password_problem
password_check(const char *pw, size_t len)
{
	const unsigned char *s = (const unsigned char *)pw;
	size_t chars = 0, n;
	unsigned long cp;

	if (len == 0)
		return PASSWORD_EMPTY;
	if (len > PASSWORD_MAX_BYTES)
		return PASSWORD_TOO_LONG;
	for (size_t i = 0; i < len; i += n, chars++) {
		if ((n = util_utf8_next(s + i, len - i, &cp)) == 0)
			return PASSWORD_BAD_UTF8;
		if (password_control(cp))
			return PASSWORD_CONTROL;
	}
	return chars < PASSWORD_MIN_CHARS ? PASSWORD_TOO_SHORT : PASSWORD_OK;
}

/* What is wrong, as the end of "the password ...". */
const char *
password_problem_text(enum password_problem problem)
{
	switch (problem) {
	case PASSWORD_OK:
		return "is acceptable";
	case PASSWORD_EMPTY:
		return "is empty";
	case PASSWORD_TOO_SHORT:
		return "is too short: at least " PASSWORD_STR(
		    PASSWORD_MIN_CHARS) " characters";
	case PASSWORD_TOO_LONG:
		return "is too long: at most " PASSWORD_STR(
		    PASSWORD_MAX_BYTES) " bytes";
	case PASSWORD_BAD_UTF8:
		return "is not valid UTF-8";
	case PASSWORD_CONTROL:
		return "holds a control character (tab, escape, NUL...)";
	}
	return "is not acceptable";
}

/* Argon2id string of pw, at the interactive cost. */
int
password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_BYTES])
{
	if (password_check(pw, len) != PASSWORD_OK)
		return -1;
	if (crypto_pwhash_str_alg(out, pw, len, PASSWORD_OPSLIMIT,
	        PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	return 0;
}

/* Does pw match the stored hash?  Constant time in the comparison. */
bool
password_verify(const char *hash, const char *pw, size_t len)
{
	if (len > PASSWORD_MAX_BYTES ||
	    strnlen(hash, PASSWORD_HASH_BYTES) == PASSWORD_HASH_BYTES)
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}
