"""CONTRACT §6: crisisctl contact close — a supervisor closes a stuck contact.

crisisctl files the request; the running daemon carries it out within a
second: an open contact's gateway is told `overflow` and its offers are
withdrawn, an assigned one is completed and its clinician freed; the
timeline names the supervisor and the reason, and the audit the OS user.
"""

import time

from harness import (SCALE, Daemon, accept, note, secs, sleep_ms, submit)

SLOW = 30000  # neither the offer nor the contact may time out by itself


def setup(d):
    d.add_intake("gw")
    d.add_supervisor("sup")
    d.add_clinician("c1", tiers=(1,))
    d.add_clinician("c2", tiers=(1,))
    d.start()


def close(d, cid, reason="caller reached by phone", by="sup"):
    """Run contact close; its JSON answer and how long it took."""
    t = time.monotonic()
    out = d.ctl_json("contact", "close", cid, "--by", by, "--reason", reason)
    took = time.monotonic() - t
    note("contact close answered after %.0f ms" % (took * 1000))
    return out, took


def events(d, cid):
    return [e["event"] for e in d.ctl_json("show", cid)["events"]]


def closed_event(d, cid):
    ev = [e for e in d.ctl_json("show", cid)["events"]
          if e["event"] == "closed"]
    assert len(ev) == 1, "one closed event expected: %s" % ev
    return ev[0]


def test_close_open_contact_overflows_and_withdraws():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw, sup = d.login("gw"), d.watcher("sup")
        c1, c2 = d.clinician("c1"), d.clinician("c2")
        cid, _ = submit(gw, "stuck-1", caller="+15550100")
        c1.expect("offer", contact=cid)
        c2.expect("offer", contact=cid)
        out, took = close(d, cid, reason="line dropped; called back")
        assert out["done"] is True and out["contact"] == cid, out
        assert "overflow" in out["result"], out
        # The daemon polls every second; crisisctl waits for it.
        assert took < 2.5 * SCALE, "close took %.1f s" % took
        o = gw.expect("overflow", contact=cid, timeout=secs(500))
        assert o["target"] == "tel:988" and o["ref"] == "stuck-1", o["_raw"]
        for c in (c1, c2):
            w = c.expect("withdrawn", contact=cid, timeout=secs(500))
            assert w["reason"] == "overflow", w["_raw"]
        sup.expect("event", contact=cid, event="closed", timeout=secs(500))
        ev = closed_event(d, cid)
        assert ev["detail"] == {"by": "sup",
                                "reason": "line dropped; called back"}, ev
        assert events(d, cid)[-2:] == ["closed", "overflow"], events(d, cid)
        assert d.ctl_json("show", cid)["state"] == "overflow"
        # The caller is owed a callback, as for any overflow.
        assert cid in {f["contact"] for f in d.ctl_json("followups")}
        # The gateway acks the result like any other; it is not sent again.
        gw.request({"type": "ack", "contact": cid})
        # The clinicians are free for the next caller at once.
        cid2, _ = submit(gw, "next-1")
        c1.expect("offer", contact=cid2)
        audit = d.ctl_json("audit", "--action", "change.contact_close")
        assert [a["target"] for a in audit] == [cid], audit


def test_close_assigned_contact_frees_its_clinician():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW,
                wrapup_ms=100) as d:
        setup(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "stuck-2")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        gw.expect("routed", contact=cid)
        c1.close()  # the clinician vanished mid-call
        out, _ = close(d, cid, reason="clinician unreachable, call ended")
        assert out["done"] is True and "completed" in out["result"], out
        assert "c1" in out["result"], out
        shown = d.ctl_json("show", cid)
        assert shown["state"] == "completed", shown
        assert shown.get("disposition") == "other", shown
        assert shown.get("notes") == "clinician unreachable, call ended", (
            shown)
        assert events(d, cid)[-2:] == ["closed", "completed"], events(d, cid)
        # Back, c1 is not told of the closed contact again, and can take
        # the next caller.
        c1 = d.clinician("c1")
        c1.expect_none(type="assigned", timeout=secs(300))
        cid2, _ = submit(gw, "next-2")
        c1.expect("offer", contact=cid2, timeout=secs(1500))
        gw.expect_none(type="overflow", timeout=secs(100))


def test_close_refusals():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        d.add_supervisor("sup2")
        gw = d.login("gw")
        c1 = d.clinician("c1")  # someone to ring, so nothing overflows
        cid, _ = submit(gw, "stuck-3")
        c1.expect("offer", contact=cid)
        gw.request({"type": "abandon", "contact": cid})

        def refused(args, code, why):
            p = d.ctl("contact", "close", *args, check=False)
            assert p.returncode == code, "%s: exit %d (%s)" % (
                why, p.returncode, p.stderr.strip())
            return p.stderr

        err = refused((cid, "--by", "sup", "--reason", "x"), 1,
                      "an abandoned contact")
        assert "already closed" in err and "abandoned" in err, err
        refused(("nosuch-contact", "--by", "sup", "--reason", "x"), 1,
                "an unknown contact")
        cid2, _ = submit(gw, "stuck-4")
        assert "no supervisor" in refused(
            (cid2, "--by", "c1", "--reason", "x"), 1, "a clinician as --by")
        refused((cid2, "--by", "nobody", "--reason", "x"), 1,
                "an unknown supervisor")
        d.ctl("principal", "disable", "sup2")
        assert "disabled" in refused(
            (cid2, "--by", "sup2", "--reason", "x"), 1,
            "a disabled supervisor")
        refused((cid2, "--by", "sup"), 2, "no --reason")
        refused((cid2, "--reason", "x"), 2, "no --by")
        refused((cid2, "--by", "sup", "--reason", ""), 2, "an empty reason")
        refused((cid2, "--by", "sup", "--reason", "a\x1b[31mb"), 2,
                "a reason with an escape sequence")
        refused((cid2, "--by", "sup", "--reason", "r" * 1025), 2,
                "a reason over 1024 bytes")
        refused(("bad id", "--by", "sup", "--reason", "x"), 2,
                "a contact id with a space")
        # None of it touched the contact, nor filed anything.
        assert d.ctl_json("show", cid2)["state"] == "open"
        assert d.sql("SELECT count(*) FROM contact_closes")[0][0] == 0


def test_close_filed_while_down_is_done_at_start():
    with Daemon(tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW) as d:
        setup(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "stuck-5")
        c1.expect("offer", contact=cid)
        d.stop()
        out, took = close(d, cid, reason="filed while crisisd was down")
        assert out["done"] is False and "not running" in out["result"], out
        assert took < 2 * SCALE, "no daemon to wait for: %.1f s" % took
        d.start()
        gw = d.login("gw")
        o = gw.expect("overflow", contact=cid, timeout=secs(2500))
        assert o["target"] == "tel:988", o["_raw"]
        deadline = time.monotonic() + secs(2000)
        while time.monotonic() < deadline:
            row = d.sql("SELECT done_at IS NOT NULL, result FROM"
                          " contact_closes")[0]
            if row[0]:
                break
            sleep_ms(50)
        assert row[0] and "overflow" in row[1], row
        assert closed_event(d, cid)["detail"]["by"] == "sup"
