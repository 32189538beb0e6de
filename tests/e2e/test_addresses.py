"""CONTRACT §10 from the clients' side: crisis-sim given several addresses.

crisisd's standby mode is not needed to test the clients: a fake node
(harness.FakeNode) answers hello as a standby does ("unavailable", then
close), or welcomes and then drops the connection as an active that dies
does, and
two real daemons on copies of one database stand for an active and the
node that takes over.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

from harness import (ROOT, SCALE, Daemon, FakeNode, accept, note,
                     postgresql_only, secs, sqlite_only, submit)

SIM = str(ROOT / "tools" / "crisis-sim")


class Sim:
    """crisis-sim as a process, its output read by a thread."""

    def __init__(self, *args):
        self.out = []
        self.proc = subprocess.Popen(
            [sys.executable, SIM] + [str(a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            self.out.append(line.rstrip("\n"))

    def text(self):
        return "\n".join(self.out)

    def wait_for(self, what, pattern, timeout):
        """Until a line of output matches pattern (a regex)."""
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            # The whole output, so that a pattern may span lines.
            if re.search(pattern, self.text(), re.M):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("crisis-sim: no %s; output:\n%s" % (
            what, self.text()[-3000:]))

    def wait(self, timeout):
        """The exit status, within timeout seconds."""
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("crisis-sim did not finish; output:\n%s"
                                 % self.text()[-3000:])
        self.reader.join(5)
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)


def twin(d1, **overrides):
    """A second daemon whose SQLite file is a copy of d1's (not started),
    so that the same principals and tokens work on both, as on two nodes
    of one database."""
    d2 = Daemon(**overrides)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(d2.db + suffix):
            os.unlink(d2.db + suffix)
        if os.path.exists(d1.db + suffix):
            shutil.copy(d1.db + suffix, d2.db + suffix)
    d2.tokens, d2.roles = dict(d1.tokens), dict(d1.roles)
    return d2


def test_sim_intake_skips_a_standby():
    """Given [standby, active], the gateway is told "unavailable" by the
    first, says so, moves on, is welcomed by the second and its contact is
    queued and routed there."""
    standby = FakeNode("standby")
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("dr1")
        d.start()
        clin = d.clinician("dr1")
        sim = Sim("intake", "--principal", "gw", "--token=" + d.tokens["gw"],
                  "--address", standby.address(),
                  "--address", "127.0.0.1:%d" % d.port, "--timeout", "20")
        try:
            offer = clin.expect("offer", timeout=secs(10000))
            accept(clin, offer["contact"])
            rc = sim.wait(20)
        finally:
            sim.stop()
        assert rc == 0, "crisis-sim exited %d:\n%s" % (rc, sim.text())
        want = r"-> 127\.0\.0\.1:%d \(%s: standby; active is b\)" % (
            d.port, re.escape(standby.address()))
        assert re.search(want, sim.text()), sim.text()
        assert "1 routed" in sim.text(), sim.text()
        assert b'"hello"' in standby.lines[0], standby.lines
    standby.close()


def test_sim_intake_sends_again_what_was_not_queued():
    """An active that welcomes and dies before "queued": the gateway moves
    to the next address and sends the same contact with the same ref,
    which is queued and routed there."""
    dying = FakeNode("dying")
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("dr1")
        d.start()
        clin = d.clinician("dr1")
        sim = Sim("intake", "--principal", "gw", "--token=" + d.tokens["gw"],
                  "--address", "%s,127.0.0.1:%d" % (dying.address(), d.port),
                  "--timeout", "20")
        try:
            offer = clin.expect("offer", timeout=secs(10000))
            assigned = accept(clin, offer["contact"])
            rc = sim.wait(20)
        finally:
            sim.stop()
        assert rc == 0, "crisis-sim exited %d:\n%s" % (rc, sim.text())
        lost = [l for l in dying.lines if b'"contact"' in l]
        assert len(lost) == 1, dying.lines
        ref = re.search(rb'"ref":"([^"]+)"', lost[0]).group(1).decode()
        assert assigned.get("ref") == ref, (assigned, ref)
        assert "connection closed by crisisd" in sim.text(), sim.text()
        assert re.search(r"-> 127\.0\.0\.1:%d \(%s: connection closed\)" % (
            d.port, re.escape(dying.address())), sim.text()), sim.text()
    dying.close()


@sqlite_only("two nodes as two daemons on copies of one SQLite file")
def test_sim_moves_when_the_active_stops():
    """Two daemons on copies of one database.  The first stops: the
    clinician goes to the second and is available there again, the
    supervisor watches there again, and the gateway's next contact is
    queued there and routed to the clinician."""
    d1 = Daemon()
    d1.add_intake("gw")
    d1.add_supervisor("sup")
    d1.add_clinician("dr1")
    d2 = twin(d1)
    d1.start()
    d2.start()
    addrs = "127.0.0.1:%d,127.0.0.1:%d" % (d1.port, d2.port)
    clin = Sim("clinician", "--principal", "dr1", "--token=" + d1.tokens["dr1"],
               "--address", addrs, "--accept-after", "0.1",
               "--complete-after", "0.2")
    watch = Sim("watch", "--principal", "sup", "--token=" + d1.tokens["sup"],
                "--address", addrs)
    gw = None
    try:
        clin.wait_for("available on the first", r"<- ok", 10)
        watch.wait_for("watching on the first", r"<- ok", 10)
        d1.stop()
        clin.wait_for("a move to the second", r"-> 127\.0\.0\.1:%d "
                      r"\(127\.0\.0\.1:%d: connection closed\)" % (
                          d2.port, d1.port), 10)
        # The clinician is away after the new welcome until it says so.
        gw = d2.login("gw")
        t0 = time.monotonic()
        while True:
            snap = d2.login("sup").request({"type": "snapshot"},
                                           expect="snapshot")
            if any(c.get("status") == "available"
                   for c in snap.get("clinicians") or []):
                break
            assert time.monotonic() - t0 < 10 * SCALE, (
                "dr1 not available on the second daemon:\n" + clin.text())
            time.sleep(0.1)
        note("clinician available on the second daemon %.0f ms after the "
             "first stopped" % ((time.monotonic() - t0) * 1000))
        cid, _ = submit(gw, "after-stop")
        routed = gw.expect("routed", timeout=secs(10000), contact=cid)
        assert routed.get("clinician") == "dr1", routed
        watch.wait_for("events on the second", r"event %s assigned" %
                       re.escape(cid), 10)
        assert watch.text().count("snapshot:") >= 2, watch.text()
    finally:
        clin.stop()
        watch.stop()
        d1.close(check=False)
        d2.close()


@sqlite_only("two nodes as two daemons on copies of one SQLite file")
def test_sim_intake_moves_between_contacts():
    """The gateway's first contact is routed by the first daemon; that
    daemon stops; the second contact goes to the second daemon: both have
    their outcome and the run ends well."""
    d1 = Daemon()
    d1.add_intake("gw")
    d1.add_clinician("dr1")
    d2 = twin(d1)
    d1.start()
    d2.start()
    c1 = d1.clinician("dr1")
    sim = Sim("intake", "--principal", "gw", "--token=" + d1.tokens["gw"],
              "--address", "127.0.0.1:%d" % d1.port,
              "--address", "127.0.0.1:%d" % d2.port,
              "--contacts", "2", "--interval", str(3 * SCALE),
              "--timeout", "30")
    try:
        offer = c1.expect("offer", timeout=secs(10000))
        accept(c1, offer["contact"])
        sim.wait_for("the first result acked", r"<- ok", 10)
        d1.stop()
        c2 = d2.clinician("dr1")
        offer = c2.expect("offer", timeout=secs(15000))
        accept(c2, offer["contact"])
        rc = sim.wait(20)
        assert rc == 0, "crisis-sim exited %d:\n%s" % (rc, sim.text())
        assert "2 contacts: 2 routed" in sim.text(), sim.text()
    finally:
        sim.stop()
        d1.close(check=False)
        d2.close()


def test_sim_gives_up_on_a_refused_hello():
    """unauthorized would be the same on every node: no walk, exit 1."""
    refusing = FakeNode("refusing")
    standby = FakeNode("standby")
    sim = Sim("watch", "--principal", "sup", "--token=x",
              "--address", "%s,%s" % (refusing.address(), standby.address()))
    try:
        rc = sim.wait(10)
    finally:
        sim.stop()
    assert rc == 1, "exit %d:\n%s" % (rc, sim.text())
    assert "hello refused: unauthorized" in sim.text(), sim.text()
    assert standby.lines == [], standby.lines
    refusing.close()
    standby.close()


def test_sim_keeps_trying_through_a_takeover():
    """Every node answers "unavailable" for a while (a takeover under
    way): the gateway keeps walking, with pauses between rounds, and is
    welcomed once a node is active; with nothing listening at all, it
    fails at once as with one address."""
    standby = FakeNode("standby")
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("dr1")
        port = d.port
        sim = Sim("intake", "--principal", "gw", "--token=" + d.tokens["gw"],
                  "--address", "%s,127.0.0.1:%d" % (standby.address(), port),
                  "--timeout", "20")
        try:
            sim.wait_for("a round with a pause", r"-> %s \(127\.0\.0\.1:%d"
                         % (re.escape(standby.address()), port), 10)
            time.sleep(1.0)
            d.start()
            assert d.port == port, "the daemon moved to another port"
            clin = d.clinician("dr1")
            offer = clin.expect("offer", timeout=secs(10000))
            accept(clin, offer["contact"])
            rc = sim.wait(20)
        finally:
            sim.stop()
        assert rc == 0, "crisis-sim exited %d:\n%s" % (rc, sim.text())
        rounds = sim.text().count("-> %s (" % standby.address())
        # 200 ms doubling to 2 s: a handful of rounds in about a second.
        assert 1 <= rounds <= 8, sim.text()
        note("%d rounds before the daemon started" % rounds)
    standby.close()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    sim = Sim("watch", "--principal", "sup", "--token=x", "--address",
              "127.0.0.1:%d,127.0.0.1:%d" % (dead.getsockname()[1],
                                             dead.getsockname()[1]))
    try:
        rc = sim.wait(5)
    finally:
        sim.stop()
        dead.close()
    assert rc == 1 and "is crisisd running?" in sim.text(), sim.text()


@postgresql_only("a real standby needs several crisisd on one database")
def test_sim_follows_a_real_takeover():
    """Node a active, node b its standby on the same database.  Given
    [b, a], the clinician and the gateway are told "unavailable" by b and
    welcomed by a; the first contact is routed there.  a stops; b takes
    the lease over; both move to b, the clinician goes available again,
    and the second contact, sent while no node served, is queued and
    routed by b."""
    a = Daemon(ha={"node": "a", "lease_ms": 1500})
    a.add_intake("gw")
    a.add_clinician("dr1")
    b = Daemon(ha={"node": "b", "lease_ms": 1500})
    b.db, b.dbname = a.db, a.dbname
    b.tokens, b.roles = dict(a.tokens), dict(a.roles)
    b.write_conf()
    a.start()
    b.start()
    addrs = "127.0.0.1:%d,127.0.0.1:%d" % (b.port, a.port)
    clin = Sim("clinician", "--principal", "dr1", "--token=" + a.tokens["dr1"],
               "--address", addrs, "--accept-after", "0.1",
               "--complete-after", "0.2")
    gw = None
    try:
        clin.wait_for("available on a", r"<- ok", 10)
        assert re.search(r"-> 127\.0\.0\.1:%d \(127\.0\.0\.1:%d: standby; "
                         r"active is a\)" % (a.port, b.port), clin.text()), (
                             clin.text())
        gw = Sim("intake", "--principal", "gw", "--token=" + a.tokens["gw"],
                 "--address", addrs, "--contacts", "2", "--interval",
                 str(1.0 * SCALE), "--timeout", "40")
        gw.wait_for("the first contact routed", r"<- routed", 10)
        t0 = time.monotonic()
        a.stop()
        gw.wait_for("a welcome from b", r"server=crisisd\S* id=\d+$"
                    r"(?s:.*)connection closed(?s:.*)<- welcome", 1)
        rc = gw.wait(40)
        note("both contacts routed %.1f s after node a stopped" % (
            time.monotonic() - t0))
        assert rc == 0, "crisis-sim exited %d:\n%s" % (rc, gw.text())
        assert "2 contacts: 2 routed" in gw.text(), gw.text()
        assert clin.text().count("-> status status=available") >= 2, (
            clin.text())
    finally:
        clin.stop()
        if gw is not None:
            gw.stop()
        a.close(check=False)
        b.close()
