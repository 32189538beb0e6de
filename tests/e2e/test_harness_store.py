"""The harness's own store layer (issue 15), which every other test reads
the database through: Daemon.sql on SQLite (sqlite3) and on PostgreSQL
(psql, tests/e2e/pgstore.py) must give the same rows for the same SQL.
No crisisd runs here, so this passes before crisisd knows either store's
particulars; on PostgreSQL it also shows that the runner's server is up
and takes new databases.
"""

import sqlite3
import tempfile

from harness import (STORE, SqlError, database_for, new_database, note,
                     run_sql)

# Values that psql's text formats and the ? binding could get wrong.
AWKWARD = [
    (1, "plain", None, 1.5, b"\x00\xff"),
    (-(2 ** 62), "it's a 'quote'", "?", -0.25, b""),
    (2 ** 62, "tab\there\nnewline\\backslash", "%s ; -- not a comment",
     1e-9, b"\\N"),
    (0, "\\N", "", 0.0, None),
    (7, "ñ and 🚑", "\"double\"", 3.0, b"\t\n"),
]


def test_sql_round_trip():
    """Awkward values go in through ? and come back equal and typed."""
    with tempfile.TemporaryDirectory(prefix="crisisd-e2e-") as tmp:
        db = new_database(tmp, "selftest")
        if STORE == "sqlite":
            sqlite3.connect(db).close()
        note("database %s" % database_for(db))
        blob = "BYTEA" if STORE == "postgresql" else "BLOB"
        run_sql(db, [("CREATE TABLE t (n BIGINT PRIMARY KEY, a TEXT NOT "
                      "NULL, b TEXT, f DOUBLE PRECISION, x %s)" % blob, ())])
        run_sql(db, [("INSERT INTO t VALUES (?, ?, ?, ?, ?)", row)
                     for row in AWKWARD])
        got = run_sql(db, [("SELECT n, a, b, f, x FROM t ORDER BY n", ())],
                      rows=True)
        want = sorted(AWKWARD)
        got = [tuple(bytes(v) if isinstance(v, memoryview) else v
                     for v in r) for r in got]
        assert got == want, "rows differ:\n%r\n%r" % (got, want)
        for (n, a, b, f, x) in AWKWARD:
            assert run_sql(db, [("SELECT n FROM t WHERE a = ? AND "
                                 "(b = ? OR b IS NULL)", (a, b))],
                           rows=True) == [(n,)], (a, b)
        # Aggregates and booleans come back as numbers, as on SQLite.
        (count, total, isnull), = run_sql(
            db, [("SELECT count(*), sum(n), b IS NULL FROM t WHERE n = ? "
                  "GROUP BY b", (1,))], rows=True)
        assert (count, total, isnull) == (1, 1, True), (count, total, isnull)
        assert run_sql(db, [("SELECT n FROM t WHERE n < ?", (-2 ** 63 + 1,))],
                       rows=True) == []


def test_sql_errors_and_transactions():
    """A refused statement raises SqlError and undoes its transaction."""
    with tempfile.TemporaryDirectory(prefix="crisisd-e2e-") as tmp:
        db = new_database(tmp, "selftest")
        if STORE == "sqlite":
            sqlite3.connect(db).close()
        run_sql(db, [("CREATE TABLE t (n BIGINT PRIMARY KEY)", ())])
        try:
            run_sql(db, [("INSERT INTO t VALUES (?)", (1,)),
                         ("INSERT INTO t VALUES (?)", (1,))])
            raise AssertionError("a duplicate key was allowed")
        except SqlError as e:
            note("refused: %s" % str(e).splitlines()[0])
        assert run_sql(db, [("SELECT count(*) FROM t", ())], rows=True) == [
            (0,)], "half a transaction was kept"
        try:
            run_sql(db, [("SELECT nope FROM t", ())], rows=True)
            raise AssertionError("a missing column was allowed")
        except SqlError:
            pass
