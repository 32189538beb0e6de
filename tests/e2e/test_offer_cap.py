"""routing.max_offers_per_clinician: the offer cap, which extends CONTRACT §4.

A clinician already being rung for that many other contacts is passed over
by the tier walk and by waiting, as if busy; continuity and imminent offers
ignore the cap; when one of its offers ends it may be rung again.
"""

import time

from harness import (Daemon, accept, assert_timing, expect_all,
                     expect_none_all, now, secs, submit)
from test_routing import SLOW, quick, setup


CAP_TIERS = [(1, "ring-all", SLOW), (2, "ring-all", SLOW)]


def test_offer_cap_ring_all_passes_over():
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=1) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        a, _ = submit(gw, "cap-a")
        o = c1.expect("offer", contact=a)
        assert o["tier"] == 1, o["_raw"]
        # c1 is rung for a, so for b it counts as busy: tier 1 is empty.
        b, t = submit(gw, "cap-b")
        o = c2.expect("offer", contact=b)
        assert o["tier"] == 2, o["_raw"]
        quick("tier 2 offer with tier 1 at the cap", o, t)
        e = sup.expect("event", contact=b, event="escalated")
        assert e.get("tier") == 2, e["_raw"]
        c1.expect_none(secs(300), type="offer", contact=b)
        sup.expect_none(0, type="event", contact=b, event="offered",
                        clinician="c1")
        # The offer c1 holds is left alone.
        c1.expect_none(0, type="withdrawn", contact=a)


def test_offer_cap_one_at_a_time_passes_over():
    # Without the cap a one-at-a-time tier rings a clinician already rung
    # for another contact when nobody else is free; with it, it moves on.
    with Daemon(tiers=[(1, "sequential", SLOW), (2, "ring-all", SLOW)],
                max_offers_per_clinician=1) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        a, _ = submit(gw, "cap-seq-a")
        c1.expect("offer", contact=a)
        b, t = submit(gw, "cap-seq-b")
        o = c2.expect("offer", contact=b)
        assert o["tier"] == 2, o["_raw"]
        quick("tier 2 offer past a capped sequential tier", o, t)
        c1.expect_none(secs(300), type="offer", contact=b)


def test_offer_cap_rings_again_after_taken():
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=1) as d:
        setup(d, {"c1": (1,), "c2": (1,), "c3": (1,), "c4": (2,)})
        d.start()
        c1, c2, c3, c4 = (d.clinician(c) for c in ("c1", "c2", "c3", "c4"))
        gw = d.login("gw")
        a, _ = submit(gw, "lift-a")
        expect_all([c1, c2, c3], "offer", contact=a)
        # c3 turns a down, so it alone is under the cap when b comes.
        c3.request({"type": "decline", "contact": a})
        b, _ = submit(gw, "lift-b")
        o = c3.expect("offer", contact=b)
        assert o["tier"] == 1, o["_raw"]
        expect_none_all([c1, c2, c4], secs(300), type="offer", contact=b)
        # c2 takes a: c1's offer of a ends, and b, still ringing tier 1,
        # rings c1 now; c2 is busy.
        t = time.monotonic()
        accept(c2, a)
        c1.expect("withdrawn", contact=a, reason="taken")
        o = c1.expect("offer", contact=b)
        assert o["tier"] == 1, o["_raw"]
        quick("capped clinician rung after its offer was taken", o, t)
        assert o["expires_in_ms"] <= d.tier_timeout(1), o["_raw"]
        expect_none_all([c2, c4], secs(300), type="offer", contact=b)


def test_offer_cap_rings_again_below_cap():
    # Cap 2: a decline leaves c1 holding one offer, under the cap, and the
    # contact walking tier 1 rings it at once (not only when it holds none).
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=2) as d:
        setup(d, {"c1": (1,), "c2": (2,), "c3": (1,)})
        d.start()
        c1, c2, c3 = (d.clinician(c) for c in ("c1", "c2", "c3"))
        gw = d.login("gw")
        a, _ = submit(gw, "below-a")
        expect_all([c1, c3], "offer", contact=a)
        c3.request({"type": "decline", "contact": a})
        b, _ = submit(gw, "below-b")
        expect_all([c1, c3], "offer", contact=b)
        c3.request({"type": "decline", "contact": b})
        # c1 holds a and b: at the cap, passed over for c.
        c, _ = submit(gw, "below-c")
        o = c3.expect("offer", contact=c)
        assert o["tier"] == 1, o["_raw"]
        c1.expect_none(secs(300), type="offer", contact=c)
        t = time.monotonic()
        c1.request({"type": "decline", "contact": a})
        o = c1.expect("offer", contact=c)
        assert o["tier"] == 1, o["_raw"]
        quick("clinician rung again below the cap", o, t)
        # a had nobody left on tier 1.
        c2.expect("offer", contact=a)
        c2.expect_none(secs(300), type="offer", contact=c)


