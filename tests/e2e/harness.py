"""End-to-end harness: a real crisisd on a loopback port, real sockets.

Daemon  a temporary directory with a config (short timers), a database made
        by `crisisctl init`, helpers that add principals, clinicians, shifts
        and patients through crisisctl, and the daemon process itself.
Client  one TCP connection speaking the line protocol.  Every message read
        is kept: expect() takes the first one that matches and leaves the
        others queued, so nothing is skipped silently.
TlsClient  the same over TLS.  Daemon(tls=True) makes a throwaway CA, a
        server certificate for 127.0.0.1 and client certificates with the
        openssl command, and adds a tls group with a second port.

The store is CRISISD_STORE: sqlite (a file in the daemon's directory) or
postgresql (a fresh database per Daemon on the server tests/e2e/run.py
started, whose socket directory is CRISISD_PG_HOST; an `ha` group is
written too).  Daemon.sql() reads and writes either; a test about SQLite
itself is marked @sqlite_only("why") and skipped on PostgreSQL.

All waits and tolerances are multiplied by SCALE (4 under CRISISD_WRAPPER,
e.g. valgrind; override with CRISISD_TIME_SCALE), and so are the timers
written to the config, so ratios between them stay the same.

Messages are dicts as decoded from the wire plus two harness keys:
"_at" (time.monotonic() of arrival) and "_raw" (the line as received).
"""

import datetime
import json
import os
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pgstore

ROOT = Path(__file__).resolve().parents[2]
CRISISD = os.environ.get("CRISISD_BIN", str(ROOT / "crisisd"))
CRISISCTL = os.environ.get("CRISISCTL_BIN", str(ROOT / "crisisctl"))
WRAPPER = shlex.split(os.environ.get("CRISISD_WRAPPER", ""))
SCALE = float(os.environ.get("CRISISD_TIME_SCALE", "4" if WRAPPER else "1"))
# The store the daemons run on, and for postgresql the server's socket
# directory (tests/e2e/run.py sets both).  CRISISD_PG_HA=0 leaves the ha
# group out of the config, for a crisisd that does not know it yet.
STORES = ("sqlite", "postgresql")
STORE = os.environ.get("CRISISD_STORE", "sqlite")
PG_HOST = os.environ.get("CRISISD_PG_HOST", "")
PG_HA = os.environ.get("CRISISD_PG_HA", "1") != "0"
# The ha group's defaults (CONTRACT §10); lease_ms is scaled.
HA_LEASE_MS = 1000

# Replies to a request (they echo its id); everything else is pushed.
REPLY_TYPES = {"welcome", "pong", "ok", "queued", "assigned", "error",
               "snapshot"}

ROUTING_KEYS = ("tiers", "max_wait_ms", "overflow_target", "continuity_ms",
                "imminent_max_wait_ms", "wrapup_ms", "max_missed_offers",
                "max_offers_per_clinician")
LIMIT_KEYS = ("max_connections", "max_unauthenticated",
              "max_output_bytes_total", "max_line_bytes",
              "hello_timeout_ms",
              "max_contacts_per_second",
              "max_open_contacts", "max_open_contacts_total")
TOP_KEYS = ("log_level", "timezone")
# Keys that hold durations in milliseconds: scaled with SCALE.
SCALED_KEYS = ("max_wait_ms", "continuity_ms", "imminent_max_wait_ms",
               "wrapup_ms", "hello_timeout_ms")

DEFAULTS = {
    "log_level": "debug",
    "timezone": "UTC",
    # (tier, strategy, offer_timeout_ms)
    "tiers": [(1, "ring-all", 600), (2, "ring-all", 600),
              (3, "ring-all", 600)],
    "max_wait_ms": 3000,
    "overflow_target": "tel:988",
    "continuity_ms": 400,
    "imminent_max_wait_ms": 2000,
    "wrapup_ms": 300,
    "max_missed_offers": 3,
    "max_offers_per_clinician": 0,
    "max_connections": 64,
    "max_unauthenticated": 1000,
    "max_output_bytes_total": 256 * 1024 * 1024,
    "max_line_bytes": 4096,
    "hello_timeout_ms": 500,
    "max_contacts_per_second": 1000,
    "max_open_contacts": 5000,
    "max_open_contacts_total": 20000,
}

DISPOSITIONS = ("resolved", "safety_plan", "referred", "emergency_dispatched",
                "follow_up", "other")
DISCLOSURE = {"recipient": "County EMS", "affiliation": "911 PSAP",
              "nature": "imminent risk, location and callback number"}

# --- bookkeeping for the runner: notes, a traffic transcript, daemons ---

_lock = threading.Lock()
NOTES = []
TRANSCRIPT = []
DAEMONS = []
_T0 = time.monotonic()


def sqlite_only(why):
    """Mark a test that is about SQLite itself (its file, WAL, locks):
    the runner reports it as SKIP with why on other stores."""
    def mark(fn):
        fn.store_only = ("sqlite", why)
        return fn
    return mark


def postgresql_only(why):
    """Mark a test that only PostgreSQL can run (several crisisd on one
    database): the runner reports it as SKIP with why on SQLite."""
    def mark(fn):
        fn.store_only = ("postgresql", why)
        return fn
    return mark


class SqlError(Exception):
    """A statement the database refused, whichever the store."""


class Skipped(Exception):
    """Raised by skip(): the test cannot run here, for a reason."""


def skip(why):
    """End the test now as skipped (SKIP name: why), not as passed or
    failed: for what only the test itself can find out, such as whether
    a PostgreSQL server is at hand."""
    raise Skipped(why)


def note(text):
    """Record a measurement the runner prints under the test's line."""
    with _lock:
        NOTES.append(str(text))


def _log_traffic(who, direction, line):
    """Keep the wire traffic so a failure can show what was sent and read."""
    with _lock:
        TRANSCRIPT.append("%8.3f %-12s %s %s" % (
            time.monotonic() - _T0, who, direction, line[:400]))


def transcript_tail(n=40):
    """The last n lines of traffic, for a failure report."""
    with _lock:
        return list(TRANSCRIPT[-n:])


def secs(ms):
    """A duration in ms, scaled, as seconds (for timeouts and sleeps)."""
    return ms * SCALE / 1000.0


