"""CONTRACT §4: routing, one rule per test, each failing if the rule broke."""

import time

from harness import (SCALE, Daemon, accept, assert_timing, complete,
                     expect_all, expect_none_all, now, note, parse_rfc3339,
                     secs, sleep_ms, submit)

SLOW = 3000  # an offer timeout long enough never to fire during a test


def setup(d, clins, sup=True):
    """gw (intake), sup (supervisor) and clinicians {id: tiers}; start."""
    d.add_intake("gw")
    if sup:
        d.add_supervisor("sup")
    for cid, tiers in clins.items():
        d.add_clinician(cid, tiers=tiers)


def who_got_offer(clients, cid, timeout=None, settle_ms=200):
    """Names of the clients offered cid: waits for the first, then settles."""
    timeout = secs(2000) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline and not got:
        for c in clients:
            m = c.collect(0, "offer", contact=cid)
            if m:
                got[c.name] = m[0]
        time.sleep(0.005)
    assert got, "nobody of %s was offered %s" % ([c.name for c in clients],
                                                 cid)
    time.sleep(secs(settle_ms))
    for c in clients:
        m = c.collect(0, "offer", contact=cid)
        if m and c.name not in got:
            got[c.name] = m[0]
    return got


def quick(what, msg, t, ms=200):
    """Assert msg arrived within ms (scaled) of t: 'at once'."""
    delay = (msg["_at"] - t) * 1000.0
    note("%s after %.0f ms" % (what, delay))
    assert delay <= ms * SCALE, (
        "%s took %.0f ms, not at once" % (what, delay))


# --- eligibility ---

def test_not_eligible_off_shift():
    with Daemon() as d:
        setup(d, {"c2": (1,)})
        t = now()
        d.add_clinician("c1", tiers=(1,), start=t + 3600, end=t + 7200)
        d.add_clinician("c3", tiers=(1,), start=t - 7200, end=t - 3600)
        d.start()
        cl = [d.clinician(c) for c in ("c1", "c2", "c3")]
        cid, _ = submit(d.login("gw"), "off-1")
        cl[1].expect("offer", contact=cid)
        expect_none_all([cl[0], cl[2]])


