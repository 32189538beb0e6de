/*
 * test_db_pg_sql.c: SQLite's SQL rewritten for PostgreSQL
 * (daemon/db_pg_sql.c), table-driven: parameters numbered as SQLite
 * numbers them, text in quotes and comments left alone, BEGIN's SQLite
 * mode word and INDEXED BY dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/db_pg.h"

static const struct {
	const char *in;
	const char *out; /* NULL: refused */
	int nparams;
} cases[] = {
	{ "SELECT 1", "SELECT 1", 0 },
	{ "SELECT ?", "SELECT $1", 1 },
	{ "VALUES (?, ?, ?)", "VALUES ($1, $2, $3)", 3 },
	{ "VALUES (?1, ?2, ?1)", "VALUES ($1, $2, $1)", 2 },
	/* A bare ? is one more than the largest so far, as in SQLite. */
	{ "a = ?3 AND b = ?", "a = $3 AND b = $4", 4 },
	{ "a = ? AND b = ?5 AND c = ?", "a = $1 AND b = $5 AND c = $6", 6 },
	{ "a = ?2 AND b = ?1 AND c = ?", "a = $2 AND b = $1 AND c = $3", 3 },
	{ "WHERE x=?12", "WHERE x=$12", 12 },
	{ "f(?,?)", "f($1,$2)", 2 },
	/* Literals and quoted identifiers keep their question marks. */
	{ "SELECT '?' , ?", "SELECT '?' , $1", 1 },
	{ "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1 },
	{ "SELECT '', ?", "SELECT '', $1", 1 },
	{ "SELECT \"a?\"\"b\" FROM t WHERE c = ?",
	    "SELECT \"a?\"\"b\" FROM t WHERE c = $1", 1 },
	{ "SELECT 'never closed ?", "SELECT 'never closed ?", 0 },
	/* So do comments. */
	{ "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2", 2 },
	{ "SELECT /* ? ' */ ?", "SELECT /* ? ' */ $1", 1 },
	{ "SELECT 1 -- ?", "SELECT 1 -- ?", 0 },
	/* BEGIN's SQLite mode words. */
	{ "BEGIN IMMEDIATE", "BEGIN", 0 },
	{ "begin immediate;", "begin;", 0 },
	{ "BEGIN  DEFERRED TRANSACTION", "BEGIN TRANSACTION", 0 },
	{ "BEGIN EXCLUSIVE", "BEGIN", 0 },
	{ "BEGIN", "BEGIN", 0 },
	{ "BEGIN; SELECT 1", "BEGIN; SELECT 1", 0 },
	{ "BEGIN IMMEDIATELY", "BEGIN IMMEDIATELY", 0 },
	{ "SELECT 'BEGIN IMMEDIATE'", "SELECT 'BEGIN IMMEDIATE'", 0 },
	{ "SELECT began_immediate", "SELECT began_immediate", 0 },
	/* SQLite's planner hint goes. */
	{ "SELECT a FROM t INDEXED BY t_a WHERE a = ?",
	    "SELECT a FROM t  WHERE a = $1", 1 },
	{ "FROM contact_events e indexed  by e_x\nWHERE",
	    "FROM contact_events e \nWHERE", 0 },
	{ "SELECT indexed FROM t", "SELECT indexed FROM t", 0 },
	{ "SELECT 'INDEXED BY x'", "SELECT 'INDEXED BY x'", 0 },
	/* $N as PostgreSQL writes it passes through. */
	{ "SELECT $1", "SELECT $1", 0 },
	{ "SELECT ?32767", "SELECT $32767", 32767 },
	{ "SELECT ?0", NULL, 0 },
	{ "SELECT ?32768", NULL, 0 },
	{ "SELECT ?32767, ?", NULL, 0 },
	{ "", "", 0 },
};

/* Each case translates as the table says. */
static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = (char *)0x1;
		int n = -1;
		int rc = db_pg_sql_translate(cases[i].in, &out, &n);

		if (cases[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_null(out);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, cases[i].nparams);
		free(out);
	}
}

/* The worst growth: every byte a "?" that becomes a five-digit "$N". */
static void
test_growth(void **state)
{
	char in[2 * 20000 + 1], *out;
	int i, n;

	(void)state;
	for (i = 0; i < 20000; i++) {
		in[2 * i] = '?';
		in[2 * i + 1] = ',';
	}
	in[2 * 20000] = '\0';
	assert_int_equal(db_pg_sql_translate(in, &out, &n), 0);
	assert_int_equal(n, 20000);
	assert_non_null(strstr(out, "$19999,$20000,"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
