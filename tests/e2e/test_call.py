"""CONTRACT §3 `ended` and `failed`, §4 rule 8: what happens after routed.

`ended` records the end of the call once; `failed` sends the contact back
to routing at once, keeps its first queued time, sets the clinician who
could not be reached away and never rings them for it again.
"""

import time

from harness import (Daemon, accept, assert_timing, note, secs, sleep_ms,
                     submit)

SLOW = 30000  # an offer timeout that never fires during a test


def setup(d, clins=("c1", "c2")):
    d.add_intake("gw")
    d.add_intake("gw2")
    d.add_supervisor("sup")
    for c in clins:
        d.add_clinician(c, tiers=(1,))
    d.start()


def timeline(d, cid):
    return [(e["event"], e.get("clinician")) for e in
            d.ctl_json("show", cid)["events"]]


def routed_to(d, clin, gw, ref, others=()):
    """Submit ref, clin accepts, gw gets routed; the contact id."""
    cid, _ = submit(gw, ref)
    clin.expect("offer", contact=cid)
    for o in others:
        o.expect("offer", contact=cid)
    accept(clin, cid)
    gw.expect("routed", contact=cid, clinician=clin.name)
    return cid


def test_ended_is_recorded_once():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw, sup = d.login("gw"), d.watcher("sup")
        c1 = d.clinician("c1")
        cid = routed_to(d, c1, gw, "end-1")
        gw.request({"type": "ended", "contact": cid})
        ev = sup.expect("event", contact=cid, event="call_ended")
        assert ev.get("clinician") == "c1", ev["_raw"]
        # Said again (a gateway's resend after a reconnect): no second one.
        gw.request({"type": "ended", "contact": cid})
        c1.request({"type": "complete", "contact": cid,
                    "disposition": "resolved"})
        assert [e for e in timeline(d, cid) if e[0] == "call_ended"] == [
            ("call_ended", "c1")], timeline(d, cid)
        assert d.ctl_json("show", cid)["state"] == "completed"
        # A clinician who completed before the call ended: still recorded.
        c2 = d.clinician("c2")
        cid2 = routed_to(d, c2, gw, "end-2")
        c2.request({"type": "complete", "contact": cid2,
                    "disposition": "referred"})
        gw.request({"type": "ended", "contact": cid2})
        assert timeline(d, cid2)[-1][0] == "call_ended", timeline(d, cid2)


def test_ended_and_failed_refusals():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw, gw2 = d.login("gw"), d.login("gw2")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "ref-1")
        c1.expect("offer", contact=cid)
        for t in ("ended", "failed"):
            msg = {"type": t, "contact": cid, "reason": "486 Busy Here"}
            e = gw.error(msg, "conflict")
            assert "not routed" in e["message"], e["_raw"]
            gw2.error(dict(msg), "not_found")  # another gateway's contact
            gw.error({"type": t, "contact": "no-such", "reason": "x"},
                     "not_found")
            c1.error(dict(msg), "forbidden")
            gw.error({"type": t}, "bad_request")
        gw.error({"type": "failed", "contact": cid}, "bad_request")
        gw.error({"type": "failed", "contact": cid, "reason": 7},
                 "bad_request")
        assert [e for e, _ in timeline(d, cid)
                if e in ("call_ended", "connect_failed")] == []


def test_failed_routes_again_to_someone_else():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw, sup = d.login("gw"), d.watcher("sup")
        c1, c2 = d.clinician("c1"), d.clinician("c2")
        cid = routed_to(d, c1, gw, "fail-1", others=(c2,))
        c2.expect("withdrawn", contact=cid, reason="taken")
        t = time.monotonic()
        gw.request({"type": "failed", "contact": cid,
                    "reason": "480 Temporarily Unavailable"})
        st = c1.expect("status", timeout=secs(500))
        assert st["status"] == "away" and st["reason"] == "connect_failed", (
            st["_raw"])
        o = c2.expect("offer", contact=cid, timeout=secs(500))
        note("offered again %.0f ms after failed" % (
            (o["_at"] - t) * 1000))
        ev = sup.expect("event", contact=cid, event="connect_failed")
        assert ev["clinician"] == "c1", ev["_raw"]
        assert ev["detail"] == {"reason": "480 Temporarily Unavailable"}, (
            ev["_raw"])
        sup.expect("event", contact=cid, event="clinician_away")
        accept(c2, cid)
        r = gw.expect("routed", contact=cid)
        assert r["clinician"] == "c2" and r["ref"] == "fail-1", r["_raw"]
        key = [e for e in timeline(d, cid) if e[0] in (
            "assigned", "connect_failed", "clinician_away")]
        assert key == [("assigned", "c1"), ("connect_failed", "c1"),
                       ("clinician_away", "c1"), ("assigned", "c2")], (
            timeline(d, cid))
        shown = d.ctl_json("show", cid)
        assert shown["state"] == "assigned" and shown["clinician"] == "c2", (
            shown)
        # The routed to c1 counts as acted on: a new connection of the
        # gateway is owed only the routed to c2.
        gw.close()
        gw = d.login("gw")
        owed = gw.collect(secs(400), "routed")
        assert [m["clinician"] for m in owed] == ["c2"], [
            m["_raw"] for m in owed]


