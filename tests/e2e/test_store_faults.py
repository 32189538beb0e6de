"""CONTRACT §5: when the store cannot commit, nothing goes silent (issue 10).

The database's disk is made to fail by tests/faults/faultfs.c, preloaded
into crisisd (Daemon.enable_faults): while its control file exists, every
write and sync of the database, its -wal and its -journal fails with ENOSPC,
as on a full disk; crisisctl runs without it.  And another process holds
SQLite's write lock for 2 s.

What must hold meanwhile: every request whose write failed gets `internal`,
replies that need no write are sent as usual, no offer is sent twice, a
contact still overflows at max_wait_ms (the step is written once the disk
works again), the errors are logged without a flood, and the event loop
never waits on the lock for long.
"""

import os
import statistics
import subprocess
import sys
import time

from harness import (SCALE, Daemon, accept, assert_timing, note, secs,
                     sleep_ms, sqlite_only, submit)

UNKNOWN_CID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
SLOW = 20000  # an offer timeout that never fires during a test


def contact_msg(ref, risk="high", **extra):
    """A contact message (no id: request() adds one)."""
    msg = {"type": "contact", "ref": ref, "channel": "voice", "risk": risk}
    msg.update(extra)
    return msg


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v))) - 1))]


def offers_for(c, cid, timeout):
    """The offers of cid c received so far and within timeout (taken from
    its queue); other messages stay queued."""
    return c.collect(timeout, type="offer", contact=cid)


@sqlite_only("the SQLite file's writes made to fail (faultfs)")
def test_store_failure_every_request_answered():
    """While the database's writes fail (disk full): `ping` gets `pong`; a
    new `contact` gets `internal`; an `accept` of an offer made before the
    fault gets `internal`, not silence, and so do a `decline` and a
    `status away` whose writes fail; `not_found` and `conflict`, which need
    no write, still arrive; no clinician is sent the offer a second time.
    When the disk works again the same offer is accepted and routed, and
    the refused contact, sent again, is queued (it was not stored)."""
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=3 * SLOW) as d:
        d.add_intake("gw")
        for cid in ("c1", "c2", "c3"):
            d.add_clinician(cid, tiers=(1,))
        d.enable_faults()
        d.start()
        c1, c2 = d.clinician("c1"), d.clinician("c2")
        c3 = d.clinician("c3", available=False)
        gw = d.login("gw")
        a, _ = submit(gw, "fault-a")
        for c in (c1, c2):
            c.expect("offer", contact=a)
        offers = {"c1": 1, "c2": 1}

        d.fault(True)
        for c in (gw, c1, c2, c3):
            c.ping()
        gw.error(contact_msg("fault-b"), "internal")
        gw.error({"type": "abandon", "contact": UNKNOWN_CID}, "not_found")
        c3.error({"type": "accept", "contact": a}, "conflict")
        c1.error({"type": "accept", "contact": a}, "internal")
        c2.error({"type": "decline", "contact": a}, "internal")
        c2.error({"type": "status", "status": "away"}, "internal")
        for c in (gw, c1, c2, c3):
            c.ping()
        for c in (c1, c2):
            offers[c.name] += len(offers_for(c, a, secs(500)))
        assert offers == {"c1": 1, "c2": 1}, (
            "offers of A after the failed writes: %s" % offers)
        assert d.alive(), "crisisd died on a full disk"

        d.fault(False)
        t = time.monotonic()
        accept(c1, a)
        note("accept of A answered %.0f ms after the disk came back" % (
            (time.monotonic() - t) * 1000))
        r = gw.expect("routed", contact=a)
        assert r.get("clinician") == "c1", r["_raw"]
        b, _ = submit(gw, "fault-b")
        rows = d.sql("SELECT id FROM contacts WHERE ref = 'fault-b'")
        assert rows == [(b,)], "fault-b stored as %r" % (rows,)
        for c in (c1, c2):
            offers[c.name] += len(offers_for(c, a, secs(300)))
        assert offers == {"c1": 1, "c2": 1}, (
            "offers of A over the whole test: %s" % offers)