def sleep_ms(ms):
    """Sleep for a scaled number of milliseconds."""
    time.sleep(secs(ms))


def now():
    """Wall-clock seconds since the epoch."""
    return time.time()


def rfc3339(t):
    """Seconds since the epoch as RFC 3339 UTC with whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def parse_rfc3339(text):
    """RFC 3339 text to seconds since the epoch (float)."""
    assert isinstance(text, str), "not a time string: %r" % (text,)
    d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert d.tzinfo is not None, "time without offset: %r" % text
    return d.timestamp()


def clean(msg):
    """A message without the harness's own keys."""
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def assert_timing(what, actual, expected, early_ms=50, late_ms=250):
    """Assert actual (monotonic s) is within [expected-early, expected+late].

    The contract asks for 50 ms; the default allowance for lateness is wider
    so a loaded machine passes, and the measurement is noted either way.
    """
    lateness = (actual - expected) * 1000.0
    note("%s: lateness %+.0f ms" % (what, lateness))
    assert lateness >= -early_ms * SCALE, (
        "%s came %.0f ms early (allowed %d)" % (what, -lateness,
                                                early_ms * SCALE))
    assert lateness <= late_ms * SCALE, (
        "%s came %.0f ms late (allowed %d)" % (what, lateness,
                                               late_ms * SCALE))
    return lateness


def connect(port, rcvbuf=None):
    """A TCP connection to 127.0.0.1:port.  rcvbuf sets SO_RCVBUF before
    the connect, so that the window it advertises is small from the start:
    a peer that does not read then leaves the daemon's output unsent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
    except BaseException:
        s.close()
        raise
    return s


def free_port():
    """A loopback TCP port that is free right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _conf_string(value):
    """A libconfig string literal."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _conf_value(value):
    """A libconfig scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value))
    return _conf_string(value)


def render_conf(conf, port, database):
    """A whole crisisd.conf text for conf (already scaled)."""
    out = ["listen = [ %s ];" % _conf_string("127.0.0.1:%d" % port),
           "database = %s;" % _conf_string(database)]
    for k in TOP_KEYS:
        out.append("%s = %s;" % (k, _conf_value(conf[k])))
    out.append("routing : {")
    tiers = ",\n".join(
        "    { tier = %d; strategy = %s; offer_timeout_ms = %d; }" % (
            t, _conf_string(s), ms) for t, s, ms in conf["tiers"])
    out.append("  tiers = (\n%s\n  );" % tiers)
    for k in ROUTING_KEYS[1:]:
        out.append("  %s = %s;" % (k, _conf_value(conf[k])))
    out.append("};")
    out.append("limits : {")
    for k in LIMIT_KEYS:
        out.append("  %s = %s;" % (k, _conf_value(conf[k])))
    out.append("};")
    return "\n".join(out) + "\n"


# The tls group Daemon(tls=True) writes; tls={...} overrides these keys (a
# value of None leaves the key out).  Paths are relative to the config file.
TLS_DEFAULTS = {
    "certificate": "tls/server.crt",
    "key": "tls/server.key",
    "ca": "tls/ca.crt",
    "require_client_cert": False,
    "min_version": "1.2",
}

# openssl req/x509 settings for the throwaway certificates.
_TLS_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

# Client certificates make_tls_files writes: name -> (CN, signed by the CA?)
TLS_CLIENT_CERTS = {"client": ("gateway-1", True), "rogue": ("rogue", False)}


def _openssl(cwd, *args):
    """Run the openssl command in cwd; raise with its stderr on failure."""
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, "openssl %s failed: %s" % (
        " ".join(args[:2]), p.stderr.strip()[-500:])


