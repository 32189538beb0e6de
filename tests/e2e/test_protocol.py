"""CONTRACT §3: the wire protocol, rule by rule, against a real crisisd."""

import json
import re
import time

from harness import (DISCLOSURE, DISPOSITIONS, Daemon, accept, assert_timing,
                     clean, complete, expect_all, log_rows, parse_rfc3339,
                     note, row_id, secs, sleep_ms, submit)

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
UNKNOWN_CID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def one_clinician(d, cid="c1", tiers=(1,), **kw):
    """Add gw (intake) and one clinician; start the daemon."""
    d.add_intake("gw")
    d.add_clinician(cid, tiers=tiers, **kw)
    d.start()


def assert_closed_after_error(c, msg, code):
    """Send msg, expect the error code echoing its id, then the close."""
    c.error(msg, code)
    c.expect_eof()


# --- hello ---

def test_hello_each_role():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_supervisor("sup")
        d.add_clinician("c1")
        d.start()
        for pid, role in (("gw", "intake"), ("c1", "clinician"),
                          ("sup", "supervisor")):
            c = d.client(pid)
            w = c.hello(role, pid, d.tokens[pid])
            assert set(clean(w)) >= {"type", "role", "principal", "server"}
            assert re.match(r"^crisisd/\S+$", w["server"]), w["_raw"]
            c.ping()


def test_hello_bad_token():
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        c = d.client()
        bad = d.tokens["gw"][:-2] + ("AA" if not d.tokens["gw"].endswith("AA")
                                     else "BB")
        assert_closed_after_error(c, {"type": "hello", "role": "intake",
                                      "principal": "gw", "token": bad},
                                  "unauthorized")
        c = d.client()
        assert_closed_after_error(c, {"type": "hello", "role": "intake",
                                      "principal": "gw", "token": ""},
                                  "unauthorized")


def test_hello_unknown_principal():
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        c = d.client()
        assert_closed_after_error(c, {"type": "hello", "role": "intake",
                                      "principal": "nobody",
                                      "token": d.tokens["gw"]},
                                  "unauthorized")


