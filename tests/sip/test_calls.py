"""Real calls through Kamailio, crisis-sipgw and crisisd, between baresip
phones on loopback (issue 14's scenarios).  Each test prints its
measurements as "# ..." lines."""

import time

import siplab
from siplab import Lab, harness

CALLER_HZ = 1000
CLINICIAN_HZ = 440


def note(text):
    print("# " + text, flush=True)


def timeline(lab, cid):
    """The events of a contact's timeline, in order."""
    shown = lab.daemon.ctl_json("show", cid)
    return [e.get("event") for e in shown.get("events", [])]


def contacts(lab):
    return harness.log_rows(lab.daemon)


def assert_tone(path, want_hz, what):
    hz = siplab.dominant_frequency(path)
    note("%s: %.0f Hz heard (sent %d Hz)" % (what, hz, want_hz))
    assert abs(hz - want_hz) < want_hz * 0.1, (
        "%s heard %.0f Hz, not the %d Hz tone" % (what, hz, want_hz))


def test_routed_call_audio_and_hangup():
    """Routed to the accepting clinician's phone; the caller's tone is heard
    there; the caller's hang-up after connect puts call_ended in the
    timeline."""
    with Lab() as lab:
        lab.clinician("dr1")
        dr1 = lab.phone("dr1", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        c = lab.daemon.clinician("dr1")
        t0 = time.monotonic()
        caller.dial("crisis")
        ring = caller.wait_event("CALL_RINGING", 5)
        note("caller hears ringing after %.0f ms" % ((ring["_at"] - t0) *
                                                      1000))
        offer = c.expect("offer", timeout=5)
        a = harness.accept(c, offer["contact"])
        assert a.get("caller") == "caller", a["_raw"]
        inc = dr1.wait_event("CALL_ESTABLISHED", 10)
        note("clinician's phone answered %.0f ms after the accept" % (
            (inc["_at"] - a["_at"]) * 1000))
        caller.wait_event("CALL_ESTABLISHED", 5)
        time.sleep(3)
        caller.hangup()
        dr1.wait_event("CALL_CLOSED", 5)
        time.sleep(0.3)  # the recording is complete once the call closed
        siplab.wait_for("call_ended", lambda: "call_ended" in timeline(
            lab, offer["contact"]), 5)
        rec = dr1.recordings()
        assert rec, "the clinician's phone recorded nothing"
        assert_tone(rec[-1], CALLER_HZ, "clinician's phone")
        rows = contacts(lab)
        assert len(rows) == 1, rows
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_escalation_to_tier2():
    """Tier 1 lets the offer expire; tier 2 accepts; tier 2's phone rings."""
    with Lab(daemon_overrides={"tiers": [(1, "ring-all", 1500),
                                         (2, "ring-all", 5000)]}) as lab:
        lab.clinician("dr1", tiers=(1,))
        lab.clinician("dr2", tiers=(2,))
        p2 = lab.phone("dr2", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        c1 = lab.daemon.clinician("dr1")
        c2 = lab.daemon.clinician("dr2")
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        assert offer["tier"] == 1
        c1.expect("withdrawn", timeout=5, reason="expired")
        offer2 = c2.expect("offer", timeout=5, contact=offer["contact"])
        assert offer2["tier"] == 2
        harness.accept(c2, offer2["contact"])
        p2.wait_event("CALL_ESTABLISHED", 10)
        caller.wait_event("CALL_ESTABLISHED", 5)
        events = timeline(lab, offer["contact"])
        assert "escalated" in events, events
        caller.hangup()
        p2.wait_event("CALL_CLOSED", 5)
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_overflow_reaches_988():
    """Nobody accepts: crisisd's overflow goes to the 988 stand-in phone."""
    with Lab(daemon_overrides={"tiers": [(1, "ring-all", 1500)]}) as lab:
        lab.clinician("dr1")
        p988 = lab.phone("988", freq=CLINICIAN_HZ)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go(overflow_phone=p988)
        c1 = lab.daemon.clinician("dr1")
        t0 = time.monotonic()
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        est = p988.wait_event("CALL_ESTABLISHED", 10)
        note("988 answered %.0f ms after the dial (offer_timeout 1500 ms)"
             % ((est["_at"] - t0) * 1000))
        caller.wait_event("CALL_ESTABLISHED", 5)
        assert "overflow" in timeline(lab, offer["contact"])
        time.sleep(2)
        caller.hangup()
        p988.wait_event("CALL_CLOSED", 5)
        time.sleep(0.3)  # the recording is complete once the call closed
        rec = p988.recordings()
        assert rec, "the 988 phone recorded nothing"
        assert_tone(rec[-1], CALLER_HZ, "988 phone")
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_hangup_while_queued_abandons():
    """The caller hangs up while the offer rings: abandon, and the clinician
    gets withdrawn (abandoned)."""
    with Lab() as lab:
        lab.clinician("dr1")
        lab.phone("dr1", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        c1 = lab.daemon.clinician("dr1")
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        t0 = time.monotonic()
        caller.hangup()
        w = c1.expect("withdrawn", timeout=5, contact=offer["contact"])
        assert w["reason"] == "abandoned", w["_raw"]
        note("withdrawn %.0f ms after the hang-up" % ((w["_at"] - t0) *
                                                      1000))
        rows = contacts(lab)
        assert harness.row_outcome(rows[0]) == "abandoned", rows
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_unregistered_phone_fails_and_reroutes():
    """dr1 accepts but its phone is not registered: failed, dr1 set away
    (connect_failed), the same contact re-routed to dr2, whose phone
    answers."""
    with Lab() as lab:
        lab.clinician("dr1")
        lab.clinician("dr2")
        p2 = lab.phone("dr2", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        c1 = lab.daemon.clinician("dr1")
        c2 = lab.daemon.clinician("dr2")
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        harness.accept(c1, offer["contact"])
        away = c1.expect("status", timeout=5, status="away")
        assert away.get("reason") == "connect_failed", away["_raw"]
        offer2 = c2.expect("offer", timeout=5,
                           where=lambda m: m["_at"] > away["_at"])
        assert offer2["contact"] == offer["contact"], "not the same contact"
        harness.accept(c2, offer2["contact"])
        p2.wait_event("CALL_ESTABLISHED", 10)
        caller.wait_event("CALL_ESTABLISHED", 5)
        events = timeline(lab, offer["contact"])
        assert "connect_failed" in events, events
        assert len(contacts(lab)) == 1
        caller.hangup()
        p2.wait_event("CALL_CLOSED", 5)
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_gateway_restart_while_suspended():
    """crisis-sipgw is killed while a call waits; Kamailio answers a new
    call 503 meanwhile; the restarted gateway is told of the waiting call,
    sends its contact again (same contact) and connects it."""
    with Lab() as lab:
        lab.clinician("dr1")
        p1 = lab.phone("dr1", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        other = lab.phone("other", freq=CALLER_HZ)
        lab.go()
        c1 = lab.daemon.clinician("dr1")
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        lab.gateway.kill()
        time.sleep(0.3)
        other.dial("crisis")
        closed = other.wait_event("CALL_CLOSED", 5)
        assert "503" in closed.get("param", ""), closed
        lab.gateway.start()
        lab.gateway.wait_ready()
        harness.accept(c1, offer["contact"])
        p1.wait_event("CALL_ESTABLISHED", 10)
        caller.wait_event("CALL_ESTABLISHED", 5)
        assert len(contacts(lab)) == 1, contacts(lab)
        caller.hangup()
        p1.wait_event("CALL_CLOSED", 5)
        siplab.wait_for("call_ended", lambda: "call_ended" in timeline(
            lab, offer["contact"]), 5)
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_crisisd_down_overflows_fast():
    """With crisisd stopped, a new call reaches the overflow target in
    under 2 s."""
    with Lab() as lab:
        p988 = lab.phone("988", freq=CLINICIAN_HZ)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go(overflow_phone=p988)
        lab.daemon.stop()
        siplab.wait_for("the gateway to see crisisd gone", lambda:
                        "connection lost" in lab.gateway.log_text(), 5)
        t0 = time.monotonic()
        caller.dial("crisis")
        inc = p988.wait_event("CALL_ESTABLISHED", 5)
        ms = (inc["_at"] - t0) * 1000
        note("988 answered %.0f ms after the dial with crisisd down" % ms)
        assert ms < 2000, "took %.0f ms" % ms
        caller.hangup()
        p988.wait_event("CALL_CLOSED", 5)
        assert not lab.kamailio_errors(), lab.kamailio_errors()


def test_tls_to_crisisd():
    """The gateway speaks to crisisd over TLS, with a client certificate,
    checking crisisd's certificate; a call is routed through it."""
    with Lab(tls=True) as lab:
        lab.clinician("dr1")
        p1 = lab.phone("dr1", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        assert "(TLS)" in lab.gateway.log_text()
        c1 = lab.daemon.clinician("dr1")
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        harness.accept(c1, offer["contact"])
        p1.wait_event("CALL_ESTABLISHED", 10)
        caller.hangup()
        p1.wait_event("CALL_CLOSED", 5)


def test_gateway_walks_crisisd_addresses():
    """crisisd.address lists a standby, an active that dies before
    "queued", and the lab's crisisd (CONTRACT §10): the gateway is told
    "unavailable" by the first and moves on, is welcomed by the second,
    which takes the call's contact and closes, and sends the same contact
    (ref = Call-ID) to the third, where it is routed and connected."""
    standby = harness.FakeNode("standby")
    dying = harness.FakeNode("dying")
    with Lab(crisisd_before=[standby.address(), dying.address()]) as lab:
        lab.clinician("dr1")
        p1 = lab.phone("dr1", freq=CLINICIAN_HZ, register=True)
        caller = lab.phone("caller", freq=CALLER_HZ)
        lab.go()
        log = lab.gateway.log_text()
        assert "unavailable: standby; active is b" in log, log
        assert "welcomed at %s" % dying.address() in log, log
        c1 = lab.daemon.clinician("dr1")
        t0 = time.monotonic()
        caller.dial("crisis")
        offer = c1.expect("offer", timeout=5)
        note("offered by the third address %.0f ms after the dial" % (
            (time.monotonic() - t0) * 1000))
        assigned = harness.accept(c1, offer["contact"])
        p1.wait_event("CALL_ESTABLISHED", 10)
        caller.wait_event("CALL_ESTABLISHED", 5)
        sent = [l for l in dying.lines if b'"contact"' in l]
        assert len(sent) == 1, dying.lines
        assert ('"ref":"%s"' % assigned["ref"]).encode() in sent[0], (
            sent, assigned)
        log = lab.gateway.log_text()
        assert "connection lost at %s" % dying.address() in log, log
        assert "welcomed at 127.0.0.1:%d" % lab.daemon.port in log, log
        caller.hangup()
        p1.wait_event("CALL_CLOSED", 5)
        assert len(contacts(lab)) == 1, contacts(lab)
        assert not lab.kamailio_errors(), lab.kamailio_errors()
    standby.close()
    dying.close()
