"""Active/standby crisisd on one PostgreSQL database (CONTRACT §10, #15).

Two crisisd share a database; the clients here do what a gateway or a
clinician's client must: try one address, and on `unavailable`, a closed
connection or a refused connect, the next; send again every contact not
yet `queued` (same ref), say `status available` again, acknowledge the
results.  The failover test is the crash test's load (tests/crash) with
two addresses, its verdict read from the shared database.
"""

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import harness
from harness import (Daemon, accept, complete, note, postgresql_only, secs,
                     sleep_ms, submit)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crash"))

import crashcheck  # noqa: E402
import crashload  # noqa: E402
import crashtest  # noqa: E402


def status(d):
    """crisisctl status --format json, through d's config."""
    return d.ctl_json("status")


def wait_status(d, node, timeout):
    """Poll crisisctl status until it says node serves; the status."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = status(d)
        if last.get("serving") and last.get("active") == node:
            return last
        time.sleep(0.05)
    raise AssertionError("status did not name %s as serving within %.1fs: "
                         "%s" % (node, timeout, json.dumps(last)))


def expect_unavailable(d, pid, active_node):
    """A hello to d (a standby) gets unavailable naming active_node, and
    the connection closes."""
    c = d.client(pid + "@standby")
    e = c.error({"type": "hello", "role": d.roles[pid], "principal": pid,
                 "token": d.tokens[pid]}, "unavailable")
    assert e.get("message") == "standby; active is %s" % active_node, (
        "unavailable does not name the active node %s: %s" % (
            active_node, e["_raw"]))
    c.expect_eof()
    return e


def hello_until_welcome(d, pid, timeout):
    """Say hello to d again and again (a new connection each time) until
    it is welcomed; (client, monotonic time of the welcome)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        c = d.client(pid)
        c.send({"type": "hello", "role": d.roles[pid], "principal": pid,
                "token": d.tokens[pid], "id": "h"})
        try:
            m = c.expect(None, max(0.05, deadline - time.monotonic()))
        except AssertionError as e:
            last = str(e)
            c.close()
            continue
        if m.get("type") == "welcome":
            return c, m["_at"]
        last = m["_raw"]
        c.close()
        time.sleep(0.02)
    raise AssertionError("%s was not welcomed within %.1fs; last: %s" % (
        d.conf_path, timeout, last))


# Timers long enough that a contact waits through a handover unrouted.
PATIENT = {"tiers": [(1, "ring-all", 5000), (2, "ring-all", 5000)],
           "max_wait_ms": 20000, "imminent_max_wait_ms": 20000}
# One tier, and offers that wait for the script's clinician.
PATIENT_SHORT = {"tiers": [(1, "ring-all", 5000)], "max_wait_ms": 20000,
                 "imminent_max_wait_ms": 20000, "continuity_ms": 0}