def test_refused_hello_logs_no_secret_and_little():
    """A gateway that swapped its principal and token fields must not put
    its token in the journal: a refused hello names the principal only if
    it exists.  200 refused hellos make a few log lines, not 200."""
    with Daemon(log_level="info") as d:
        d.add_intake("gw")
        d.start()
        token = d.tokens["gw"]
        c = d.client()
        assert_closed_after_error(c, {"type": "hello", "role": "intake",
                                      "principal": token, "token": "gw"},
                                  "unauthorized")
        for i in range(200):
            c = d.client()
            c.send({"type": "hello", "role": "intake",
                    "principal": "nobody-%d" % i, "token": "x"})
            c.expect("error", code="unauthorized")
            c.close()
        bad = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert_closed_after_error(d.client(), {
            "type": "hello", "role": "intake", "principal": "gw",
            "token": bad}, "unauthorized")
        d.login("gw").ping()
        with open(d.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        refused = [l for l in log.splitlines() if "hello refused" in l]
        note("%d log lines for 202 refused hellos: %s" % (
            len(refused), refused))
        assert token not in log, "the token is in the log"
        assert "nobody-1" not in log, "an unknown principal was logged"
        assert 1 <= len(refused) <= 3, refused
        assert any("principal gw: bad token" in l for l in refused), refused


def test_hello_timeout():
    with Daemon(hello_timeout_ms=500) as d:
        d.add_intake("gw")
        d.start()
        t = time.monotonic()
        c = d.client()
        e = c.expect("error", secs(3000))
        assert e.get("code") == "unauthorized", e["_raw"]
        assert_timing("hello timeout", e["_at"],
                      t + d.conf["hello_timeout_ms"] / 1000.0, late_ms=300)
        c.expect_eof()
        # A partial hello (no newline) does not stop the clock either.
        c = d.client()
        t = time.monotonic()
        c.send_raw('{"type":"hello","role":"intake",')
        e = c.expect("error", secs(3000))
        assert e.get("code") == "unauthorized", e["_raw"]
        assert_timing("partial hello timeout", e["_at"],
                      t + d.conf["hello_timeout_ms"] / 1000.0, late_ms=300)
        c.expect_eof()


def test_hello_wrong_role():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_supervisor("sup")
        d.start()
        for pid, role in (("c1", "intake"), ("gw", "supervisor"),
                          ("sup", "clinician")):
            c = d.client()
            assert_closed_after_error(c, {"type": "hello", "role": role,
                                          "principal": pid,
                                          "token": d.tokens[pid]},
                                      "forbidden")


def test_first_message_not_hello():
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        c = d.client()
        assert_closed_after_error(c, {"type": "ping"}, "unauthorized")
        c = d.client()
        assert_closed_after_error(c, {"type": "contact", "ref": "r1",
                                      "channel": "voice", "risk": "low"},
                                  "unauthorized")


def test_ping_pong():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_supervisor("sup")
        d.start()
        for pid in ("gw", "c1", "sup"):
            c = d.login(pid)
            p = c.ping()
            assert clean(p) == {"type": "pong", "id": p["id"]}, p["_raw"]
            c.send({"type": "ping"})
            p = c.expect("pong")
            assert "id" not in p or p["id"] is None, p["_raw"]


def test_id_echo_string_and_number():
    with Daemon() as d:
        one_clinician(d)
        cl = d.client("c1")
        cl.request({"type": "hello", "role": "clinician", "principal": "c1",
                    "token": d.tokens["c1"], "id": "h"}, expect="welcome")
        r = cl.request({"type": "status", "status": "available", "id": 12})
        assert r["id"] == 12
        c = d.client("gw")
        w = c.request({"type": "hello", "role": "intake", "principal": "gw",
                       "token": d.tokens["gw"], "id": 7}, expect="welcome")
        assert w["id"] == 7 and isinstance(w["id"], int), w["_raw"]
        for ident in ("abc-1", 42, 0, -3, 1.5, ""):
            r = c.request({"type": "ping", "id": ident}, expect="pong")
            assert r["id"] == ident and type(r["id"]) is type(ident), r["_raw"]
            e = c.request({"type": "no_such_type", "id": ident},
                          expect="error")
            assert e["id"] == ident and type(e["id"]) is type(ident), e["_raw"]
        q = c.request({"type": "contact", "ref": "r-id", "channel": "text",
                       "risk": "low", "id": 99}, expect="queued")
        assert q["id"] == 99, q["_raw"]
        r = c.request({"type": "abandon", "contact": q["contact"],
                       "id": "ab"}, expect="ok")
        assert r["id"] == "ab"
        e = c.request({"type": "abandon", "contact": UNKNOWN_CID, "id": 5},
                      expect="error")
        assert e["id"] == 5 and e["code"] == "not_found", e["_raw"]


def test_malformed_json_keeps_connection():
    with Daemon() as d:
        one_clinician(d)
        c = d.login("gw")
        for line in (b'{not json', b'[1,2]', b'"ping"', b'42', b'{}',
                     b'{"type":5}', b'{"type":null}',
                     b'{"type":"ping","x":"\xff\xfe"}',
                     b'{"type":"ping"} trailing'):
            c.send_raw(line + b"\n")
            e = c.expect("error")
            assert e.get("code") == "bad_request", (
                "sent %r, got %s" % (line, e["_raw"]))
            assert isinstance(e.get("message"), str) and e["message"]
            c.ping()
        # The id is echoed where the line is a JSON object carrying one.
        c.send_raw(b'{"type":5,"id":"bad-type"}\n')
        e = c.expect("error")
        assert e.get("code") == "bad_request" and e.get("id") == "bad-type", (
            e["_raw"])
        c.ping()


def test_unknown_type_keeps_connection():
    with Daemon() as d:
        one_clinician(d)
        for pid in ("gw", "c1"):
            c = d.login(pid)
            c.error({"type": "frobnicate"}, "bad_request")
            c.error({"type": "HELLO"}, "bad_request")
            c.ping()


def test_wrong_field_type_or_value():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        good = {"type": "contact", "ref": "r-ok", "channel": "voice",
                "risk": "low"}
        bad_contacts = [
            {"ref": None}, {"ref": 17}, {"channel": "fax"},
            {"channel": 1}, {"risk": "extreme"}, {"risk": None},
            {"needs": "mat"}, {"needs": [1, 2]}, {"caller": 5},
            {"patient": ["p"]}, {"language": 3}, {"program": {}},
        ]
        for i, change in enumerate(bad_contacts):
            msg = dict(good, ref="r-bad-%d" % i)
            msg.update(change)
            msg = {k: v for k, v in msg.items() if v is not None}
            gw.error(msg, "bad_request")
            gw.ping()
        for missing in ("ref", "channel", "risk"):
            msg = {k: v for k, v in good.items() if k != missing}
            gw.error(msg, "bad_request")
        gw.error({"type": "abandon"}, "bad_request")
        gw.error({"type": "abandon", "contact": 12}, "bad_request")
        gw.ping()
        # Nothing of the bad ones was stored.
        assert d.sql("SELECT count(*) FROM contacts")[0][0] == 0

        c1 = d.login("c1")
        for msg in ({"type": "status", "status": "busy"},
                    {"type": "status"},
                    {"type": "status", "status": True},
                    {"type": "accept"},
                    {"type": "accept", "contact": 5},
                    {"type": "decline", "contact": None},
                    {"type": "decline", "contact": UNKNOWN_CID, "reason": 3},
                    {"type": "complete", "contact": UNKNOWN_CID,
                     "disposition": "bogus"},
                    {"type": "complete", "contact": UNKNOWN_CID},
                    {"type": "complete", "contact": UNKNOWN_CID,
                     "disposition": "resolved", "notes": 5}):
            msg = {k: v for k, v in msg.items() if v is not None}
            c1.error(msg, "bad_request")
            c1.ping()


def test_role_may_not_send_forbidden():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_supervisor("sup")
        d.start()
        contact = {"type": "contact", "ref": "r-f", "channel": "voice",
                   "risk": "low"}
        cases = {
            "gw": [{"type": "status", "status": "available"},
                   {"type": "accept", "contact": UNKNOWN_CID},
                   {"type": "decline", "contact": UNKNOWN_CID},
                   {"type": "complete", "contact": UNKNOWN_CID,
                    "disposition": "resolved"},
                   {"type": "watch"}, {"type": "snapshot"}],
            "c1": [contact, {"type": "abandon", "contact": UNKNOWN_CID},
                   {"type": "watch"}, {"type": "snapshot"}],
            "sup": [contact, {"type": "abandon", "contact": UNKNOWN_CID},
                    {"type": "status", "status": "available"},
                    {"type": "accept", "contact": UNKNOWN_CID},
                    {"type": "decline", "contact": UNKNOWN_CID},
                    {"type": "complete", "contact": UNKNOWN_CID,
                     "disposition": "resolved"}],
        }
        for pid, msgs in cases.items():
            c = d.login(pid)
            for msg in msgs:
                c.error(msg, "forbidden")
                c.ping()
        assert d.sql("SELECT count(*) FROM contacts")[0][0] == 0


def test_line_too_large():
    with Daemon(max_line_bytes=1024) as d:
        one_clinician(d)
        c = d.login("gw")
        # Just under the limit is fine (whitespace is valid JSON padding).
        line = '{"type":"ping","id":"fits"' + " " * 900 + "}"
        assert len(line) < 1024
        c.send_raw(line + "\n")
        assert c.expect("pong")["id"] == "fits"
        c.send_raw('{"type":"ping","id":"big"' + " " * 3000 + "}\n")
        e = c.expect("error")
        assert e.get("code") == "too_large", e["_raw"]
        c.expect_eof()


def test_line_too_large_without_newline():
    with Daemon(max_line_bytes=1024) as d:
        one_clinician(d)
        c = d.login("gw")
        c.send_raw('{"type":"ping",' + '"x":"' + "a" * 4000)
        e = c.expect("error")
        assert e.get("code") == "too_large", e["_raw"]
        c.expect_eof()
        # Before hello too.
        c = d.client()
        c.send_raw(" " * 5000)
        e = c.expect("error")
        assert e.get("code") == "too_large", e["_raw"]
        c.expect_eof()


def test_max_connections():
    with Daemon(max_connections=5, hello_timeout_ms=5000) as d:
        one_clinician(d)
        sleep_ms(200)
        conns = [d.login("gw", name="gw%d" % i) for i in range(5)]
        extra = d.client("gw-extra")
        e = extra.expect("error")
        assert e.get("code") == "overloaded", e["_raw"]
        extra.expect_eof()
        for c in conns:
            c.ping()
        conns[0].close()
        sleep_ms(300)
        again = d.login("gw", name="gw-again")
        again.ping()
        extra = d.client("gw-extra2")
        e = extra.expect("error")
        assert e.get("code") == "overloaded", e["_raw"]
        extra.expect_eof()


# --- intake ---

def test_queued_reply():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        q = gw.request({"type": "contact", "ref": "sip-call-1@pbx",
                        "channel": "voice", "risk": "high"}, expect="queued")
        assert q.get("ref") == "sip-call-1@pbx", q["_raw"]
        cid = q.get("contact")
        assert isinstance(cid, str) and len(cid.encode()) <= 64, q["_raw"]
        assert ULID.match(cid), "contact id is not ULID-style: %r" % cid
        # Durably stored before the reply.
        rows = d.sql("SELECT ref, risk, channel FROM contacts WHERE id = ?",
                       cid)
        assert rows == [("sip-call-1@pbx", "high", "voice")], rows
        q2 = gw.request({"type": "contact", "ref": "sip-call-2@pbx",
                         "channel": "chat", "risk": "low"}, expect="queued")
        assert q2["contact"] != cid and ULID.match(q2["contact"])
        # crisisctl accepts the id as printed.
        d.ctl("show", cid)


def test_idempotent_ref():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "dup-1")
        c1.expect("offer", contact=cid)
        again, _ = submit(gw, "dup-1")
        assert again == cid, "same ref gave another contact: %s vs %s" % (
            again, cid)
        # Another connection of the same gateway, the same fields: the same.
        other = d.login("gw", name="gw-b")
        third, _ = submit(other, "dup-1")
        assert third == cid
        rows = [r for r in log_rows(d) if r.get("ref") == "dup-1"]
        assert len(rows) == 1, "crisisctl log shows %d contacts" % len(rows)
        assert row_id(rows[0]) == cid
        assert d.sql("SELECT count(*) FROM contacts")[0][0] == 1
        # Still one offer: the repeat started no second routing.
        c1.expect_none(type="offer", contact=cid)


