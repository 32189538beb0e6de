"""CONTRACT §1, §2 and §6: crisisctl's commands and both programs' CLIs."""

import csv
import datetime
import io
import json
import os
import re
import shutil
import sqlite3
import time
import zoneinfo

import pgstore
from harness import (DISCLOSURE, SCALE, STORE, Daemon, accept, complete,
                     postgresql_only, sqlite_only,
                     crisisd_bare, ctl_bare, log_rows, note, now,
                     parse_rfc3339, render_conf, rfc3339, row_id,
                     row_outcome, secs, sleep_ms, submit)

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
UNKNOWN_CID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def rfc3339_ms(t):
    """Epoch seconds as RFC 3339 UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + \
        ".%03dZ" % int((t - int(t)) * 1000)


def rc(p, want, what):
    """Assert a CompletedProcess exited want."""
    assert p.returncode == want, "%s: exit %d, expected %d; stderr: %s" % (
        what, p.returncode, want, p.stderr.strip()[-400:])


def hello_fails(d, pid, role, token):
    """Assert hello with token is refused (unauthorized, then closed)."""
    c = d.client()
    c.error({"type": "hello", "role": role, "principal": pid,
             "token": token}, "unauthorized")
    c.expect_eof()


def pairs(value):
    """(tier, clinician) pairs found anywhere in an oncall JSON value."""
    out = set()

    def walk(v, tier=None):
        if isinstance(v, dict):
            t = v.get("tier", tier)
            who = v.get("clinician", v.get("id"))
            if isinstance(who, str) and t is not None:
                out.add((int(t), who))
            for k, sub in v.items():
                walk(sub, int(k) if str(k).isdigit() else t)
        elif isinstance(v, list):
            for sub in v:
                if isinstance(sub, str) and tier is not None:
                    out.add((int(tier), sub))
                else:
                    walk(sub, tier)
    walk(value)
    return out


def csv_rows(text):
    """CSV text as a list of dicts (header first)."""
    return list(csv.DictReader(io.StringIO(text)))


def dataset(d):
    """Drive four contacts through the daemon; return their ids and times.

    a (high) completed, b (low) overflowed, c (moderate) abandoned,
    d (imminent) assigned; queued in that order, c at least 300 ms after b.
    b and c give a caller to call back, so each owes a follow-up.
    """
    gw = d.login("gw")
    c1 = d.clinician("c1")
    ids, times = {}, {}
    times["a"] = now()
    ids["a"], _ = submit(gw, "ds-a", risk="high")
    c1.expect("offer", contact=ids["a"])
    accept(c1, ids["a"])
    complete(c1, ids["a"], "emergency_dispatched", notes="sent EMS")
    sleep_ms(d.conf["wrapup_ms"] + 200)
    times["b"] = now()
    ids["b"], _ = submit(gw, "ds-b", risk="low", caller="+15550100002")
    c1.expect("offer", contact=ids["b"])
    c1.request({"type": "decline", "contact": ids["b"]})
    gw.expect("overflow", contact=ids["b"])
    time.sleep(0.4)
    times["c"] = now()
    ids["c"], _ = submit(gw, "ds-c", risk="moderate",
                         caller="+15550100003")
    c1.expect("offer", contact=ids["c"])
    gw.request({"type": "abandon", "contact": ids["c"]})
    time.sleep(0.05)
    times["d"] = now()
    ids["d"], _ = submit(gw, "ds-d", risk="imminent")
    c1.expect("offer", contact=ids["d"])
    accept(c1, ids["d"])
    gw.expect("routed", contact=ids["d"])
    return ids, times


def dataset_daemon(**conf):
    """A running daemon with gw, c1 and sup."""
    d = Daemon(**conf)
    d.add_intake("gw")
    d.add_supervisor("sup")
    d.add_clinician("c1", tiers=(1,))
    d.start()
    return d


# --- both programs ---

def test_version_and_help():
    with Daemon() as d:
        d.add_intake("gw")
        d.start()
        c = d.client()
        w = c.hello("intake", "gw", d.tokens["gw"])
        version = w["server"].split("/", 1)[1]
    for run in (crisisd_bare, ctl_bare):
        p = run("--version")
        rc(p, 0, "--version")
        assert version in p.stdout, "--version %r lacks %s" % (p.stdout,
                                                               version)
        p = run("--help")
        rc(p, 0, "--help")
        assert "usage" in p.stdout.lower(), "--help: %r" % p.stdout[:200]
        p = run("--no-such-option")
        rc(p, 2, "unknown option")
        assert p.stderr.strip(), "no message for an unknown option"
    p = ctl_bare("--help")
    for cmd in ("init", "principal", "clinician", "token", "patient",
                "shift", "roster", "oncall", "log", "show", "stats"):
        assert cmd in p.stdout, "crisisctl --help does not mention %s" % cmd


def test_init_creates_and_migrates():
    with Daemon() as d:
        if STORE == "sqlite":
            db = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True)
            assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
            tables = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            db.close()
            assert oct(os.stat(d.db).st_mode & 0o777) == oct(0o600), (
                "database mode %o" % (os.stat(d.db).st_mode & 0o777))
        else:
            tables = {r[0] for r in d.sql(
                "SELECT table_name FROM information_schema.tables")}
        assert {"principals", "contacts", "contact_events"} <= tables, tables
        token = d.add_intake("gw")
        rc(d.ctl("init", check=False), 0, "init again")
        d.start()
        d.login("gw", token=token).ping()
        rc(d.ctl("init", check=False), 0, "init while crisisd runs")
    with Daemon() as d:
        conf = d.conf_path
        # A directory, or a server, that is not there.
        nowhere = "/nonexistent-dir/x/crisisd.db"
        if STORE == "postgresql":
            nowhere = pgstore.uri("/nonexistent-dir", "crisisd")
        with open(conf) as f:
            text = f.read().replace(d.db, nowhere)
        with open(conf, "w") as f:
            f.write(text)
        rc(d.ctl("init", check=False), 1, "init in a missing directory")


def test_principal_add():
    with Daemon() as d:
        p = d.ctl("principal", "add", "gw-1", "--role", "intake")
        assert TOKEN.match(p.stdout.rstrip("\n")) and p.stdout.count(
            "\n") == 1, "token not alone on stdout: %r" % p.stdout
        tok_gw = p.stdout.strip()
        p = d.ctl("principal", "add", "sup-1", "--role", "supervisor")
        tok_sup = p.stdout.strip()
        assert TOKEN.match(tok_sup) and tok_sup != tok_gw
        rc(d.ctl("principal", "add", "gw-1", "--role", "intake", check=False),
           1, "duplicate principal")
        rc(d.ctl("principal", "add", "x-2", "--role", "admin", check=False),
           2, "bad role")
        rc(d.ctl("principal", "add", "x-3", check=False), 2, "missing role")
        rc(d.ctl("principal", "add", "--role", "intake", check=False), 2,
           "missing id")
        rc(d.ctl("principal", "add", "bad id!", "--role", "intake",
                 check=False), 2, "invalid id")
        rc(d.ctl("principal", "add", "clin", "--role", "clinician",
                 check=False), 2, "clinician via principal add")
        # Only hashes are stored.
        blob = json.dumps([list(map(str, r)) for r in d.sql(
            "SELECT * FROM principals")])
        assert tok_gw not in blob and tok_sup not in blob
        d.start()
        c = d.client()
        c.hello("intake", "gw-1", tok_gw)
        c = d.client()
        c.hello("supervisor", "sup-1", tok_sup)


def test_clinician_add():
    with Daemon() as d:
        p = d.ctl("clinician", "add", "dr-a", "--name", "Dr A",
                  "--languages", "en,es", "--skills", "mat,family",
                  "--endpoint", "sip:dr-a@pbx.example")
        tok = p.stdout.strip()
        assert TOKEN.match(tok) and p.stdout == tok + "\n", (
            "token not alone on stdout: %r" % p.stdout)
        rows = d.sql("SELECT name, endpoint FROM clinicians WHERE id = ?",
                       "dr-a")
        assert rows == [("Dr A", "sip:dr-a@pbx.example")], rows
        assert d.sql("SELECT role FROM principals WHERE id = 'dr-a'") == [
            ("clinician",)]
        p = d.ctl("clinician", "add", "dr-b", "--name", "Dr B")
        assert TOKEN.match(p.stdout.strip())
        rc(d.ctl("clinician", "add", "dr-a", "--name", "Again", check=False),
           1, "duplicate clinician")
        rc(d.ctl("clinician", "add", "dr-c", check=False), 2, "missing name")
        d.start()
        c = d.client()
        c.hello("clinician", "dr-a", tok)


def test_token_reset():
    with Daemon() as d:
        old = d.add_intake("gw")
        d.add_clinician("c1")
        d.start()
        live = d.login("gw")
        p = d.ctl("token", "reset", "gw")
        new = p.stdout.strip()
        assert TOKEN.match(new) and p.stdout == new + "\n" and new != old, (
            "token reset output: %r" % p.stdout)
        hello_fails(d, "gw", "intake", old)
        c = d.client()
        c.hello("intake", "gw", new)
        live.ping()
        # Clinicians too.
        new_c1 = d.ctl("token", "reset", "c1").stdout.strip()
        hello_fails(d, "c1", "clinician", d.tokens["c1"])
        d.client().hello("clinician", "c1", new_c1)
        rc(d.ctl("token", "reset", "nobody", check=False), 1,
           "reset of an unknown principal")
        rc(d.ctl("token", "reset", check=False), 2, "reset without an id")


def test_patient_add():
    with Daemon() as d:
        d.add_clinician("c1")
        d.add_clinician("c2")
        d.ctl("patient", "add", "p-1", "--primary", "c1", "--program",
              "youth")
        assert d.sql("SELECT primary_clinician, program FROM patients "
                       "WHERE id = 'p-1'") == [("c1", "youth")]
        d.ctl("patient", "add", "p-1", "--primary", "c2")
        assert d.sql("SELECT primary_clinician FROM patients WHERE id = "
                       "'p-1'") == [("c2",)], "re-adding should replace"
        rc(d.ctl("patient", "add", "p-2", "--primary", "nobody",
                 check=False), 1, "unknown primary")
        rc(d.ctl("patient", "add", "p-3", check=False), 2, "missing primary")


def test_shift_add():
    with Daemon() as d:
        d.add_clinician("c1", tiers=())
        t = now()
        d.ctl("shift", "add", "c1", "--tier", "2", "--from", rfc3339(t),
              "--to", rfc3339(t + 3600))
        d.ctl("shift", "add", "c1", "--tier", "1", "--from",
              "2030-01-01T09:00:00-05:00", "--to", "2030-01-01T17:00:00-05:00")
        rows = d.sql("SELECT tier, start_at, end_at FROM shifts ORDER BY "
                       "tier")
        assert rows == [
            (1, int(parse_rfc3339("2030-01-01T14:00:00Z") * 1000),
             int(parse_rfc3339("2030-01-01T22:00:00Z") * 1000)),
            (2, int(t) * 1000, (int(t) + 3600) * 1000)], rows
        base = ["shift", "add", "c1", "--tier", "1", "--from", rfc3339(t),
                "--to", rfc3339(t + 60)]
        rc(d.ctl(*(base[:2] + ["nobody"] + base[3:]), check=False), 1,
           "shift of an unknown clinician")
        for bad, what in (((6, "yesterday"), "bad time"),
                          ((8, rfc3339(t - 60)), "end before start"),
                          ((8, rfc3339(t)), "empty shift"),
                          ((4, "0"), "tier 0"), ((4, "x"), "tier x"),
                          ((4, "32"), "tier 32")):
            args = list(base)
            args[bad[0]] = bad[1]
            rc(d.ctl(*args, check=False), 2, what)
        rc(d.ctl("shift", "add", "c1", "--from", rfc3339(t), "--to",
                 rfc3339(t + 60), check=False), 2, "missing tier")
        assert len(d.sql("SELECT * FROM shifts")) == 2


def write(d, name, text):
    """A file in the daemon's directory."""
    path = os.path.join(d.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_roster_import():
    with Daemon() as d:
        d.add_clinician("c1", tiers=())
        d.add_clinician("c2", tiers=())
        t = now()
        good = write(d, "good.csv", "clinician,tier,start,end\n"
                     "c1,1,%s,%s\nc2,1,%s,%s\nc2,2,%s,%s\n" % (
                         rfc3339(t - 60), rfc3339(t + 3600),
                         rfc3339(t - 60), rfc3339(t + 3600),
                         rfc3339(t + 7200), rfc3339(t + 9000)))
        d.ctl("roster", "import", good)
        assert len(d.sql("SELECT * FROM shifts")) == 3
        assert pairs(d.ctl_json("oncall")) == {(1, "c1"), (1, "c2")}

        def refused(name, text, line):
            path = write(d, name, text)
            p = d.ctl("roster", "import", path, check=False)
            assert p.returncode != 0, "bad import %s accepted" % name
            assert re.search(r"(line\s*%d\b|:%d\b)" % (line, line),
                             p.stderr), (
                "import error does not name line %d: %r" % (line, p.stderr))
            assert len(d.sql("SELECT * FROM shifts")) == 3, (
                "a refused import added rows")

        rows = ["c1,1,%s,%s" % (rfc3339(t + 100), rfc3339(t + 200))] * 3
        refused("badtime.csv", "clinician,tier,start,end\n" + "\n".join(
            rows[:2] + ["c1,1,not-a-time,%s" % rfc3339(t)]) + "\n", 4)
        refused("unknown.csv", "clinician,tier,start,end\n" + "\n".join(
            rows[:1] + ["ghost,1,%s,%s" % (rfc3339(t), rfc3339(t + 60))]
            + rows[1:]) + "\n", 3)
        refused("order.csv", "clinician,tier,start,end\n" + rows[0] +
                "\nc2,1,%s,%s\n" % (rfc3339(t + 60), rfc3339(t)), 3)
        refused("tier.csv", "clinician,tier,start,end\nc2,zero,%s,%s\n" % (
            rfc3339(t), rfc3339(t + 60)), 2)
        refused("cols.csv", "clinician,tier,start,end\nc2,1,%s\n" % (
            rfc3339(t)), 2)
        p = d.ctl("roster", "import", write(d, "hdr.csv",
                                            "who,tier,start,end\n"),
                  check=False)
        assert p.returncode != 0, "a wrong header was accepted"
        p = d.ctl("roster", "import", os.path.join(d.dir, "missing.csv"),
                  check=False)
        assert p.returncode in (1, 2), "missing file: exit %d" % p.returncode
        assert len(d.sql("SELECT * FROM shifts")) == 3


def test_oncall_formats():
    with Daemon(timezone="America/New_York") as d:
        t = now()
        d.add_clinician("c1", tiers=(1,), start=t - 3600, end=t + 3600)
        d.add_clinician("c2", tiers=(2, 3), start=t - 3600, end=t + 3600)
        d.add_clinician("c3", tiers=(1,), start=t + 7200, end=t + 10800)
        js = d.ctl_json("oncall")
        assert pairs(js) == {(1, "c1"), (2, "c2"), (3, "c2")}, js
        later = d.ctl_json("oncall", "--at", rfc3339(t + 9000))
        assert pairs(later) == {(1, "c3")}, later
        assert pairs(d.ctl_json("oncall", "--at", rfc3339(t + 20000))) == \
            set()
        # JSON times are RFC 3339 UTC.
        texts = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', json.dumps(js))
        for x in texts:
            assert x.endswith("Z") or x.endswith("+00:00"), x
        p = d.ctl("oncall", "--format", "csv")
        rows = csv_rows(p.stdout)
        assert rows and "tier" in rows[0] and "clinician" in rows[0], (
            p.stdout)
        assert {(int(r["tier"]), r["clinician"]) for r in rows} == {
            (1, "c1"), (2, "c2"), (3, "c2")}, p.stdout
        p = d.ctl("oncall")
        for who in ("c1", "c2"):
            assert who in p.stdout
        assert "c3" not in p.stdout
        assert p.stdout == d.ctl("oncall", "--format", "table").stdout
        rc(d.ctl("oncall", "--format", "xml", check=False), 2, "format xml")
        rc(d.ctl("oncall", "--at", "soon", check=False), 2, "bad --at")


def test_roster_gaps():
    with Daemon() as d:
        base = (int(now()) // 3600 + 48) * 3600
        h = 3600
        d.add_clinician("c1", tiers=(1,), start=base + h, end=base + 2 * h)
        d.add_shift("c1", 1, base + 3 * h, base + 4 * h)
        d.add_clinician("c2", tiers=(1,), start=base + 1.5 * h,
                        end=base + 2 * h)
        d.add_clinician("c3", tiers=(2,), start=base + 2 * h,
                        end=base + 3 * h)
        js = d.ctl_json("roster", "gaps", "--from", rfc3339(base), "--to",
                        rfc3339(base + 5 * h))
        assert isinstance(js, list), js
        got = []
        for w in js:
            start = w.get("start", w.get("from"))
            end = w.get("end", w.get("to"))
            got.append((parse_rfc3339(start) - base, parse_rfc3339(end) -
                        base))
        assert got == [(0, h), (2 * h, 3 * h), (4 * h, 5 * h)], got
        p = d.ctl("roster", "gaps", "--from", rfc3339(base), "--to",
                  rfc3339(base + 5 * h), "--format", "csv")
        assert len(csv_rows(p.stdout)) == 3, p.stdout
        full = d.ctl_json("roster", "gaps", "--from", rfc3339(base + h),
                          "--to", rfc3339(base + 2 * h))
        assert full == [], full
        default = d.ctl_json("roster", "gaps")
        assert isinstance(default, list) and default, (
            "the next 7 days have gaps: %r" % default)
        rc(d.ctl("roster", "gaps", "--from", "tomorrow", check=False), 2,
           "bad --from")


def test_log_filters_and_formats():
    with dataset_daemon(timezone="America/New_York") as d:
        ids, times = dataset(d)
        rows = log_rows(d)
        assert [row_id(r) for r in rows] == [ids[k] for k in "dcba"], (
            "log is not newest first: %s" % [row_id(r) for r in rows])
        outcome = {row_id(r): row_outcome(r) for r in rows}
        assert outcome == {ids["a"]: "completed", ids["b"]: "overflow",
                           ids["c"]: "abandoned", ids["d"]: "assigned"}, (
            outcome)
        for r in rows:
            q = r.get("queued_at")
            assert isinstance(q, str) and q.endswith("Z"), (
                "queued_at not RFC 3339 UTC: %r" % q)

        def ids_of(*args):
            return [row_id(r) for r in log_rows(d, *args)]

        assert ids_of("--risk", "high") == [ids["a"]]
        assert ids_of("--risk", "imminent") == [ids["d"]]
        for o, k in (("completed", "a"), ("overflow", "b"),
                     ("abandoned", "c"), ("assigned", "d")):
            assert ids_of("--outcome", o) == [ids[k]], o
        assert ids_of("--outcome", "open") == []
        mid = (times["b"] + times["c"]) / 2 + 0.05
        assert ids_of("--since", rfc3339_ms(mid)) == [ids["d"], ids["c"]]
        assert ids_of("--until", rfc3339_ms(mid)) == [ids["b"], ids["a"]]
        assert ids_of("--since", rfc3339_ms(mid), "--risk", "low") == []
        assert ids_of("--since", rfc3339(now() + 3600)) == []
        p = d.ctl("log", "--format", "csv")
        crow = csv_rows(p.stdout)
        assert [r.get("id", r.get("contact")) for r in crow] == [
            ids[k] for k in "dcba"], p.stdout
        table = d.ctl("log").stdout
        for k in "abcd":
            assert ids[k] in table, "table lacks %s" % ids[k]
        # Table times are in the configured zone.
        local = datetime.datetime.fromtimestamp(
            times["d"], zoneinfo.ZoneInfo("America/New_York"))
        stamp = local.strftime("%Y-%m-%d %H:%M")
        stamp2 = (local + datetime.timedelta(minutes=1)).strftime(
            "%Y-%m-%d %H:%M")
        assert stamp in table or stamp2 in table, (
            "table does not show %s (New York time): %s" % (stamp,
                                                            table[:300]))
        for bad in (("--risk", "extreme"), ("--outcome", "lost"),
                    ("--since", "last week")):
            rc(d.ctl("log", *bad, check=False), 2, "log %s %s" % bad)


def test_show_timeline():
    with dataset_daemon() as d:
        ids, _ = dataset(d)
        js = d.ctl_json("show", ids["a"])
        assert js.get("id", js.get("contact")) == ids["a"], js
        events = js.get("events")
        assert isinstance(events, list) and events, js
        names = [e.get("event") for e in events]
        for want in ("queued", "offered", "assigned", "completed"):
            assert want in names, "timeline lacks %s: %s" % (want, names)
        order = [names.index(w) for w in ("queued", "offered", "assigned",
                                          "completed")]
        assert order == sorted(order), "timeline out of order: %s" % names
        ats = [parse_rfc3339(e["at"]) for e in events]
        assert ats == sorted(ats), "event times out of order"
        assert js.get("disposition") == "emergency_dispatched", js
        assert "sent EMS" in json.dumps(js), "notes not shown"
        ev = {e["event"]: e for e in events}
        assert ev["offered"].get("clinician") == "c1", ev["offered"]
        detail = ev["queued"].get("detail")
        if isinstance(detail, str):
            detail = json.loads(detail)
        assert (detail or {}).get("risk") == "high", ev["queued"]
        js = d.ctl_json("show", ids["b"])
        names = [e.get("event") for e in js["events"]]
        assert names[0] == "queued" and "declined" in names and \
            names[-1] == "overflow", names
        table = d.ctl("show", ids["c"]).stdout
        assert ids["c"] in table and "abandoned" in table, table[:400]
        rc(d.ctl("show", UNKNOWN_CID, check=False), 1, "show unknown")
        rc(d.ctl("show", check=False), 2, "show without an id")


def test_stats_values():
    with dataset_daemon() as d:
        ids, times = dataset(d)
        s = d.ctl_json("stats")
        for k in ("total", "answered", "answer_rate", "overflows",
                  "abandoned", "time_to_answer_ms", "by_outcome", "by_risk",
                  "per_clinician"):
            assert k in s, "stats lacks %s: %s" % (k, sorted(s))
        assert s["total"] == 4, s
        assert s["answered"] == 2, s
        assert s["overflows"] == 1, s
        assert s["abandoned"] == 1, s
        assert s["answer_rate"] in (0.5, 50) or abs(
            s["answer_rate"] - 0.5) < 1e-9, "answer_rate %r for 2 of 4" % (
                s["answer_rate"])
        tta = s["time_to_answer_ms"]
        for k in ("median", "p90"):
            assert isinstance(tta.get(k), (int, float)), tta
            assert 0 <= tta[k] < 10000, tta
        assert tta["median"] <= tta["p90"], tta
        by_outcome = s["by_outcome"]
        assert {k: by_outcome.get(k) for k in ("completed", "assigned",
                                               "overflow", "abandoned")} == {
            "completed": 1, "assigned": 1, "overflow": 1, "abandoned": 1}, (
                by_outcome)
        by_risk = s["by_risk"]
        assert {k: by_risk.get(k) for k in ("high", "low", "moderate",
                                            "imminent")} == {
            "high": 1, "low": 1, "moderate": 1, "imminent": 1}, by_risk
        assert "c1" in json.dumps(s["per_clinician"]), s["per_clinician"]
        # A window holding only b and c.
        s = d.ctl_json("stats", "--since", rfc3339_ms(times["b"] - 0.05),
                       "--until", rfc3339_ms(times["d"] - 0.02))
        assert (s["total"], s["answered"], s["overflows"], s["abandoned"]) \
            == (2, 0, 1, 1), s
        s = d.ctl_json("stats", "--since", rfc3339(now() + 3600))
        assert s["total"] == 0 and s["answered"] == 0, s
        p = d.ctl("stats", "--format", "csv")
        assert re.search(r"^total,4\r?$", p.stdout, re.M), p.stdout[:300]
        p = d.ctl("stats")
        assert "total" in p.stdout and "4" in p.stdout


def test_disclosures():
    with dataset_daemon() as d:
        ids, times = dataset(d)
        js = d.ctl_json("disclosures")
        assert isinstance(js, list) and len(js) == 1, js
        text = json.dumps(js)
        for v in list(DISCLOSURE.values()) + [ids["a"], "c1"]:
            assert v in text, "disclosure lacks %s: %s" % (v, text)
        assert d.ctl_json("disclosures", "--since",
                          rfc3339(now() + 60)) == []
        assert d.ctl_json("disclosures", "--until",
                          rfc3339(times["a"] - 60)) == []


def test_followups():
    with dataset_daemon() as d:
        ids, _ = dataset(d)
        js = d.ctl_json("followups")
        assert isinstance(js, list), js
        owed = {r.get("contact", r.get("id")): r for r in js}
        assert set(owed) == {ids["b"], ids["c"]}, (
            "follow-ups should be the overflowed and the abandoned: %s" % js)
        row = owed[ids["c"]]
        fid = row.get("id", row.get("contact"))
        rc(d.ctl("followup", "close", fid, "--note", "x", check=False), 2,
           "close without --by")
        d.ctl("followup", "close", fid, "--by", "c1", "--note",
              "called back, safe")
        left = {r.get("contact", r.get("id")) for r in d.ctl_json(
            "followups")}
        assert left == {ids["b"]}, left
        rc(d.ctl("followup", "close", "999999", "--by", "c1", "--note", "x",
                 check=False), 1, "close of an unknown follow-up")


def test_audit():
    with dataset_daemon() as d:
        ids, _ = dataset(d)
        d.ctl("token", "reset", "gw")
        d.ctl("show", ids["a"])
        js = d.ctl_json("audit")
        assert isinstance(js, list) and js, js
        text = json.dumps(js)
        assert "gw" in text, "audit does not record the token reset: %s" % (
            text[:400])
        assert ids["a"] in text, "audit does not record reading %s" % ids["a"]
        for r in js:
            assert any(k in r for k in ("at", "time")), r
        assert d.ctl_json("audit", "--actor", "nobody-at-all") == []
        assert d.ctl_json("audit", "--since", rfc3339(now() + 3600)) == []
        # Append-only: the rows so far are still there, in the same order.
        again = d.ctl_json("audit")
        assert again[:len(js)] == js or again[-len(js):] == js


# --- exit codes, config checks, CRISISD_CONF ---

def test_ctl_exit_codes():
    with Daemon() as d:
        rc(d.ctl(check=False), 2, "no command")
        rc(d.ctl("frobnicate", check=False), 2, "unknown command")
        rc(d.ctl("log", "--format", "xml", check=False), 2, "bad format")
        rc(d.ctl("log", "--bogus", check=False), 2, "unknown option")
        rc(ctl_bare("-c", os.path.join(d.dir, "none.conf"), "log"), 2,
           "missing config file")
        bad = write(d, "bad.conf", "listen = [ \"127.0.0.1:1\" ]\n"
                    "database = ;\n")
        p = ctl_bare("-c", bad, "log")
        rc(p, 2, "config syntax error")
        assert "bad.conf:2" in p.stderr or "bad.conf:1" in p.stderr, p.stderr
        # A database that was never initialised (on PostgreSQL, one that
        # exists and is empty).
        never = d.new_database("never")
        text = open(d.conf_path).read().replace(d.db, d.database_for(never))
        conf = write(d, "never.conf", text)
        rc(ctl_bare("-c", conf, "log"), 1, "uninitialised database")
        if STORE == "sqlite":
            assert not os.path.exists(never) or \
                os.path.getsize(never) == 0, (
                    "crisisctl log created a database")
        else:
            assert d.sql_on(never, "SELECT count(*) FROM "
                            "information_schema.tables WHERE table_schema "
                            "= 'public'") == [(0,)], (
                                "crisisctl log created tables")
        rc(d.ctl("show", UNKNOWN_CID, check=False), 1, "not found")


def test_crisisd_check_config():
    with Daemon() as d:
        p = crisisd_bare("-t", "-c", d.conf_path)
        rc(p, 0, "crisisd -t on a good config")
        text = render_conf(d.conf, d.port, d.db)
        lines = text.splitlines()

        def check(name, body, line):
            path = write(d, name, body)
            p = crisisd_bare("-t", "-c", path)
            rc(p, 2, "crisisd -t " + name)
            assert "%s:%d" % (name, line) in p.stderr, (
                "error does not say %s:%d: %r" % (name, line, p.stderr))

        check("syntax.conf", text + "oops = ;\n", len(lines) + 1)
        check("unknown.conf", text + "frobnicate = 3;\n", len(lines) + 1)
        n = next(i for i, l in enumerate(lines) if "tier = 2;" in l)
        bad = list(lines)
        bad[n] = bad[n].replace('"ring-all"', '"random"')
        check("strategy.conf", "\n".join(bad) + "\n", n + 1)
        n = next(i for i, l in enumerate(lines) if "max_wait_ms" in l and
                 "imminent" not in l)
        bad = list(lines)
        bad[n] = "  max_wait_ms = -5;"
        check("negative.conf", "\n".join(bad) + "\n", n + 1)
        # Database errors: missing, wrong schema version, not a database.
        # On PostgreSQL: a database that does not exist (where the schema
        # version is kept, and what is not a database, are SQLite's).
        cases = (("missing", None), ("future", "version"),
                 ("garbage", "garbage"))
        if STORE == "postgresql":
            cases = cases[:1]
        for name, prepare in cases:
            db = d.new_database(name, create=False)
            if prepare == "version":
                shutil.copy(d.db, db)
                x = sqlite3.connect(db)
                x.execute("PRAGMA user_version = 999")
                x.commit()
                x.close()
            elif prepare == "garbage":
                with open(db, "wb") as f:
                    f.write(b"this is not an SQLite database\n" * 200)
            conf = write(d, name + ".conf", text.replace(
                d.db, d.database_for(db)))
            p = crisisd_bare("-t", "-c", conf)
            rc(p, 1, "crisisd -t with a %s database" % name)
            assert p.stderr.strip(), "no message for a %s database" % name
            if name == "missing" and STORE == "sqlite":
                assert not os.path.exists(db), (
                    "crisisd -t created the database")
        rc(crisisd_bare("-t", "-c", os.path.join(d.dir, "none.conf")), 2,
           "crisisd -t without a config file")


def test_conf_env_fallback():
    with Daemon() as d:
        d.add_clinician("c1")
        env = {"CRISISD_CONF": d.conf_path}
        p = ctl_bare("oncall", "--format", "json", env=env)
        rc(p, 0, "crisisctl with CRISISD_CONF")
        assert (1, "c1") in pairs(json.loads(p.stdout))
        rc(crisisd_bare("-t", env=env), 0, "crisisd -t with CRISISD_CONF")
        missing = {"CRISISD_CONF": os.path.join(d.dir, "none.conf")}
        rc(ctl_bare("oncall", env=missing), 2, "CRISISD_CONF to no file")
        rc(crisisd_bare("-t", env=missing), 2, "crisisd -t, no file")
        # -c wins over the environment.
        rc(ctl_bare("-c", d.conf_path, "oncall", env=missing), 0,
           "-c over CRISISD_CONF")
        rc(crisisd_bare("-t", "-c", d.conf_path, env=missing), 0,
           "crisisd -t -c over CRISISD_CONF")


def test_token_reset_and_disable_end_live_sessions():
    """`token reset` and `principal disable` close that principal's live
    connections within a second (`unauthorized`, then the close) and leave
    the others alone; a disabled principal cannot say hello, `principal
    enable` lets it back, and both are in the audit trail."""
    with Daemon() as d:
        d.add_intake("gw")
        d.add_supervisor("sup")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        gw, sup, c1 = d.login("gw"), d.login("sup"), d.clinician("c1")
        old = d.tokens["gw"]
        t = time.monotonic()
        new = d.ctl("token", "reset", "gw").stdout.strip()
        err = gw.expect("error", timeout=secs(2000))
        took = (time.monotonic() - t) * 1000
        assert err.get("code") == "unauthorized", err["_raw"]
        gw.expect_eof(timeout=secs(2000))
        note("token reset: connection closed %.0f ms after crisisctl "
             "started" % took)
        assert took < 1000 * SCALE, took
        sup.ping()
        c1.ping()
        d.tokens["gw"] = new
        gw = d.login("gw")
        gw.ping()
        del old

        t = time.monotonic()
        p = d.ctl("principal", "disable", "c1")
        assert p.stdout.strip() == "disabled c1", p.stdout
        err = c1.expect("error", timeout=secs(2000))
        assert err.get("code") == "unauthorized", err["_raw"]
        assert "disabled" in err.get("message", ""), err["_raw"]
        c1.expect_eof(timeout=secs(2000))
        note("disable: closed %.0f ms after crisisctl started" % (
            (time.monotonic() - t) * 1000))
        c = d.client()
        c.send({"type": "hello", "role": "clinician", "principal": "c1",
                "token": d.tokens["c1"]})
        err = c.expect("error")
        assert err.get("code") == "unauthorized", err["_raw"]
        c.expect_eof()
        gw.ping()
        sup.ping()
        assert d.ctl("principal", "enable", "c1").stdout.strip() == \
            "enabled c1"
        d.clinician("c1").ping()
        rows = d.ctl_json("audit", "--target", "c1")
        acts = [r.get("action") for r in rows]
        assert acts.count("change.principal") == 2, acts
        rows = d.ctl_json("audit", "--target", "gw")
        assert "change.token" in [r.get("action") for r in rows], rows
        p = d.ctl("principal", "disable", "nobody", check=False)
        assert p.returncode != 0, p


# --- issue 12, the smaller items ---

def test_roster_import_skips_duplicates():
    """Importing a file again adds nothing: rows that repeat a shift of the
    roster (same clinician, tier, start and end) or an earlier row of the
    file are skipped, and the output says how many."""
    with Daemon() as d:
        d.add_clinician("c1", tiers=())
        d.add_clinician("c2", tiers=())
        t = now()
        a = (rfc3339(t - 60), rfc3339(t + 3600))
        b = (rfc3339(t + 7200), rfc3339(t + 9000))
        good = write(d, "good.csv", "clinician,tier,start,end\n"
                     "c1,1,%s,%s\nc2,1,%s,%s\nc2,2,%s,%s\n" % (a + a + b))
        p = d.ctl("roster", "import", good)
        assert p.stdout.strip() == "imported 3 shifts from %s" % good, (
            p.stdout)
        p = d.ctl("roster", "import", good)
        assert p.stdout.strip() == (
            "imported 0 shifts from %s (3 already there, skipped)" % good), (
                p.stdout)
        assert len(d.sql("SELECT * FROM shifts")) == 3
        # Repeated within the file, repeated from the roster, and near
        # misses (another tier, another end) that are new shifts.
        c = (rfc3339(t + 10000), rfc3339(t + 11000))
        mixed = write(d, "mixed.csv", "clinician,tier,start,end\n"
                      "c1,1,%s,%s\nc1,1,%s,%s\nc1,2,%s,%s\nc1,2,%s,%s\n"
                      "c2,1,%s,%s\nc2,1,%s,%s\n" % (
                          c + c + c + (c[0], rfc3339(t + 12000)) + a +
                          (a[0], rfc3339(t + 3601))))
        p = d.ctl("roster", "import", mixed)
        assert p.stdout.strip() == (
            "imported 4 shifts from %s (2 already there, skipped)" % mixed), (
                p.stdout)
        rows = d.sql("SELECT clinician, tier, start_at, end_at FROM shifts")
        assert len(rows) == 7 and len(set(rows)) == 7, rows
        audit = [r for r in d.ctl_json("audit", "--action", "change.roster")
                 if r.get("target") == mixed]
        assert audit and audit[-1]["detail"]["after"].get(
            "skipped_duplicates") == 2, audit


def backup_tmp_files(path):
    """The files a backup in progress writes besides PATH."""
    return [path + s for s in (".tmp", ".tmp-journal", ".tmp-wal",
                               ".tmp-shm") if os.path.exists(path + s)]


@postgresql_only("crisisctl backup is for the SQLite file")
def test_backup_refused_on_postgresql():
    """crisisctl backup on a PostgreSQL database says to use the server's
    tools, exits 1, writes no file and no audit row."""
    with Daemon() as d:
        d.start()
        target = os.path.join(d.dir, "backup.db")
        r = d.ctl("backup", target, check=False)
        assert r.returncode == 1 and "pg_dump" in r.stderr, (
            r.returncode, r.stderr)
        assert not os.path.exists(target)
        rows = d.sql("SELECT count(*) FROM audit WHERE action = 'backup'")
        assert rows == [(0,)], rows


@sqlite_only("crisisctl backup copies the SQLite file through FILE.tmp")
def test_backup_removes_tmp_on_signal():
    """A backup ended by SIGINT, SIGTERM or SIGHUP removes its FILE.tmp
    (it holds every record); one killed with SIGKILL leaves it, and the
    next backup to the same file removes it and succeeds."""
    import signal
    import subprocess
    from harness import CRISISCTL
    with Daemon() as d:
        # Enough pages that a backup takes a while to copy and check.
        db = sqlite3.connect(d.db)
        db.execute("CREATE TABLE ballast(b BLOB)")
        db.executemany("INSERT INTO ballast VALUES (randomblob(65536))",
                       [()] * 3000)
        db.commit()
        db.close()
        path = os.path.join(d.dir, "copy.db")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                    signal.SIGKILL):
            proc = subprocess.Popen([CRISISCTL, "-c", d.conf_path,
                                     "backup", path],
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            deadline = time.monotonic() + 20
            while not os.path.exists(path + ".tmp") and \
                    proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            assert proc.poll() is None, (
                "the backup finished before it could be signalled: %r" % (
                    proc.communicate(),))
            time.sleep(0.02)
            proc.send_signal(sig)
            proc.communicate(timeout=30)
            assert proc.returncode == -sig, (sig, proc.returncode)
            assert not os.path.exists(path), "%s left %s" % (sig, path)
            if sig != signal.SIGKILL:
                assert backup_tmp_files(path) == [], (
                    "%s left %s" % (sig, backup_tmp_files(path)))
        # SIGKILL cannot be caught: the next backup removes what it left.
        assert os.path.exists(path + ".tmp")
        p = d.ctl("backup", path)
        assert "integrity_check ok" in p.stdout, p.stdout
        assert backup_tmp_files(path) == [] and os.path.exists(path)
        # Something else in the way of FILE.tmp is not removed.
        other = os.path.join(d.dir, "other.db")
        with open(other + ".tmp", "w") as f:
            f.write("not ours\n")
        os.chmod(other + ".tmp", 0o644)
        p = d.ctl("backup", other, check=False)
        assert p.returncode == 1 and ".tmp" in p.stderr, (p.returncode,
                                                           p.stderr)
        assert open(other + ".tmp").read() == "not ours\n"


# --- issue 12: web console passwords (CONTRACT §6, §8) ---

ARGON2ID = re.compile(r"^\$argon2id\$v=19\$m=65536,t=2,p=1\$"
                      r"[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")


def password_row(d, pid):
    """(password_hash, token_hash, disabled_at) of principal pid."""
    return d.sql("SELECT password_hash, token_hash, disabled_at"
                   " FROM principals WHERE id = ?", pid)[0]


def password_daemon():
    """A running daemon with gw (intake), sup and c1, and no passwords."""
    d = Daemon()
    d.add_intake("gw")
    d.add_supervisor("sup")
    d.add_clinician("c1", tiers=(1,))
    d.start()
    return d


def test_password_set():
    """`password set` reads the password from stdin and stores only its
    Argon2id hash, salted anew each time; the token, live connections and
    hellos are untouched; multibyte characters count as one each."""
    with password_daemon() as d:
        sup, c1 = d.login("sup"), d.clinician("c1")
        before = password_row(d, "sup")
        assert before[0] is None, before
        pw = "correct horse battery staple"
        t = time.monotonic()
        p = d.ctl("password", "set", "sup", input=pw + "\n")
        note("password set: %.0f ms wall clock, crisisctl start to exit" % (
            (time.monotonic() - t) * 1000))
        assert p.stdout == "password set for sup\n", p.stdout
        assert pw not in p.stdout + p.stderr
        first = password_row(d, "sup")
        assert ARGON2ID.match(first[0]), first[0]
        assert first[1] == before[1], "password set changed the token"
        p = d.ctl("password", "set", "sup", input=pw)  # no newline
        second = password_row(d, "sup")
        assert ARGON2ID.match(second[0]) and second[0] != first[0], (
            "the same password hashed twice gives the same string")
        blob = json.dumps([list(map(str, r)) for r in d.sql(
            "SELECT * FROM principals")])
        assert pw not in blob
        # A line ended by CRLF, and characters that take several bytes:
        # twelve ñ (24 bytes) are enough, eleven (22 bytes) are not.
        d.ctl("password", "set", "c1", input="ñ" * 12 + "\r\n")
        assert ARGON2ID.match(password_row(d, "c1")[0])
        p = d.ctl("password", "set", "c1", input="ñ" * 11 + "\n",
                  check=False)
        rc(p, 2, "eleven two-byte characters")
        assert "at least 12 characters" in p.stderr, p.stderr
        # Connections and tokens are as they were.
        sup.ping()
        c1.ping()
        d.login("sup").ping()
        d.clinician("c1").ping()
        assert pw not in d.log_tail(1000)


def test_password_refusals():
    """Too short, too long, empty, control characters and invalid UTF-8
    are refused (exit 2) as are a bad or missing id and a password on the
    command line; an unknown principal and an intake principal (which
    cannot log in) are refused with exit 1.  Nothing is stored or audited
    for any of them."""
    with password_daemon() as d:
        def refused(pid, text, code, why):
            p = d.ctl("password", "set", pid, input=text, check=False)
            rc(p, code, "password set %s <<< %r" % (pid, text[:40]))
            assert why in p.stderr, (why, p.stderr)
            assert p.stdout == "", p.stdout

        refused("sup", "abcdefghijk\n", 2, "at least 12 characters")
        refused("sup", "", 2, "no password on standard input")
        refused("sup", "\n", 2, "no password on standard input")
        refused("sup", "x" * 1025 + "\n", 2, "at most 1024 bytes")
        refused("sup", "abcdef\tghijkl\n", 2, "control character")
        refused("sup", "abcdefghijkl\x1b[0m\n", 2, "control character")
        refused("sup", b"abcdefghijkl\xc3\x28\n", 2, "UTF-8")
        refused("sup", b"\xe9t\xe9 en Provence\n", 2, "UTF-8")  # Latin-1
        refused("nobody", "correct horse battery\n", 1, "no principal nobody")
        refused("gw", "correct horse battery\n", 1, "intake")
        refused("bad id!", "correct horse battery\n", 2, "bad principal id")
        p = d.ctl("password", "set", input="correct horse battery\n",
                  check=False)
        rc(p, 2, "password set without an id")
        p = d.ctl("password", "set", "sup", "correct horse battery",
                  input="", check=False)
        rc(p, 2, "password on the command line")
        assert d.sql("SELECT id FROM principals"
                       " WHERE password_hash IS NOT NULL") == []
        assert [r for r in d.ctl_json("audit")
                if r.get("action") == "change.password"] == []
        # The limits themselves pass: 1024 bytes, 12 characters.
        d.ctl("password", "set", "sup", input="x" * 1024 + "\n")
        d.ctl("password", "set", "c1", input="abcdefghijkl\n")
        assert ARGON2ID.match(password_row(d, "sup")[0])
        assert ARGON2ID.match(password_row(d, "c1")[0])


def test_password_audit_and_disabled():
    """Each password set is audited as change.password on the principal,
    by the same actor as other changes, saying whether a password was
    replaced but never the password or its hash.  A disabled principal may
    have its password set (the operator is told the console refuses it
    until it is enabled) and stays disabled."""
    with password_daemon() as d:
        pw = "a long passphrase for the console"
        d.ctl("password", "set", "c1", input=pw + "\n")
        d.ctl("password", "set", "c1", input=pw + " again\n")
        d.ctl("token", "reset", "sup")
        rows = d.ctl_json("audit", "--action", "change.password")
        assert [r["target"] for r in rows] == ["c1", "c1"], rows
        token_row = d.ctl_json("audit", "--action", "change.token")[-1]
        details = [r["detail"] for r in rows]
        assert details[0]["before"].get("password") == "none", details
        assert details[1]["before"].get("password") == "old", details
        for r in rows:
            assert r["actor"] == token_row["actor"], (r, token_row)
            assert r["detail"]["after"].get("id") == "c1", r
        stored = password_row(d, "c1")[0]
        everything = json.dumps(d.ctl_json("audit"))
        assert pw not in everything and stored not in everything
        assert stored.split("$")[-1] not in everything
        assert pw not in d.log_tail(1000)

        d.ctl("principal", "disable", "sup")
        token = password_row(d, "sup")[1]
        p = d.ctl("password", "set", "sup", input=pw + "\n")
        assert p.stdout == "password set for sup\n", p.stdout
        assert "disabled" in p.stderr and "principal enable" in p.stderr, (
            p.stderr)
        row = password_row(d, "sup")
        assert ARGON2ID.match(row[0]) and row[1] == token, row
        assert row[2] is not None, "password set enabled the principal"


def ctl_at_terminal(d, args, answers, interrupt=False):
    """Run crisisctl on a pseudo-terminal, typing each answer after the
    prompt it waits for ([(prompt, text)]); with interrupt, SIGINT it at
    the first prompt instead.  Returns (exit code, what the terminal
    showed, whether echo was on again afterwards)."""
    import pty
    import select
    import signal
    import subprocess
    import termios
    from harness import CRISISCTL
    master, slave = pty.openpty()
    proc = subprocess.Popen([CRISISCTL, "-c", d.conf_path] + args,
                            stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    shown = b""

    def read_until(text, seconds):
        nonlocal shown
        deadline = time.monotonic() + seconds
        while text.encode() not in shown and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                shown += os.read(master, 4096)
        return text.encode() in shown

    try:
        for prompt, text in answers:
            assert read_until(prompt, secs(5000)), (prompt, shown)
            if interrupt:
                proc.send_signal(signal.SIGINT)
                break
            os.write(master, text.encode())
        proc.wait(timeout=30)
        read_until("\0never\0", 0.2)
        echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    return proc.returncode, shown.decode("utf-8", "replace"), echo


def test_password_set_at_terminal():
    """At a terminal the password is asked for twice with echo off, and
    the two must match; echo is back on afterwards, also after SIGINT."""
    with password_daemon() as d:
        pw = "typed at the terminal"
        code, shown, echo = ctl_at_terminal(
            d, ["password", "set", "sup"],
            [("Password: ", pw + "\n"), ("Again: ", pw + "\n")])
        assert code == 0 and "password set for sup" in shown, (code, shown)
        assert pw not in shown, "the password was echoed: %r" % shown
        assert echo, "echo left off"
        first = password_row(d, "sup")[0]
        assert ARGON2ID.match(first), first
        code, shown, echo = ctl_at_terminal(
            d, ["password", "set", "sup"],
            [("Password: ", pw + "\n"), ("Again: ", pw + "!\n")])
        assert code == 2 and "do not match" in shown, (code, shown)
        assert echo and pw not in shown
        code, shown, echo = ctl_at_terminal(
            d, ["password", "set", "sup"], [("Password: ", "short\n")])
        assert code == 2 and "at least 12" in shown and "Again" not in shown, (
            code, shown)
        code, shown, echo = ctl_at_terminal(
            d, ["password", "set", "sup"], [("Password: ", "")],
            interrupt=True)
        assert code == -2 and echo, (code, echo, shown)
        assert password_row(d, "sup")[0] == first
