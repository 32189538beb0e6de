"""PostgreSQL for the end-to-end tests (CONTRACT §10): the one place that
starts and stops the server, makes databases and runs SQL on them.

    start(DIR)          initdb and pg_ctl in DIR; returns the socket dir
    stop(DIR)           stop that server (fast, then immediate)
    resume(DIR)         start a stopped server again on the same data
    createdb(SOCK, N)   an empty database N; dropdb(SOCK, N) removes it
    uri(SOCK, N)        the `database` string crisisd is given
    run(SOCK, N, [(sql, params)], rows=False)
                        statements in one transaction through psql; with
                        rows, the last one's rows as typed tuples

One server serves a whole run (tests/e2e/run.py --store postgresql); it
listens on a Unix socket in DIR only, trusts every local connection and
has a superuser named crisisd.  initdb refuses root: as root, the server
runs as `nobody` and DIR is given to it.  fsync is off: the tests kill
crisisd, never the server, so what the server has written is kept.

SQL goes through psql, not a Python driver, so that any python3 runs the
tests: parameters (`?`, as the sqlite3 module takes them) become literals,
and result columns are typed from psql's \\gdesc (integers, booleans,
floats, bytea; the rest as text).  start() runs tests/pg/pgserver when
the tree has it (CRISISD_PG_STARTER=own: the starter here instead), which
makes the same kind of server; stop() stops either.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path

BINDIR = os.environ.get("CRISISD_PG_BINDIR", "/usr/lib/postgresql/15/bin")
PGSERVER = Path(__file__).resolve().parents[1] / "pg" / "pgserver"
USER = "crisisd"
# Seconds the server may take to start or stop, and one psql to run.
START_TIMEOUT_S = 60
PSQL_TIMEOUT_S = 120
# Enough for every daemon of two tests at a time, with room to spare.
MAX_CONNECTIONS = 300


class SqlError(Exception):
    """A statement the database refused (its message is the server's)."""


def _bin(name):
    """The path of a PostgreSQL program."""
    path = os.path.join(BINDIR, name)
    if not os.access(path, os.X_OK):
        found = shutil.which(name)
        if found:
            return found
        raise AssertionError("%s is not installed (looked in %s); "
                             "tools/deps check installs postgresql" % (
                                 name, BINDIR))
    return path


def _as_server(cmd, directory):
    """cmd run as the owner of the server's directory (initdb and pg_ctl
    refuse root)."""
    if os.geteuid() == 0:
        owner = pwd.getpwuid(os.stat(directory).st_uid).pw_name
        if owner != "root":
            return ["runuser", "-u", owner, "--"] + cmd
    return cmd


def _run(cmd, directory, what, timeout=START_TIMEOUT_S):
    """Run a server command in directory; raise with its output if it
    fails."""
    p = subprocess.run(_as_server(cmd, directory), cwd=directory,
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s failed (exit %d): %s" % (
            what, p.returncode, (p.stdout + p.stderr).strip()[-1500:]))
    return p


def start(directory):
    """A new server in directory (which must exist and be empty); returns
    the socket directory, which is directory itself."""
    directory = os.path.abspath(directory)
    if os.access(PGSERVER, os.X_OK) and \
            os.environ.get("CRISISD_PG_STARTER") != "own":
        p = _run([str(PGSERVER), "start", directory], "/", "tests/pg/pgserver")
        return p.stdout.strip().splitlines()[-1]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    os.chmod(directory, 0o755)
    data = os.path.join(directory, "data")
    _run([_bin("initdb"), "-D", data, "-U", USER, "--auth=trust",
          "--encoding=UTF8", "--no-locale", "--no-sync"], directory,
         "initdb")
    _run_server(directory)
    return directory


def _run_server(directory):
    """pg_ctl start on directory's data, listening in directory only."""
    opts = ("-c listen_addresses='' -c unix_socket_directories='%s' "
            "-c unix_socket_permissions=0777 -c max_connections=%d "
            "-c fsync=off -c full_page_writes=off" % (
                directory, MAX_CONNECTIONS))
    _run([_bin("pg_ctl"), "-D", os.path.join(directory, "data"), "-l",
          os.path.join(directory, "server.log"), "-w", "-t",
          str(START_TIMEOUT_S), "-o", opts, "start"], directory,
         "pg_ctl start")


def resume(directory):
    """Start the server that start() made in directory, and stop()
    stopped, again: the same data, the same socket directory."""
    directory = os.path.abspath(directory)
    if os.path.exists(os.path.join(directory, "log")):
        _run([str(PGSERVER), "resume", directory], "/",
             "tests/pg/pgserver resume")
    else:
        _run_server(directory)