def test_idempotent_ref_after_result():
    """A repeated ref gets its contact's result again until it is acked."""
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        gw = d.login("gw")
        cid, _ = submit(gw, "dup-2")
        gw.expect("overflow", contact=cid)
        again, _ = submit(gw, "dup-2")
        assert again == cid
        gw.expect("overflow", contact=cid)
        gw.request({"type": "ack", "contact": cid}, "ok")
        again, _ = submit(gw, "dup-2")
        assert again == cid
        gw.expect_none(type="overflow")
        gw.expect_none(type="routed")
        assert d.sql("SELECT count(*) FROM contacts")[0][0] == 1


def test_same_ref_other_intake():
    with Daemon() as d:
        d.add_intake("gw1")
        d.add_intake("gw2")
        d.start()
        a, _ = submit(d.login("gw1"), "shared-ref")
        b, _ = submit(d.login("gw2"), "shared-ref")
        assert a != b
        rows = [r for r in log_rows(d) if r.get("ref") == "shared-ref"]
        assert sorted(row_id(r) for r in rows) == sorted([a, b]), rows


def test_abandon_open():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "ab-1")
        c1.expect("offer", contact=cid)
        gw.request({"type": "abandon", "contact": cid})
        c1.expect("withdrawn", contact=cid, reason="abandoned")
        gw.error({"type": "abandon", "contact": cid}, "conflict")
        gw.expect_none(type="overflow")
        gw.expect_none(type="routed")
        assert d.sql("SELECT state FROM contacts WHERE id = ?", cid) == [
            ("abandoned",)]


