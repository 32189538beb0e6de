"""Commits off the loop (issue 11): crisisd commits with synchronous=NORMAL
and a thread of its own fdatasyncs the WAL; nothing that depends on a
commit leaves before that sync.

The WAL's syncs are made to fail or to be slow by tests/faults/faultfs.c
(Daemon.sync_fault, Daemon.sync_delay).  What must hold: a failed sync ends
the daemon without the reply that waited for it, and after a restart
nothing acknowledged is missing; a slow sync holds the lines that depend
on it, and on the commits before it, and nothing else; per connection the
replies keep the order of the requests, each after its write is visible.
"""

import json
import select
import sqlite3
import statistics
import subprocess
import time

from harness import SCALE, Daemon, note, secs, sqlite_only, submit

# How long each WAL sync is made to take in the delay test.
DELAY_MS = 400


def contact_msg(ref, id, risk="moderate"):
    """A contact message with its request id."""
    return {"type": "contact", "ref": ref, "channel": "voice", "risk": risk,
            "id": id}


def pin_wal(d):
    """Keep the daemon's next commits appending to the WAL.

    SQLite syncs the WAL itself when a commit starts it over (its header),
    which would make the commit fail rather than the sync thread's
    fdatasync.  A reader whose snapshot includes frames not yet copied
    into the database keeps the WAL from starting over: this writes a row
    (so that there are such frames) and opens a read transaction on them.
    Returns the connection; closing it lets the WAL start over again.
    """
    db = sqlite3.connect(d.db, timeout=5 * SCALE, isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("INSERT INTO meta(key, value) VALUES ('test_pin', 1)"
               " ON CONFLICT(key) DO UPDATE SET value = value + 1")
    db.execute("BEGIN")
    db.execute("SELECT count(*) FROM contacts").fetchall()
    return db


def read_replies(wanted, timeout):
    """The replies {id: message} to the requests wanted ({id: client}),
    reading every client's socket as data arrives, so that each reply's
    "_at" is when it came.  Other messages stay queued."""
    clients = set(wanted.values())
    got, deadline = {}, time.monotonic() + timeout
    while True:
        for c in clients:
            while b"\n" in c.buf:
                m = c._next_line(deadline)
                if m.get("id") in wanted:
                    got[m["id"]] = m
                else:
                    c.queue.append(m)
        if len(got) == len(wanted):
            return got
        left = deadline - time.monotonic()
        assert left > 0 and not any(c.eof for c in clients), (
            "replies %s of %s within %.1f s" % (sorted(got), sorted(wanted),
                                                timeout))
        socks = {c.sock: c for c in clients}
        ready, _, _ = select.select(list(socks), [], [], left)
        for s in ready:
            socks[s]._fill(deadline)


@sqlite_only("the WAL's fdatasync made to fail (faultfs)")
def test_failed_wal_sync_ends_daemon_and_loses_nothing_acked():
    """With every fdatasync of the WAL failing (EIO, after 200 ms), a
    gateway's contact gets no `queued`: crisisd exits non-zero, naming the
    failed sync.
    Started again with the disk working, the contact is either stored or
    not, never acknowledged and lost: if it is stored, sending the same ref
    again gets `queued` with that contact's id."""
    with Daemon() as d:
        d.add_intake("gw")
        d.enable_faults()
        d.start()
        gw = d.login("gw")
        submit(gw, "sync-before")
        pin = pin_wal(d)
        try:
            # Slow as well as failing: a reply sent before the sync ended
            # would have 200 ms to arrive.
            d.sync_delay(200)
            d.sync_fault(True)
            gw.send(contact_msg("sync-lost", "during-fault"))
            try:
                rc = d.proc.wait(secs(5000))
            except subprocess.TimeoutExpired:
                raise AssertionError("crisisd still runs 5 s after its WAL "
                                     "sync failed:\n" + d.log_tail())
        finally:
            pin.close()
        replies = gw.collect(secs(200), id="during-fault")
        assert not [r for r in replies if r.get("type") == "queued"], (
            "queued sent although its sync failed: %s" % replies)
        assert rc != 0, "crisisd exited 0 after a failed WAL sync"
        tail = d.log_tail()
        assert "could not be synced" in tail and "fdatasync" in tail, (
            "the exit does not name the failed sync:\n" + tail)
        note("exit %d, replies to the contact: %s; log: %s" % (
            rc, [r.get("type") for r in replies], tail.splitlines()[-1]))
        d.kill()

        d.sync_fault(False)
        d.sync_delay(0)
        d.start()
        gw = d.login("gw")
        stored = d.sql("SELECT id FROM contacts WHERE ref = 'sync-lost'")
        cid, _ = submit(gw, "sync-lost")
        if stored:
            assert [(cid,)] == stored, (
                "stored as %s, queued again as %s" % (stored, cid))
        note("after the restart the contact was %s" % (
            "stored, and its resend queued with its id" if stored else
            "not stored, and its resend queued it"))


def test_pipelined_replies_keep_order_each_after_its_write():
    """A gateway pipelines 500 contacts and 50 pings in one write.  The
    replies come in the order of the requests, and each `queued` arrives
    once its contact is visible to a separate reader of the database."""
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        gw = d.login("gw")
        order, lines = [], []
        for i in range(500):
            order.append("c%d" % i)
            lines.append(contact_msg("pipe-%d" % i, "c%d" % i))
            if i % 10 == 9:
                order.append("p%d" % i)
                lines.append({"type": "ping", "id": "p%d" % i})
        gw.send_raw("".join(json.dumps(m) + "\n" for m in lines))
        got, deadline = [], time.monotonic() + secs(20000)
        while len(got) < len(order):
            m = gw._next_line(deadline)
            assert m is not None, "replies stopped after %d of %d" % (
                len(got), len(order))
            if "id" not in m:
                continue
            got.append(m["id"])
            if m["id"].startswith("c"):
                assert m.get("type") == "queued", m["_raw"]
                rows = d.sql("SELECT ref FROM contacts WHERE id = ?",
                             m["contact"])
                assert rows == [("pipe-%s" % m["id"][1:],)], (
                    "queued %s for %s before it was visible: %r" % (
                        m["contact"], m["id"], rows))
            else:
                assert m.get("type") == "pong", m["_raw"]
        assert got == order, "replies out of order: first difference at %d" % (
            next(i for i, (a, b) in enumerate(zip(got, order)) if a != b))


@sqlite_only("the WAL's fdatasync made slow (faultfs)")
def test_slow_sync_holds_what_depends_on_it():
    """Every WAL sync takes 400 ms more.  With nothing pending, a ping
    is answered at once (a turn that wrote nothing needs no sync).  A
    contact's `queued` does not arrive before its sync has ended.  The
    same ref sent meanwhile on a second connection of the gateway finds
    the contact committed but not yet on disk: its `queued` is held for
    the same sync, not sent first."""
    with Daemon() as d:
        d.add_intake("gw")
        d.enable_faults()
        d.start()
        gw = d.login("gw")
        gw2 = d.login("gw", name="gw2")
        submit(gw, "slow-before")
        d.sync_delay(DELAY_MS)
        try:
            rtts = []
            for _ in range(5):
                t = time.monotonic()
                gw2.ping()
                rtts.append((time.monotonic() - t) * 1000)
            t0 = time.monotonic()
            gw.send(contact_msg("slow-1", "first"))
            # The contact is committed within this wait, its sync is not.
            gw.expect_none(timeout=DELAY_MS / 4000.0, id="first")
            gw2.send(contact_msg("slow-1", "again"))
            got = read_replies({"first": gw, "again": gw2}, secs(5000))
            first, again = got["first"], got["again"]
        finally:
            d.sync_delay(0)
        took = (first["_at"] - t0) * 1000
        note("idle pings %s ms; queued after %.0f ms, the resend's %.0f ms "
             "after the first's" % (
                 ", ".join("%.1f" % r for r in rtts), took,
                 (again["_at"] - first["_at"]) * 1000))
        assert statistics.median(rtts) < DELAY_MS / 4, (
            "pings with nothing pending took %s ms" % rtts)
        assert took >= DELAY_MS * 0.9, (
            "queued %.0f ms after the contact, its sync takes %d ms" % (
                took, DELAY_MS))
        assert first.get("type") == again.get("type") == "queued", (
            first["_raw"], again["_raw"])
        assert again["contact"] == first["contact"], (first, again)
        assert again["_at"] - t0 >= DELAY_MS * 0.9 / 1000, (
            "the resend's queued came %.0f ms after the contact, before "
            "the contact's sync (%d ms) ended" % (
                (again["_at"] - t0) * 1000, DELAY_MS))