@sqlite_only("the SQLite file's writes made to fail (faultfs)")
def test_overflow_deadline_kept_while_store_fails():
    """A contact queued before the disk fails, and not answered, overflows
    at max_wait_ms while the disk is still failing: the gateway gets
    `overflow` on time, and the clinician it rang can no longer accept it.
    The failure is logged at `error`, a few lines, not one per attempt.
    Once the disk works again, `crisisctl show` has the overflow within a
    few seconds and new contacts are queued as usual."""
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=2000,
                log_level="error") as d:
        d.add_intake("gw")
        d.add_clinician("c1", tiers=(1,))
        d.enable_faults()
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        cid, t_queued = submit(gw, "deadline-1")
        c1.expect("offer", contact=cid)
        mark = os.path.getsize(d.log_path)
        d.fault(True)
        t_fault = time.monotonic()
        gw.error(contact_msg("deadline-2"), "internal")
        deadline = t_queued + d.conf["max_wait_ms"] / 1000.0
        ov = gw.expect("overflow", contact=cid,
                       timeout=max(0.0, deadline - time.monotonic()) +
                       secs(2000))
        assert_timing("overflow while the disk fails", ov["_at"], deadline)
        assert ov.get("target") == "tel:988", ov["_raw"]
        # The caller went to 988: nobody may be assigned the contact now.
        r = c1.request({"type": "accept", "contact": cid}, expect=None)
        assert r.get("type") == "error" and r.get("code") in (
            "conflict", "internal"), (
                "accept after the overflow, disk failing: %s" % r["_raw"])
        sleep_ms(1000)
        assert d.alive(), "crisisd died on a full disk"
        with open(d.log_path, "rb") as f:
            f.seek(mark)
            during = f.read().decode("utf-8", "replace").splitlines()
        fault_s = time.monotonic() - t_fault
        note("%d log lines at error in the %.1f s the disk failed; first: %s"
             % (len(during), fault_s, during[:1]))
        assert during, "nothing logged at error while the disk failed"
        assert len(during) <= 50, (
            "%d error lines in %.1f s: not rate limited; the first ones:\n%s"
            % (len(during), fault_s, "\n".join(during[:10])))

        d.fault(False)
        t_ok = time.monotonic()
        while True:
            shown = d.ctl_json("show", cid)
            events = [e.get("event") for e in shown.get("events", [])]
            if shown.get("state") == "overflow" and "overflow" in events:
                break
            assert time.monotonic() - t_ok < secs(3000), (
                "%.1f s after the disk came back, crisisctl show has state "
                "%s and events %s" % (time.monotonic() - t_ok,
                                      shown.get("state"), events))
            time.sleep(0.1)
        note("overflow recorded %.0f ms after the disk came back" % (
            (time.monotonic() - t_ok) * 1000))
        submit(gw, "deadline-3")
        submit(gw, "deadline-2", risk="high")


