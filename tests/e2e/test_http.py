"""CONTRACT §8: the web console's HTTP side, over real sockets: login and
its throttle, the session cookie, CSRF, the event stream carrying the same
protocol messages as TCP, messages answered like TCP requests, a stream
gone too long counting as a disconnect, sessions ending."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import (CRISISCTL, CRISISD, ROOT, SCALE, WRAPPER, Daemon,
                     free_port, note, now, rfc3339, secs, sleep_ms, submit)
from webclient import Web

PASSWORD = "correct horse battery staple"
SLOW = 30000


def setup(d, clinicians=("c1",), supervisor=True):
    """gw (intake), sup (supervisor), clinicians, each with a password."""
    d.add_intake("gw")
    if supervisor:
        d.add_supervisor("sup")
        set_password(d, "sup")
    for c in clinicians:
        d.add_clinician(c, tiers=(1,))
        set_password(d, c)
    d.start()


def set_password(d, principal, password=PASSWORD):
    d.ctl("password", "set", principal, input=password + "\n")


def web(d, name="web"):
    return Web(d.http_port, name)


def test_login_cookie_and_session():
    with Daemon(http=True) as d:
        setup(d)
        w = web(d)
        r = w.login("c1", PASSWORD)
        assert r.json["principal"] == "c1" and r.json["role"] == "clinician"
        assert len(r.json["csrf"]) == 43, r.json
        cookie = [c for c in r.cookies if c.startswith("crisisd_session=")]
        assert len(cookie) == 1, r.cookies
        flags = [f.strip().lower() for f in cookie[0].split(";")[1:]]
        for f in ("httponly", "samesite=strict", "path=/"):
            assert f in flags, "cookie lacks %s: %s" % (f, cookie[0])
        assert "secure" not in flags, "Secure on plain HTTP: %s" % cookie
        assert r.headers.get("cache-control") == "no-store", r.headers
        # The session is known across requests, with the same CSRF token.
        s = w.request("GET", "/api/session")
        assert s.status == 200 and s.json["csrf"] == w.csrf, s
        # Logout needs the CSRF header, then the cookie is dead.
        assert w.request("POST", "/api/logout").status == 403
        out = w.request("POST", "/api/logout", csrf=w.csrf)
        assert out.status == 204, out
        assert any("max-age=0" in c.lower() for c in out.cookies), out.cookies
        assert w.request("GET", "/api/session").status == 401


def test_login_refused_and_throttled():
    with Daemon(http=True) as d:
        setup(d, clinicians=("c1", "c2"))
        w = web(d)
        for who, pw in (("c1", "wrong password here"), ("nobody", PASSWORD),
                        ("gw", PASSWORD)):
            r = w.login(who, pw, expect=401)
            assert r.json["code"] == "unauthorized", r
        # A wrong and an unknown take about as long (no way to tell them).
        t = time.monotonic()
        w.login("c2", "wrong password here", expect=401)
        wrong = time.monotonic() - t
        t = time.monotonic()
        w.login("nobody-else", "wrong password here", expect=401)
        unknown = time.monotonic() - t
        note("wrong password %.0f ms, unknown principal %.0f ms" % (
            wrong * 1000, unknown * 1000))
        assert unknown > wrong / 4, (wrong, unknown)
        # c1 has one failure: four more in the minute, then 429, even for
        # the right password; c2 is not held up by c1's.
        for _ in range(4):
            w.login("c1", "still not it at all", expect=401)
        r = w.login("c1", PASSWORD, expect=429)
        assert r.json["code"] == "overloaded", r
        retry = int(r.headers.get("retry-after", "0"))
        assert 1 <= retry <= 60, r.headers
        w.login("c2", PASSWORD)
        # Bad bodies.
        for body in (b"not json", b"[1]", b'{"principal":1,"password":"x"}'):
            assert w.request("POST", "/api/login", body).status == 400


def test_csrf_and_security_headers():
    with Daemon(http=True) as d:
        setup(d)
        w = web(d)
        w.login("c1", PASSWORD)
        ping = {"type": "status", "status": "away"}
        assert w.request("POST", "/api/messages", ping).status == 403
        assert w.request("POST", "/api/messages", ping,
                         csrf="x" * 43).status == 403
        r = w.message(ping, expect="ok")
        h = r.headers
        assert h.get("content-security-policy", "").startswith(
            "default-src 'self'"), h
        assert h.get("x-frame-options") == "DENY", h
        assert h.get("referrer-policy") == "no-referrer", h
        assert h.get("x-content-type-options") == "nosniff", h
        assert h.get("cache-control") == "no-store", h
        # Without a cookie nothing of the API answers.
        anon = web(d, "anon")
        for method, path in (("GET", "/api/events"), ("GET", "/api/session"),
                             ("POST", "/api/messages")):
            assert anon.request(method, path).status == 401, path
        put = anon.request("PUT", "/api/messages")
        assert put.status == 405 and put.headers.get("allow") == \
            "GET, POST", put
        assert put.headers.get("x-frame-options") == "DENY", put.headers
        assert anon.request("GET", "/nope").status == 404


def test_offer_over_events_accept_over_messages():
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)],
                max_wait_ms=SLOW) as d:
        setup(d)
        w = web(d)
        w.login("c1", PASSWORD)
        ev = w.events()
        assert ev.status == 200, ev.status
        assert ev.headers.get("content-type") == "text/event-stream"
        eid, welcome = ev.next(type="welcome")
        assert welcome["principal"] == "c1" and welcome["role"] == \
            "clinician", welcome
        # A reply keeps the browser's own id.
        r = w.message({"type": "status", "status": "available", "id": 7},
                      expect="ok")
        assert r.json.get("id") == 7, r
        gw = d.login("gw")
        cid, t = submit(gw, "web-1", risk="high")
        eid, offer = ev.next(type="offer")
        took = time.monotonic() - t
        note("offer on the event stream %.0f ms after the contact" % (
            took * 1000))
        assert offer["contact"] == cid and offer["risk"] == "high", offer
        assert took < 1.0 * SCALE, took
        a = w.message({"type": "accept", "contact": cid}, expect="assigned")
        assert a.json["contact"] == cid and a.status == 200, a
        routed = gw.expect("routed", contact=cid)
        assert routed["clinician"] == "c1", routed["_raw"]
        # The same accept again: the protocol's conflict, as HTTP 409.
        again = w.message({"type": "accept", "contact": cid})
        assert again.status == 409 and again.json["code"] == "conflict"
        # A message the role may not send: 403, the protocol's forbidden.
        assert w.message({"type": "snapshot"}).status == 403
        assert w.message({"type": "hello"}).status == 400
        done = w.message({"type": "complete", "contact": cid,
                          "disposition": "resolved"}, expect="ok")
        assert done.status == 200


def test_stream_resumes_with_last_event_id():
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)],
                max_wait_ms=SLOW) as d:
        setup(d)
        w = web(d)
        w.login("c1", PASSWORD)
        ev = w.events()
        ev.next(type="welcome")
        w.message({"type": "status", "status": "available"}, expect="ok")
        gw = d.login("gw")
        cid1, _ = submit(gw, "resume-1")
        last, first = ev.next(type="offer")
        ev.close()
        # While the stream is down (for less than hello_timeout_ms) the
        # session lives on and keeps what comes.
        w.message({"type": "decline", "contact": cid1}, expect="ok")
        cid2, _ = submit(gw, "resume-2")
        sleep_ms(300)
        ev2 = w.events(last_id=last)
        eid, m = ev2.next(type="offer")
        assert eid > last and m["contact"] == cid2, (eid, last, m)
        # Its countdown went on while nobody was listening.
        assert m["expires_in_ms"] <= first["expires_in_ms"] - 250, (
            m, first)
        # Nothing before Last-Event-ID comes again.
        assert ev2.next(timeout=secs(300), type="offer") is None


def test_stream_resumes_with_last_event_id_in_the_query():
    # A page that opens a new EventSource cannot set Last-Event-ID: it
    # says ?lastEventId=N instead, and resumes the same.
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)],
                max_wait_ms=SLOW) as d:
        setup(d)
        w = web(d)
        w.login("c1", PASSWORD)
        ev = w.events()
        welcome_id, _ = ev.next(type="welcome")
        w.message({"type": "status", "status": "available"}, expect="ok")
        gw = d.login("gw")
        cid1, _ = submit(gw, "query-1")
        last, _ = ev.next(type="offer")
        ev.close()
        cid2, _ = submit(gw, "query-2")
        ev2 = w.events(query="?lastEventId=%d" % last)
        eid, m = ev2.next(type="offer")
        assert eid > last and m["contact"] == cid2, (eid, last, m)
        assert ev2.next(timeout=secs(300), type="offer") is None
        ev2.close()
        # The header wins over the query (it is the browser's own, newer).
        ev3 = w.events(last_id=last, query="?lastEventId=%d" % welcome_id)
        eid, m = ev3.next(type="offer")
        assert m["contact"] == cid2, m
        ev3.close()
        # An id that names no push of this session, or no number: the
        # stream starts again from the welcome, as a new one does.
        for bad in ("?lastEventId=99999", "?lastEventId=x",
                    "?lastEventId=-1", "?lastEventId="):
            ev4 = w.events(query=bad)
            eid, m = ev4.next()
            assert eid == welcome_id and m["type"] == "welcome", (bad, m)
            contacts = []
            while True:
                got = ev4.next(timeout=secs(300), type="offer")
                if got is None:
                    break
                contacts.append(got[1]["contact"])
            assert contacts == [cid1, cid2], (bad, contacts)
            ev4.close()


# What tools/embed builds in, by extension: the type each is served with.
CONSOLE_TYPES = {".html": "text/html; charset=utf-8",
                 ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml"}


def test_console_files_served_with_type_and_no_cache():
    with Daemon(http=True) as d:
        d.start()
        w = web(d, "anon")
        files = sorted(p for p in (ROOT / "web").rglob("*") if p.is_file())
        served = [p for p in files if p.suffix in CONSOLE_TYPES]
        assert any(p.name == "favicon.svg" for p in served), files
        for p in files:
            path = "/" + p.relative_to(ROOT / "web").as_posix()
            r = w.request("GET", path)
            if p.suffix not in CONSOLE_TYPES:
                assert r.status == 404, (path, r)  # web/README.md
                continue
            assert r.status == 200, (path, r)
            h = r.headers
            assert h.get("content-type") == CONSOLE_TYPES[p.suffix], (
                path, h)
            assert h.get("cache-control") == "no-cache", (path, h)
            assert h.get("content-security-policy", "").startswith(
                "default-src 'self'"), (path, h)
            assert h.get("x-content-type-options") == "nosniff", (path, h)
            assert r.raw.encode() == p.read_bytes(), "%s differs" % path
        root = w.request("GET", "/")
        assert root.raw.encode() == (ROOT / "web" / "index.html").read_bytes()
        assert root.headers.get("cache-control") == "no-cache", root.headers
        for path in ("/js/../index.html", "/js/", "/favicon.ico",
                     "/index.html/"):
            assert w.request("GET", path).status == 404, path
        note("%d console files served" % len(served))


def test_several_streams_of_one_session():
    # Tabs of one browser share its cookie, so one session: each tab's
    # stream gets every push, none ends another's, and the session is gone
    # only when the last stream has been gone for hello_timeout_ms.
    hello = 500
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW,
                hello_timeout_ms=hello) as d:
        setup(d)
        w = web(d)
        w.login("c1", PASSWORD)
        tab1, tab2 = w.events(), w.events()
        for tab in (tab1, tab2):
            assert tab.next(type="welcome") is not None
        w.message({"type": "status", "status": "available"}, expect="ok")
        gw = d.login("gw")
        cid, _ = submit(gw, "tabs-1")
        for tab in (tab1, tab2):
            eid, m = tab.next(type="offer")
            assert m["contact"] == cid, m
        assert not tab1.closed, "a second stream ended the first"
        tab1.close()
        sleep_ms(hello * 3)
        shown = d.ctl_json("show", cid)["events"]
        assert not [e for e in shown if e["event"] == "declined"], shown
        w.message({"type": "decline", "contact": cid}, expect="ok")
        # Past 8 at once, the oldest stream is ended.
        tabs = [w.events() for _ in range(8)]
        for t in tabs:
            assert t.next(type="welcome") is not None
        assert tab2.next(timeout=secs(2000), type="never") is None
        assert tab2.closed, "the oldest of 9 streams was not ended"
        assert not any(t.closed for t in tabs)


def test_stream_gone_declines_offers():
    hello = 500
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW,
                hello_timeout_ms=hello) as d:
        setup(d, clinicians=("c1", "c2"))
        w = web(d)
        w.login("c1", PASSWORD)
        ev = w.events()
        ev.next(type="welcome")
        w.message({"type": "status", "status": "available"}, expect="ok")
        gw = d.login("gw")
        cid, _ = submit(gw, "drop-1")
        ev.next(type="offer")
        ev.close()
        t = time.monotonic()
        # Within hello_timeout_ms nothing happens; after it, a disconnect.
        deadline = t + secs(hello) + secs(3000)
        declined = []
        while time.monotonic() < deadline and not declined:
            declined = [e for e in d.ctl_json("show", cid)["events"]
                        if e["event"] == "declined" and
                        e.get("clinician") == "c1"]
            if not declined:
                sleep_ms(20)
        gone = time.monotonic() - t
        note("offer declined %.0f ms after the stream closed (hello_timeout_"
             "ms %d)" % (gone * 1000, d.conf["hello_timeout_ms"]))
        assert declined, d.ctl_json("show", cid)
        assert declined[0].get("detail", {}).get("reason") == \
            "disconnected", declined
        assert gone >= secs(hello) * 0.9, gone


def test_supervisor_watches_and_intake_refused():
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)],
                max_wait_ms=SLOW) as d:
        setup(d)
        w = web(d, "sup")
        w.login("sup", PASSWORD)
        ev = w.events()
        ev.next(type="welcome")
        # The session's watch goes first on its connection: once a ping
        # sent after it is answered, every event is on the stream.
        w.message({"type": "ping"}, expect="pong")
        d.clinician("c1")  # someone to ring, so the contact stays open
        gw = d.login("gw")
        cid, _ = submit(gw, "watch-1")
        m = None
        while m is None or m.get("contact") != cid:
            got = ev.next(type="event")
            assert got is not None, "no event for %s" % cid
            m = got[1]
        assert m["event"] == "queued", m
        snap = w.message({"type": "snapshot"}, expect="snapshot")
        assert any(c["contact"] == cid for c in snap.json["contacts"]), snap
        # A supervisor may not accept: forbidden, 403.
        assert w.message({"type": "accept", "contact": cid}).status == 403


def test_disabled_principal_and_idle_session_end():
    with Daemon(http={"session_idle_ms": 1500}) as d:
        setup(d, clinicians=("c1", "c2"))
        w = web(d)
        w.login("c1", PASSWORD)
        w.message({"type": "status", "status": "away"}, expect="ok")
        d.ctl("principal", "disable", "c1")
        assert w.request("GET", "/api/session").status == 401
        w.login("c1", PASSWORD, expect=401)
        idle = web(d, "idle")
        idle.login("c2", PASSWORD)
        assert idle.request("GET", "/api/session").status == 200
        time.sleep(1.5 + 0.3)
        assert idle.request("GET", "/api/session").status == 401


def test_review_endpoints_same_json_as_crisisctl_and_audited():
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)],
                max_wait_ms=SLOW) as d:
        setup(d)
        gw, c1 = d.login("gw"), d.clinician("c1")
        cid, _ = submit(gw, "rev-1", risk="high", caller="+15550100")
        c1.expect("offer", contact=cid)
        c1.request({"type": "accept", "contact": cid}, expect="assigned")
        c1.request({"type": "complete", "contact": cid,
                    "disposition": "resolved"})
        c1.close()
        # Nobody left to ring: it overflows at once, and the records stay
        # as they are while the web and crisisctl read them.
        cid2, _ = submit(gw, "rev-2", risk="low")
        gw.expect("overflow", contact=cid2)
        w = web(d, "sup")
        w.login("sup", PASSWORD)
        log = w.request("GET", "/api/contacts")
        assert log.status == 200, log
        assert [r["id"] for r in log.json] == [cid2, cid], log.json
        assert log.json == d.ctl_json("log"), "web log differs from crisisctl"
        high = w.request("GET", "/api/contacts?risk=high&limit=5").json
        assert [r["id"] for r in high] == [cid], high
        show = w.request("GET", "/api/contacts/" + cid)
        assert show.status == 200 and show.json == d.ctl_json("show", cid)
        assert [e["event"] for e in show.json["events"]][:1] == ["queued"]
        stats = w.request("GET", "/api/stats?by=hour")
        assert stats.status == 200, stats
        want = d.ctl_json("stats", "--by", "hour")
        assert stats.json == want, (stats.json, want)
        for path in ("/api/followups", "/api/disclosures",
                     "/api/roster/gaps"):
            r = w.request("GET", path)
            assert r.status == 200 and isinstance(r.json, list), (path, r)
        frm, to = rfc3339(now()), rfc3339(now() + 2 * 86400)
        gaps = w.request("GET", "/api/roster/gaps?from=%s&to=%s" % (frm, to))
        assert gaps.json == d.ctl_json("roster", "gaps", "--from", frm,
                                       "--to", to), gaps
        # Refusals: bad and unknown parameters, unknown contact, roles.
        for bad in ("/api/contacts?risk=severe", "/api/contacts?limit=0",
                    "/api/contacts?limit=1001", "/api/contacts?since=today",
                    "/api/contacts?colour=red", "/api/stats?by=week",
                    "/api/contacts?risk=high&risk=low"):
            r = w.request("GET", bad)
            assert r.status == 400 and r.json["code"] == "bad_request", (
                bad, r)
        assert w.request("GET", "/api/contacts/NOPE").status == 404
        clin = web(d, "c1web")
        clin.login("c1", PASSWORD)
        assert clin.request("GET", "/api/contacts").status == 403
        assert web(d, "anon").request("GET", "/api/stats").status == 401
        # Every read is on record, by the principal, as crisisctl's are.
        audit = d.ctl_json("audit", "--actor", "sup")
        actions = [a["action"] for a in audit]
        for a in ("read.log", "read.show", "read.stats", "read.followups",
                  "read.disclosures", "read.gaps"):
            assert a in actions, (a, actions, d.sql(
                "SELECT at, actor, action FROM audit"))
        shown = [a for a in audit if a["action"] == "read.show"]
        assert shown[0]["target"] == cid, shown


def test_demo_setup_serves_the_console_with_printed_logins():
    # `make run`: tools/demo-setup gives the demo an http group and every
    # supervisor and clinician a console password, printed for a new user.
    work = tempfile.mkdtemp(prefix="crisisd-demo-")
    env = dict(os.environ, CRISISCTL=CRISISCTL)
    try:
        out = subprocess.run([str(ROOT / "tools" / "demo-setup"), work],
                             cwd=str(ROOT), env=env, capture_output=True,
                             text=True, timeout=60 * SCALE)
        assert out.returncode == 0, out.stderr
        assert "http://127.0.0.1:7411/" in out.stdout, out.stdout
        pw_file = os.path.join(work, "passwords")
        assert os.stat(pw_file).st_mode & 0o777 == 0o600
        logins = dict(line.split() for line in open(pw_file))
        assert set(logins) == {"supervisor", "dr-rivera", "cm-okafor",
                               "rn-chen", "dr-patel"}, logins
        for who, pw in logins.items():
            assert re.search(r"^  %s +%s$" % (re.escape(who), re.escape(pw)),
                             out.stdout, re.M), (who, out.stdout)
        # The demo's config on ports of our own, so a demo running here
        # is not disturbed.
        conf = os.path.join(work, "crisisd.conf")
        port, http_port = free_port(), free_port()
        text = open(conf).read()
        assert '"127.0.0.1:7411"' in text, text
        text = text.replace('"127.0.0.1:7410"', '"127.0.0.1:%d"' % port)
        text = text.replace('"127.0.0.1:7411"', '"127.0.0.1:%d"' % http_port)
        open(conf, "w").write(text)
        proc = subprocess.Popen(WRAPPER + [CRISISD, "-c", conf],
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + secs(10000)
            while True:
                try:
                    socket.create_connection(("127.0.0.1", http_port),
                                             1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "no console"
                    assert proc.poll() is None, "crisisd exited"
                    time.sleep(0.05)
            for who, role in (("supervisor", "supervisor"),
                              ("dr-rivera", "clinician")):
                w = Web(http_port, who)
                r = w.login(who, logins[who])
                assert r.json["role"] == role, r
            page = Web(http_port).request("GET", "/")
            assert page.status == 200 and "crisisd" in page.raw, page
        finally:
            proc.terminate()
            proc.wait(timeout=30 * SCALE)
        # Run again: the passwords are kept, and printed again.
        again = subprocess.run([str(ROOT / "tools" / "demo-setup"), work],
                               cwd=str(ROOT), env=env, capture_output=True,
                               text=True, timeout=60 * SCALE)
        assert again.returncode == 0, again.stderr
        assert dict(line.split() for line in open(pw_file)) == logins
        assert logins["supervisor"] in again.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