def make_tls_files(directory, server_cn="localhost", serial=2):
    """A CA, a server certificate and the TLS_CLIENT_CERTS in directory.

    ca.crt/ca.key, server.crt/server.key (CN server_cn, SAN IP:127.0.0.1),
    client.crt/client.key signed by the CA and rogue.crt/rogue.key
    self-signed.  An existing CA is reused, so a second call re-issues the
    server certificate under the same CA (with another serial).
    """
    os.makedirs(directory, exist_ok=True)
    cnf = os.path.join(directory, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write(_TLS_OPENSSL_CNF)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes"]
    if not os.path.exists(os.path.join(directory, "ca.crt")):
        _openssl(directory, "req", "-config", cnf, "-x509", *key,
                 "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                 "-subj", "/CN=crisisd e2e CA", "-extensions", "ca")
        for name, (cn, signed) in sorted(TLS_CLIENT_CERTS.items()):
            if signed:
                _tls_issue(directory, cnf, key, name, cn, "client", 100)
            else:
                _openssl(directory, "req", "-config", cnf, "-x509", *key,
                         "-keyout", name + ".key", "-out", name + ".crt",
                         "-days", "2", "-subj", "/CN=" + cn,
                         "-extensions", "client")
    _tls_issue(directory, cnf, key, "server", server_cn, "server", serial)
    return directory


def _tls_issue(directory, cnf, key, name, cn, extensions, serial):
    """NAME.key and NAME.crt for cn, signed by the CA in directory."""
    _openssl(directory, "req", "-config", cnf, *key, "-keyout",
             name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
    _openssl(directory, "x509", "-req", "-in", name + ".csr", "-CA",
             "ca.crt", "-CAkey", "ca.key", "-set_serial", str(serial),
             "-days", "2", "-out", name + ".crt", "-extfile", cnf,
             "-extensions", extensions)


def render_tls_conf(tls, port):
    """The tls group for the options tls, listening on 127.0.0.1:port."""
    out = ["tls : {", "  listen = [ %s ];" % _conf_string(
        "127.0.0.1:%d" % port)]
    for k, v in tls.items():
        if v is not None:
            out.append("  %s = %s;" % (k, _conf_value(v)))
    out.append("};")
    return "\n".join(out) + "\n"


def _normalise_tiers(tiers):
    """Tiers as (tier, strategy, scaled timeout) from tuples or dicts."""
    out = []
    for i, t in enumerate(tiers):
        if isinstance(t, dict):
            t = (t["tier"], t["strategy"], t["offer_timeout_ms"])
        elif len(t) == 2:
            t = (i + 1, t[0], t[1])
        out.append((int(t[0]), t[1], int(round(t[2] * SCALE))))
    return out


def faultfs_lib():
    """The fault shim faultfs.so (tests/faults/faultfs.c), as make builds it.

    $CRISISD_FAULTFS (set by make check, asan and valgrind), else
    BUILD/tests/faultfs.so beside crisisd (BINDIR=BUILD builds), else
    build/tests/faultfs.so.
    """
    if os.environ.get("CRISISD_FAULTFS"):
        candidates = [os.environ["CRISISD_FAULTFS"]]
    else:
        candidates = [os.path.join(os.path.dirname(CRISISD), "tests",
                                   "faultfs.so"),
                      str(ROOT / "build" / "tests" / "faultfs.so")]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise AssertionError("the fault shim is not built (looked for %s); run "
                         "make BUILD/tests/faultfs.so or set CRISISD_FAULTFS"
                         % " and ".join(candidates))


class Daemon:
    """A crisisd in a temporary directory; use as a context manager.

    Keyword arguments override DEFAULTS (durations are scaled).  Add
    principals before start(); the effective config is in self.conf.
    self.db is the config's `database`: a file's path on SQLite, a URI on
    PostgreSQL (a database of its own, self.dbname).  ha={...} overrides
    the ha group's keys on PostgreSQL (lease_ms is scaled); ha=False
    leaves the group out.

    share=OTHER runs a second crisisd on OTHER's database (CONTRACT §10:
    one active, the others standby): its store, database and principals'
    tokens are OTHER's, nothing is initialised again, and the ha group
    gets a node of its own.  store= ("sqlite" or "postgresql") overrides
    CRISISD_STORE for this daemon, and pg_host= (a socket directory, e.g.
    of a PgServer) puts its database on another PostgreSQL server than the
    run's.
    """

    def __init__(self, tls=False, http=False, ha=None, share=None,
                 store=None, pg_host=None, **overrides):
        for k in overrides:
            assert k in DEFAULTS, "unknown config override %r" % k
        for path in (CRISISD, CRISISCTL):
            assert os.access(path, os.X_OK), "%s is not built" % path
        conf = dict(DEFAULTS)
        conf.update(overrides)
        for k in SCALED_KEYS:
            conf[k] = int(round(conf[k] * SCALE))
        conf["tiers"] = _normalise_tiers(conf["tiers"])
        self.conf = conf
        self.dir = tempfile.mkdtemp(prefix="crisisd-e2e-")
        if share is not None:
            store, pg_host = share.store, share.pg_host
        self.store = store or STORE
        self.pg_host = pg_host or PG_HOST
        assert self.store in STORES, "the store is %r, not one of %s" % (
            self.store, " ".join(STORES))
        self.dbname = None
        self.ha = None
        if share is not None:
            self.dbname, self.db = share.dbname, share.db
        elif self.store == "postgresql":
            self.dbname = new_database(self.dir, "crisisd", store=self.store,
                                       host=self.pg_host)
            self.db = pgstore.uri(self.pg_host, self.dbname)
        else:
            self.db = os.path.join(self.dir, "crisisd.db")
        if self.store == "postgresql" and ha is not False and PG_HA:
            self.ha = {"node": "e2e-%d-%d" % (os.getpid(), len(DAEMONS)),
                       "lease_ms": HA_LEASE_MS}
            self.ha.update(ha or {})
            self.ha["lease_ms"] = int(round(self.ha["lease_ms"] * SCALE))
        self.conf_path = os.path.join(self.dir, "crisisd.conf")
        self.log_path = os.path.join(self.dir, "crisisd.log")
        self.port = free_port()
        self.tls = None
        if tls:
            self.tls = dict(TLS_DEFAULTS)
            self.tls.update(tls if isinstance(tls, dict) else {})
            self.tls_dir = make_tls_files(os.path.join(self.dir, "tls"))
            self.tls_port = free_port()
        # The web console: http=True, or a dict of http group keys.
        self.http = None
        if http:
            self.http = {"session_idle_ms": 3600000}
            self.http.update(http if isinstance(http, dict) else {})
            self.http_port = free_port()
        self.tokens = dict(share.tokens) if share is not None else {}
        self.roles = dict(share.roles) if share is not None else {}
        # Extra environment for the daemon (NOTIFY_SOCKET, WATCHDOG_USEC...),
        # set after the inherited systemd variables are removed.
        self.env = {}
        self.proc = None
        self.clients = []
        self.stopped = False
        self._nclients = 0
        self.write_conf()
        if share is None:
            self.ctl("init")
        with _lock:
            DAEMONS.append(self)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.close(check=False)
        return False

    def tier_timeout(self, tier):
        """The (scaled) offer timeout of a tier, in ms."""
        for t, _, ms in self.conf["tiers"]:
            if t == tier:
                return ms
        raise KeyError(tier)

    def write_conf(self):
        """Write self.conf to the config file."""
        with open(self.conf_path, "w") as f:
            f.write(render_conf(self.conf, self.port, self.db))
            if self.tls is not None:
                f.write(render_tls_conf(self.tls, self.tls_port))
            if self.http is not None:
                f.write("http : {\n  listen = [ %s ];\n" % _conf_string(
                    "127.0.0.1:%d" % self.http_port))
                for k, v in self.http.items():
                    f.write("  %s = %s;\n" % (k, _conf_value(v)))
                f.write("};\n")
            if self.ha is not None:
                f.write("ha : {\n")
                for k, v in self.ha.items():
                    f.write("  %s = %s;\n" % (k, _conf_value(v)))
                f.write("};\n")

    # --- crisisctl ---

    def ctl(self, *args, check=True, env=None, use_conf=True, timeout=30,
            input=None):
        """Run crisisctl -c CONF ARGS; returns the CompletedProcess.

        input (text, or bytes for what text cannot hold) is its standard
        input; without it, crisisctl shares the test's.  Its output is
        text either way."""
        cmd = [CRISISCTL]
        if use_conf:
            cmd += ["-c", self.conf_path]
        cmd += [str(a) for a in args]
        full_env = dict(os.environ)
        full_env.pop("CRISISD_CONF", None)
        if env:
            full_env.update(env)
        if isinstance(input, bytes):
            p = subprocess.run(cmd, capture_output=True, input=input,
                               env=full_env, timeout=timeout)
            p.stdout = p.stdout.decode("utf-8", "replace")
            p.stderr = p.stderr.decode("utf-8", "replace")
        else:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               input=input, env=full_env, timeout=timeout)
        _log_traffic("crisisctl", "$", "%s -> %d" % (
            " ".join(shlex.quote(a) for a in cmd[1:]), p.returncode))
        if check:
            assert p.returncode == 0, (
                "crisisctl %s exited %d: %s" % (" ".join(cmd[1:]),
                                                p.returncode,
                                                p.stderr.strip()[-500:]))
        return p

    def ctl_json(self, *args):
        """Run crisisctl with --format json and parse stdout."""
        p = self.ctl(*args, "--format", "json")
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise AssertionError("crisisctl %s --format json printed no JSON "
                                 "(%s): %r" % (" ".join(args), e,
                                               p.stdout[:300]))

    def _token_cmd(self, pid, role, *args):
        """Run a command that prints a token alone; remember it."""
        p = self.ctl(*args)
        token = p.stdout.strip()
        assert token and "\n" not in token, (
            "token not alone on stdout: %r" % p.stdout)
        assert p.stdout == token + "\n", (
            "stdout is not the token and a newline: %r" % p.stdout)
        self.tokens[pid] = token
        self.roles[pid] = role
        return token

    def add_intake(self, pid):
        """An intake principal; returns its token."""
        return self._token_cmd(pid, "intake", "principal", "add", pid,
                               "--role", "intake")

    def add_supervisor(self, pid):
        """A supervisor principal; returns its token."""
        return self._token_cmd(pid, "supervisor", "principal", "add", pid,
                               "--role", "supervisor")

    def add_clinician(self, cid, tiers=(1,), name=None, languages=None,
                      skills=None, endpoint=None, start=None, end=None):
        """A clinician on call now (an hour back, four ahead) on tiers."""
        args = ["clinician", "add", cid, "--name", name or "Clin " + cid]
        if languages:
            args += ["--languages", languages]
        if skills:
            args += ["--skills", skills]
        args += ["--endpoint", endpoint or "sip:%s@pbx.example" % cid]
        token = self._token_cmd(cid, "clinician", *args)
        for tier in tiers:
            self.add_shift(cid, tier, start, end)
        return token

    def add_shift(self, cid, tier, start=None, end=None):
        """One shift; start and end are epoch seconds (default: around now)."""
        t = now()
        start = t - 3600 if start is None else start
        end = t + 4 * 3600 if end is None else end
        self.ctl("shift", "add", cid, "--tier", tier, "--from",
                 rfc3339(start), "--to", rfc3339(end))

    def add_patient(self, pid, primary, program=None):
        """A patient with a primary clinician."""
        args = ["patient", "add", pid, "--primary", primary]
        if program:
            args += ["--program", program]
        self.ctl(*args)

    # --- the daemon process ---

    def command(self, *extra):
        """The crisisd command line, with CRISISD_WRAPPER in front."""
        return WRAPPER + [CRISISD, "-c", self.conf_path] + list(extra)

    def start(self):
        """Start crisisd and wait until its port accepts connections."""
        for attempt in range(3):
            if self._start_once():
                if self.tls is not None:
                    self._wait_port(self.tls_port)
                if self.http is not None:
                    self._wait_port(self.http_port)
                return self
            self.port = free_port()
            if self.tls is not None:
                self.tls_port = free_port()
            if self.http is not None:
                self.http_port = free_port()
            self.write_conf()
        raise AssertionError("crisisd did not start:\n" + self.log_tail())

    def _start_once(self):
        """One start attempt; False if the port was taken meanwhile."""
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID",
                  "JOURNAL_STREAM", "CRISISD_CONF", "WATCHDOG_USEC"):
            env.pop(k, None)
        env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=env)
        # A new process to stop: close() and kill() must not skip it.
        self.stopped = False
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.log.close()
                tail = self.log_tail()
                if "in use" in tail.lower():
                    return False
                raise AssertionError("crisisd exited %d at start:\n%s" % (
                    rc, tail))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), 0.2)
                s.close()
                return True
            except OSError:
                time.sleep(0.02)
        raise AssertionError("crisisd did not accept on port %d within %.0fs"
                             % (self.port, 10 * SCALE))

    def _wait_port(self, port):
        """Wait until port accepts connections (the daemon is running)."""
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("crisisd did not accept on port %d" % port)

    def stop(self, timeout=5):
        """SIGTERM; assert it exits 0 within timeout seconds (scaled)."""
        if self.proc is None or self.stopped:
            return
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("crisisd did not exit within %.0fs of "
                                 "SIGTERM" % (timeout * SCALE))
        finally:
            self.log.close()
        assert rc == 0, "crisisd exited %d after SIGTERM" % rc

    def kill(self):
        """SIGKILL the daemon if it runs (no checks)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and not self.stopped:
            self.stopped = True
            self.log.close()

    def wait_exit(self, timeout):
        """Wait up to timeout seconds (scaled) for the daemon to exit by
        itself; its exit status, or None if it still runs."""
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            return None
        if not self.stopped:
            self.stopped = True
            self.log.close()
        return rc

    def alive(self):
        """Is the daemon process still running?"""
        return self.proc is not None and self.proc.poll() is None

    def close(self, check=True):
        """Close clients, stop the daemon (asserting a clean exit if check)."""
        for c in self.clients:
            c.close()
        if not check:
            self.kill()
            return
        if self.proc is not None and not self.stopped:
            rc = self.proc.poll()
            if rc is not None:
                self.stopped = True
                self.log.close()
                raise AssertionError("crisisd died during the test (exit "
                                     "%d)" % rc)
        self.stop()

    def log_tail(self, n=30):
        """The last n lines of the daemon's stderr."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no daemon log)"
        return "\n".join(lines[-n:])

    # --- clients ---

    def client(self, name=None, rcvbuf=None):
        """A new connection, no hello sent (rcvbuf: see connect())."""
        self._nclients += 1
        c = Client(self.port, name or "conn%d" % self._nclients, rcvbuf)
        self.clients.append(c)
        return c

    def tls_context(self, cert="client", version=None, ciphers=None):
        """A client context trusting the daemon's CA, with cert ("client",
        "rogue" or None) and, if given, only TLS version (ssl.TLSVersion).
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.tls_dir, "ca.crt"))
        if cert is not None:
            ctx.load_cert_chain(os.path.join(self.tls_dir, cert + ".crt"),
                                os.path.join(self.tls_dir, cert + ".key"))
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        if version is not None:
            ctx.minimum_version = version
            ctx.maximum_version = version
        return ctx

    def tls_client(self, name=None, cert="client", context=None,
                   rcvbuf=None):
        """A new TLS connection (handshake done), no hello sent."""
        self._nclients += 1
        c = TlsClient(self.tls_port, name or "tls%d" % self._nclients,
                      context or self.tls_context(cert), rcvbuf)
        self.clients.append(c)
        return c

    def tls_login(self, pid, role=None, cert="client", name=None,
                  rcvbuf=None):
        """A TLS connection with pid's hello done; expect welcome."""
        c = self.tls_client(name or pid, cert, rcvbuf=rcvbuf)
        c.hello(role or self.roles[pid], pid, self.tokens[pid])
        return c

    def login(self, pid, role=None, token=None, name=None, rcvbuf=None):
        """Connect, hello with pid's token and role; expect welcome."""
        c = self.client(name or pid, rcvbuf)
        c.hello(role or self.roles[pid], pid, token or self.tokens[pid])
        return c

    def clinician(self, cid, available=True, name=None):
        """A clinician logged in, and available unless told otherwise."""
        c = self.login(cid, name=name)
        if available:
            c.request({"type": "status", "status": "available"})
        return c

    def watcher(self, pid, name=None, rcvbuf=None):
        """A supervisor logged in and watching."""
        c = self.login(pid, name=name, rcvbuf=rcvbuf)
        c.request({"type": "watch"})
        return c

    # --- storage faults (tests/faults/faultfs.c, preloaded) ---

    def enable_faults(self, error="ENOSPC"):
        """Start crisisd (call before start()) with the fault shim preloaded.

        While self.fault_file exists, every write of the database, its -wal
        and its -journal fails with error (ENOSPC: the disk is full; or
        EIO); fault(True) and fault(False) switch it.  sync_fault() makes
        the WAL's syncs fail with EIO instead, and sync_delay() makes them
        slow.  crisisctl runs without the shim.
        """
        lib = faultfs_lib()
        self.fault_file = os.path.join(self.dir, "fault-on")
        self.sync_fault_file = os.path.join(self.dir, "sync-fault-on")
        self.sync_delay_file = os.path.join(self.dir, "sync-delay-ms")
        preload = os.environ.get("LD_PRELOAD", "")
        self.env["LD_PRELOAD"] = lib + (" " + preload if preload else "")
        self.env["CRISISD_FAULT_FILE"] = self.fault_file
        self.env["CRISISD_FAULT_SYNC_FILE"] = self.sync_fault_file
        self.env["CRISISD_FAULT_SYNC_DELAY_FILE"] = self.sync_delay_file
        self.env["CRISISD_FAULT_DB"] = self.db
        self.env["CRISISD_FAULT_ERRNO"] = error
        # An ASan crisisd refuses a library loaded before its runtime.
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
            "verify_asan_link_order=0"
        return self.fault_file

    def fault(self, on):
        """Make the database's disk fail (on) or work again (off)."""
        _log_traffic("faultfs", "!", "database writes %s" % (
            "FAIL" if on else "work"))
        self._switch(self.fault_file, on)

    def sync_fault(self, on):
        """Make every fsync/fdatasync of the WAL fail with EIO (on), or
        work again (off)."""
        _log_traffic("faultfs", "!", "WAL syncs %s" % (
            "FAIL" if on else "work"))
        self._switch(self.sync_fault_file, on)

    def sync_delay(self, ms):
        """Make every fsync/fdatasync of the WAL take ms longer (0: off)."""
        _log_traffic("faultfs", "!", "WAL syncs delayed %d ms" % ms)
        if ms > 0:
            with open(self.sync_delay_file + ".new", "w") as f:
                f.write("%d\n" % ms)
            os.replace(self.sync_delay_file + ".new", self.sync_delay_file)
        else:
            self._switch(self.sync_delay_file, False)

    @staticmethod
    def _switch(path, on):
        """Create (on) or remove (off) a fault's control file."""
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.unlink(path)

    # --- the database, whichever the store ---

    def new_database(self, label, create=True):
        """Another database of this store's: see new_database()."""
        return new_database(self.dir, label, create, self.store,
                            self.pg_host)

    def database_for(self, name):
        """The config's `database` value for new_database()'s name."""
        return database_for(name, self.store, self.pg_host)

    def sql(self, query, *params):
        """Run one statement (? for parameters) on the daemon's database;
        its rows as a list of tuples ([] for a statement without rows).
        SqlError if the database refuses it."""
        return self.sql_many([(query, params)], rows=True)

    def sql_on(self, database, query, *params):
        """sql() on another database, a name new_database() gave."""
        return run_sql(database, [(query, params)], True, self.store,
                       self.pg_host)

    def sql_many(self, statements, rows=False):
        """Run [(query, params)] in one transaction on the daemon's
        database; with rows, the last one's rows."""
        return run_sql(self.dbname or self.db, statements, rows, self.store,
                       self.pg_host)