@postgresql_only("two crisisd on one database")
def test_standby_answers_unavailable():
    """A standby turns every hello away naming the active node; SIGTERM
    hands the lease over at once."""
    a = Daemon(ha={"node": "node-a"}, **PATIENT)
    a.add_intake("gw")
    a.add_clinician("c1")
    a.start()
    b = Daemon(share=a, ha={"node": "node-b"}, **PATIENT)
    b.start()
    gw = a.login("gw")
    st = wait_status(a, "node-a", secs(2000))
    assert st.get("store") == "postgresql", st
    assert isinstance(st.get("epoch"), int) and st["epoch"] >= 1, st
    assert 0 <= st.get("lease_age_ms", -1) <= a.ha["lease_ms"], st
    assert 0 < st.get("expires_in_ms", 0) <= a.ha["lease_ms"], st
    harness.parse_rfc3339(st.get("since"))
    # Every role is turned away alike, before any credential matters.
    expect_unavailable(b, "gw", "node-a")
    expect_unavailable(b, "c1", "node-a")
    c = b.client("stranger")
    c.error({"type": "hello", "role": "intake", "principal": "nobody",
             "token": "wrong"}, "unavailable")
    c.expect_eof()
    clin = a.clinician("c1")
    cid, _ = submit(gw, "ref-1", risk="high")
    clin.expect("offer", contact=cid)

    # SIGTERM: the gateway sees its connection end and closes it, as a
    # gateway does, and moves to B, which serves once A has handed the
    # lease back.
    t0 = time.monotonic()
    a.proc.send_signal(signal.SIGTERM)
    for c in (gw, clin):
        c.expect_eof()
        c.close()
    gw2, welcomed = hello_until_welcome(b, "gw", secs(3000))
    handover = (welcomed - t0) * 1000
    note("handover after SIGTERM: %.0f ms to a welcome at the standby"
         % handover)
    a.stop()
    assert handover <= 1000 * harness.SCALE, (
        "the standby took %.0f ms to serve after the active's SIGTERM" %
        handover)
    st2 = wait_status(b, "node-b", secs(1000))
    assert st2["epoch"] > st["epoch"], "the epoch did not move on: %s" % st2
    # The contact queued at A goes on at B, as after a restart: its open
    # offer is sent again.
    clin = b.clinician("c1")
    clin.expect("offer", contact=cid)
    accept(clin, cid)
    gw2.expect("routed", contact=cid, clinician="c1")
    b.close()


# --- failover under load: the crash test's load, two daemons ---

# The crash test's short timers, with waits long enough that a contact
# can outlast a takeover.
FAILOVER_CONFIG = dict(crashtest.CONFIG, max_wait_ms=3000,
                       imminent_max_wait_ms=2000)