def test_failed_with_nobody_left_overflows_at_once():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d, clins=("c1",))
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid = routed_to(d, c1, gw, "fail-2")
        t = time.monotonic()
        gw.request({"type": "failed", "contact": cid, "reason": "timeout"})
        o = gw.expect("overflow", contact=cid, timeout=secs(500))
        note("overflow %.0f ms after failed" % ((o["_at"] - t) * 1000))
        assert o["target"] == "tel:988", o["_raw"]
        # Back available, c1 is not rung for it (it is closed anyway).
        c1.request({"type": "status", "status": "available"})
        c1.expect_none(type="offer", timeout=secs(300))
        assert d.ctl_json("show", cid)["state"] == "overflow"


def test_failed_keeps_the_first_queued_time():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=3000) as d:
        setup(d)
        gw = d.login("gw")
        c1, c2 = d.clinician("c1"), d.clinician("c2")
        busy = routed_to(d, c2, gw, "busy-1", others=(c1,))
        c1.expect("withdrawn", contact=busy)
        cid, t0 = submit(gw, "fail-3")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        gw.expect("routed", contact=cid)
        sleep_ms(1200)
        gw.request({"type": "failed", "contact": cid, "reason": "503"})
        # It waits for c2 (busy), and overflows at queued + max_wait_ms.
        o = gw.expect("overflow", contact=cid, timeout=secs(4000))
        assert_timing("overflow after failed", o["_at"],
                      t0 + d.conf["max_wait_ms"] / 1000.0)


def test_failed_survives_a_restart():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw = d.login("gw")
        c1 = d.clinician("c1", available=False)
        c1.request({"type": "status", "status": "available"})
        cid, _ = submit(gw, "fail-4")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        gw.expect("routed", contact=cid)
        c2 = d.clinician("c2")
        gw.request({"type": "failed", "contact": cid, "reason": "408"})
        c2.expect("offer", contact=cid)
        d.kill()
        d.stopped = False
        d.start()
        shown = d.ctl_json("show", cid)
        assert shown["state"] == "open" and not shown.get("clinician"), shown
        # The open offer to c2 is sent again; c1 is never rung for it.
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        c2.expect("offer", contact=cid)
        c1.expect_none(type="offer", timeout=secs(300))


def test_talk_time_in_stats():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid = routed_to(d, c1, gw, "talk-1")
        sleep_ms(400)
        gw.request({"type": "ended", "contact": cid})
        sleep_ms(200)
        gw.request({"type": "ended", "contact": cid})  # the first counts
        c1.request({"type": "complete", "contact": cid,
                    "disposition": "resolved"})
        talk = d.ctl_json("stats")["talk_time_ms"]
        note("talk time recorded %s ms for a 400 ms call" % talk["median"])
        assert talk["calls"] == 1, talk
        call_ms = secs(400) * 1000  # the sleep above, scaled
        assert call_ms <= talk["median"] < call_ms + secs(150) * 1000, talk
        per = {r["clinician"]: r for r in d.ctl_json("stats")[
            "per_clinician"]}
        assert per["c1"]["median_talk_time_ms"] == talk["median"], per
        by = d.ctl_json("stats", "--by", "clinician")["groups"]
        assert [g["talk_median_ms"] for g in by
                if g["clinician"] == "c1"] == [talk["median"]], by