def test_abandon_closed_conflict():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        # Assigned.
        cid, _ = submit(gw, "ab-assigned")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        gw.expect("routed", contact=cid)
        gw.error({"type": "abandon", "contact": cid}, "conflict")
        # Completed.
        complete(c1, cid)
        gw.error({"type": "abandon", "contact": cid}, "conflict")
        # Overflowed (nobody eligible).
        c1.request({"type": "status", "status": "away"})
        sleep_ms(d.conf["wrapup_ms"] + 200)
        cid2, _ = submit(gw, "ab-overflow")
        gw.expect("overflow", contact=cid2)
        gw.error({"type": "abandon", "contact": cid2}, "conflict")
        rows = dict(d.sql("SELECT id, state FROM contacts"))
        assert rows == {cid: "completed", cid2: "overflow"}, rows


def test_abandon_unknown():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        gw.error({"type": "abandon", "contact": UNKNOWN_CID}, "not_found")
        gw.error({"type": "abandon", "contact": "no-such-contact"},
                 "not_found")
        gw.ping()


def test_abandon_other_principals_contact():
    with Daemon() as d:
        d.add_intake("gw2")
        one_clinician(d)
        c1 = d.clinician("c1")
        cid, _ = submit(d.login("gw"), "mine")
        c1.expect("offer", contact=cid)
        other = d.login("gw2")
        reply = other.request({"type": "abandon", "contact": cid},
                              expect="error")
        assert reply["code"] in ("not_found", "forbidden"), reply["_raw"]
        c1.expect_none(type="withdrawn", contact=cid)