# The failover test: kills, clients, contacts per second (all intakes),
# the random pause (s, scaled) between one takeover and the next kill.
FAILOVER_KILLS = 20
FAILOVER_INTAKES = 2
FAILOVER_CLINICIANS = 4
FAILOVER_RATE = 4.0
KILL_GAP_S = (0.3, 1.5)
# Every how many kills the killed node is restarted at once (it then
# takes its own lease back, as a node that restarts does) rather than
# once the standby has taken over.
RESTART_AT_ONCE_EVERY = 4
# Seconds (scaled) for every contact to end after the last kill.
FAILOVER_DRAIN_S = 20
# What a node logs when the lease becomes its own.
LEASE_TAKEN = "holds the lease now"
# How often (s) the killer reads the daemons' logs while it waits.
WATCH_S = 0.01
# Every other kill comes while a request is in flight (unanswered), if one
# is within this many seconds (scaled), so that replies are lost.
IN_FLIGHT_WAIT_S = 2.0


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(1, int(-(-p * len(ordered) // 100)))
    return ordered[rank - 1]


class LogWatch:
    """The lines a daemon logs from now on (its log file grows; a
    restarted daemon appends to it)."""

    def __init__(self, d):
        self.path = d.log_path
        self.pos = os.path.getsize(self.path)
        self.part = b""

    def lines(self):
        """The whole lines logged since the last call."""
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        data = self.part + data
        *whole, self.part = data.split(b"\n")
        return [l.decode("utf-8", "replace") for l in whole]


class HaIntake(crashload.Intake):
    """A gateway that sends contacts until the last kill is over."""

    async def submit_all(self, mean_gap_s):
        """Submit contacts at random intervals until the kills end."""
        while not self.load.kills_done:
            await asyncio.sleep(self.rng.expovariate(1.0 / mean_gap_s))
            ref = "%s-ref-%06d" % (self.name, self.submitted)
            self.submitted += 1
            self.ncontacts = self.submitted
            self.load.spawn(self.submit(ref))


class FailoverLoad(crashload.Load):
    """The crash test's clients on two daemons' addresses, and a killer
    that SIGKILLs whichever is active and times the takeover."""

    intake_class = HaIntake
    ack_results = True

    def __init__(self, daemons, intakes, clinicians, patients, seed):
        super().__init__(daemons[0], intakes, clinicians, patients, seed)
        self.daemons = daemons
        self.active = daemons[0]
        self.kills_done = False
        self.killed_in_flight = 0
        # Welcomes (monotonic time, port) while a takeover is timed.
        self.welcomes = None
        # One dict per kill: how, lease_ms, welcome_ms.
        self.takeovers = []

    def ports(self):
        """Both daemons' ports, the clients starting anywhere."""
        return [d.port for d in self.daemons]

    def welcomed(self, link, port):
        """Note welcomes while a takeover is being timed."""
        if self.welcomes is not None:
            self.welcomes.append((time.monotonic(), port))

    async def fail_over(self, loop, at_once):
        """SIGKILL the active; restart it at once, or once another node
        holds the lease; time the lease's move and the first welcome."""
        victim = self.active
        watches = {d: LogWatch(d) for d in self.daemons}
        limit = secs(victim.ha["lease_ms"] + 10000) / harness.SCALE
        self.welcomes = []
        t0 = time.monotonic()
        victim.kill()
        self.kills += 1
        restart = self.spawn(self._restart(loop, victim)) if at_once else None
        holder, unseen = None, t0
        while holder is None and time.monotonic() < t0 + limit:
            checked = time.monotonic()
            for d, w in watches.items():
                if any(LEASE_TAKEN in l for l in w.lines()):
                    holder, lease_at = d, time.monotonic()
            if holder is None:
                unseen = checked
                await asyncio.sleep(WATCH_S)
        if holder is None:
            self.restart_failure = "kill %d: no node took the lease within " \
                "%.1f s" % (self.kills, limit)
            return False
        if restart is None:
            restart = self.spawn(self._restart(loop, victim))
        # The first welcome at the new active; one that the victim sent
        # just before it died arrives before the lease could move.
        welcome_at = None
        while welcome_at is None and time.monotonic() < t0 + limit:
            seen = [t for t, p in self.welcomes if p == holder.port and
                    t >= unseen]
            if seen:
                welcome_at = seen[0]
            else:
                await asyncio.sleep(WATCH_S)
        self.welcomes = None
        if not await restart:
            return False
        if welcome_at is None:
            self.restart_failure = "kill %d: nobody was welcomed within " \
                "%.1f s" % (self.kills, limit)
            return False
        self.takeovers.append({
            "how": "restarted" if holder is victim else "standby",
            "lease_ms": (lease_at - t0) * 1000,
            "welcome_ms": (welcome_at - t0) * 1000})
        self.active = holder
        return True

    async def in_flight(self):
        """Wait (a while at most) until some request is unanswered."""
        deadline = time.monotonic() + IN_FLIGHT_WAIT_S * harness.SCALE
        while time.monotonic() < deadline:
            if any(c.link.pending for c in self.intakes + self.clinicians):
                self.killed_in_flight += 1
                return
            await asyncio.sleep(0.001)

    async def kill_all(self, kills):
        """Kill the active kills times at random moments."""
        loop = asyncio.get_running_loop()
        try:
            for i in range(kills):
                await asyncio.sleep(self.rng.uniform(*KILL_GAP_S) *
                                    harness.SCALE)
                if i % 2:
                    await self.in_flight()
                at_once = i % RESTART_AT_ONCE_EVERY == \
                    RESTART_AT_ONCE_EVERY - 1
                if not await self.fail_over(loop, at_once):
                    return
        finally:
            self.kills_done = True

    async def run_failover(self, kills, rate, drain_s, poll):
        """Clients, contacts and kills; then wait for every contact to
        end.  True if everything settled in time."""
        return await self.run_with(len(self._intake_specs) / rate,
                                   lambda: self.kill_all(kills), drain_s, poll)


def takeover_figures(takeovers, key, how=None):
    """'p50 N ms, p99 N ms, max N ms (n)' of one measure, or None."""
    values = [t[key] for t in takeovers if how is None or t["how"] == how]
    if not values:
        return None, "none"
    return percentile(values, 99), "p50 %.0f ms, p99 %.0f ms, max %.0f ms " \
        "(%d)" % (percentile(values, 50), percentile(values, 99),
                  max(values), len(values))


@postgresql_only("two crisisd on one database")
def test_failover_under_load():
    """SIGKILL the active 20 times under load: nothing acknowledged is
    lost or duplicated, nothing routed twice, every contact ends, and a
    standby serves within lease_ms + 2 s."""
    t0 = time.monotonic()
    seed = int.from_bytes(os.urandom(4), "big")
    note("seed %d" % seed)
    a = Daemon(ha={"node": "node-a"}, **FAILOVER_CONFIG)
    intakes = [("gw%d" % (i + 1), a.add_intake("gw%d" % (i + 1)), 0)
               for i in range(FAILOVER_INTAKES)]
    clinicians = []
    for i in range(FAILOVER_CLINICIANS):
        name = "c%02d" % (i + 1)
        clinicians.append((name, a.add_clinician(
            name, tiers=crashtest.clinician_tiers(i))))
    patients = ["p1", "p2"]
    for i, p in enumerate(patients):
        a.add_patient(p, clinicians[i][0])
    a.start()
    b = Daemon(share=a, ha={"node": "node-b"}, **FAILOVER_CONFIG)
    b.start()
    wait_status(a, "node-a", secs(2000))
    load = FailoverLoad([a, b], intakes, clinicians, patients, seed)

    async def go():
        try:
            return await load.run_failover(
                FAILOVER_KILLS, FAILOVER_RATE * harness.SCALE,
                secs(FAILOVER_DRAIN_S * 1000), lambda: crashcheck.poll_db(a))
        finally:
            await load.close()

    drained = asyncio.run(go())
    stop_errors = []
    for d in (load.active, b if load.active is a else a):
        try:
            d.stop()
        except AssertionError as e:
            stop_errors.append("%s: %s" % (d.ha["node"], e))
    v = crashcheck.verdict(a, load, "; ".join(stop_errors) or None, drained,
                           time.monotonic() - t0)
    lease_ms = a.ha["lease_ms"]
    limit = lease_ms + 2000 * harness.SCALE
    p99, text = takeover_figures(load.takeovers, "welcome_ms")
    v.figure("takeover", "SIGKILL to the first welcome: %s" % text)
    v.figure("by the standby", takeover_figures(
        load.takeovers, "welcome_ms", "standby")[1])
    v.figure("by the restarted", takeover_figures(
        load.takeovers, "welcome_ms", "restarted")[1])
    v.figure("lease moved", "SIGKILL to the lease taken: %s" %
             takeover_figures(load.takeovers, "lease_ms")[1])
    v.figure("turned away", "%d hellos at a standby" % load.turned_away)
    v.figure("killed in flight", "%d kills with a request unanswered" %
             load.killed_in_flight)
    v.check("takeover p99 within lease_ms + 2 s (%d ms)" % limit,
            [] if p99 is not None and p99 <= limit else
            ["p99 %s ms" % p99])
    v.check("%d kills" % FAILOVER_KILLS,
            [] if len(load.takeovers) == FAILOVER_KILLS else
            ["%d takeovers timed" % len(load.takeovers)])
    for name, value in v.figures:
        note("%s: %s" % (name, value))
    failed = v.failed()
    assert not failed, "%d of %d failover checks failed\n%s" % (
        len(failed), len(v.checks), "\n".join(v.lines()))


# --- fencing: an active paused past its lease wakes up to find it gone ---

# What a node that finds its lease taken logs as it exits: a write
# refused ("...; stepping down") or a renewal refused by the sync thread
# ("commits could not be made durable: the lease moved on...; stopping"),
# whichever comes first.
STEPPED_DOWN = "the lease moved on"
# All a woken old active may send before it exits: errors (what needed
# no write could go too, but nothing here is such).
AFTER_WAKING = ("error",)


@postgresql_only("two crisisd on one database")
def test_fencing_after_sigstop():
    """SIGSTOP the active past its lease; the standby takes over and the
    clinicians accept there; on SIGCONT the old active finds its writes
    refused and exits 1 without sending anything that depended on them."""
    a = Daemon(ha={"node": "node-a"}, **PATIENT)
    a.add_intake("gw")
    for c in ("c1", "c2"):
        a.add_clinician(c)
    a.start()
    b = Daemon(share=a, ha={"node": "node-b"}, **PATIENT)
    b.start()
    lease_s = a.ha["lease_ms"] / 1000.0
    wait_status(a, "node-a", secs(2000))
    gw = a.login("gw", name="gw@a")
    c1 = a.clinician("c1", name="c1@a")
    c2 = a.clinician("c2", name="c2@a")
    x1, _ = submit(gw, "ref-1")
    x2, _ = submit(gw, "ref-2")
    for c in (c1, c2):
        for x in (x1, x2):
            c.expect("offer", contact=x)
    accept(c1, x1)
    gw.expect("routed", contact=x1, clinician="c1")
    c2.expect("withdrawn", contact=x1, reason="taken")

    # A stops; what the clients send it now waits in its sockets: an
    # accept, a complete and a new contact, each needing a write.  What A
    # sent before is read first, so that what comes later is from after.
    for c in (gw, c1, c2):
        c.collect(secs(200))
    a.proc.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        c2.send({"type": "accept", "contact": x2, "id": "late-accept"})
        c1.send({"type": "complete", "contact": x1,
                 "disposition": "resolved", "id": "late-complete"})
        gw.send({"type": "contact", "ref": "ref-3", "channel": "voice",
                 "risk": "high", "id": "late-contact"})
        st = wait_status(b, "node-b", lease_s + secs(2000))
        took = time.monotonic() - stopped_at
        note("SIGSTOP to B serving (status): %.0f ms" % (took * 1000))

        # The clients move to B: the clinicians are available again, the
        # gateway sends its unanswered contact again, and they accept at
        # B what they had been offered at A, and the new one.
        c1b, _ = hello_until_welcome(b, "c1", secs(2000))
        c1b.name = "c1@b"
        c1b.expect("assigned", contact=x1)
        c1b.request({"type": "status", "status": "available"})
        c2b = b.clinician("c2", name="c2@b")
        c2b.expect("offer", contact=x2)
        gwb = b.login("gw", name="gw@b")
        x3, _ = submit(gwb, "ref-3", risk="high")
        c2b.expect("offer", contact=x3)
        accept(c2b, x2)
        gwb.expect("routed", contact=x2, clinician="c2")
        complete(c1b, x1)
        c1b.expect("offer", contact=x3)
        accept(c1b, x3)
        gwb.expect("routed", contact=x3, clinician="c1")
        # Twice the lease at least, however long the above took.
        time.sleep(max(0.0, stopped_at + 2 * lease_s - time.monotonic()))
    finally:
        a.proc.send_signal(signal.SIGCONT)
    woke = time.monotonic()
    rc = a.wait_exit(5)
    assert rc is not None, "the old active still runs 5 s after SIGCONT"
    note("SIGCONT to exit: %.0f ms" % ((time.monotonic() - woke) * 1000))
    assert rc == 1, "the old active exited %d, not 1" % rc
    why = [l for l in a.log_tail(200).splitlines() if STEPPED_DOWN in l]
    assert why, "the old active did not log that it stepped down:\n%s" % (
        a.log_tail(10))
    note("the old active: %s" % why[-1][why[-1].index(STEPPED_DOWN):])

    # What the old connections got after the SIGSTOP: nothing that
    # depended on a refused write.
    late = {}
    for c in (gw, c1, c2):
        got = c.collect(secs(500))
        late[c.name] = [m["_raw"] for m in got]
        bad = [m["_raw"] for m in got if m.get("type") not in AFTER_WAKING]
        assert not bad, "%s got from the woken old active: %s" % (
            c.name, bad)
        assert c.eof, "%s: the old active's connection is still open" % (
            c.name)
    note("old connections after SIGCONT: %s" % json.dumps(late))

    # Across both daemons: one assignment per contact, one result each.
    rows = b.sql("SELECT contact, clinician FROM contact_events WHERE "
                 "event = 'assigned' ORDER BY contact, seq")
    by_contact = {}
    for cid, clin in rows:
        by_contact.setdefault(cid, []).append(clin)
    assert by_contact == {x1: ["c1"], x2: ["c2"], x3: ["c1"]}, (
        "assigned events: %s" % by_contact)
    routed = {}
    for c in (gw, gwb):
        for m in c.take("routed"):
            routed.setdefault(m["contact"], set()).add(m["clinician"])
    assert all(len(v) == 1 for v in routed.values()), (
        "a contact routed to two clinicians: %s" % routed)
    assert set(b.sql("SELECT id, state FROM contacts")) == {
        (x1, "completed"), (x2, "assigned"), (x3, "assigned")}
    b.close()


# --- the database restarts under an active crisisd ---

# A lease long enough for the server's restart to fit in it, and a
# contact's wait that ends while the server is down.
RESTART_LEASE_MS = 10000
RESTART_CONFIG = {"tiers": [(1, "ring-all", 10000)], "max_wait_ms": 2000,
                  "imminent_max_wait_ms": 2000}
# How late (ms, scaled) an overflow may come while the store is down.
OUTAGE_LATE_MS = 500
# The background gateway: a contact every this many seconds, and the
# pause after an error before the same ref is sent again.
BACKGROUND_GAP_S = 0.15
BACKGROUND_RETRY_S = 0.1


class Background(threading.Thread):
    """A gateway that sends contacts until stopped, each ref again after
    an error until it is queued; what it was told is kept."""

    def __init__(self, d, pid):
        super().__init__(daemon=True)
        self.gw = d.login(pid, name=pid)
        self.quit = threading.Event()
        self.queued = {}     # ref -> contact id
        self.errors = []     # error replies (codes)
        self.problem = None  # what ended the thread early

    def run(self):
        n = 0
        try:
            while not self.quit.is_set():
                ref = "bg-%04d" % n
                n += 1
                while not self.quit.is_set():
                    r = self.gw.request({"type": "contact", "ref": ref,
                                         "channel": "chat", "risk": "low"},
                                        expect=None, timeout=secs(5000))
                    if r["type"] == "queued":
                        self.queued[ref] = r["contact"]
                        break
                    self.errors.append(r.get("code"))
                    time.sleep(BACKGROUND_RETRY_S)
                time.sleep(BACKGROUND_GAP_S)
        except (AssertionError, OSError) as e:
            self.problem = str(e)

    def stop(self):
        """Stop sending; the client is the test's again."""
        self.quit.set()
        self.join()


@postgresql_only("the PostgreSQL server restarts")
def test_database_restart_mid_load():
    """The server restarts under an active crisisd: an overflow deadline
    that passes meanwhile is kept, requests that need a write fail and
    then work again, the record catches up, and crisisd never exits."""
    with harness.PgServer() as server:
        a = Daemon(pg_host=server.host, ha={"lease_ms": RESTART_LEASE_MS},
                   **RESTART_CONFIG)
        for pid in ("gw", "gw-bg"):
            a.add_intake(pid)
        a.add_clinician("c1")
        a.start()
        clin = a.clinician("c1")
        gw = a.login("gw")
        bg = Background(a, "gw-bg")
        bg.start()
        time.sleep(secs(500))
        max_wait = a.conf["max_wait_ms"]

        x, queued_at = submit(gw, "ref-x")
        down_at = time.monotonic()
        server.stop()
        note("server stopped in %.0f ms" % (
            (time.monotonic() - down_at) * 1000))
        assert time.monotonic() < queued_at + max_wait / 1000.0, (
            "the server took too long to stop for the test to mean "
            "anything")
        # A caller waits for nobody's record: overflow at max_wait.
        o = gw.expect("overflow", timeout=max_wait / 1000.0 + secs(2000),
                      contact=x)
        harness.assert_timing("overflow while the database is down",
                              o["_at"], queued_at + max_wait / 1000.0,
                              late_ms=OUTAGE_LATE_MS)
        gw.request({"type": "ack", "contact": x}, expect=None)
        # A request that needs a write is refused, not left unanswered.
        r = gw.request({"type": "contact", "ref": "ref-y",
                        "channel": "voice", "risk": "high"}, expect=None,
                       timeout=secs(3000))
        note("a contact while the database is down: %s" % r["_raw"])
        assert r["type"] == "error" and r["code"] == "internal", r["_raw"]
        assert a.alive(), "crisisd exited while the database was down"
        server.resume()
        note("outage: %.0f ms" % ((time.monotonic() - down_at) * 1000))

        # Back: requests succeed again, routing goes on.
        y, _ = submit(gw, "ref-y", risk="high")
        clin.expect("offer", contact=y, timeout=secs(3000))
        accept(clin, y)
        gw.expect("routed", contact=y, clinician="c1")
        bg.stop()
        assert bg.problem is None, "the background gateway: %s" % (
            bg.problem)
        note("background: %d queued, errors %s" % (
            len(bg.queued), sorted(set(bg.errors))))
        # The record catches up: the overflow is written.
        deadline = time.monotonic() + secs(5000)
        while time.monotonic() < deadline:
            rows = a.sql("SELECT state FROM contacts WHERE id = ?", x)
            if rows == [("overflow",)]:
                break
            time.sleep(0.1)
        assert rows == [("overflow",)], "contact %s is %s" % (x, rows)
        events = [e for (e,) in a.sql(
            "SELECT event FROM contact_events WHERE contact = ? ORDER BY "
            "seq", x)]
        assert events.count("overflow") == 1 and events[0] == "queued", (
            events)
        stored = dict(a.sql("SELECT ref, id FROM contacts WHERE intake = ?",
                            "gw-bg"))
        lost = {r: c for r, c in bg.queued.items() if stored.get(r) != c}
        assert not lost, "queued but not stored as told: %s" % lost
        assert a.alive(), "crisisd exited after the database came back"
        a.close()


# --- crisisctl gives the same answers on both stores ---

# The keys whose values are measured durations (they differ run to run).
DURATION_KEYS = ("median", "p90", "p50", "p99", "average", "mean", "max",
                 "min")


def _normalise(value, ids, key=""):
    """value with contact ids named by the script's refs, times and
    measured durations replaced by placeholders."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[ids.get(k, k)] = _normalise(v, ids, k)
        return out
    if isinstance(value, list):
        return [_normalise(v, ids, key) for v in value]
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        try:
            harness.parse_rfc3339(value)
            return "<time>"
        except (ValueError, AssertionError):
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
            (key.endswith("_ms") or key in DURATION_KEYS):
        return "<ms>"
    return value


def scripted_history(d):
    """The same few contacts on d, one at a time: {ref: contact id}."""
    gw = d.login("gw")
    c1 = d.clinician("c1")
    ids = {}
    # Routed and completed, with a disposition and notes.
    ids["ref-a"], _ = submit(gw, "ref-a", risk="moderate",
                             caller="+15550001", program="adult")
    c1.expect("offer", contact=ids["ref-a"])
    accept(c1, ids["ref-a"])
    gw.expect("routed", contact=ids["ref-a"])
    complete(c1, ids["ref-a"], "safety_plan", notes="plan made")
    # An emergency disclosure.
    sleep_ms(d.conf["wrapup_ms"] + 100)
    ids["ref-b"], _ = submit(gw, "ref-b", risk="imminent",
                             caller="+15550002", channel="text")
    c1.expect("offer", contact=ids["ref-b"])
    accept(c1, ids["ref-b"])
    gw.expect("routed", contact=ids["ref-b"])
    complete(c1, ids["ref-b"], "emergency_dispatched")
    # Declined by the only clinician: overflow; a callback is owed.
    sleep_ms(d.conf["wrapup_ms"] + 100)
    ids["ref-c"], _ = submit(gw, "ref-c", risk="low", caller="+15550003")
    c1.expect("offer", contact=ids["ref-c"])
    c1.request({"type": "decline", "contact": ids["ref-c"],
                "reason": "busy"})
    gw.expect("overflow", contact=ids["ref-c"])
    # The caller hangs up: abandoned; a callback is owed, then made.
    ids["ref-d"], _ = submit(gw, "ref-d", risk="high", caller="+15550004",
                             channel="chat")
    c1.expect("offer", contact=ids["ref-d"])
    gw.request({"type": "abandon", "contact": ids["ref-d"]})
    c1.expect("withdrawn", contact=ids["ref-d"])
    for cid in (ids["ref-a"], ids["ref-b"], ids["ref-c"]):
        gw.request({"type": "ack", "contact": cid})
    owed = d.ctl_json("followups")
    assert len(owed) == 2, "followups: %s" % owed
    mine = [f for f in owed if ids["ref-d"] in json.dumps(f)]
    assert len(mine) == 1, "no followup for the abandoned contact: %s" % owed
    fid = mine[0].get("id")
    d.ctl("followup", "close", fid, "--by", "c1", "--note", "called back")
    return ids


def ctl_answers(d, ids):
    """What crisisctl says about the history, normalised."""
    names = {cid: "<%s>" % ref for ref, cid in ids.items()}
    out = {"log": d.ctl_json("log"), "stats": d.ctl_json("stats"),
           "followups": d.ctl_json("followups"),
           "disclosures": d.ctl_json("disclosures")}
    for ref, cid in sorted(ids.items()):
        out["show " + ref] = d.ctl_json("show", cid)
    return _normalise(out, names)


def differences(a, b, path=""):
    """[(path, a's value, b's value)] where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += differences(a.get(k, "<absent>"), b.get(k, "<absent>"),
                               "%s.%s" % (path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += differences(x, y, "%s[%d]" % (path, i))
        return out
    return [] if a == b else [(path, a, b)]


def test_same_answers_on_both_stores():
    """crisisctl log, show, stats, followups and disclosures answer alike
    on SQLite and on PostgreSQL for the same history."""
    if not harness.PG_HOST:
        harness.skip("no PostgreSQL server in this run (the postgresql "
                     "run compares both stores)")
    answers = {}
    for store in ("sqlite", "postgresql"):
        d = Daemon(store=store, **PATIENT_SHORT)
        d.add_intake("gw")
        d.add_clinician("c1")
        d.start()
        ids = scripted_history(d)
        answers[store] = ctl_answers(d, ids)
        d.close()
    differ = []
    for what in answers["sqlite"]:
        differ += ["%s%s: sqlite %s, postgresql %s" % (
            what, path, json.dumps(a), json.dumps(b)) for path, a, b in
            differences(answers["sqlite"][what],
                        answers["postgresql"][what])]
    assert not differ, "crisisctl answers differ between the stores:\n%s" % (
        "\n".join(differ))
    note("compared: %s" % ", ".join(sorted(answers["sqlite"])))