def test_not_eligible_disconnected():
    with Daemon(tiers=[(1, "ring-all", SLOW), (2, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c2 = d.clinician("c2")
        cid, t = submit(d.login("gw"), "disc-1")
        o = c2.expect("offer", contact=cid)
        assert o.get("tier") == 2, o["_raw"]
        quick("tier 2 offer with tier 1 disconnected", o, t)


def test_not_eligible_away():
    with Daemon() as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        c1.request({"type": "status", "status": "away"})
        cid, _ = submit(d.login("gw"), "away-1")
        c2.expect("offer", contact=cid)
        c1.expect_none()


def test_not_eligible_busy():
    with Daemon() as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "busy-x")
        expect_all([c1, c2], "offer", contact=x)
        accept(c1, x)
        c2.expect("withdrawn", contact=x, reason="taken")
        y, _ = submit(gw, "busy-y")
        c2.expect("offer", contact=y)
        c1.expect_none(type="offer")


def test_not_eligible_in_wrapup():
    with Daemon(wrapup_ms=1500) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "wrap-x")
        c1.expect("offer", contact=x)
        accept(c1, x)
        complete(c1, x)
        t_done = time.monotonic()
        y, _ = submit(gw, "wrap-y")
        c2.expect("offer", contact=y)
        c1.expect_none(secs(500), type="offer")
        # c2 declines: c1 is on call and in wrap-up, so y waits for it.
        c2.request({"type": "decline", "contact": y})
        o = c1.expect("offer", secs(3000), contact=y)
        assert_timing("offer after wrap-up", o["_at"],
                      t_done + d.conf["wrapup_ms"] / 1000.0, early_ms=100)
        gw.expect_none(0, type="overflow")


# --- continuity ---

def test_continuity_primary_alone_first():
    with Daemon(continuity_ms=500) as d:
        setup(d, {"c1": (1,), "c2": (2, 3)})
        d.add_patient("p1", "c2", program="adult")
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, t = submit(d.login("gw"), "cont-1", patient="p1")
        o2 = c2.expect("offer", contact=cid)
        quick("continuity offer", o2, t)
        assert o2.get("tier") == 2, "continuity tier should be the primary's " \
            "lowest on-call tier: %s" % o2["_raw"]
        cont = d.conf["continuity_ms"]
        assert cont - 200 * SCALE <= o2["expires_in_ms"] <= cont, (
            "continuity offer expires_in_ms: %s" % o2["_raw"])
        c1.expect_none(secs(300))
        o1 = c1.expect("offer", secs(2000), contact=cid)
        assert o1.get("tier") == 1, o1["_raw"]
        assert_timing("tier 1 after continuity", o1["_at"], t + cont / 1000.0)
        e = sup.expect("event", contact=cid, event="offered", clinician="c2")
        assert e.get("tier") == 2, e["_raw"]
        assert (e.get("detail") or {}).get("continuity") is True, e["_raw"]
        e = sup.expect("event", contact=cid, event="escalated")
        assert e.get("tier") == 1, e["_raw"]
        e = sup.expect("event", contact=cid, event="offered", clinician="c1")
        assert not (e.get("detail") or {}).get("continuity"), e["_raw"]


def test_continuity_not_for_imminent():
    with Daemon(continuity_ms=1000) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.add_patient("p1", "c2")
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, t = submit(d.login("gw"), "cont-imm", risk="imminent",
                        patient="p1")
        got = expect_all([c1, c2], "offer", contact=cid)
        for name, o in got.items():
            quick("imminent offer to " + name, o, t)
            assert o["expires_in_ms"] > d.conf["continuity_ms"], o["_raw"]


def test_continuity_off():
    with Daemon(continuity_ms=0) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.add_patient("p1", "c2")
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, t = submit(d.login("gw"), "cont-off", patient="p1")
        got = expect_all([c1, c2], "offer", contact=cid)
        quick("c1 offer with continuity off", got["c1"], t)


def test_continuity_primary_not_eligible():
    with Daemon(continuity_ms=1500) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.add_patient("p1", "c2")
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2", available=False)
        cid, t = submit(d.login("gw"), "cont-away", patient="p1")
        o = c1.expect("offer", contact=cid)
        quick("tier offer with the primary away", o, t)
        c2.expect_none()


# --- the tier walk ---

def test_tiers_in_order():
    with Daemon(tiers=[(1, "ring-all", 500), (2, "ring-all", 500),
                       (3, "ring-all", 500)], max_wait_ms=5000) as d:
        setup(d, {"c1": (1,), "c2": (2,), "c3": (3,)})
        d.start()
        sup = d.watcher("sup")
        cl = [d.clinician(c) for c in ("c1", "c2", "c3")]
        gw = d.login("gw")
        cid, t = submit(gw, "tiers-1")
        step = d.tier_timeout(1) / 1000.0
        o = cl[0].expect("offer", contact=cid)
        assert o["tier"] == 1
        quick("tier 1 offer", o, t)
        expect_none_all(cl[1:], secs(300))
        w = cl[0].expect("withdrawn", secs(2000), contact=cid)
        assert w.get("reason") == "expired", w["_raw"]
        o = cl[1].expect("offer", secs(2000), contact=cid)
        assert o["tier"] == 2
        assert_timing("tier 2 offer", o["_at"], t + step)
        o = cl[2].expect("offer", secs(2000), contact=cid)
        assert o["tier"] == 3
        assert_timing("tier 3 offer", o["_at"], t + 2 * step)
        ov = gw.expect("overflow", secs(2000), contact=cid)
        assert_timing("overflow after tier 3", ov["_at"], t + 3 * step)
        for tier in (2, 3):
            e = sup.expect("event", contact=cid, event="escalated", tier=tier)
        for c in ("c1", "c2", "c3"):
            sup.expect("event", contact=cid, event="expired", clinician=c)
        sup.expect("event", contact=cid, event="overflow")
        for c in cl:
            c.expect_none(0, type="offer")


def test_language_and_needs_first():
    with Daemon(tiers=[(1, "sequential", SLOW)]) as d:
        d.add_intake("gw")
        d.add_clinician("a1", languages="en")
        d.add_clinician("b1", languages="es", skills="mat")
        d.add_clinician("c1", languages="en,es", skills="family,mat")
        d.start()
        cl = {c: d.clinician(c) for c in ("a1", "b1", "c1")}
        gw = d.login("gw")
        cid, _ = submit(gw, "lang-1", language="es", needs=["mat", "family"])
        got = who_got_offer(cl.values(), cid)
        assert list(got) == ["c1"], "first offer went to %s" % list(got)
        cl["c1"].request({"type": "decline", "contact": cid})
        got = who_got_offer(cl.values(), cid)
        assert list(got) == ["a1"], "then %s (not by id)" % list(got)
        cl["a1"].request({"type": "decline", "contact": cid})
        got = who_got_offer(cl.values(), cid)
        assert list(got) == ["b1"], "then %s" % list(got)
        cl["b1"].request({"type": "decline", "contact": cid})
        gw.expect("overflow", contact=cid)
        # Without a language or needs, plain id order.
        cid, _ = submit(gw, "lang-2")
        got = who_got_offer(cl.values(), cid)
        assert list(got) == ["a1"], "no-language contact went to %s" % (
            list(got))


# --- strategies ---

def test_strategy_ring_all():
    with Daemon(tiers=[(1, "ring-all", 600), (2, "ring-all", 600)]) as d:
        setup(d, {"r1": (1,), "r2": (1,), "r3": (1,), "r4": (2,)})
        d.start()
        cl = [d.clinician(c) for c in ("r1", "r2", "r3", "r4")]
        cid, t = submit(d.login("gw"), "ring-1")
        got = expect_all(cl[:3], "offer", contact=cid)
        for name, o in got.items():
            quick("ring-all offer to " + name, o, t)
            assert o["tier"] == 1
            assert d.tier_timeout(1) - 200 * SCALE <= o["expires_in_ms"] \
                <= d.tier_timeout(1), o["_raw"]
        cl[3].expect_none(secs(300), type="offer")
        for c in cl[:3]:
            c.expect("withdrawn", secs(2000), contact=cid, reason="expired")
        o = cl[3].expect("offer", secs(2000), contact=cid)
        assert o["tier"] == 2
        assert_timing("ring-all tier 2", o["_at"],
                      t + d.tier_timeout(1) / 1000.0)


def test_strategy_sequential():
    with Daemon(tiers=[(1, "sequential", 500)]) as d:
        setup(d, {"s-b": (1,), "s-a": (1,), "s-c": (1,)})
        d.start()
        cl = {c: d.clinician(c) for c in ("s-b", "s-a", "s-c")}
        gw = d.login("gw")
        cid, t = submit(gw, "seq-1")
        got = who_got_offer(cl.values(), cid)
        assert list(got) == ["s-a"], "first: %s" % list(got)
        assert d.tier_timeout(1) - 200 * SCALE <= \
            got["s-a"]["expires_in_ms"] <= d.tier_timeout(1)
        # Expiry moves on to the next by id.
        o = cl["s-b"].expect("offer", secs(2000), contact=cid)
        assert_timing("sequential next after expiry", o["_at"],
                      t + d.tier_timeout(1) / 1000.0)
        cl["s-a"].expect("withdrawn", 0.5, contact=cid, reason="expired")
        cl["s-c"].expect_none(0, type="offer")
        # A decline moves on at once.
        t2 = time.monotonic()
        cl["s-b"].request({"type": "decline", "contact": cid})
        o = cl["s-c"].expect("offer", contact=cid)
        quick("sequential next after decline", o, t2)
        cl["s-c"].request({"type": "decline", "contact": cid})
        gw.expect("overflow", contact=cid)


def test_strategy_longest_idle():
    with Daemon(tiers=[(1, "longest-idle", SLOW)]) as d:
        setup(d, {"la": (1,), "lb": (1,), "lc": (1,)})
        d.start()
        cl = {c: d.clinician(c) for c in ("la", "lb", "lc")}
        gw = d.login("gw")
        held = {}
        for i in range(3):
            cid, _ = submit(gw, "idle-pre-%d" % i)
            got = who_got_offer(cl.values(), cid, settle_ms=50)
            assert len(got) == 1, "longest-idle offered %s at once" % list(
                got)
            name = list(got)[0]
            assert name not in held
            accept(cl[name], cid)
            held[name] = cid
        # lb is free longest, then lc, then la.
        for name in ("lb", "lc", "la"):
            complete(cl[name], held[name])
            time.sleep(secs(150))
        sleep_ms(d.conf["wrapup_ms"] + 200)
        cid, _ = submit(gw, "idle-1")
        for name in ("lb", "lc", "la"):
            got = who_got_offer(cl.values(), cid)
            assert list(got) == [name], "expected %s, offered to %s" % (
                name, list(got))
            cl[name].request({"type": "decline", "contact": cid})
        gw.expect("overflow", contact=cid)


def test_strategy_round_robin():
    with Daemon(tiers=[(1, "round-robin", SLOW)]) as d:
        setup(d, {"ra": (1,), "rb": (1,), "rc": (1,)})
        d.start()
        cl = {c: d.clinician(c) for c in ("ra", "rb", "rc")}
        gw = d.login("gw")
        firsts = []
        for i in range(4):
            cid, _ = submit(gw, "rr-%d" % i)
            got = who_got_offer(cl.values(), cid, settle_ms=100)
            assert len(got) == 1, "round-robin offered %s at once" % list(got)
            name = list(got)[0]
            firsts.append(name)
            gw.request({"type": "abandon", "contact": cid})
            cl[name].expect("withdrawn", contact=cid, reason="abandoned")
        assert len(set(firsts[:3])) == 3 and firsts[3] == firsts[0], (
            "first offers do not rotate: %s" % firsts)


def test_strategy_fewest_contacts():
    with Daemon(tiers=[(1, "fewest-contacts", SLOW)]) as d:
        setup(d, {"fa": (1,), "fb": (1,), "fc": (1,)})
        d.start()
        cl = {c: d.clinician(c, available=(c == "fa"))
              for c in ("fa", "fb", "fc")}
        gw = d.login("gw")
        # fa takes two contacts, fc one, fb none.
        for i, name in enumerate(("fa", "fa", "fc")):
            if i == 2:
                cl["fa"].request({"type": "status", "status": "away"})
                cl["fc"].request({"type": "status", "status": "available"})
            cid, _ = submit(gw, "few-pre-%d" % i)
            cl[name].expect("offer", secs(3000), contact=cid)
            accept(cl[name], cid)
            complete(cl[name], cid)
        sleep_ms(d.conf["wrapup_ms"] + 200)
        for name in ("fa", "fb"):
            cl[name].request({"type": "status", "status": "available"})
        cid, _ = submit(gw, "few-1")
        for name in ("fb", "fc", "fa"):
            got = who_got_offer(cl.values(), cid)
            assert list(got) == [name], "expected %s, offered to %s" % (
                name, list(got))
            cl[name].request({"type": "decline", "contact": cid})
        gw.expect("overflow", contact=cid)


def test_empty_tier_skipped():
    with Daemon(tiers=[(1, "ring-all", SLOW), (2, "sequential", SLOW),
                       (3, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c3": (3,)})
        d.start()
        d.clinician("c1", available=False)
        c3 = d.clinician("c3")
        cid, t = submit(d.login("gw"), "empty-1")
        o = c3.expect("offer", contact=cid)
        assert o["tier"] == 3, o["_raw"]
        quick("offer past two empty tiers", o, t)


def test_decline_moves_on_at_once():
    with Daemon(tiers=[(1, "ring-all", SLOW), (2, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c2": (1,), "c3": (2,)})
        d.start()
        c1, c2, c3 = (d.clinician(c) for c in ("c1", "c2", "c3"))
        cid, _ = submit(d.login("gw"), "dec-1")
        expect_all([c1, c2], "offer", contact=cid)
        c1.request({"type": "decline", "contact": cid})
        c3.expect_none(secs(300), type="offer")
        t = time.monotonic()
        c2.request({"type": "decline", "contact": cid})
        o = c3.expect("offer", contact=cid)
        quick("tier 2 after the last decline", o, t)


# --- imminent risk ---

def test_imminent_everyone_at_once():
    with Daemon(tiers=[(1, "ring-all", 500), (2, "sequential", 500),
                       (3, "round-robin", 500)],
                imminent_max_wait_ms=3000) as d:
        setup(d, {"c1": (1,), "c2": (2,), "c3": (3,), "c4": (2, 3),
                  "c5": (3,)})
        d.add_patient("p1", "c3")
        d.start()
        sup = d.watcher("sup")
        sup2 = d.watcher("sup")
        cl = {c: d.clinician(c) for c in ("c1", "c2", "c3", "c4", "c5")}
        gw = d.login("gw")
        cid, t = submit(gw, "imm-1", risk="imminent", patient="p1")
        got = expect_all(cl.values(), "offer", contact=cid)
        want_tier = {"c1": 1, "c2": 2, "c3": 3, "c4": 2, "c5": 3}
        for name, o in got.items():
            quick("imminent offer to " + name, o, t, ms=300)
            assert o["tier"] == want_tier[name], o["_raw"]
            assert o["risk"] == "imminent"
            imw = d.conf["imminent_max_wait_ms"]
            assert imw - 300 * SCALE <= o["expires_in_ms"] <= imw, o["_raw"]
        for s in (sup, sup2):
            e = s.expect("event", contact=cid, event="queued")
            assert e["detail"]["risk"] == "imminent"
            for name in cl:
                s.expect("event", contact=cid, event="offered",
                         clinician=name)
        # Offers outlive the tiers' offer timeouts.
        expect_none_all(cl.values(), secs(800), type="withdrawn")
        accept(cl["c5"], cid)
        for name in ("c1", "c2", "c3", "c4"):
            cl[name].expect("withdrawn", contact=cid, reason="taken")
        gw.expect("routed", contact=cid, clinician="c5")


def test_imminent_overflow_at_deadline():
    with Daemon(imminent_max_wait_ms=1500, max_wait_ms=700) as d:
        setup(d, {"c1": (1,)})
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        cid, t = submit(gw, "imm-dl", risk="imminent")
        c1.expect("offer", contact=cid)
        gw.expect_none(secs(1000), type="overflow")
        ov = gw.expect("overflow", secs(2000), contact=cid)
        assert_timing("imminent overflow", ov["_at"],
                      t + d.conf["imminent_max_wait_ms"] / 1000.0)
        assert ov.get("target") == d.conf["overflow_target"]
        c1.expect("withdrawn", contact=cid, reason="overflow")


def test_imminent_overflow_nobody_eligible():
    with Daemon() as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        d.clinician("c1", available=False)
        gw = d.login("gw")
        cid, t = submit(gw, "imm-none", risk="imminent")
        ov = gw.expect("overflow", contact=cid)
        quick("imminent overflow with nobody eligible", ov, t)


def test_imminent_overflow_all_declined():
    with Daemon(imminent_max_wait_ms=5000) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cid, _ = submit(gw, "imm-dec", risk="imminent")
        expect_all([c1, c2], "offer", contact=cid)
        c1.request({"type": "decline", "contact": cid})
        gw.expect_none(secs(300), type="overflow")
        t = time.monotonic()
        c2.request({"type": "decline", "contact": cid})
        ov = gw.expect("overflow", contact=cid)
        quick("imminent overflow after the last decline", ov, t)


def test_imminent_offered_to_newly_eligible():
    with Daemon(imminent_max_wait_ms=3000) as d:
        setup(d, {"c1": (1,), "c2": (2, 3), "c3": (3,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2", available=False)
        gw = d.login("gw")
        cid, t = submit(gw, "imm-new", risk="imminent")
        c1.expect("offer", contact=cid)
        c2.expect_none(secs(300))
        c2.request({"type": "status", "status": "available"})
        o = c2.expect("offer", contact=cid)
        assert o["tier"] == 2, o["_raw"]
        left = d.conf["imminent_max_wait_ms"] - (time.monotonic() - t) * 1000
        assert o["expires_in_ms"] <= left + 50, (
            "offer runs past the imminent deadline: %s" % o["_raw"])
        c3 = d.clinician("c3")
        o = c3.expect("offer", contact=cid)
        assert o["tier"] == 3


# --- waiting ---

def test_waiting_for_busy_clinician():
    with Daemon(tiers=[(1, "ring-all", 600)], max_wait_ms=8000) as d:
        setup(d, {"c1": (1,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        gw = d.login("gw")
        x, _ = submit(gw, "wait-x")
        c1.expect("offer", contact=x)
        accept(c1, x)
        y, _ = submit(gw, "wait-y")
        sup.expect("event", contact=y, event="waiting")
        gw.expect_none(secs(700), type="overflow")
        c1.expect_none(0, type="offer", contact=y)
        complete(c1, x)
        t = time.monotonic()
        o = c1.expect("offer", secs(3000), contact=y)
        assert_timing("waiting contact offered after wrap-up", o["_at"],
                      t + d.conf["wrapup_ms"] / 1000.0, early_ms=100)
        accept(c1, y)
        gw.expect("routed", contact=y, clinician="c1")


def test_waiting_not_for_one_who_declined():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=8000) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "wnd-x")
        y, _ = submit(gw, "wnd-y")
        expect_all([c1, c2], "offer", contact=x)
        expect_all([c1, c2], "offer", contact=y)
        c1.request({"type": "decline", "contact": y})
        accept(c1, x)
        c2.expect("withdrawn", contact=x, reason="taken")
        t = time.monotonic()
        c2.request({"type": "decline", "contact": y})
        # c1 is busy but declined y: nobody to wait for.
        ov = gw.expect("overflow", contact=y)
        quick("overflow with only a decliner busy", ov, t)


# --- overflow ---

def test_overflow_by_exhaustion():
    target = "sip:overflow@backup.example.org"
    with Daemon(overflow_target=target) as d:
        setup(d, {"c1": (1,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        gw = d.login("gw")
        cid, _ = submit(gw, "ovf-1")
        c1.expect("offer", contact=cid)
        t = time.monotonic()
        c1.request({"type": "decline", "contact": cid})
        ov = gw.expect("overflow", contact=cid)
        quick("overflow after exhaustion", ov, t)
        assert {k: v for k, v in ov.items() if not k.startswith("_")} == {
            "type": "overflow", "contact": cid, "ref": "ovf-1",
            "target": target}, ov["_raw"]
        sup.expect("event", contact=cid, event="overflow")
        assert d.sql("SELECT state FROM contacts WHERE id = ?", cid) == [
            ("overflow",)]


def test_overflow_by_max_wait():
    with Daemon(tiers=[(1, "ring-all", 5000)], max_wait_ms=1000) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cid, t = submit(gw, "ovf-wait")
        got = expect_all([c1, c2], "offer", contact=cid)
        for o in got.values():
            assert o["expires_in_ms"] <= d.conf["max_wait_ms"], (
                "offer runs past the overflow deadline: %s" % o["_raw"])
        ov = gw.expect("overflow", secs(3000), contact=cid)
        assert_timing("overflow at max_wait_ms", ov["_at"],
                      t + d.conf["max_wait_ms"] / 1000.0)
        assert ov["target"] == d.conf["overflow_target"]
        for c in (c1, c2):
            c.expect("withdrawn", contact=cid, reason="overflow")
            c.error({"type": "accept", "contact": cid}, "conflict")


def test_overflow_by_max_wait_mid_walk():
    with Daemon(tiers=[(1, "sequential", 600), (2, "sequential", 600)],
                max_wait_ms=1000) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cid, t = submit(gw, "ovf-mid")
        c1.expect("offer", contact=cid)
        o = c2.expect("offer", secs(2000), contact=cid)
        assert o["expires_in_ms"] <= d.conf["max_wait_ms"] - \
            d.tier_timeout(1) + 50, "tier 2 offer past the deadline: %s" % (
                o["_raw"])
        ov = gw.expect("overflow", secs(3000), contact=cid)
        assert_timing("overflow during tier 2", ov["_at"],
                      t + d.conf["max_wait_ms"] / 1000.0)
        c2.expect("withdrawn", contact=cid, reason="overflow")


def test_overflow_is_not_a_missed_offer():
    with Daemon(tiers=[(1, "ring-all", 5000)], max_wait_ms=800,
                max_missed_offers=1) as d:
        setup(d, {"c1": (1,)})
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        x, _ = submit(gw, "ovf-miss-x")
        c1.expect("offer", contact=x)
        gw.expect("overflow", secs(3000), contact=x)
        # The offer was withdrawn by the overflow, not missed: c1 stays
        # available and gets the next contact.
        c1.expect_none(secs(300), type="status")
        y, _ = submit(gw, "ovf-miss-y")
        c1.expect("offer", contact=y)


# --- accept, abandon, disconnect ---

def test_first_accept_wins():
    with Daemon() as d:
        setup(d, {"c1": (1,), "c2": (1,), "c3": (1,)})
        d.start()
        sup = d.watcher("sup")
        cl = [d.clinician(c) for c in ("c1", "c2", "c3")]
        gw = d.login("gw")
        cid, _ = submit(gw, "win-1")
        expect_all(cl, "offer", contact=cid)
        accept(cl[1], cid)
        for c in (cl[0], cl[2]):
            c.expect("withdrawn", contact=cid, reason="taken")
        cl[0].error({"type": "accept", "contact": cid}, "conflict")
        gw.expect("routed", contact=cid, clinician="c2")
        gw.expect_none(secs(300), type="routed")
        sup.expect("event", contact=cid, event="assigned", clinician="c2")
        sup.expect_none(0, type="event", contact=cid, event="assigned")
        assert d.sql("SELECT state, clinician FROM contacts WHERE id = ?",
                       cid) == [("assigned", "c2")]


def test_accept_withdraws_own_other_offers():
    with Daemon(tiers=[(1, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "own-x")
        y, _ = submit(gw, "own-y")
        expect_all([c1, c2], "offer", contact=x)
        expect_all([c1, c2], "offer", contact=y)
        accept(c1, x)
        c1.expect("withdrawn", contact=y, reason="busy")
        c2.expect("withdrawn", contact=x, reason="taken")
        c2.expect_none(secs(300), type="withdrawn", contact=y)
        accept(c2, y)
        gw.expect("routed", contact=y, clinician="c2")


def test_abandon_withdraws_offers():
    with Daemon() as d:
        setup(d, {"c1": (1,), "c2": (1,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cid, _ = submit(gw, "aband-1")
        expect_all([c1, c2], "offer", contact=cid)
        gw.request({"type": "abandon", "contact": cid})
        for c in (c1, c2):
            c.expect("withdrawn", contact=cid, reason="abandoned")
            c.error({"type": "accept", "contact": cid}, "conflict")
        sup.expect("event", contact=cid, event="abandoned")
        gw.expect_none(secs(300))


def test_disconnect_declines_offers():
    with Daemon(tiers=[(1, "ring-all", SLOW), (2, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, _ = submit(d.login("gw"), "disc-off")
        c1.expect("offer", contact=cid)
        t = time.monotonic()
        c1.close()
        o = c2.expect("offer", contact=cid)
        quick("next tier after the offered clinician left", o, t, ms=300)
        sup.expect("event", contact=cid, event="declined", clinician="c1")


def test_away_declines_offers():
    with Daemon(tiers=[(1, "ring-all", SLOW), (2, "ring-all", SLOW)]) as d:
        setup(d, {"c1": (1,), "c2": (2,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, _ = submit(d.login("gw"), "away-off")
        c1.expect("offer", contact=cid)
        t = time.monotonic()
        c1.request({"type": "status", "status": "away"})
        o = c2.expect("offer", contact=cid)
        quick("next tier after the offered clinician went away", o, t)
        sup.expect("event", contact=cid, event="declined", clinician="c1")
        c1.error({"type": "accept", "contact": cid}, "conflict")


# --- missed offers ---

def test_missed_offers_make_away():
    with Daemon(tiers=[(1, "ring-all", 400)], max_missed_offers=2) as d:
        setup(d, {"c1": (1,)})
        d.start()
        sup = d.watcher("sup")
        c1 = d.clinician("c1")
        gw = d.login("gw")
        x, _ = submit(gw, "miss-x")
        c1.expect("offer", contact=x)
        c1.expect("withdrawn", secs(2000), contact=x, reason="expired")
        gw.expect("overflow", contact=x)
        c1.expect_none(secs(200), type="status")
        y, _ = submit(gw, "miss-y")
        c1.expect("offer", contact=y)
        c1.expect("withdrawn", secs(2000), contact=y, reason="expired")
        s = c1.expect("status", secs(1000))
        assert s.get("status") == "away" and s.get("reason") == \
            "missed_offers", s["_raw"]
        e = sup.expect("event", event="clinician_away")
        assert e.get("contact") == y and e.get("clinician") == "c1", e["_raw"]
        z, t = submit(gw, "miss-z")
        ov = gw.expect("overflow", contact=z)
        quick("overflow with the clinician made away", ov, t)
        c1.expect_none(0, type="offer")
        # Available again: offers resume.
        c1.request({"type": "status", "status": "available"})
        w, _ = submit(gw, "miss-w")
        c1.expect("offer", contact=w)


def test_missed_count_reset_by_decline_and_accept():
    with Daemon(tiers=[(1, "ring-all", 400)], max_missed_offers=2) as d:
        setup(d, {"c1": (1,)})
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")

        def offered(ref):
            cid, _ = submit(gw, ref)
            c1.expect("offer", secs(2000), contact=cid)
            return cid

        def expire(ref):
            cid = offered(ref)
            c1.expect("withdrawn", secs(2000), contact=cid, reason="expired")
            gw.expect("overflow", contact=cid)

        expire("rs-1")
        cid = offered("rs-2")
        c1.request({"type": "decline", "contact": cid})
        expire("rs-3")
        c1.expect_none(secs(300), type="status")
        cid = offered("rs-4")
        accept(c1, cid)
        complete(c1, cid)
        sleep_ms(d.conf["wrapup_ms"] + 200)
        expire("rs-5")
        c1.expect_none(secs(300), type="status")
        offered("rs-6")


def test_wrapup_lasts_wrapup_ms():
    with Daemon(wrapup_ms=1000, max_wait_ms=6000) as d:
        setup(d, {"c1": (1,)})
        d.start()
        c1 = d.clinician("c1")
        gw = d.login("gw")
        x, _ = submit(gw, "wrapup-x")
        c1.expect("offer", contact=x)
        accept(c1, x)
        complete(c1, x)
        t = time.monotonic()
        y, _ = submit(gw, "wrapup-y")
        o = c1.expect("offer", secs(3000), contact=y)
        assert_timing("end of wrap-up", o["_at"],
                      t + d.conf["wrapup_ms"] / 1000.0, early_ms=100)


# --- roster changes and timers ---

def test_roster_change_without_signal():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c2", tiers=())
        d.start()
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "roster-x")
        gw.expect("overflow", contact=x)
        c2.expect_none(0, type="offer")
        d.add_shift("c2", 1)
        token = d.add_clinician("c3", tiers=(1,))
        time.sleep(1.0 + secs(300))
        c3 = d.login("c3", token=token)
        c3.request({"type": "status", "status": "available"})
        y, _ = submit(gw, "roster-y")
        expect_all([c2, c3], "offer", contact=y)


def test_roster_gap_event():
    with Daemon() as d:
        setup(d, {"c2": (2,)})
        t = now()
        d.add_clinician("c1", tiers=(1,), start=t - 3600, end=int(t) + 3)
        d.start()
        sup = d.watcher("sup")
        d.clinician("c1")
        c2 = d.clinician("c2")
        # Tier 1 empties when c1's shift ends; a contact then finds nobody
        # on call there.  Supervisors hear of the gap either way.
        time.sleep(max(0.0, int(t) + 3 - now()) + 0.3)
        cid, _ = submit(d.login("gw"), "gap-1")
        o = c2.expect("offer", contact=cid)
        assert o["tier"] == 2
        e = sup.expect("event", secs(1500), event="roster_gap")
        parse_rfc3339(e.get("at"))


def test_timer_precision():
    with Daemon(tiers=[(1, "ring-all", 500), (2, "ring-all", 500)]) as d:
        setup(d, {"c1": (1,), "c2": (2,)}, sup=False)
        d.start()
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        worst = 0.0
        for i in range(3):
            cid, t = submit(gw, "prec-%d" % i)
            c1.expect("offer", contact=cid)
            o = c2.expect("offer", secs(2000), contact=cid)
            late = assert_timing("escalation %d" % i, o["_at"],
                                 t + d.tier_timeout(1) / 1000.0)
            worst = max(worst, late)
            c2.request({"type": "decline", "contact": cid})
            gw.expect("overflow", contact=cid)
        note("worst escalation lateness %.0f ms (contract: 50 ms)" % worst)