# --- databases, whichever the store ---

# PostgreSQL databases made by this process, dropped when its test ends:
# (server's socket directory, name).
CREATED_DATABASES = []


def new_database(directory, label, create=True, store=None, host=None):
    """A database name of this store's (or store's), unique to this run: on
    PostgreSQL a new empty database (unless create is False) on the run's
    server (or the one at host), on SQLite a path in directory (never
    created here)."""
    if (store or STORE) != "postgresql":
        return os.path.join(directory, label + ".db")
    host = host or PG_HOST
    assert host, ("CRISISD_STORE=postgresql without CRISISD_PG_HOST: "
                  "run the tests through tests/e2e/run.py")
    name = "%s_%s" % (label, uuid.uuid4().hex[:16])
    if create:
        pgstore.createdb(host, name)
        with _lock:
            CREATED_DATABASES.append((host, name))
    return name


def database_for(name, store=None, host=None):
    """The config's `database` value for new_database()'s name."""
    if (store or STORE) != "postgresql":
        return name
    return pgstore.uri(host or PG_HOST, name)


def run_sql(database, statements, rows=False, store=None, host=None):
    """Run [(query, params)] (? for parameters) in one transaction on
    database (a name new_database() gave, of store's on host if given);
    with rows, the last statement's rows as a list of tuples.  SqlError if
    the database refuses one."""
    statements = [(q, tuple(p)) for q, p in statements]
    if (store or STORE) == "postgresql":
        try:
            return pgstore.run(host or PG_HOST, database, statements, rows)
        except pgstore.SqlError as e:
            raise SqlError(str(e)) from None
    # A read alone opens the file read-only, as crisisctl's readers do.
    first = statements[0][0].split(None, 1)[0].upper()
    readonly = len(statements) == 1 and (
        first in ("SELECT", "WITH", "VALUES") or
        (first == "PRAGMA" and "=" not in statements[0][0]))
    db = sqlite3.connect("file:%s?mode=%s" % (database,
                                              "ro" if readonly else "rw"),
                         uri=True, timeout=5 * SCALE)
    try:
        with db:
            cur = None
            for q, p in statements:
                cur = db.execute(q, p)
            return cur.fetchall() if rows else []
    except sqlite3.Error as e:
        raise SqlError(str(e)) from None
    finally:
        db.close()