def test_routed_to_submitting_connection():
    with Daemon() as d:
        one_clinician(d, endpoint="sip:c1@pbx.example.org")
        a = d.login("gw", name="gw-a")
        b = d.login("gw", name="gw-b")
        c1 = d.clinician("c1")
        cid, _ = submit(a, "push-1")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        r = a.expect("routed", contact=cid)
        assert clean(r) == {"type": "routed", "contact": cid, "ref": "push-1",
                            "clinician": "c1",
                            "endpoint": "sip:c1@pbx.example.org"}, r["_raw"]
        b.expect_none()


def test_push_to_most_recent_connection():
    with Daemon() as d:
        one_clinician(d)
        a = d.login("gw", name="gw-a")
        c1 = d.clinician("c1")
        cid, _ = submit(a, "push-2")
        c1.expect("offer", contact=cid)
        sock_c = d.client("gw-c")
        b = d.login("gw", name="gw-b")
        sock_c.hello("intake", "gw", d.tokens["gw"])
        a.close()
        sleep_ms(200)
        accept(c1, cid)
        r = sock_c.expect("routed", contact=cid)
        assert r.get("ref") == "push-2" and r.get("clinician") == "c1"
        b.expect_none()


def test_push_held_until_welcome():
    with Daemon(tiers=[(1, "ring-all", 3000)]) as d:
        one_clinician(d)
        a = d.login("gw", name="gw-a")
        c1 = d.clinician("c1")
        x, _ = submit(a, "held-x")
        c1.expect("offer", contact=x)
        y, _ = submit(a, "held-y")
        c1.expect("offer", contact=y)
        a.close()
        sleep_ms(200)
        # y overflows first (declined, nobody else), then x is routed.
        c1.request({"type": "decline", "contact": y})
        sleep_ms(200)
        accept(c1, x)
        sleep_ms(300)
        b = d.client("gw-b")
        w = b.hello("intake", "gw", d.tokens["gw"])
        first = b.expect(None, where=lambda m: m["type"] in ("routed",
                                                              "overflow"))
        second = b.expect(None, where=lambda m: m["type"] in ("routed",
                                                               "overflow"))
        got = [(first["type"], first["contact"]),
               (second["type"], second["contact"])]
        assert got == [("overflow", y), ("routed", x)], (
            "held results out of order: %s" % got)
        assert first["_at"] >= w["_at"], "held result sent before welcome"
        assert first.get("ref") == "held-y" and second.get("ref") == "held-x"
        assert first.get("target") == d.conf["overflow_target"]


# --- clinician ---

def test_clinician_away_after_welcome():
    with Daemon() as d:
        d.add_clinician("c2")
        one_clinician(d)
        c1 = d.clinician("c1", available=False)
        c2 = d.clinician("c2")
        gw = d.login("gw")
        x, _ = submit(gw, "away-1")
        c2.expect("offer", contact=x)
        c1.expect_none()
        c1.request({"type": "status", "status": "available"})
        y, _ = submit(gw, "away-2")
        expect_all([c1, c2], "offer", contact=y)


def test_status_ok():
    with Daemon() as d:
        one_clinician(d)
        c1 = d.login("c1")
        for s in ("available", "away", "available", "available", "away"):
            r = c1.request({"type": "status", "status": s})
            assert clean(r) == {"type": "ok", "id": r["id"]}, r["_raw"]
        gw = d.login("gw")
        cid, _ = submit(gw, "status-1")
        gw.expect("overflow", contact=cid)
        c1.expect_none(type="offer")