def test_offer_cap_waits_for_capped_clinician():
    # Nobody under the cap on any tier: the contact waits for the capped
    # clinician (as for a busy one) and rings it when its offer expires.
    with Daemon(tiers=[(1, "ring-all", 600)], max_wait_ms=8000,
                max_offers_per_clinician=1) as d:
        setup(d, {"c1": (1,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        gw = d.login("gw")
        a, t = submit(gw, "capwait-a")
        c1.expect("offer", contact=a)
        b, _ = submit(gw, "capwait-b")
        sup.expect("event", contact=b, event="waiting")
        c1.expect_none(secs(300), type="offer", contact=b)
        c1.expect("withdrawn", secs(2000), contact=a, reason="expired")
        gw.expect("overflow", contact=a)
        o = c1.expect("offer", secs(2000), contact=b)
        assert o["tier"] == 1, o["_raw"]
        assert_timing("waiting contact offered at the capped offer's expiry",
                      o["_at"], t + d.tier_timeout(1) / 1000.0)
        gw.expect_none(0, type="overflow", contact=b)
        accept(c1, b)
        gw.expect("routed", contact=b, clinician="c1")


def test_offer_cap_not_for_imminent():
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=1,
                imminent_max_wait_ms=3000) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        a, _ = submit(gw, "capimm-a")
        c1.expect("offer", contact=a)
        b, t = submit(gw, "capimm-b", risk="imminent")
        got = expect_all([c1, c2], "offer", contact=b)
        quick("imminent offer to a clinician at the cap", got["c1"], t)
        assert got["c1"]["tier"] == 1, got["c1"]["_raw"]
        c1.expect_none(secs(300), type="withdrawn")


def test_offer_cap_not_for_continuity():
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=1,
                continuity_ms=1000) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.add_patient("p1", "c1")
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        a, _ = submit(gw, "capcont-a")
        c1.expect("offer", contact=a)
        b, t = submit(gw, "capcont-b", patient="p1")
        o = c1.expect("offer", contact=b)
        quick("continuity offer to a primary at the cap", o, t)
        assert o["expires_in_ms"] <= d.conf["continuity_ms"], o["_raw"]
        e = sup.expect("event", contact=b, event="offered", clinician="c1")
        assert (e.get("detail") or {}).get("continuity") is True, e["_raw"]
        c2.expect_none(secs(300), type="offer", contact=b)
        c1.expect_none(0, type="withdrawn", contact=a)


def test_offer_cap_zero_rings_for_every_contact():
    # The default: ring-all offers every contact to every free clinician on
    # the tier, however many it is already rung for (CONTRACT §4 rule 2).
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=0) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cids = []
        for i in range(3):
            cid, t = submit(gw, "nocap-%d" % i)
            o = c1.expect("offer", contact=cid)
            assert o["tier"] == 1, o["_raw"]
            quick("ring-all offer %d with no cap" % i, o, t)
            cids.append(cid)
        c2.expect_none(secs(300), type="offer")
        c1.expect_none(0, type="withdrawn")
        accept(c1, cids[1])
        for cid in (cids[0], cids[2]):
            c1.expect("withdrawn", contact=cid, reason="busy")



def test_freed_clinician_takes_the_oldest_it_can():
    """With the cap at 1, a clinician who comes free is offered the oldest
    contact it can take, skipping the one it declined: the walk for a freed
    clinician (engine_settle.c) keeps the queue's order."""
    with Daemon(tiers=CAP_TIERS, max_offers_per_clinician=1,
                max_wait_ms=4 * SLOW, wrapup_ms=200) as d:
        setup(d, {"c1": (1,)})
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        a, _ = submit(gw, "old-a")
        c1.expect("offer", contact=a)
        b, _ = submit(gw, "old-b")
        c, _ = submit(gw, "old-c")
        # c1 rings for a alone; b and c wait for it, in that order.
        c1.expect_none(secs(300), type="offer")
        # Declined: a has nobody else and overflows; c1 gets b, not c.
        c1.request({"type": "decline", "contact": a})
        gw.expect("overflow", contact=a)
        c1.expect("offer", contact=b)
        c1.expect_none(secs(200), type="offer", contact=c)
        accept(c1, b)
        c1.request({"type": "complete", "contact": b,
                    "disposition": "resolved"})
        # After the wrap-up, c: the next oldest.
        c1.expect("offer", contact=c, timeout=secs(1500))
        c1.expect_none(secs(200), type="offer", contact=a)
