"""Issue 7, the supervisors' review: log filters, stats metrics with
hand-computed values, time zones across daylight saving, the audit of every
read and change, emergency disclosures and follow-ups.

Most tests write a crafted set of contacts and timelines straight into a
fresh `crisisctl init` database (Daemon.sql_many, either store), so every expected number below
is worked out by hand from the table in crafted(); the rest drive a real
crisisd.
"""

import csv
import io
import json
import os
import pwd
import re
import time

from harness import (DISCLOSURE, Daemon, SqlError, accept, complete, parse_rfc3339,
                     rfc3339, sleep_ms, submit)

# 2026-03-02T14:00:00Z, a Monday: 09:00 EST, a week before DST begins.
T0 = 1772460000 * 1000
MIN = 60 * 1000
HOUR = 60 * MIN
NY = "America/New_York"


def rc(p, want, what):
    """Assert a CompletedProcess exited want."""
    assert p.returncode == want, "%s: exit %d, expected %d; stderr: %s" % (
        what, p.returncode, want, p.stderr.strip()[-400:])


def close(a, b, what):
    """Assert two numbers agree to 1e-9."""
    assert a is not None and abs(a - b) < 1e-9, "%s: %r, expected %r" % (
        what, a, b)


# One row per contact: id, queued offset, risk, channel, program, state,
# caller, and its timeline as (offset ms from queued, event, tier,
# clinician).  The offsets are what the expected numbers are made of.
CONTACTS = [
    ("K01", 0, "high", "voice", "adult", "completed", "+15550001", [
        (100, "offered", 1, "c1"), (100, "offered", 1, "c2"),
        (2000, "declined", 1, "c2"), (8000, "assigned", 1, "c1"),
        (540000, "call_ended", None, "c1"),
        (600000, "completed", None, "c1")]),
    ("K02", 10 * MIN, "moderate", "voice", "adult", "completed", None, [
        (100, "offered", 1, "c1"), (100, "offered", 1, "c2"),
        (15000, "assigned", 1, "c2"), (600000, "call_ended", None, "c2"),
        (900000, "completed", None, "c2")]),
    ("K03", 65 * MIN, "low", "text", "youth", "completed", None, [
        (100, "offered", 1, "c1"), (20100, "expired", 1, "c1"),
        (20100, "escalated", 2, None), (20200, "offered", 2, "c3"),
        (30000, "assigned", 2, "c3"), (700000, "completed", None, "c3")]),
    ("K04", 80 * MIN, "imminent", "chat", "youth", "assigned", None, [
        (50, "offered", 1, "c1"), (50, "offered", 1, "c2"),
        (50, "offered", 2, "c3"), (3000, "assigned", 1, "c1")]),
    ("K05", 120 * MIN, "moderate", "voice", "adult", "overflow",
     "+15550005", [
        (100, "offered", 1, "c2"), (1000, "declined", 1, "c2"),
        (1000, "escalated", 2, None), (1100, "offered", 2, "c3"),
        (21100, "expired", 2, "c3"), (21100, "overflow", None, None)]),
    ("K06", 130 * MIN, "low", "voice", None, "abandoned", "+15550006", [
        (100, "offered", 1, "c1"), (2000, "abandoned", None, None)]),
    ("K07", 150 * MIN, "unknown", "text", "adult", "abandoned", "+15550007", [
        (100, "offered", 1, "c1"), (20100, "expired", 1, "c1"),
        (40000, "abandoned", None, None)]),
    ("K08", 180 * MIN, "high", "voice", "adult", "open", None, [
        (100, "offered", 1, "c2")]),
    ("K09", 195 * MIN, "high", "voice", "youth", "completed", None, [
        (100, "offered", 1, "c1"), (21000, "assigned", 1, "c1"),
        (700000, "call_ended", None, "c1"),
        (800000, "completed", None, "c1")]),
    ("K10", 220 * MIN, "moderate", "voice", "adult", "completed", None, [
        (100, "offered", 1, "c2"), (20000, "assigned", 1, "c2"),
        (500000, "completed", None, "c2")]),
]