def test_accept_assigned_fields():
    with Daemon() as d:
        one_clinician(d, languages="en,es", skills="mat")
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "acc-1", risk="high", channel="chat",
                        caller="+15550100", patient="P-77", program="youth",
                        language="es", needs=["mat"])
        o = c1.expect("offer", contact=cid)
        want = {"tier": 1, "risk": "high", "channel": "chat",
                "program": "youth", "language": "es", "needs": ["mat"],
                "patient": "P-77"}
        for k, v in want.items():
            assert o.get(k) == v, "offer %s is %r, not %r: %s" % (
                k, o.get(k), v, o["_raw"])
        assert isinstance(o.get("expires_in_ms"), int), o["_raw"]
        assert 0 < o["expires_in_ms"] <= d.tier_timeout(1), o["_raw"]
        a = accept(c1, cid)
        assert a.get("ref") == "acc-1" and a.get("caller") == "+15550100", (
            a["_raw"])
        for k, v in want.items():
            assert a.get(k) == v, "assigned %s is %r, not %r: %s" % (
                k, a.get(k), v, a["_raw"])
        r = gw.expect("routed", contact=cid)
        assert r.get("clinician") == "c1"
        assert r.get("endpoint") == "sip:c1@pbx.example"


def test_accept_not_offered_conflict():
    with Daemon() as d:
        d.add_clinician("c9", tiers=(), endpoint="sip:c9@pbx.example")
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        c9 = d.clinician("c9")
        cid, _ = submit(gw, "noff-1")
        c1.expect("offer", contact=cid)
        c9.expect_none(type="offer")
        c9.error({"type": "accept", "contact": cid}, "conflict")
        c9.ping()
        # The real offer is untouched.
        accept(c1, cid)
        # Accepting again: no longer offered.
        c1.error({"type": "accept", "contact": cid}, "conflict")
        gw.expect("routed", contact=cid, clinician="c1")


def test_decline_ok():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        for i, reason in enumerate(("with another caller", None)):
            cid, _ = submit(gw, "dec-%d" % i)
            c1.expect("offer", contact=cid)
            msg = {"type": "decline", "contact": cid}
            if reason:
                msg["reason"] = reason
            r = c1.request(msg)
            assert clean(r) == {"type": "ok", "id": r["id"]}, r["_raw"]
            gw.expect("overflow", contact=cid)


def test_complete_each_disposition():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        ids = {}
        for disp in DISPOSITIONS:
            cid, _ = submit(gw, "disp-" + disp)
            c1.expect("offer", contact=cid, timeout=secs(3000))
            accept(c1, cid)
            r = complete(c1, cid, disp, notes="notes for " + disp)
            assert clean(r) == {"type": "ok", "id": r["id"]}, r["_raw"]
            ids[cid] = disp
        rows = dict(d.sql("SELECT id, disposition FROM contacts WHERE "
                            "state = 'completed'"))
        assert rows == ids, rows


def test_emergency_requires_disclosure():
    with Daemon() as d:
        one_clinician(d)
        gw = d.login("gw")
        c1 = d.clinician("c1")
        cid, _ = submit(gw, "emerg-1", risk="imminent")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        base = {"type": "complete", "contact": cid,
                "disposition": "emergency_dispatched"}
        c1.error(base, "bad_request")
        partial = {k: v for k, v in DISCLOSURE.items() if k != "nature"}
        c1.error(dict(base, disclosure=partial), "bad_request")
        c1.error(dict(base, disclosure=dict(DISCLOSURE, recipient=5)),
                 "bad_request")
        c1.error(dict(base, disclosure="EMS"), "bad_request")
        assert d.sql("SELECT state FROM contacts WHERE id = ?", cid) == [
            ("assigned",)]
        c1.request(dict(base, disclosure=DISCLOSURE))
        assert d.sql("SELECT state, disposition FROM contacts WHERE id = ?",
                       cid) == [("completed", "emergency_dispatched")]


def test_caller_only_in_assigned():
    caller = "+1-555-0142-SECRET"
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_clinician("c2")
        d.add_supervisor("sup")
        d.start()
        sup = d.watcher("sup")
        gw = d.login("gw")
        c1 = d.clinician("c1")
        c2 = d.clinician("c2")
        cid, _ = submit(gw, "caller-1", caller=caller)
        offers = expect_all([c1, c2], "offer", contact=cid)
        for o in offers.values():
            assert "caller" not in o and caller not in o["_raw"], o["_raw"]
        snap = sup.request({"type": "snapshot"}, expect="snapshot")
        assert caller not in snap["_raw"], "snapshot shows the caller"
        a = accept(c1, cid)
        assert a.get("caller") == caller, a["_raw"]
        w = c2.expect("withdrawn", contact=cid)
        assert caller not in w["_raw"]
        complete(c1, cid)
        sup.expect("event", contact=cid, event="completed")
        for m in sup.take():
            assert caller not in m["_raw"], "supervisor saw the caller: %s" % (
                m["_raw"])


