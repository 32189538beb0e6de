/*
 * test_password.c: the web console's password rules (length in code
 * points, UTF-8, control characters, the byte limit) and Argon2id hashing
 * and verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "password.h"

/* password_check() of a C string. */
static enum password_problem
check(const char *pw)
{
	return password_check(pw, strlen(pw));
}

/* n copies of the UTF-8 sequence unit, as a C string in buf. */
static const char *
repeat(char *buf, size_t size, const char *unit, size_t n)
{
	size_t len = strlen(unit);

	assert_true(n * len < size);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * len, unit, len);
	buf[n * len] = '\0';
	return buf;
}

/* 12 characters are enough, 11 are not. */
static void
test_ascii_length(void **state)
{
	(void)state;
	assert_int_equal(check("abcdefghijk"), PASSWORD_TOO_SHORT);
	assert_int_equal(check("abcdefghijkl"), PASSWORD_OK);
	assert_int_equal(check("correct horse battery staple"), PASSWORD_OK);
	assert_int_equal(check(""), PASSWORD_EMPTY);
	assert_int_equal(check("a"), PASSWORD_TOO_SHORT);
}

/*
 * Multibyte characters count once each: 11 two-, three- or four-byte
 * characters (22 to 44 bytes) are still too short, 12 are enough.
 */
static void
test_multibyte_counts_code_points(void **state)
{
	static const char *const units[] = { "\xc3\xb1", /* ñ */
		"\xe6\xbc\xa2", /* 漢 */
		"\xf0\x9f\x94\x91" /* U+1F511 key */ };
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		assert_int_equal(check(repeat(buf, sizeof(buf), units[i], 11)),
		    PASSWORD_TOO_SHORT);
		assert_int_equal(check(repeat(buf, sizeof(buf), units[i], 12)),
		    PASSWORD_OK);
	}
	/* "contraseña" + "12": 12 characters in 13 bytes. */
	assert_int_equal(check("contrase\xc3\xb1"
	                       "a12"),
	    PASSWORD_OK);
	assert_int_equal(check("contrase\xc3\xb1"
	                       "a1"),
	    PASSWORD_TOO_SHORT);
}

/* Every kind of malformed UTF-8 is refused, wherever it is. */
static void
test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"abcdefghijkl\x80", /* a stray continuation byte */
		"abcdefghijkl\xc3", /* a sequence cut short at the end */
		"abcdef\xc3zghijkl", /* a lead byte without its continuation */
		"abcdef\xe6\xbcghijkl", /* three bytes cut short */
		"abcdefghijkl\xc0\xaf", /* overlong '/' */
		"abcdefghijkl\xe0\x80\xaf", /* overlong '/' in three bytes */
		"abcdefghijkl\xf0\x82\x82\xac", /* overlong euro sign */
		"abcdefghijkl\xed\xa0\x80", /* a UTF-16 surrogate, U+D800 */
		"abcdefghijkl\xf4\x90\x80\x80", /* U+110000, beyond Unicode */
		"abcdefghijkl\xf5\x80\x80\x80", /* a lead byte never used */
		"abcdefghijkl\xf8\x88\x80\x80\x80", /* five bytes */
		"abcdefghijkl\xfe", /* bytes that are never UTF-8 */
		"abcdefghijkl\xff",
		"\xe9t\xe9 abcdefghijkl", /* Latin-1, not UTF-8 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i]), PASSWORD_BAD_UTF8);
	/* The edges of the valid range pass. */
	assert_int_equal(check("abcdefghijkl\xf4\x8f\xbf\xbf"), PASSWORD_OK);
	assert_int_equal(check("abcdefghijkl\xed\x9f\xbf"), PASSWORD_OK);
	assert_int_equal(check("abcdefghijkl\xc2\xa0"), PASSWORD_OK);
}

/* C0 and C1 controls, DEL and NUL are refused; spaces are not. */
static void
test_control_characters(void **state)
{
	static const char *const bad[] = {
		"abcdef\tghijkl", "abcdefghijkl\n", "abcdefghijkl\r",
		"\x1b[31mabcdefghijkl", "abcdefghijkl\x7f",
		"abcdefghijkl\xc2\x85", /* U+0085, next line (C1) */
		"abcdefghijkl\xc2\x9b", /* U+009B, CSI (C1) */
	};
	static const char nul[] = "abcdef\0ghijkl";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i]), PASSWORD_CONTROL);
	assert_int_equal(password_check(nul, sizeof(nul) - 1),
	    PASSWORD_CONTROL);
	assert_int_equal(check("  spaces are fine  "), PASSWORD_OK);
}

