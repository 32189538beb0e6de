"""bench/pg.py: the bench's PostgreSQL server (issue 15), the one place
where bench/run and bench/failover start, use and stop it.

The server is tests/pg/pgserver's (initdb in a private temporary
directory, a Unix socket there and no TCP, the C locale) with fsync on, as
deployed: crisisd turns synchronous_commit off on its loop connection and
makes commits durable with one synchronous commit of its sync thread, so
what is measured is crisisd's own group commit on a server that really
flushes its WAL.  SQL goes through tests/e2e/pgstore.py (psql).

    with PgServer(core="0") as pg:     started; stopped when the block ends
        pg.createdb("x", template="t") and the run ends however it ends
        pg.uri("x")                    crisisd's `database`
        pg.rows("x", "SELECT ...")     a query's rows
        pg.cpu_seconds()               the server's CPU time so far
        pg.dropdb("x")

The server is pinned to `core` (taskset is inherited by every backend):
the bench gives crisisd and its store one core, as SQLite runs inside
crisisd.  It is stopped on leaving the block, at exit, and on SIGTERM or
SIGHUP (turned into an exit), so an interrupted bench leaves no server.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PGSERVER = ROOT / "tests" / "pg" / "pgserver"
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import pgstore  # noqa: E402

# The settings a fair comparison with SQLite's synchronous=FULL needs.
DURABLE = {"fsync": "on", "synchronous_commit": "on"}
# Shown with the figures: what the server's durability rests on.
SHOWN = ("fsync", "synchronous_commit", "wal_sync_method",
         "full_page_writes", "shared_buffers")


def _exit_on_signal(signum, frame):
    """SIGTERM or SIGHUP: exit, so that atexit and finally blocks run."""
    sys.exit(128 + signum)


class PgServer:
    """A private PostgreSQL server for one bench run."""

    def __init__(self, core=None, keep=False):
        self.core = core
        self.keep = keep
        self.dir = None
        self.sock = None
        self.settings = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()

    def start(self):
        """initdb and start the server; fail unless fsync is on."""
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit_on_signal)
        atexit.register(self.stop)
        self.dir = tempfile.mkdtemp(prefix="crisisd-bench-pg-")
        cmd = [str(PGSERVER), "start", self.dir]
        if self.core is not None:
            cmd = ["taskset", "-c", self.core] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("tests/pg/pgserver start failed: %s" %
                               p.stderr.strip()[-1500:])
        self.sock = p.stdout.strip().splitlines()[-1]
        names = ", ".join("current_setting('%s')" % s for s in SHOWN)
        values = self.rows("postgres", "SELECT %s" % names)[0]
        self.settings = dict(zip(SHOWN, values))
        for key, want in DURABLE.items():
            if self.settings[key] != want:
                raise RuntimeError("PostgreSQL runs with %s = %s, not %s" %
                                   (key, self.settings[key], want))

    def stop(self):
        """Stop the server and remove its directory (at most once)."""
        if self.dir is None:
            return
        d, self.dir = self.dir, None
        if os.path.exists(os.path.join(d, "data", "postmaster.pid")):
            subprocess.run([str(PGSERVER), "stop", d], capture_output=True)
        # The postmaster may still write its last log line after pg_ctl
        # returned: try again while the directory is still there.
        for _ in range(20 if not self.keep else 0):
            shutil.rmtree(d, ignore_errors=True)
            if not os.path.exists(d):
                break
            time.sleep(0.1)

    def describe(self):
        """The server's version and durability settings, for the report."""
        version = self.rows("postgres", "SELECT current_setting("
                            "'server_version')")[0][0]
        return "PostgreSQL %s, %s" % (version, ", ".join(
            "%s=%s" % kv for kv in self.settings.items()))

    def cpu_seconds(self):
        """User plus system CPU time of the server: the postmaster (with
        its reaped children) and every live process it started."""
        try:
            pid = int(Path(self.dir, "data", "postmaster.pid").read_text()
                      .split()[0])
        except (OSError, TypeError, ValueError, IndexError):
            return float("nan")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(entry) == pid:
                total += sum(int(f) for f in fields[11:15])
            elif int(fields[1]) == pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def uri(self, name):
        """crisisd's `database` for database name."""
        return pgstore.uri(self.sock, name)

    def createdb(self, name, template=None):
        """An empty database, or a copy of template (which nobody may be
        connected to)."""
        cmd = [str(PGSERVER), "createdb", self.sock, name]
        if template is not None:
            cmd.append(template)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("createdb %s failed: %s" % (
                name, p.stderr.strip()))

    def dropdb(self, name):
        """Drop a database, cutting its connections."""
        pgstore.dropdb(self.sock, name)

    def rows(self, name, sql):
        """The rows of one query on database name, as tuples."""
        return pgstore.run(self.sock, name, [(sql, ())], rows=True)