# --- supervisor ---

def test_watch_events():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_supervisor("sup")
        d.start()
        sup = d.login("sup")
        r = sup.request({"type": "watch"})
        assert clean(r) == {"type": "ok", "id": r["id"]}
        gw = d.login("gw")
        c1 = d.clinician("c1")
        t0 = time.time()
        cid, _ = submit(gw, "watch-1", risk="high")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        complete(c1, cid)
        seen = []
        for ev in ("queued", "offered", "assigned", "completed"):
            e = sup.expect("event", contact=cid, event=ev)
            seen.append(e)
            at = parse_rfc3339(e.get("at"))
            assert abs(at - t0) < 10, "event time %s is off" % e["at"]
        assert [e["_at"] for e in seen] == sorted(e["_at"] for e in seen), (
            "events out of order")
        assert seen[0].get("detail", {}).get("risk") == "high", seen[0]["_raw"]
        assert seen[1].get("tier") == 1 and seen[1].get("clinician") == "c1", (
            seen[1]["_raw"])
        assert seen[2].get("clinician") == "c1", seen[2]["_raw"]
        # A second watcher sees new events too; a non-watching one does not.
        quiet = d.login("sup", name="sup-quiet")
        cid2, _ = submit(gw, "watch-2", risk="low")
        sup.expect("event", contact=cid2, event="queued")
        quiet.expect_none()


def test_snapshot_shape():
    with Daemon() as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_clinician("c2", tiers=(2,))
        d.add_clinician("c3")
        d.add_supervisor("sup")
        d.start()
        sup = d.login("sup")
        gw = d.login("gw")
        c1 = d.clinician("c1")
        d.clinician("c2", available=False)
        cid, _ = submit(gw, "snap-1", risk="moderate")
        c1.expect("offer", contact=cid)
        s = sup.request({"type": "snapshot"}, expect="snapshot")
        assert isinstance(s.get("contacts"), list), s["_raw"]
        assert isinstance(s.get("clinicians"), list), s["_raw"]
        mine = [c for c in s["contacts"] if isinstance(c, dict) and
                cid in c.values()]
        assert len(mine) == 1, "open contact not in snapshot: %s" % s["_raw"]
        assert "open" in json.dumps(mine[0]) or "offered" in json.dumps(
            mine[0]), "snapshot contact has no state: %s" % mine[0]
        by_id = {}
        for c in s["clinicians"]:
            assert isinstance(c, dict), s["_raw"]
            ident = c.get("clinician", c.get("id"))
            by_id[ident] = c
        assert set(by_id) == {"c1", "c2"}, (
            "snapshot clinicians should be the connected ones: %s" % list(
                by_id))
        assert by_id["c1"].get("status") == "available", by_id["c1"]
        assert by_id["c2"].get("status") == "away", by_id["c2"]
        for ident, tier in (("c1", 1), ("c2", 2)):
            tiers = [v for k, v in by_id[ident].items() if "tier" in k]
            assert tiers and (tiers[0] == [tier] or tiers[0] == tier), (
                "on-call tiers of %s: %s" % (ident, by_id[ident]))
        # Closed contacts leave the snapshot.
        accept(c1, cid)
        complete(c1, cid)
        s = sup.request({"type": "snapshot"}, expect="snapshot")
        assert not [c for c in s["contacts"] if cid in c.values()], s["_raw"]


def test_daemon_logs_to_stderr_without_phi():
    caller, patient = "+1-555-0199-PHI", "PATIENT-PHI-42"
    with Daemon(log_level="info") as d:
        one_clinician(d)
        c1 = d.clinician("c1")
        gw = d.login("gw")
        cid, _ = submit(gw, "log-1", caller=caller, patient=patient)
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        complete(c1, cid, notes="NOTES-PHI-7")
        d.stop()
        with open(d.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        assert log.strip(), "crisisd wrote nothing to stderr"
        assert cid in log, "the log does not mention the contact"
        for secret in [caller, patient, "NOTES-PHI-7"] + list(
                d.tokens.values()):
            assert secret not in log, "the info log holds %r" % secret