/* PASSWORD_MAX_BYTES bytes pass, one more does not: it is not truncated. */
static void
test_byte_limit(void **state)
{
	char buf[PASSWORD_MAX_BYTES + 2];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(password_check(buf, PASSWORD_MAX_BYTES), PASSWORD_OK);
	assert_int_equal(password_check(buf, PASSWORD_MAX_BYTES + 1),
	    PASSWORD_TOO_LONG);
}

/*
 * A hash is an Argon2id string at the interactive cost, salted (two
 * hashes of one password differ), and verifies its password only: not
 * another, not one a character shorter or longer.
 */
static void
test_hash_and_verify(void **state)
{
	static const char pw[] = "correct horse battery staple";
	char hash[PASSWORD_HASH_BYTES], again[PASSWORD_HASH_BYTES];
	char prefix[64];

	(void)state;
	assert_int_equal(password_hash(pw, strlen(pw), hash), 0);
	snprintf(prefix, sizeof(prefix), "$argon2id$v=19$m=%zu,t=%llu,p=1$",
	    (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
	    (unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_memory_equal(hash, prefix, strlen(prefix));
	assert_null(strstr(hash, pw));
	assert_true(password_verify(hash, pw, strlen(pw)));
	assert_false(password_verify(hash, "correct horse battery stapl",
	    strlen(pw) - 1));
	assert_false(password_verify(hash, pw, strlen(pw) - 1));
	assert_false(password_verify(hash, pw, sizeof(pw))); /* with NUL */
	assert_false(
	    password_verify(hash, "Correct horse battery staple", strlen(pw)));
	assert_int_equal(password_hash(pw, strlen(pw), again), 0);
	assert_string_not_equal(hash, again);
	assert_true(password_verify(again, pw, strlen(pw)));
}

/* A multibyte password verifies as the same bytes, and only as them. */
static void
test_verify_multibyte(void **state)
{
	static const char pw[] = "contrase\xc3\xb1"
	                         "a-segura";
	static const char decomposed[] = "contrasen\xcc\x83"
	                                 "a-segura";
	char hash[PASSWORD_HASH_BYTES];

	(void)state;
	assert_int_equal(password_hash(pw, strlen(pw), hash), 0);
	assert_true(password_verify(hash, pw, strlen(pw)));
	assert_false(password_verify(hash, decomposed, strlen(decomposed)));
}

/* Nothing that breaks the rules is hashed. */
static void
test_hash_refuses_bad_passwords(void **state)
{
	char hash[PASSWORD_HASH_BYTES];

	(void)state;
	assert_int_equal(password_hash("short", 5, hash), -1);
	assert_int_equal(password_hash("abcdefghijkl\x80", 13, hash), -1);
	assert_int_equal(password_hash("abcdef\tghijkl", 13, hash), -1);
	assert_int_equal(password_hash("", 0, hash), -1);
}

/*
 * Malformed or unterminated hashes never verify, and an over-long password
 * is refused before any hashing.
 */
static void
test_verify_refuses_bad_input(void **state)
{
	static const char pw[] = "abcdefghijkl";
	char big[PASSWORD_MAX_BYTES + 1], hash[PASSWORD_HASH_BYTES];
	char unterminated[PASSWORD_HASH_BYTES];

	(void)state;
	assert_false(password_verify("", pw, strlen(pw)));
	assert_false(password_verify("$argon2id$", pw, strlen(pw)));
	assert_false(password_verify("abcdefghijkl", pw, strlen(pw)));
	assert_int_equal(password_hash(pw, strlen(pw), hash), 0);
	memset(unterminated, 'a', sizeof(unterminated));
	memcpy(unterminated, hash, strlen(hash));
	assert_false(password_verify(unterminated, pw, strlen(pw)));
	memset(big, 'x', sizeof(big));
	assert_false(password_verify(hash, big, sizeof(big)));
	/* A truncated hash. */
	hash[strlen(hash) - 4] = '\0';
	assert_false(password_verify(hash, pw, strlen(pw)));
}

/* The rules' messages name the limits. */
static void
test_problem_text(void **state)
{
	(void)state;
	assert_non_null(strstr(password_problem_text(PASSWORD_TOO_SHORT),
	    "at least 12 characters"));
	assert_non_null(strstr(password_problem_text(PASSWORD_TOO_LONG),
	    "at most 1024 bytes"));
	assert_non_null(
	    strstr(password_problem_text(PASSWORD_BAD_UTF8), "UTF-8"));
}

/* libsodium must be initialised before it hashes. */
static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_length),
		cmocka_unit_test(test_multibyte_counts_code_points),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_byte_limit),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_verify_multibyte),
		cmocka_unit_test(test_hash_refuses_bad_passwords),
		cmocka_unit_test(test_verify_refuses_bad_input),
		cmocka_unit_test(test_problem_text),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