def stop(directory):
    """Stop the server in directory if it runs (fast; immediate if that
    does not end it)."""
    data = os.path.join(os.path.abspath(directory), "data")
    if not os.path.exists(os.path.join(data, "postmaster.pid")):
        return
    for mode in ("fast", "immediate"):
        p = subprocess.run(_as_server([_bin("pg_ctl"), "-D", data, "-m",
                                       mode, "-w", "-t", "30", "stop"],
                                      data),
                           cwd=directory, capture_output=True, text=True,
                           timeout=60)
        if p.returncode == 0:
            return
    # pg_ctl could not stop it: the postmaster by its pid, and with it
    # its children (they exit when it is gone).
    try:
        with open(os.path.join(data, "postmaster.pid"), encoding="ascii") as f:
            os.kill(int(f.readline().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def log_tail(directory, n=20):
    """The last n lines of the server's log (ours, or pgserver's)."""
    for name in ("server.log", "log"):
        try:
            with open(os.path.join(directory, name)) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            pass
    return "(no server log)"


def uri(sock, name):
    """The `database` value that names database name on the server."""
    return "postgresql:///%s?host=%s&user=%s" % (name, sock, USER)


def _ident(name):
    """A quoted SQL identifier."""
    return '"%s"' % name.replace('"', '""')


def createdb(sock, name):
    """An empty database name on the server at sock."""
    _psql(sock, "postgres", "CREATE DATABASE %s;\n" % _ident(name))


def dropdb(sock, name):
    """Drop database name, ending its connections (no error if absent)."""
    _psql(sock, "postgres",
          "DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % _ident(name))


def literal(value):
    """A Python value as an SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "decode('%s', 'hex')" % bytes(value).hex()
    return "'%s'" % str(value).replace("'", "''")


_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\?|[^'"?-]+|-""")


def bind(sql, params):
    """sql with each ? (outside quotes and comments) replaced by the next
    parameter as a literal."""
    params = list(params)
    out = []
    for tok in _TOKENS.findall(sql):
        if tok == "?":
            if not params:
                raise SqlError("more ? than parameters in %r" % sql)
            out.append(literal(params.pop(0)))
        else:
            out.append(tok)
    if params:
        raise SqlError("%d parameters left over for %r" % (len(params), sql))
    return "".join(out)


def _psql(sock, name, script):
    """Run script through psql on database name; stdout, or SqlError with
    the server's message."""
    cmd = [_bin("psql"), "-X", "-q", "-A", "-t", "-F", "\t",
           "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", USER, "-d", name,
           "-f", "-"]
    p = subprocess.run(cmd, input=script, capture_output=True, text=True,
                       timeout=PSQL_TIMEOUT_S)
    if p.returncode != 0:
        raise SqlError(p.stderr.strip() or "psql exited %d" % p.returncode)
    return p.stdout


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v", "\\": "\\"}


def _copy_field(text):
    """One field of COPY's text format: None for \\N, else unescaped."""
    if text == "\\N":
        return None
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt.isdigit():
            m = re.match(r"[0-7]{1,3}", text[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def _typed(value, pgtype):
    """A field's text as the Python value sqlite3 would give."""
    if value is None:
        return None
    if pgtype in ("smallint", "integer", "bigint"):
        return int(value)
    if pgtype == "boolean":
        return value == "t"
    if pgtype in ("real", "double precision"):
        return float(value)
    if pgtype == "numeric":
        return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    if pgtype == "bytea":
        return bytes.fromhex(value[2:])
    return value


def _returns_rows(sql):
    """Does a statement give rows (a query, or RETURNING)?"""
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("SELECT", "WITH", "VALUES", "TABLE") or \
        re.search(r"\bRETURNING\b", sql, re.I) is not None


def run(sock, name, statements, rows=False):
    """Run [(sql, params)] in one transaction; with rows, return the last
    statement's rows as a list of tuples."""
    texts = [bind(sql, params).strip().rstrip(";") for sql, params in
             statements]
    if not rows or not _returns_rows(texts[-1]):
        _psql(sock, name, "BEGIN;\n%s;\nCOMMIT;\n" % ";\n".join(texts))
        return []
    last = texts.pop()
    marker = "@@crisisd-e2e-rows@@"
    script = "BEGIN;\n"
    script += "".join("%s;\n" % t for t in texts)
    script += "%s \\gdesc\n\\echo %s\nCOPY (%s) TO STDOUT;\nCOMMIT;\n" % (
        last, marker, last)
    out = _psql(sock, name, script)
    desc, _, data = out.partition(marker + "\n")
    types = [line.split("\t", 1)[1] for line in desc.splitlines()
             if "\t" in line]
    result = []
    for line in data.split("\n")[:-1]:
        fields = line.split("\t")
        result.append(tuple(_typed(_copy_field(f), t)
                            for f, t in zip(fields, types)))
    return result