# The private servers (PgServer) of this process, stopped when its test
# ends whatever happens.
SERVERS = []


class PgServer:
    """A PostgreSQL server of the test's own (pgstore.py), for what would
    disturb the other tests on the run's server, such as restarting it.
    Use as a context manager; self.host is its socket directory, for
    Daemon(pg_host=...)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="crisisd-pg-own-")
        with _lock:
            SERVERS.append(self)
        try:
            self.host = pgstore.start(self.dir)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def stop(self):
        """Stop the server (fast: its sessions are cut), keeping its data."""
        _log_traffic("postgresql", "!", "server stops")
        pgstore.stop(self.dir)

    def resume(self):
        """Start the stopped server again on the same data and socket."""
        pgstore.resume(self.dir)
        _log_traffic("postgresql", "!", "server serves again")

    def log_tail(self, n=20):
        """The last n lines of the server's log."""
        return pgstore.log_tail(self.dir, n)

    def close(self):
        """Stop the server and remove its directory (idempotent)."""
        with _lock:
            if self in SERVERS:
                SERVERS.remove(self)
        pgstore.stop(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_servers():
    """Stop every private server this test started (the runner calls it)."""
    for server in list(SERVERS):
        server.close()


def drop_databases():
    """Drop every database this test made (the runner calls it)."""
    with _lock:
        names = list(CREATED_DATABASES)
        del CREATED_DATABASES[:]
    for host, name in names:
        try:
            pgstore.dropdb(host, name)
        except pgstore.SqlError:
            pass


class Client:
    """One connection speaking the line protocol."""

    def __init__(self, port, name, rcvbuf=None):
        self.name = name
        self.sock = connect(port, rcvbuf)
        self.buf = b""
        self.queue = []
        self.eof = False
        self.reset = False
        self.closed = False
        self.nid = 0

    def close(self):
        """Close the socket (idempotent)."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    # --- sending ---

    def send_raw(self, data):
        """Send bytes as they are."""
        if isinstance(data, str):
            data = data.encode()
        _log_traffic(self.name, ">", data.decode("utf-8", "replace")
                     .rstrip("\n"))
        self.sock.sendall(data)

    def send(self, msg):
        """Send one message as a JSON line."""
        self.send_raw(json.dumps(msg, separators=(",", ":")) + "\n")

    def request(self, msg, expect="ok", timeout=None):
        """Send msg with an id and return its reply, asserting its type.

        The reply is the first reply-type message (REPLY_TYPES); it must
        echo the id.  Pushed messages read meanwhile stay queued.
        """
        msg = dict(msg)
        if "id" not in msg:
            self.nid += 1
            msg["id"] = "%s-%d" % (self.name, self.nid)
        self.send(msg)
        # An "assigned" without an id is no reply: it is the push that tells
        # a reconnected clinician its contact again.
        reply = self.expect(None, timeout,
                            where=lambda m: m.get("type") in REPLY_TYPES and
                            not (m.get("type") == "assigned" and
                                 "id" not in m))
        assert reply.get("id") == msg["id"], (
            "%s: reply to %s does not echo id %r: %s" % (
                self.name, msg.get("type"), msg["id"], reply["_raw"]))
        if expect is not None:
            assert reply.get("type") == expect, (
                "%s: sent %s, expected %s, got %s" % (
                    self.name, json.dumps(msg), expect, reply["_raw"]))
        return reply

    def error(self, msg, code, timeout=None):
        """Send msg and assert the reply is an error with code."""
        reply = self.request(msg, expect="error", timeout=timeout)
        assert reply.get("code") == code, (
            "%s: sent %s, expected error %s, got %s" % (
                self.name, json.dumps(msg), code, reply["_raw"]))
        assert isinstance(reply.get("message"), str) and reply["message"], (
            "error without a human message: %s" % reply["_raw"])
        return reply

    def hello(self, role, principal, token):
        """Say hello and expect welcome."""
        w = self.request({"type": "hello", "role": role,
                          "principal": principal, "token": token},
                         expect="welcome")
        assert w.get("role") == role and w.get("principal") == principal, (
            "welcome does not name role and principal: %s" % w["_raw"])
        assert str(w.get("server", "")).startswith("crisisd/"), (
            "welcome server is not crisisd/VERSION: %s" % w["_raw"])
        return w

    def ping(self, timeout=None):
        """Ping; proves the connection is still open and serving."""
        return self.request({"type": "ping"}, expect="pong", timeout=timeout)

    # --- receiving ---

    def _fill(self, deadline):
        """Read what is available until deadline; False on timeout."""
        if self.eof:
            return False
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
            self.reset = True
        if not data:
            self.eof = True
            _log_traffic(self.name, "<", "(closed%s)" % (
                " by reset" if self.reset else ""))
            return True
        self.buf += data
        return True

    def _next_line(self, deadline):
        """The next whole line as a message, or None on timeout or EOF."""
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                if self.eof or time.monotonic() >= deadline:
                    return None
        line, self.buf = self.buf.split(b"\n", 1)
        at = time.monotonic()
        text = line.decode("utf-8", "replace")
        _log_traffic(self.name, "<", text)
        try:
            msg = json.loads(text)
            assert isinstance(msg, dict)
        except (ValueError, AssertionError):
            msg = {"type": "<not a JSON object>"}
        msg["_at"] = at
        msg["_raw"] = text
        return msg

    @staticmethod
    def _matches(msg, type, where, fields):
        """Does msg have this type (None: any) and these field values?"""
        if type is not None and msg.get("type") != type:
            return False
        for k, v in fields.items():
            if k not in msg or msg[k] != v:
                return False
        return where is None or where(msg)

    def _describe_queue(self):
        """The queued messages, for an assertion message."""
        if not self.queue:
            return "nothing"
        return "; ".join(m["_raw"] for m in self.queue[-8:])

    def expect(self, type, timeout=None, where=None, **fields):
        """The first message (queued or new) of type with fields."""
        timeout = secs(2000) if timeout is None else timeout
        for i, m in enumerate(self.queue):
            if self._matches(m, type, where, fields):
                return self.queue.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._next_line(deadline)
            if m is None:
                break
            if self._matches(m, type, where, fields):
                return m
            self.queue.append(m)
        raise AssertionError("%s: expected %s%s within %.2fs; %s; unmatched: "
                             "%s" % (self.name, type or "a reply",
                                     " " + json.dumps(fields) if fields
                                     else "", timeout,
                                     "connection closed" if self.eof
                                     else "still open",
                                     self._describe_queue()))

    def expect_none(self, timeout=None, type=None, where=None, **fields):
        """Assert no message (of type with fields, if given) arrives."""
        timeout = secs(300) if timeout is None else timeout
        any_msg = type is None and where is None and not fields
        for m in self.queue:
            if any_msg or self._matches(m, type, where, fields):
                raise AssertionError("%s: expected no %s, but got %s" % (
                    self.name, type or "message", m["_raw"]))
        deadline = time.monotonic() + timeout
        while True:
            m = self._next_line(deadline)
            if m is None:
                if self.eof:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                if self.eof or time.monotonic() >= deadline:
                    break
                continue
            if any_msg or self._matches(m, type, where, fields):
                raise AssertionError("%s: expected no %s, but got %s" % (
                    self.name, type or "message", m["_raw"]))
            self.queue.append(m)

    def expect_eof(self, timeout=None):
        """Assert the daemon closes the connection, sending nothing more."""
        timeout = secs(2000) if timeout is None else timeout
        assert not self.queue, "%s: unread messages before close: %s" % (
            self.name, self._describe_queue())
        deadline = time.monotonic() + timeout
        while not self.eof:
            m = self._next_line(deadline)
            if m is not None:
                raise AssertionError("%s: expected the connection to close, "
                                     "got %s" % (self.name, m["_raw"]))
            if not self.eof and time.monotonic() >= deadline:
                raise AssertionError("%s: connection still open after %.2fs"
                                     % (self.name, timeout))
        assert not self.buf.strip(), "%s: partial line before close: %r" % (
            self.name, self.buf)

    def take(self, type=None):
        """Remove and return queued messages of type (all if None)."""
        got = [m for m in self.queue if type is None or m.get("type") == type]
        self.queue = [m for m in self.queue if m not in got]
        return got

    def collect(self, timeout, type=None, where=None, **fields):
        """Every matching message arriving within timeout (queued too)."""
        got = [m for m in self.queue if self._matches(m, type, where, fields)]
        self.queue = [m for m in self.queue if m not in got]
        deadline = time.monotonic() + timeout
        while True:
            m = self._next_line(deadline)
            if m is None:
                if self.eof or time.monotonic() >= deadline:
                    break
                continue
            if self._matches(m, type, where, fields):
                got.append(m)
            else:
                self.queue.append(m)
        return got


class TlsClient(Client):
    """One TLS connection speaking the line protocol (see Client).

    The handshake runs in the constructor and raises ssl.SSLError or
    OSError when the daemon refuses it.  A TLS error while reading counts
    as the connection closing, with self.tls_error keeping it; so does a
    close without close_notify (SSLEOFError).
    """

    def __init__(self, port, name, context, rcvbuf=None):
        self.name = name
        raw = connect(port, rcvbuf)
        try:
            # A close without close_notify shows as tls_error.
            self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1",
                                            suppress_ragged_eofs=False)
        except BaseException:
            raw.close()
            raise
        self.buf = b""
        self.queue = []
        self.eof = False
        self.reset = False
        self.closed = False
        self.nid = 0
        self.tls_error = None

    def _fill(self, deadline):
        """Read what is available until deadline; False on timeout.

        Bytes OpenSSL already decrypted do not show in select(), so those
        are taken first.
        """
        if self.eof:
            return False
        if not self.sock.pending():
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return True
        except (ssl.SSLError, ConnectionResetError) as e:
            data = b""
            self.reset = True
            self.tls_error = e
        if not data:
            self.eof = True
            _log_traffic(self.name, "<", "(closed%s)" % (
                " by %s" % self.tls_error if self.tls_error else ""))
            return True
        self.buf += data
        return True


# --- common flows ---

def submit(gw, ref, risk="moderate", channel="voice", **extra):
    """Send a contact; return (contact id, monotonic time just before send)."""
    msg = {"type": "contact", "ref": ref, "channel": channel, "risk": risk}
    msg.update(extra)
    t = time.monotonic()
    q = gw.request(msg, expect="queued")
    assert q.get("ref") == ref, "queued without its ref: %s" % q["_raw"]
    cid = q.get("contact")
    assert isinstance(cid, str) and 0 < len(cid.encode()) <= 64, (
        "queued contact id is not a string of at most 64 bytes: %s" % q["_raw"])
    return cid, t


def accept(clin, cid):
    """Accept an offered contact; returns the assigned message."""
    a = clin.request({"type": "accept", "contact": cid}, expect="assigned")
    assert a.get("contact") == cid, "assigned for another contact: %s" % (
        a["_raw"])
    return a


def complete(clin, cid, disposition="resolved", **extra):
    """Complete an assigned contact."""
    msg = {"type": "complete", "contact": cid, "disposition": disposition}
    if disposition == "emergency_dispatched" and "disclosure" not in extra:
        msg["disclosure"] = DISCLOSURE
    msg.update(extra)
    return clin.request(msg)


def expect_all(clients, type, timeout=None, **fields):
    """Each client gets a message of type with fields, all within timeout."""
    timeout = secs(2000) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    return {c.name: c.expect(type, max(0.0, deadline - time.monotonic()),
                             **fields) for c in clients}


def expect_none_all(clients, timeout=None, type=None, **fields):
    """No client gets a message of type with fields within timeout."""
    timeout = secs(300) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    for c in clients:
        c.expect_none(max(0.0, deadline - time.monotonic()), type, **fields)
    for c in clients:
        c.expect_none(0, type, **fields)


def ctl_bare(*args, env=None, timeout=30):
    """Run crisisctl with exactly these arguments (no -c added)."""
    full_env = dict(os.environ)
    full_env.pop("CRISISD_CONF", None)
    if env:
        full_env.update(env)
    p = subprocess.run([CRISISCTL] + [str(a) for a in args],
                       capture_output=True, text=True, env=full_env,
                       timeout=timeout)
    _log_traffic("crisisctl", "$", "%s -> %d" % (" ".join(
        shlex.quote(str(a)) for a in args), p.returncode))
    return p


def crisisd_bare(*args, env=None, timeout=30):
    """Run crisisd with exactly these arguments (for -t, --help...)."""
    full_env = dict(os.environ)
    for k in ("CRISISD_CONF", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    p = subprocess.run([CRISISD] + [str(a) for a in args],
                       capture_output=True, text=True, env=full_env,
                       timeout=timeout * SCALE)
    _log_traffic("crisisd", "$", "%s -> %d" % (" ".join(
        shlex.quote(str(a)) for a in args), p.returncode))
    return p


def log_rows(d, *args):
    """crisisctl log --format json as a list of rows."""
    rows = d.ctl_json("log", *args)
    assert isinstance(rows, list), "log --format json is not a list: %r" % (
        rows,)
    return rows


def row_id(row):
    """A log row's contact id."""
    return row.get("id", row.get("contact"))


def row_outcome(row):
    """A log row's outcome (state)."""
    return row.get("state", row.get("outcome"))


# --- a fake node, for the clients' tests ---

# What each kind of FakeNode answers to hello (its id is added).
FAKE_HELLO_REPLIES = {
    "standby": {"type": "error", "code": "unavailable",
                "message": "standby; active is b"},
    "refusing": {"type": "error", "code": "unauthorized",
                 "message": "bad token"},
    "dying": {"type": "welcome", "role": "intake", "principal": "gw",
              "server": "fake"},
}


class FakeNode(threading.Thread):
    """A crisisd node that a client's test needs and crisisd cannot play:
    a listening socket that answers every connection as kind says.

    standby:  answers hello with "unavailable" and closes (CONTRACT §10).
    dying:    welcomes, answers pings, and closes without a reply on the
              first "contact" (an active that dies before "queued").
    refusing: answers hello with "unauthorized" and closes.
    Every line received is kept, in order, in self.lines.
    """

    def __init__(self, kind):
        super().__init__(daemon=True)
        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.start()

    def address(self):
        return "127.0.0.1:%d" % self.port

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.serve(conn)

    def serve(self, conn):
        """One connection, as self.kind says."""
        f = conn.makefile("rb")
        conn.settimeout(60)
        try:
            hello = f.readline()
            self.lines.append(hello)
            reply = dict(FAKE_HELLO_REPLIES[self.kind],
                         id=json.loads(hello).get("id"))
            conn.sendall(json.dumps(reply).encode() + b"\n")
            while self.kind == "dying":
                line = f.readline()
                self.lines.append(line)
                msg = json.loads(line) if line else {"type": "contact"}
                if msg.get("type") == "contact":
                    break
                if msg.get("type") == "ping":
                    conn.sendall(json.dumps({"type": "pong", "id": msg.get(
                        "id")}).encode() + b"\n")
        except (OSError, ValueError):
            pass
        f.close()

    def close(self):
        self.sock.close()


if __name__ == "__main__":
    sys.exit("harness.py is a library; run tests/e2e/run.py")


# --- the daemon's memory, and clients read in bulk ---

def status_kb(pid, key):
    """A kB field (VmRSS, VmHWM) of /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def reset_hwm(pid):
    """Reset VmHWM to the current RSS (clear_refs 5); False if refused."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class BulkReader(threading.Thread):
    """Reads a client's socket in the background until stopped or closed,
    counting lines by type and bytes, and noting when bytes last came and
    when the first line of each type did; the client is usable again
    (through the harness) after stop()."""

    def __init__(self, c):
        super().__init__(daemon=True)
        self.c = c
        self.counts = {}
        self.first_at = {}
        self.bytes = 0
        self.last_at = time.monotonic()
        self.quit = threading.Event()
        self.lock = threading.Lock()

    def _take(self, line):
        try:
            t = json.loads(line).get("type")
        except (ValueError, AttributeError):
            t = "<not a JSON object>"
        self.counts[t] = self.counts.get(t, 0) + 1
        self.first_at.setdefault(t, time.monotonic())

    def run(self):
        c = self.c
        c.sock.settimeout(0.05)
        while not self.quit.is_set():
            try:
                data = c.sock.recv(1 << 20)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                data = b""
            if not data:
                c.eof = True
                _log_traffic(c.name, "<", "(closed while read in bulk)")
                break
            c.buf += data
            lines = c.buf.split(b"\n")
            c.buf = lines.pop()
            with self.lock:
                self.bytes += len(data)
                self.last_at = time.monotonic()
                for line in lines:
                    self._take(line)

    def count(self, type):
        """Lines of type read so far."""
        with self.lock:
            return self.counts.get(type, 0)

    def idle_for(self):
        """Seconds since the last bytes arrived."""
        with self.lock:
            return time.monotonic() - self.last_at

    def stop(self):
        """Stop reading; the client's socket gets its timeout back."""
        self.quit.set()
        self.join()
        self.c.sock.settimeout(5)
