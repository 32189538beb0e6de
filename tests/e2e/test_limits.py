"""Issue 6's per-intake limits: a contact rate and a cap on contacts being
routed.  Beyond either a contact gets `overloaded` (so the gateway can send
the caller to its own overflow), nothing is stored, and the connection lives.
"""

import json
import socket
import time

from harness import Daemon, accept, note, secs


def contact(ref):
    """A plain moderate-risk voice contact."""
    return {"type": "contact", "ref": ref, "channel": "voice",
            "risk": "moderate"}


def test_contact_rate_limit():
    with Daemon(max_contacts_per_second=5) as d:
        d.add_intake("gw")
        d.add_intake("gw2")
        d.start()
        gw = d.login("gw")
        # Six in one write: the bucket cannot refill between them, however
        # slowly the daemon runs (valgrind).
        gw.send_raw("".join(json.dumps(dict(contact("rate-%d" % i),
                                            id="r%d" % i)) + "\n"
                            for i in range(6)))
        for i in range(5):
            gw.expect("queued", id="r%d" % i)
        err = gw.expect("error", id="r5")
        assert err.get("code") == "overloaded", err["_raw"]
        assert "a second" in err.get("message", ""), err
        assert d.query("SELECT count(*) FROM contacts WHERE ref = 'rate-5'"
                       ) == [(0,)]
        # A repeat of a stored ref is not a new contact: no budget needed.
        gw.request(contact("rate-0"), expect="queued")
        # Another gateway has its own budget; the connection lives on.
        d.login("gw2").request(contact("rate-other"), expect="queued")
        gw.request({"type": "ping"}, expect="pong")
        # The bucket refills at the configured rate.
        time.sleep(0.5)
        gw.request(contact("rate-6"), expect="queued")


def test_open_contacts_total_cap():
    """Past limits.max_open_contacts_total, whichever gateway sends it, a new
    contact gets `overloaded` at once and nothing is stored; the contacts
    already queued are routed as before, and a closed one makes room."""
    with Daemon(max_open_contacts_total=4, max_wait_ms=20000,
                tiers=[(1, "ring-all", 20000)]) as d:
        d.add_intake("gw1")
        d.add_intake("gw2")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        c1 = d.clinician("c1")
        gw1, gw2 = d.login("gw1"), d.login("gw2")
        cids = [gw1.request(contact("t1-%d" % i), expect="queued")["contact"]
                for i in range(2)]
        cids += [gw2.request(contact("t2-%d" % i), expect="queued")["contact"]
                 for i in range(2)]
        t = time.monotonic()
        err = gw1.error(contact("t1-over"), "overloaded")
        took = (time.monotonic() - t) * 1000
        assert "being routed" in err.get("message", ""), err
        err = gw2.error(contact("t2-over"), "overloaded")
        note("refused in %.1f ms: %s" % (took, err.get("message")))
        assert d.query("SELECT count(*) FROM contacts")[0][0] == 4
        # The queued ones are still routed: c1 takes the oldest.
        c1.expect("offer", contact=cids[0])
        accept(c1, cids[0])
        gw1.expect("routed", contact=cids[0])
        gw1.request(contact("t1-over"), expect="queued")


def test_idle_sockets_do_not_keep_clinicians_out():
    """limits.max_unauthenticated: an attacker keeps 5 times the cap of
    sockets open without a hello; a clinician connecting 20 times is
    welcomed every time, the idle sockets are closed with `overloaded` to
    make room, and the log says so once, with a count."""
    with Daemon(max_unauthenticated=10, max_connections=200,
                hello_timeout_ms=60000) as d:
        d.add_clinician("c1", tiers=(1,))
        d.start()
        idle, welcomed = [], 0
        for round_ in range(20):
            for _ in range(5):
                idle.append(socket.create_connection(("127.0.0.1",
                                                      d.port)))
            c = d.clinician("c1", available=False)
            c.ping()
            welcomed += 1
            c.close()
        evicted = 0
        for s in idle:
            s.settimeout(secs(200))
            try:
                data = s.recv(4096)
            except socket.timeout:
                data = b""
            if b'"overloaded"' in data:
                evicted += 1
            s.close()
        note("clinician welcomed %d of 20 times; %d of %d idle sockets "
             "closed with overloaded" % (welcomed, evicted, len(idle)))
        assert welcomed == 20
        assert evicted >= len(idle) - 10, evicted
        with open(d.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        lines = [l for l in log.splitlines()
                 if "closed a connection without a hello" in l]
        assert 1 <= len(lines) <= 2, lines


def test_open_contacts_cap():
    with Daemon(max_open_contacts=3, max_wait_ms=20000,
                tiers=[(1, "ring-all", 20000)]) as d:
        d.add_intake("gw")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        d.clinician("c1")  # available, never answers: contacts stay open
        gw = d.login("gw")
        cids = [gw.request(contact("open-%d" % i), expect="queued")["contact"]
                for i in range(3)]
        err = gw.error(contact("open-3"), "overloaded")
        assert "still being routed" in err.get("message", ""), err
        # Closing one (the caller hung up) makes room for the next.
        gw.request({"type": "abandon", "contact": cids[0]})
        gw.request(contact("open-3"), expect="queued")