def crafted(d, contacts=CONTACTS, base=T0):
    """Write contacts and their timelines into d's database, the way the
    daemon stores them (on accept it records the answering tier and how
    long the accepted offer rang: answered_tier, accept_ms; on the
    gateway's "ended", ended_at)."""
    rows = []
    for cid, off, risk, channel, program, state, caller, events in \
            contacts:
        q = base + off
        assigned = next((q + e[0] for e in events if e[1] == "assigned"),
                        None)
        who = next((e[3] for e in events if e[1] == "assigned"), None)
        end = [q + e[0] for e in events if e[1] in (
            "completed", "abandoned", "overflow")]
        rows.append((
            "INSERT INTO contacts(id, intake, ref, channel, risk, caller,"
            " program, state, clinician, queued_at, deadline_at,"
            " assigned_at, closed_at, disposition) VALUES (?, 'gw', ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, "ref-" + cid, channel, risk, caller, program, state,
             who, q, q + 90000, assigned, end[0] if end else None,
             "resolved" if state == "completed" else None)))
        rows.append(("INSERT INTO contact_events(contact, at, event, detail)"
                     " VALUES (?, ?, 'queued', ?)",
                     (cid, q, json.dumps({"risk": risk}))))
        offered = {}
        for at, event, tier, clin in events:
            rows.append(("INSERT INTO contact_events(contact, at, event,"
                         " tier, clinician) VALUES (?, ?, ?, ?, ?)",
                         (cid, q + at, event, tier, clin)))
            if event == "offered":
                offered[clin] = at
            elif event == "call_ended":
                rows.append(("UPDATE contacts SET ended_at = ? WHERE"
                             " id = ?", (q + at, cid)))
            elif event == "assigned":
                rows.append(("UPDATE contacts SET answered_tier = ?,"
                             " accept_ms = ? WHERE id = ?",
                             (tier, at - offered[clin]
                              if clin in offered else None, cid)))
    d.sql_many(rows)


def review_daemon(**conf):
    """A database (no daemon running) with clinicians c1..c3 and the
    crafted contacts."""
    d = Daemon(**conf)
    for c in ("c1", "c2", "c3"):
        d.add_clinician(c, tiers=())
    crafted(d)
    return d


def log_ids(d, *args):
    """The contact ids crisisctl log prints as JSON, in order."""
    return [r["id"] for r in d.ctl_json("log", *args)]


def expected_ids(pred):
    """The crafted contacts matching pred, newest first."""
    rows = sorted(CONTACTS, key=lambda c: -c[1])
    return [c[0] for c in rows if pred(c)]


