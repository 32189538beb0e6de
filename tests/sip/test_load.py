"""SIPp's load through the whole chain: 300 calls at 10 calls/s to the
crisis line, 10 clinicians accepting at once (SIPp answering for their
registered phones and for 988).  Every call is connected or overflowed,
none stuck, and Kamailio logs no error."""

import time

import siplab
from siplab import Lab, harness

CALLS = 300
RATE = 10
CLINICIANS = ["dr%d" % i for i in range(10)]


def note(text):
    print("# " + text, flush=True)


def test_sipp_300_calls_10_cps():
    overrides = {"tiers": [(1, "ring-all", 2000)], "max_wait_ms": 6000,
                 "wrapup_ms": 0, "max_connections": 200}
    with Lab(daemon_overrides=overrides) as lab:
        for cid in CLINICIANS:
            lab.clinician(cid)
        uas = siplab.Sipp(lab.dir, "phones", "uas.xml", [])
        uas.start()
        for cid in CLINICIANS:
            siplab.register(lab.kamailio, cid, uas.port)
        lab.gateway_overflow_uri = "sip:988@127.0.0.1:%d" % uas.port
        text = open(lab.gateway.conf_path).read().replace(
            "sip:988@127.0.0.1:9", lab.gateway_overflow_uri)
        with open(lab.gateway.conf_path, "w") as f:
            f.write(text)
        lab.go()
        bots = siplab.Bots(lab.daemon, CLINICIANS)
        uac = siplab.Sipp(lab.dir, "callers", "uac.xml", [
            "-s", "crisis", "-m", str(CALLS), "-r", str(RATE), "-d", "1000",
            "-l", "200", "-trace_rtt", "-rtt_freq", "1",
            "-timeout", "120", "-timeout_error",
            "127.0.0.1:%d" % lab.kamailio.sip_port])
        t0 = time.monotonic()
        uac.start()
        rc = uac.wait(150)
        secs = time.monotonic() - t0
        bots.stop()
        uas.stop()
        stats = uac.last_stats()
        ok = int(stats.get("SuccessfulCall(C)", 0))
        bad = int(stats.get("FailedCall(C)", 0))
        note("SIPp: %d calls in %.1f s, %d successful, %d failed (exit %d)"
             % (CALLS, secs, ok, bad, rc))
        rtts = sorted(uac.rtts_ms())
        if rtts:
            note("INVITE to answer: p50 %.0f ms, p99 %.0f ms" % (
                rtts[len(rtts) // 2], rtts[int(len(rtts) * 0.99) - 1]))
        assert ok == CALLS and bad == 0, stats
        time.sleep(1)
        rows = harness.log_rows(lab.daemon, "--since", "2000-01-01T00:00:00Z")
        outcomes = {}
        for r in rows:
            o = harness.row_outcome(r)
            outcomes[o] = outcomes.get(o, 0) + 1
        note("crisisd outcomes: %s" % outcomes)
        assert len(rows) == CALLS, "%d contacts for %d calls" % (len(rows),
                                                                 CALLS)
        assert set(outcomes) <= {"completed", "overflow"}, outcomes
        assert not lab.kamailio_errors(), lab.kamailio_errors()[:5]