LOCKER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
print("released", flush=True)
"""

# On PostgreSQL the daemon's every write transaction first updates its
# row of crisisd_commits: a table lock on it held elsewhere is the same
# wall as SQLite's write lock.  psql prints each \echo as it runs.
PG_LOCKER = r"""
BEGIN;
LOCK TABLE crisisd_commits IN EXCLUSIVE MODE;
\echo locked
DO $$ BEGIN PERFORM pg_sleep(%s); END $$;
ROLLBACK;
\echo released
"""


def hold_write_lock(d, seconds):
    """A process that holds d's database against the daemon's writes for
    seconds: it prints "locked" once it holds it, "released" after."""
    if d.store == "sqlite":
        return subprocess.Popen([sys.executable, "-c", LOCKER, d.db,
                                 str(seconds)], stdout=subprocess.PIPE,
                                text=True)
    p = subprocess.Popen(["psql", "-X", "-q", "-t", "-v", "ON_ERROR_STOP=1",
                          d.db], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write(PG_LOCKER % float(seconds))
    p.stdin.close()
    return p


def test_held_write_lock_does_not_stall_loop():
    """Another process holds the database's write lock (BEGIN IMMEDIATE)
    for 2 s.  Pings every 10 ms on one connection keep their round trip
    under 250 ms (p99 under 150 ms); a contact sent meanwhile gets a reply,
    `queued` or `internal`, within 1 s; after the lock is released new
    contacts are queued as usual."""
    hold_s = secs(2000)
    with Daemon() as d:
        d.add_intake("gw")
        d.add_supervisor("sup")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        d.clinician("c1")
        gw = d.login("gw")
        pinger = d.login("sup", name="pinger")
        submit(gw, "lock-0")
        locker = hold_write_lock(d, hold_s)
        try:
            assert locker.stdout.readline().strip() == "locked", (
                "the lock holder did not take the lock")
            t_lock = time.monotonic()
            rtts, reply, t_sent = [], None, None
            while time.monotonic() - t_lock < hold_s + 0.2:
                tick = time.monotonic()
                if t_sent is None and tick - t_lock >= secs(300):
                    gw.send(dict(contact_msg("lock-1"), id="during-lock"))
                    t_sent = tick
                pinger.ping(timeout=secs(5000))
                rtts.append((time.monotonic() - tick) * 1000)
                if t_sent is not None and reply is None:
                    got = gw.collect(0, id="during-lock")
                    reply = got[0] if got else None
                time.sleep(max(0.0, 0.01 - (time.monotonic() - tick)))
            released = locker.stdout.readline().strip()
            locker.wait(secs(5000))
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
        assert released == "released", "the lock holder failed: %r" % (
            released,)
        if reply is None:
            reply = gw.expect(None, timeout=secs(5000), id="during-lock")
        took = (reply["_at"] - t_sent) * 1000
        p99 = percentile(rtts, 99)
        note("write lock held %.1f s: %d pings, p50 %.1f ms, p99 %.1f ms, "
             "max %.1f ms" % (hold_s, len(rtts), statistics.median(rtts),
                              p99, max(rtts)))
        note("slowest pings (ms): %s; %d over 50 ms" % (
            ", ".join("%.0f" % r for r in sorted(rtts)[-5:][::-1]),
            sum(1 for r in rtts if r > 50)))
        note("contact sent under the lock: %s after %.0f ms" % (
            reply.get("code", reply.get("type")), took))
        assert reply.get("type") == "queued" or (
            reply.get("type") == "error" and reply.get("code") ==
            "internal"), "contact under the lock: %s" % reply["_raw"]
        assert took <= 1000 * SCALE, (
            "the contact sent under the lock was answered after %.0f ms" %
            took)
        assert max(rtts) < 250 * SCALE, (
            "a ping took %.1f ms while the lock was held (limit %d)" % (
                max(rtts), 250 * SCALE))
        assert p99 < 150 * SCALE, (
            "ping p99 %.1f ms while the lock was held (limit %d)" % (
                p99, 150 * SCALE))
        cid, _ = submit(gw, "lock-2")
        if reply.get("type") == "queued":
            rows = d.sql("SELECT id FROM contacts WHERE ref = 'lock-1'")
            assert rows == [(reply.get("contact"),)], (
                "lock-1 was queued as %s, stored %r" % (
                    reply.get("contact"), rows))
        else:
            again, _ = submit(gw, "lock-1")
            note("lock-1 sent again after the lock: queued as %s" % again)


def test_short_lock_is_waited_out_not_refused():
    """A write lock held by another process for 300 ms, longer than the
    daemon ever waits at once (100 ms): a contact sent meanwhile is tried
    again a little later, not refused, and gets `queued` once the lock is
    free; it is stored once.  An `accept` meanwhile is also answered as
    usual."""
    with Daemon(tiers=[(1, "ring-all", 3000)], max_wait_ms=9000) as d:
        d.add_intake("gw")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        a, _ = submit(gw, "short-a")
        c1.expect("offer", contact=a)
        # 300 ms of real time, not scaled: the daemon's retries (about
        # half a second of them) are real time too.
        locker = hold_write_lock(d, 0.3)
        try:
            assert locker.stdout.readline().strip() == "locked"
            t = time.monotonic()
            gw.send(dict(contact_msg("short-b"), id="under-lock"))
            c1.send({"type": "accept", "contact": a, "id": "acc"})
            r = gw.expect(None, id="under-lock", timeout=secs(3000))
            took = (time.monotonic() - t) * 1000
            acc = c1.expect(None, id="acc", timeout=secs(3000))
            assert locker.stdout.readline().strip() == "released"
            locker.wait(secs(5000))
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
        note("contact sent under a 300 ms lock: %s after %.0f ms" % (
            r.get("type"), took))
        assert r.get("type") == "queued", r["_raw"]
        assert acc.get("type") == "assigned", acc["_raw"]
        rows = d.sql("SELECT count(*) FROM contacts WHERE ref = 'short-b'")
        assert rows == [(1,)], rows
        gw.expect("routed", contact=a)
