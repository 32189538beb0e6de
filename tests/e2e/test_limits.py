"""Issue 6's per-intake limits: a contact rate and a cap on contacts being
routed.  Beyond either a contact gets `overloaded` (so the gateway can send
the caller to its own overflow), nothing is stored, and the connection lives.
"""

import time

from harness import Daemon


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
        for i in range(5):
            gw.request(contact("rate-%d" % i), expect="queued")
        err = gw.error(contact("rate-5"), "overloaded")
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