def iso(ms):
    """ms as RFC 3339 UTC with milliseconds."""
    return rfc3339(ms // 1000).replace("Z", ".%03dZ" % (ms % 1000))


# --- log ---

def test_log_each_filter():
    with review_daemon() as d:
        assert log_ids(d) == expected_ids(lambda c: True)
        for risk in ("imminent", "high", "moderate", "low", "unknown"):
            assert log_ids(d, "--risk", risk) == expected_ids(
                lambda c: c[2] == risk), risk
        for state in ("open", "assigned", "completed", "overflow",
                      "abandoned"):
            assert log_ids(d, "--outcome", state) == expected_ids(
                lambda c: c[5] == state), state
        assert log_ids(d, "--clinician", "c1") == ["K09", "K04", "K01"]
        assert log_ids(d, "--clinician", "c3") == ["K03"]
        assert log_ids(d, "--clinician", "nobody") == []
        assert log_ids(d, "--program", "youth") == ["K09", "K04", "K03"]
        for ch in ("voice", "text", "chat"):
            assert log_ids(d, "--channel", ch) == expected_ids(
                lambda c: c[3] == ch), ch
        # [since, until): K03 is queued exactly at the lower bound, K06
        # exactly at the upper one.
        assert log_ids(d, "--since", iso(T0 + 65 * MIN), "--until",
                       iso(T0 + 130 * MIN)) == ["K05", "K04", "K03"]
        # Filters combine, whichever index the log walks.
        assert log_ids(d, "--risk", "high", "--outcome", "completed") == [
            "K09", "K01"]
        assert log_ids(d, "--channel", "voice", "--clinician", "c2",
                       "--risk", "moderate") == ["K10", "K02"]
        assert log_ids(d, "--channel", "voice", "--program", "adult",
                       "--outcome", "completed", "--since",
                       iso(T0 + MIN)) == ["K10", "K02"]
        assert log_ids(d, "--outcome", "completed", "--clinician",
                       "nobody") == []
        # Paging: the same order, a page at a time.
        pages = [log_ids(d, "--limit", "3", "--offset", str(o))
                 for o in (0, 3, 6, 9)]
        assert sum(pages, []) == log_ids(d), pages
        assert [len(p) for p in pages] == [3, 3, 3, 1]
        # Tier: the one that answered, else the last one reached.
        tiers = {r["id"]: r["tier"] for r in d.ctl_json("log")}
        assert tiers["K03"] == 2 and tiers["K01"] == 1, tiers
        for bad in (("--channel", "fax"), ("--limit", "-1"),
                    ("--offset", "x"), ("--until", iso(T0), "--since",
                                        iso(T0 + HOUR))):
            rc(d.ctl("log", *bad, check=False), 2, "log %s" % (bad,))


# --- stats ---

def test_stats_metrics_by_hand():
    with review_daemon() as d:
        s = d.ctl_json("stats")
        assert (s["total"], s["answered"]) == (10, 6), s
        close(s["answer_rate"], 0.6, "answer_rate")
        # Times to answer: 3000 8000 15000 20000 21000 30000.
        tta = s["time_to_answer_ms"]
        assert tta == {"average": 16167, "median": 17500, "p90": 25500}, tta
        # Talk times (assigned to call_ended): K01 532 s, K02 585 s, K09
        # 679 s; K03 (a text) and K04 (still on the call) have none.
        talk = s["talk_time_ms"]
        assert talk == {"calls": 3, "average": 598667, "median": 585000,
                        "p90": 660200}, talk
        # Within 20 s (inclusive): 3, 8, 15 and 20 s.  Of 10 contacts, K08
        # is still open and K06 a short abandon: 4 of 8.
        assert s["service_level_ms"] == 20000
        assert s["answered_within_service_level"] == 4
        close(s["service_level"], 0.5, "service_level")
        # Abandons: K06 after 2 s (short), K07 after 40 s.
        assert (s["abandoned"], s["short_abandons"]) == (2, 1), s
        assert s["short_abandon_ms"] == 5000
        close(s["abandon_rate"], 1 / 9, "abandon_rate")
        assert s["overflows"] == 1
        close(s["overflow_rate"], 0.1, "overflow_rate")
        assert s["by_outcome"] == {"open": 1, "assigned": 1, "completed": 5,
                                   "overflow": 1, "abandoned": 2}
        assert s["by_risk"] == {"imminent": 1, "high": 3, "moderate": 3,
                                "low": 2, "unknown": 1}
        assert s["answered_by_tier"] == {"1": 5, "2": 1}
        per = {r["clinician"]: r for r in s["per_clinician"]}
        assert per["c1"] == {
            "clinician": "c1", "offers": 7, "accepted": 3, "declined": 0,
            "expired": 2, "median_time_to_answer_ms": 8000,
            "average_time_to_accept_ms": 10583,
            "median_time_to_accept_ms": 7900,
            "median_talk_time_ms": 605500}, per["c1"]
        assert per["c2"] == {
            "clinician": "c2", "offers": 6, "accepted": 2, "declined": 2,
            "expired": 0, "median_time_to_answer_ms": 17500,
            "average_time_to_accept_ms": 17400,
            "median_time_to_accept_ms": 17400,
            "median_talk_time_ms": 585000}, per["c2"]
        assert per["c3"] == {
            "clinician": "c3", "offers": 3, "accepted": 1, "declined": 0,
            "expired": 1, "median_time_to_answer_ms": 30000,
            "average_time_to_accept_ms": 9800,
            "median_time_to_accept_ms": 9800,
            "median_talk_time_ms": None}, per["c3"]
        assert [r["clinician"] for r in s["per_clinician"]] == [
            "c1", "c2", "c3"]


def test_stats_window_and_thresholds():
    with review_daemon() as d:
        # K03..K07: queued from T0+65 min to T0+150 min.
        s = d.ctl_json("stats", "--since", iso(T0 + HOUR), "--until",
                       iso(T0 + 3 * HOUR))
        assert (s["total"], s["answered"], s["abandoned"],
                s["short_abandons"], s["overflows"]) == (5, 2, 2, 1, 1), s
        assert s["time_to_answer_ms"]["median"] == 16500  # 3000, 30000
        assert s["window"] == {"start": iso(T0 + HOUR),
                               "end": iso(T0 + 3 * HOUR)}, s["window"]
        per = {r["clinician"]: r for r in s["per_clinician"]}
        assert (per["c1"]["offers"], per["c1"]["accepted"],
                per["c1"]["expired"]) == (4, 1, 2), per["c1"]
        assert "c2" in per and per["c2"]["declined"] == 1, per
        # Thresholds from the command line...
        s = d.ctl_json("stats", "--service-level-ms", "10000",
                       "--short-abandon-ms", "1000")
        assert s["answered_within_service_level"] == 2
        close(s["service_level"], 2 / 9, "service_level at 10 s")
        assert s["short_abandons"] == 0
        close(s["abandon_rate"], 0.2, "abandon_rate, no short abandons")
        # ...and from crisisd.conf's review group.
        with open(d.conf_path, "a") as f:
            f.write("review : { service_level_ms = 10000;"
                    " short_abandon_ms = 1000; };\n")
        s = d.ctl_json("stats")
        assert (s["service_level_ms"], s["short_abandon_ms"]) == (10000,
                                                                  1000), s
        assert (s["answered_within_service_level"], s["short_abandons"]) \
            == (2, 0), s
        for bad in (("--by", "week"), ("--service-level-ms", "0"),
                    ("--short-abandon-ms", "-5")):
            rc(d.ctl("stats", *bad, check=False), 2, "stats %s" % (bad,))


def groups(d, by, *args):
    """stats --by BY as {group key: row}."""
    s = d.ctl_json("stats", "--by", by, *args)
    assert s["by"] == by, s
    key = "start" if by in ("hour", "day") else by
    return [(r[key], r) for r in s["groups"]]


def test_stats_groups():
    with review_daemon(timezone=NY) as d:
        risk = groups(d, "risk")
        assert [k for k, _ in risk] == ["imminent", "high", "moderate", "low",
                                        "unknown"]
        high = dict(risk)["high"]
        # K01 (8 s), K08 (open), K09 (21 s).
        assert (high["total"], high["answered"], high["tta_average_ms"],
                high["tta_median_ms"], high["tta_p90_ms"]) == (
            3, 2, 14500, 14500, 19700), high
        close(high["service_level"], 0.5, "high: 1 in time of 2")
        tier = groups(d, "tier")
        assert [(k, r["total"], r["answered"]) for k, r in tier] == [
            (1, 5, 5), (2, 1, 1), (None, 4, 0)], tier
        clin = groups(d, "clinician")
        assert [(k, r["total"]) for k, r in clin] == [
            ("c1", 3), ("c2", 2), ("c3", 1), (None, 4)], clin
        assert dict(clin)["c2"]["tta_median_ms"] == 17500
        prog = groups(d, "program")
        assert [(k, r["total"]) for k, r in prog] == [
            ("adult", 6), ("youth", 3), (None, 1)], prog
        adult = dict(prog)["adult"]
        # K01 K02 K05 K07 K08 K10: 3 answered (8, 15, 20 s), K07 abandoned
        # after 40 s, K05 overflowed, K08 open.
        assert (adult["answered"], adult["abandoned"], adult["overflows"]) \
            == (3, 1, 1), adult
        close(adult["service_level"], 3 / 5, "adult service level")
        close(adult["abandon_rate"], 1 / 6, "adult abandon rate")
        hours = groups(d, "hour")
        assert [(k, r["total"]) for k, r in hours] == [
            (iso(T0), 2), (iso(T0 + HOUR), 2), (iso(T0 + 2 * HOUR), 3),
            (iso(T0 + 3 * HOUR), 3)], hours
        # Local days: 2026-03-02 began at 05:00Z (midnight EST).
        days = groups(d, "day")
        assert [(k, r["total"]) for k, r in days] == [
            ("2026-03-02T05:00:00.000Z", 10)], days
        # A bare date is the local day's midnight.
        s = d.ctl_json("stats", "--since", "2026-03-02", "--until",
                       "2026-03-03")
        assert s["window"] == {"start": "2026-03-02T05:00:00.000Z",
                               "end": "2026-03-03T05:00:00.000Z"}, s
        assert s["total"] == 10
        assert log_ids(d, "--until", "2026-03-02") == []
        rc(d.ctl("stats", "--since", "2026-02-30", check=False), 2,
           "no such date")
        table = d.ctl("stats", "--by", "hour").stdout
        for h in ("09", "10", "11", "12"):
            assert "2026-03-02 %s:00:00 EST" % h in table, table
        p = d.ctl("stats", "--by", "risk", "--format", "csv")
        assert re.search(r"^groups\.1\.risk,high\r?$", p.stdout, re.M), (
            p.stdout)


# --- time zones ---

# 2026-11-01 01:30 happens twice in New York: EDT (05:30Z), then EST
# (06:30Z).  00:30 EDT (04:30Z) and 23:30 EST (2026-11-02T04:30Z) are the
# first and last half hours of a 25-hour local day.
DST_CONTACTS = [
    ("DST-A", 0, "low", "voice", None, "abandoned", None, [
        (1000, "abandoned", None, None)]),
    ("DST-B", HOUR, "low", "voice", None, "abandoned", None, [
        (1000, "abandoned", None, None)]),
    ("DST-C", 2 * HOUR, "low", "voice", None, "abandoned", None, [
        (1000, "abandoned", None, None)]),
    ("DST-D", 24 * HOUR, "low", "voice", None, "abandoned", None, [
        (1000, "abandoned", None, None)]),
]
DST_BASE = int(parse_rfc3339("2026-11-01T04:30:00Z")) * 1000


def test_dst_display():
    with Daemon(timezone=NY) as d:
        crafted(d, DST_CONTACTS, DST_BASE)
        table = d.ctl("log").stdout
        want = {"DST-A": "2026-11-01 00:30:00 EDT",
                "DST-B": "2026-11-01 01:30:00 EDT",
                "DST-C": "2026-11-01 01:30:00 EST",
                "DST-D": "2026-11-01 23:30:00 EST"}
        for cid, stamp in want.items():
            line = next(l for l in table.splitlines() if cid in l)
            assert stamp in line, "%s: %r lacks %s" % (cid, line, stamp)
        # JSON and CSV keep UTC.
        js = {r["id"]: r["queued_at"] for r in d.ctl_json("log")}
        assert js["DST-B"] == "2026-11-01T05:30:00.000Z", js
        assert js["DST-C"] == "2026-11-01T06:30:00.000Z", js
        rows = list(csv.DictReader(io.StringIO(d.ctl(
            "log", "--format", "csv").stdout)))
        assert {r["id"]: r["queued_at"] for r in rows}["DST-C"] == \
            "2026-11-01T06:30:00.000Z", rows
        show = d.ctl("show", "DST-C").stdout
        assert "2026-11-01 01:30:00 EST" in show, show
        assert "2026-11-01 01:30:01 EST" in show, show
        # One local day of 25 hours holds all four; each hour its own row.
        s = d.ctl_json("stats", "--by", "day")
        assert [(g["start"], g["total"]) for g in s["groups"]] == [
            ("2026-11-01T04:00:00.000Z", 4)], s["groups"]
        s = d.ctl_json("stats", "--by", "hour", "--since",
                       "2026-11-01T04:00:00Z", "--until",
                       "2026-11-02T05:00:00Z")
        starts = [g["start"] for g in s["groups"]]
        assert len(starts) == 25 and starts[0] == "2026-11-01T04:00:00.000Z" \
            and starts[-1] == "2026-11-02T04:00:00.000Z", starts
        assert [g["total"] for g in s["groups"]].count(1) == 4
        table = d.ctl("stats", "--by", "hour", "--since",
                      "2026-11-01T04:00:00Z", "--until",
                      "2026-11-02T05:00:00Z").stdout
        assert "2026-11-01 01:00:00 EDT" in table and \
            "2026-11-01 01:00:00 EST" in table, table


# --- audit ---

def me():
    """The OS user crisisctl runs as."""
    return pwd.getpwuid(os.getuid()).pw_name


def audit_rows(d, *args):
    """crisisctl audit as JSON, without the rows of these audit reads."""
    return [r for r in d.ctl_json("audit", *args)
            if r["action"] != "read.audit"]


def test_audit_of_each_read():
    with review_daemon() as d:
        reads = [
            (("log", "--risk", "high", "--since", iso(T0)), "read.log",
             None, {"risk": "high", "since": iso(T0)}),
            (("show", "K05"), "read.show", "K05", {"contact": "K05"}),
            (("stats", "--by", "tier", "--until", iso(T0 + HOUR)),
             "read.stats", None, {"by": "tier", "until": iso(T0 + HOUR)}),
            (("disclosures", "--patient", "p-9"), "read.disclosures", "p-9",
             {"patient": "p-9"}),
            (("followups",), "read.followups", None, {}),
            (("audit", "--actor", "nobody"), "read.audit", None,
             {"actor": "nobody"}),
        ]
        for args, action, target, detail in reads:
            before = len(d.sql("SELECT * FROM audit"))
            d.ctl(*args)
            rows = d.sql("SELECT actor, actor_kind, action, target, detail"
                           " FROM audit ORDER BY seq")
            assert len(rows) == before + 1, (args, rows[before:])
            actor, kind, act, tgt, text = rows[-1]
            assert (actor, kind, act, tgt) == (me(), "os", action, target), (
                args, rows[-1])
            got = json.loads(text)
            for k, v in detail.items():
                assert got.get(k) == v, (args, got)
        # Even a look at a contact that is not there is on record.
        rc(d.ctl("show", "NO-SUCH", check=False), 1, "show unknown")
        assert d.sql("SELECT target FROM audit WHERE action = 'read.show'"
                       " ORDER BY seq DESC LIMIT 1") == [("NO-SUCH",)]
        # Who looked at K05: found by target, by actor and by action.
        rows = audit_rows(d, "--target", "K05")
        assert [(r["actor"], r["action"]) for r in rows] == [
            (me(), "read.show")], rows
        assert [r["action"] for r in audit_rows(d, "--action", "read")] == [
            "read.log", "read.show", "read.stats", "read.disclosures",
            "read.followups", "read.show"]
        assert audit_rows(d, "--action", "read.show", "--actor", me())[0][
            "target"] == "K05"
        # sudo: the real user behind root, only as sudo sets it (see
        # test_audit_actor_sudo_checked); a bare $SUDO_USER is not believed.
        d.ctl("log", "--limit", "1", env={"SUDO_USER": "alice"})
        assert audit_rows(d, "--actor", "alice") == []
        assert audit_rows(d, "--since", iso(T0 + 10 ** 13)) == []


def test_audit_of_each_change():
    with Daemon() as d:
        tok = d.add_intake("gw")
        d.add_clinician("c1", tiers=())
        d.add_patient("p-1", "c1", program="youth")
        d.add_patient("p-1", "c1")
        new = d.ctl("token", "reset", "gw").stdout.strip()
        d.add_shift("c1", 2, 1800000000, 1800003600)
        path = os.path.join(d.dir, "r.csv")
        with open(path, "w") as f:
            f.write("clinician,tier,start,end\n"
                    "c1,1,2027-01-01T00:00:00Z,2027-01-01T08:00:00Z\n"
                    "c1,1,2027-01-02T00:00:00Z,2027-01-02T08:00:00Z\n")
        d.ctl("roster", "import", path)
        # A refused change leaves no audit row: they commit together.
        rc(d.ctl("principal", "add", "gw", "--role", "intake", check=False),
           1, "duplicate principal")
        rc(d.ctl("patient", "add", "p-2", "--primary", "ghost", check=False),
           1, "unknown primary")
        rows = d.ctl_json("audit", "--action", "change")
        got = [(r["action"], r["target"]) for r in rows]
        assert got == [
            ("change.principal", "gw"), ("change.clinician", "c1"),
            ("change.patient", "p-1"), ("change.patient", "p-1"),
            ("change.token", "gw"), ("change.shift", "c1"),
            ("change.roster", path)], got
        for r in rows:
            assert r["actor"] == me() and r["actor_kind"] == "os", r
            assert set(r["detail"]) == {"before", "after"}, r
        det = [r["detail"] for r in rows]
        assert det[0] == {"before": None,
                          "after": {"id": "gw", "role": "intake"}}
        assert det[1]["after"]["name"] == "Clin c1" and \
            det[1]["before"] is None
        assert det[2] == {"before": None, "after": {
            "id": "p-1", "primary": "c1", "program": "youth"}}, det[2]
        assert det[3] == {"before": {"id": "p-1", "primary": "c1",
                                     "program": "youth"},
                          "after": {"id": "p-1", "primary": "c1",
                                    "program": None}}, det[3]
        assert det[5]["after"] == {"clinician": "c1", "tier": 2,
                                   "start": "2027-01-15T08:00:00.000Z",
                                   "end": "2027-01-15T09:00:00.000Z"}, det[5]
        assert [s["start"] for s in det[6]["after"]["shifts"]] == [
            "2027-01-01T00:00:00.000Z", "2027-01-02T00:00:00.000Z"], det[6]
        # A table keeps each row on one line: the import's detail is cut.
        line = next(l for l in d.ctl("audit").stdout.splitlines()
                    if "change.roster" in l)
        assert line.endswith("...") and len(line) < 400, line
        # Never a token, old or new.
        text = json.dumps(d.sql("SELECT * FROM audit"))
        for t in [tok, new] + list(d.tokens.values()):
            assert t not in text, "a token is in the audit"
        # Append-only, whoever tries.
        for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            try:
                d.sql(sql)
                raise AssertionError("%s was allowed" % sql)
            except SqlError as e:
                assert "append-only" in str(e), e


def test_audit_of_supervisor_reads():
    with Daemon() as d:
        d.add_supervisor("sup")
        d.start()
        d.login("sup").request({"type": "snapshot"}, expect="snapshot")
        d.watcher("sup")
        sleep_ms(100)
        rows = d.ctl_json("audit", "--actor", "sup")
        got = {(r["actor_kind"], r["action"]) for r in rows}
        assert got == {("principal", "read.snapshot"),
                       ("principal", "read.watch")}, rows


# --- disclosures ---

def test_disclosure_validation_and_listing():
    with Daemon(timezone=NY) as d:
        d.add_intake("gw")
        d.add_clinician("c1")
        d.add_clinician("c2", tiers=(2,))
        d.start()
        gw, c1 = d.login("gw"), d.clinician("c1")
        cid, _ = submit(gw, "em-1", risk="imminent", patient="p-7")
        c1.expect("offer", contact=cid)
        accept(c1, cid)
        for bad in (None, {"recipient": "EMS", "affiliation": "County"},
                    {"recipient": "", "affiliation": "x", "nature": "y"},
                    "EMS"):
            msg = {"type": "complete", "contact": cid,
                   "disposition": "emergency_dispatched"}
            if bad is not None:
                msg["disclosure"] = bad
            c1.error(msg, "bad_request")
        assert d.ctl_json("disclosures") == []
        complete(c1, cid, "emergency_dispatched")
        rows = d.ctl_json("disclosures")
        assert len(rows) == 1, rows
        r = rows[0]
        assert (r["contact"], r["clinician"], r["patient"]) == (cid, "c1",
                                                                 "p-7"), r
        for k, v in DISCLOSURE.items():
            assert r[k] == v, r
        assert abs(parse_rfc3339(r["at"]) - parse_rfc3339(d.ctl_json(
            "show", cid)["closed_at"])) < 0.001, r
        assert d.ctl_json("disclosures", "--patient", "p-7") == rows
        assert d.ctl_json("disclosures", "--patient", "p-8") == []
        shown = d.ctl_json("show", cid)["disclosure"]
        assert shown["recipient"] == DISCLOSURE["recipient"] and \
            shown["clinician"] == "c1", shown
        table = d.ctl("show", cid).stdout
        assert DISCLOSURE["affiliation"] in table, table
        table = d.ctl("disclosures").stdout
        assert cid in table and DISCLOSURE["recipient"] in table, table


# --- follow-ups ---

def test_followup_life_cycle():
    with Daemon(timezone=NY) as d:
        d.add_intake("gw")
        d.add_supervisor("sup")
        d.add_clinician("c1")
        d.start()
        gw, c1 = d.login("gw"), d.clinician("c1")
        # Abandoned with a caller, overflowed with a patient: owed.  Without
        # either, nobody can be called back: nothing is owed.
        a, _ = submit(gw, "fu-a", caller="+15550101")
        c1.expect("offer", contact=a)
        gw.request({"type": "abandon", "contact": a})
        b, _ = submit(gw, "fu-b", patient="p-3")
        c1.expect("offer", contact=b)
        c1.request({"type": "decline", "contact": b})
        gw.expect("overflow", contact=b)
        n, _ = submit(gw, "fu-n")
        c1.expect("offer", contact=n)
        gw.request({"type": "abandon", "contact": n})
        sleep_ms(200)
        rows = d.ctl_json("followups")
        assert [(r["contact"], r["reason"]) for r in rows] == [
            (a, "abandoned"), (b, "overflow")], rows
        assert rows[0]["caller"] == "+15550101" and rows[1]["patient"] == \
            "p-3", rows
        for r in rows:
            assert 0 <= r["age_ms"] < 60000 and isinstance(r["id"], int), r
        table = d.ctl("followups").stdout
        assert a in table and "AGE" in table, table
        snap = d.login("sup").request({"type": "snapshot"},
                                      expect="snapshot")
        assert a in json.dumps(snap) and b in json.dumps(snap), (
            "the snapshot lacks the open follow-ups: %s" % snap["_raw"])
        fid = str(rows[0]["id"])
        rc(d.ctl("followup", "close", fid, "--by", "c1", check=False), 2,
           "no --note")
        rc(d.ctl("followup", "close", fid, "--note", "x", check=False), 2,
           "no --by")
        rc(d.ctl("followup", "close", "first", "--by", "c1", "--note", "x",
                 check=False), 2, "not a number")
        rc(d.ctl("followup", "close", fid, "--by", "ghost", "--note", "x",
                 check=False), 1, "unknown clinician")
        rc(d.ctl("followup", "close", "424242", "--by", "c1", "--note", "x",
                 check=False), 1, "unknown follow-up")
        d.ctl("followup", "close", fid, "--by", "c1", "--note",
              "called back, safe at home")
        assert [r["contact"] for r in d.ctl_json("followups")] == [b]
        p = d.ctl("followup", "close", fid, "--by", "c1", "--note", "again",
                  check=False)
        rc(p, 1, "closing twice")
        assert "already closed" in p.stderr and "c1" in p.stderr, p.stderr
        fu = d.ctl_json("show", a)["followup"]
        assert (fu["closed_by"], fu["note"], fu["reason"]) == (
            "c1", "called back, safe at home", "abandoned"), fu
        assert d.ctl_json("show", n)["followup"] is None
        row = d.ctl_json("audit", "--action", "change.followup")
        assert len(row) == 1 and row[0]["target"] == a, row
        det = row[0]["detail"]
        assert det["before"]["closed_at"] is None and \
            det["after"]["closed_by"] == "c1" and \
            det["after"]["note"] == "called back, safe at home", det
        # Closed is closed: the database refuses to reopen or delete it.
        for sql in ("UPDATE followups SET closed_at = NULL",
                    "DELETE FROM followups"):
            try:
                d.sql(sql)
                raise AssertionError("%s was allowed" % sql)
            except SqlError:
                pass


def test_daemon_records_answering_tier():
    """The daemon itself stores the tier that answered and how long the
    accepted offer rang, which stats' answered_by_tier and time to accept
    read."""
    with Daemon(tiers=[(1, "ring-all", 300), (2, "ring-all", 3000)]) as d:
        d.add_intake("gw")
        d.add_clinician("c1", tiers=(1,))
        d.add_clinician("c2", tiers=(2,))
        d.start()
        d.clinician("c1")
        c2 = d.clinician("c2")
        gw = d.login("gw")
        cid = gw.request({"type": "contact", "ref": "tier-2", "channel":
                          "voice", "risk": "high"}, expect="queued")["contact"]
        c2.expect("offer", contact=cid)
        time.sleep(0.2)
        c2.request({"type": "accept", "contact": cid}, expect="assigned")
        gw.expect("routed", contact=cid)
        (tier, accept_ms), = d.sql(
            "SELECT answered_tier, accept_ms FROM contacts WHERE id = ?", cid)
        assert tier == 2, tier
        assert 150 <= accept_ms <= 2500, accept_ms


# --- issue 12: explicit bounds at the epoch, empty windows ---

EPOCH = "1970-01-01T00:00:00Z"


def test_epoch_is_a_real_bound():
    """--until 1970-01-01T00:00:00Z (ms 0) is a bound like any other, for
    every command with a window; it is not taken for "no bound"."""
    with review_daemon() as d:
        assert len(log_ids(d)) == 10
        assert log_ids(d, "--until", EPOCH) == []
        assert len(log_ids(d, "--since", EPOCH)) == 10
        s = d.ctl_json("stats", "--until", EPOCH)
        assert s["total"] == 0, s
        assert s["window"] == {"start": None,
                               "end": "1970-01-01T00:00:00.000Z"}, s
        s = d.ctl_json("stats", "--since", EPOCH)
        assert s["total"] == 10 and s["window"]["start"] == (
            "1970-01-01T00:00:00.000Z"), s
        assert d.ctl_json("disclosures", "--until", EPOCH) == []
        assert audit_rows(d, "--until", EPOCH) == []
        assert audit_rows(d, "--since", EPOCH) != []
        # The bound is on record in the audit row of the read.
        d.ctl("log", "--until", EPOCH)
        rows = audit_rows(d, "--action", "read.log")
        assert rows[-1]["detail"].get("until") == (
            "1970-01-01T00:00:00.000Z"), rows[-1]
        # An empty window is refused, at the epoch too.
        for cmd in ("log", "stats", "audit", "disclosures"):
            rc(d.ctl(cmd, "--since", EPOCH, "--until", EPOCH, check=False),
               2, "%s with an empty window at the epoch" % cmd)
        # roster gaps: an explicit --from at the epoch is the epoch.
        gaps = d.ctl_json("roster", "gaps", "--from", EPOCH, "--to",
                          "1970-01-01T01:00:00Z")
        assert [(g["start"], g["end"]) for g in gaps] == [
            ("1970-01-01T00:00:00.000Z", "1970-01-01T01:00:00.000Z")], gaps


def test_stats_empty_window_is_null():
    """With no contacts in the window, the rates and times have no value:
    null in JSON, "-" in the table, empty in CSV; counts are 0."""
    with review_daemon() as d:
        later = iso(T0 + 10 ** 10)
        s = d.ctl_json("stats", "--since", later)
        assert (s["total"], s["answered"], s["abandoned"],
                s["overflows"]) == (0, 0, 0, 0), s
        for k in ("answer_rate", "service_level", "abandon_rate",
                  "overflow_rate"):
            assert s[k] is None, (k, s[k])
        assert s["time_to_answer_ms"] == {"average": None, "median": None,
                                          "p90": None}, s
        table = d.ctl("stats", "--since", later).stdout
        assert re.search(r"^\s*answer_rate\s+-\s*$", table, re.M), table
        assert not re.search(r"answer_rate\s+0", table), table
        csv_text = d.ctl("stats", "--since", later, "--format", "csv").stdout
        assert re.search(r"^answer_rate,\r?$", csv_text, re.M), csv_text
        # The empty hours of a window: null rates there too.
        s = d.ctl_json("stats", "--by", "hour", "--since", iso(T0),
                       "--until", iso(T0 + 5 * HOUR))
        empty = [r for r in s["groups"] if r["total"] == 0]
        assert empty, s["groups"]
        for r in empty:
            assert (r["answer_rate"], r["service_level"], r["abandon_rate"],
                    r["overflow_rate"]) == (None, None, None, None), r
        full = [r for r in s["groups"] if r["total"] > 0]
        assert all(isinstance(r["answer_rate"], float) for r in full), full


def test_audit_actor_sudo_checked():
    """$SUDO_USER names the person behind the real user only when it is a
    real user whose uid is $SUDO_UID; otherwise the actor is the real user
    alone, whatever the environment says."""
    if os.getuid() != 0:
        return  # needs another user than the one running: root has them
    with review_daemon() as d:
        # A real user other than root, to stand for the person.
        other = next((p for p in pwd.getpwall()
                      if p.pw_uid != 0 and p.pw_name != me()), None)
        assert other is not None, "no user but root to test with"

        def actor(env):
            d.ctl("log", "--limit", "1", env=env)
            return audit_rows(d, "--action", "read.log")[-1]["actor"]

        assert actor({"SUDO_USER": other.pw_name,
                      "SUDO_UID": str(other.pw_uid)}) == (
            "%s (sudo: %s)" % (me(), other.pw_name))
        for env in ({"SUDO_USER": other.pw_name},
                    {"SUDO_USER": other.pw_name,
                     "SUDO_UID": str(other.pw_uid + 1)},
                    {"SUDO_USER": other.pw_name, "SUDO_UID": "x"},
                    {"SUDO_USER": other.pw_name, "SUDO_UID": ""},
                    {"SUDO_USER": "no-such-user-at-all", "SUDO_UID": "0"},
                    {"SUDO_USER": "", "SUDO_UID": str(other.pw_uid)}):
            assert actor(env) == me(), env
