"""Active/standby crisisd on one PostgreSQL database (CONTRACT §10, #15).

Two crisisd share a database; the clients here do what a gateway or a
clinician's client must: try one address, and on `unavailable`, a closed
connection or a refused connect, the next; send again every contact not
yet `queued` (same ref), say `status available` again, acknowledge the
results.  The failover test is the crash test's load (tests/crash) with
two addresses, its verdict read from the shared database.
"""

import json
import signal
import time

import harness
from harness import (Daemon, accept, note, postgresql_only, secs, submit)


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
