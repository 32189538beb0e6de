"""bench/report.py: bench/run's table, ratios and target lines.

Every figure is printed as the median of the rounds, then each round's own
value; a ratio is taken within a round, so it compares a crisisd figure
with the baseline measured next to it.
"""

import statistics
import subprocess

# What the issue quotes for a 2-core machine, shown beside our baselines.
REFERENCE = {
    "echo_rps": 62000, "echo_p99_us": 260, "sqlite_commits": 14600,
    "sqlite_rows_batch": 300000, "idle_bytes": 1300,
}


def div(a, b):
    """a / b, or NaN when b is zero or missing."""
    if a is None or not b or b != b:
        return float("nan")
    return a / b


def med(values):
    """Median of the values that are numbers."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else float("nan")


def lat(result, name, key):
    """A latency figure of a loadgen result, in microseconds (NaN: none)."""
    v = result["lat"][name].get(key)
    return float("nan") if v is None else v


def fmt_us(us):
    """Microseconds, readably."""
    if us is None or us != us:
        return "-"
    if us >= 10000:
        return "%.1f ms" % (us / 1000)
    return "%.0f us" % us


def row(label, values, unit_fmt, reference=None):
    """One table row: median, then every run."""
    runs = "  ".join(unit_fmt(v) for v in values)
    ref = "" if reference is None else "   (issue: %s)" % unit_fmt(reference)
    print("  %-44s %12s   [%s]%s" % (label, unit_fmt(med(values)), runs, ref))


def num(v):
    """A rate, readably."""
    return "-" if v != v else "{:,.0f}".format(v)


def latency_rows(results, name, label):
    """p50 / p99 / p99.9 / max rows for one latency."""
    for key, tag in (("p50_us", "p50"), ("p99_us", "p99"),
                     ("p999_us", "p99.9"), ("max_us", "max")):
        row("%s %s" % (label, tag), [lat(r, name, key) for r in results],
            fmt_us)


def commit_rows(results):
    """crisisd's commit latency (uprobes), when it could be measured: all
    commits, those during a checkpoint and the others, and the WAL frames
    each wrote (a loop turn's batch varies with the load)."""
    if not all("commit" in x["lat"] for x in results):
        return
    latency_rows(results, "commit", "crisisd commit (uprobe)")
    if all("commit_durable" in x["lat"] for x in results):
        latency_rows(results, "commit_durable",
                     "crisisd commit to durable (its WAL sync done)")
        latency_rows(results, "wal_sync", "  WAL fdatasync (sync thread)")
    for name, label in (("commit_clean", "  commits with no checkpoint"),
                        ("commit_ckpt", "  commits during a checkpoint")):
        if all(name in x["lat"] for x in results):
            for key, tag in (("p50_us", "p50"), ("p999_us", "p99.9")):
                row("%s %s" % (label, tag),
                    [lat(x, name, key) for x in results], fmt_us)
            row("%s, count" % label,
                [x["lat"][name]["n"] for x in results], num)
    if all("commit_frames" in x["lat"] for x in results):
        for key, tag in (("p50_us", "p50"), ("p999_us", "p99.9")):
            row("  WAL frames per commit %s" % tag,
                [lat(x, "commit_frames", key) for x in results], num)
        for key, tag in (("p50_us", "p50"), ("p999_us", "p99.9")):
            row("  commit time per WAL frame %s" % tag,
                [lat(x, "commit_per_frame", key) for x in results],
                lambda v: "-" if v != v else "%.1f us" % v)


def kept_up_row(results):
    """Did crisisd route every contact, and if not, what became of them."""
    def what(x):
        c = x["counts"]
        if x.get("kept_up"):
            return "yes"
        return "no (%d overflow, %d refused, %d unanswered)" % (
            c["overflow"], c["overloaded"],
            c["never_queued"] + c["never_routed"])
    print("  %-44s %s" % ("kept up (every contact routed)",
                          "; ".join(what(x) for x in results)))


def cpu_rows(results):
    """How busy crisisd was, and what one routed contact cost it."""
    row("offers per routed contact",
        [x["counts"]["offers"] / max(1, x["counts"]["routed"])
         for x in results], lambda v: "%.1f" % v)
    row("crisisd CPU per routed contact",
        [x["server_cpu_s"] / max(1, x["counts"]["routed"]) * 1e6
         for x in results], fmt_us)
    row("crisisd CPU use (of one core)",
        [div(x["server_cpu_s"], x["wall_s"]) * 100 for x in results],
        lambda v: "%.0f %%" % v)
    if all("pg_cpu_s" in x for x in results):
        row("PostgreSQL CPU per routed contact",
            [x["pg_cpu_s"] / max(1, x["counts"]["routed"]) * 1e6
             for x in results], fmt_us)
        row("PostgreSQL CPU use (of one core, crisisd's)",
            [div(x["pg_cpu_s"], x["wall_s"]) * 100 for x in results],
            lambda v: "%.0f %%" % v)
    row("load generator CPU use (of one core)",
        [div(x["loadgen_cpu_s"], x["wall_s"]) * 100 for x in results],
        lambda v: "%.0f %%" % v)


def report_baselines(r, a):
    """The echo server and raw SQLite."""
    print("Baselines")
    if "echo" in r:
        echo = r["echo"]
        row("echo (libevent+jansson), %d conns: req/s" % a.echo_connections,
            [x["requests_per_s"] for x in echo], num, REFERENCE["echo_rps"])
        latency_rows(echo, "echo", "echo round trip")
        row("echo server CPU per request",
            [x["server_cpu_s"] / max(1, x["counts"]["replies"]) * 1e6
             for x in echo], fmt_us)
    if "sqlite" in r:
        sq = r["sqlite"]
        row("SQLite 1 row/commit, FULL: commits/s",
            [x["single"]["commits_per_s"] for x in sq], num,
            REFERENCE["sqlite_commits"])
        for key, tag in (("p50_us", "p50"), ("p99_us", "p99"),
                         ("p999_us", "p99.9"), ("max_us", "max")):
            row("SQLite commit %s (autocheckpoint 4000)" % tag,
                [x["single"][key] for x in sq], fmt_us)
        row("SQLite 100 rows/commit: rows/s",
            [x["batch100"]["rows_per_s"] for x in sq], num,
            REFERENCE["sqlite_rows_batch"])
        row("SQLite commit p50, checkpoints in a thread",
            [x["single_bg"]["p50_us"] for x in sq], fmt_us)
        row("SQLite commit p99.9, checkpoints in a thread",
            [x["single_bg"]["p999_us"] for x in sq], fmt_us)
    print()


def report_crisisd(r, a, labels):
    """The closed and open loops, on SQLite and on PostgreSQL."""
    for part in ("closed", "closed-pg", "closed1"):
        if part not in r:
            continue
        closed = r[part]
        print("crisisd, closed loop, %s (%d intakes x %d outstanding, "
              "%d clinicians)" % (labels[part], a.intakes, a.window,
                                  a.clinicians))
        row("routed contacts/s", [x["routed_per_s"] for x in closed], num)
        kept_up_row(closed)
        latency_rows(closed, "queued", "sent -> queued")
        latency_rows(closed, "offer", "sent -> offer")
        latency_rows(closed, "routed", "sent -> routed")
        commit_rows(closed)
        cpu_rows(closed)
        print()
    for part in ("open", "open-pg"):
        if part in r:
            report_open(r[part], a, labels[part])


def report_open(opn, a, label):
    """One open loop's rows."""
    print("crisisd, open loop at %d contacts/s (1 in %d an escalation "
          "probe), %s" % (a.rate, a.probe_every, label))
    row("routed contacts/s", [x["routed_per_s"] for x in opn], num)
    kept_up_row(opn)
    cpu_rows(opn)
    latency_rows(opn, "queued", "sent -> queued")
    latency_rows(opn, "offer", "sent -> offer")
    latency_rows(opn, "routed", "sent -> routed")
    commit_rows(opn)
    for key, tag in (("p50_us", "p50"), ("p99_us", "p99"),
                     ("max_us", "max")):
        row("escalation timer lateness %s" % tag,
            [lat(x, "escalation_late", key) for x in opn], fmt_us)
    for name, what in (("escalation_fire_late",
                        "  of which timer fired late (store, ms)"),
                       ("escalation_fire_to_offer",
                        "  of which fired -> offer arrived")):
        for key, tag in (("p50_us", "p50"), ("p99_us", "p99")):
            row("%s %s" % (what, tag),
                [lat(x, name, key) for x in opn], fmt_us)
    row("escalation probes timed",
        [x["lat"]["escalation_late"]["n"] for x in opn], num)
    print()


def report_other(r, a):
    """Idle memory and crisisctl stats."""
    if "idle" not in r and "stats" not in r:
        return
    print("Memory and review")
    if "idle" in r:
        idle = r["idle"]
        row("RSS per idle clinician conn, %d conns" % a.idle_connections,
            [x["bytes_per_conn"] for x in idle], lambda v: "%.0f B" % v,
            REFERENCE["idle_bytes"])
        row("  of which anonymous (RssAnon)",
            [x["anon_bytes_per_conn"] for x in idle], lambda v: "%.0f B" % v)
    if "stats" in r:
        row("crisisctl stats, %s contacts" % "{:,}".format(a.contacts),
            [x["seconds"] for x in r["stats"]], lambda v: "%.2f s" % v)
    print()


def report_flood(r):
    """bench/flood's figures, when that part ran."""
    if "flood" not in r:
        return
    f = r["flood"]
    print("Slow and silent clients (bench/flood, one run): %g contacts/s, "
          "%d silent + %d drip connections" % (f["rate"], f["silent"],
                                                f["drip"]))
    for run, label in (("quiet", "no flood"), ("flood", "with flood")):
        for key in ("p50", "p99"):
            row("contact -> routed %s, %s" % (key, label),
                [f[run]["latency_ms"][key] * 1000], fmt_us)
    for key, label in (("before_kb", "crisisd VmRSS before the flood"),
                       ("peak_kb", "  at its peak"),
                       ("after_kb", "  after it closed")):
        row(label, [f["rss"][key]], lambda v: "%d kB" % v)
    row("  RSS high-water per flood connection",
        [f["rss"]["peak_bytes_per_conn"]], lambda v: "%.0f B" % v)
    print()


def report_web(r):
    """bench/webstreams's figures, when that part ran."""
    if "web" not in r:
        return
    w = r["web"]
    print("Web console event streams (bench/webstreams): %d streams, one "
          "console session each, of %d supervisors; %d logins in %.0f s" % (
              w["streams"], w["supervisors"], w["streams"], w["login_s"]))
    for rate in w["rates"]:
        runs = [x for x in w["runs"] if x["rate"] == rate]
        for key, label in (("without", "no streams"),
                           ("with", "%d streams" % w["streams"])):
            for q in ("p50", "p99"):
                row("%g contacts/s: offer %s, %s" % (rate, q, label),
                    [x[key]["offer_ms"][q] * 1000 for x in runs], fmt_us)
        row("%g contacts/s: offer p99 with / without" % rate,
            [x["ratio"] for x in runs], lambda v: "%.2f" % v)
    row("memory per idle event stream (first round)",
        [w["runs"][0]["bytes_per_idle_stream"]], lambda v: "%.0f B" % v)
    print()


def web_targets(r):
    """Issue 13's target, where its part ran: at the first rate."""
    if "web" not in r:
        return []
    w = r["web"]
    first = [x["ratio"] for x in w["runs"] if x["rate"] == w["rates"][0]]
    return [("issue13_offer_p99_with_1000_web_streams_vs_none", med(first),
             1.2, "<=", "%.2f")]


def kb(v):
    """kilobytes, readably."""
    return "-" if v != v else "%.1f MB" % (v / 1024)


def pct(v):
    """A share, as a percentage."""
    return "-" if v != v else "%.1f %%" % (v * 100)


def never_answered(x):
    """Contacts of a loadgen run with no answer when its drain ended."""
    return x["counts"]["never_queued"] + x["counts"]["never_routed"]


def surge_step_figures(step, cap):
    """What the surge table shows of one step, given its round's C."""
    c = step["counts"]
    return {
        "offered": step["offered_per_s"], "goodput": step["routed_per_s"],
        "of_c": div(step["routed_per_s"], cap),
        "in_time": div(c["answered_in_time"], c["sent"]),
        "routed": c["routed"], "overflow": c["overflow"],
        "overloaded": c["overloaded"], "internal": c["internal"],
        "never": never_answered(step), "rss": step["rss_peak_kb"],
        "cpu": step["server_cpu_s"] / max(1, c["routed"]) * 1e6,
        "answer_p99": lat(step, "answer", "p99_us"),
        "busy": div(step["server_cpu_s"], step["wall_s"]),
        "lg_busy": div(step["loadgen_cpu_s"], step["wall_s"]),
    }


def report_surge(r, a):
    """Issue 11's surge curve: capacity, then a table of medians."""
    if "surge" not in r:
        return
    runs = r["surge"]
    caps = [x["capacity"] for x in runs]
    print("crisisd, surge curve (the contract's tiers, %d clinicians all on "
          "tier 1 ring-all, cap 1, wrap-up 0; max_wait %g s; %d gateways; "
          "steps of %g s)" % (a.clinicians, a.surge_max_wait_ms / 1000,
                              a.intakes, a.surge_seconds))
    row("closed-loop capacity C: routed contacts/s",
        [x["routed_per_s"] for x in caps], num)
    kept_up_row(caps)
    latency_rows(caps, "routed", "sent -> routed")
    commit_rows(caps)
    cpu_rows(caps)
    row("crisisd peak RSS, closed loop", [x["rss_peak_kb"] for x in caps],
        kb)
    figs = [[surge_step_figures(st, run["capacity"]["routed_per_s"])
             for st in run["steps"]] for run in runs]
    deadline = a.surge_max_wait_ms / 1000 + 1
    print("  %-5s %9s %9s %5s %8s %7s %8s %10s %8s %6s %8s %8s %9s %4s %4s"
          % ("step", "offered/s", "goodput/s", "of C", "in %gs" % deadline,
             "routed", "overflow", "overloaded", "internal", "never",
             "peak RSS", "CPU/rtd", "answ p99", "cpu", "lg"))
    for i, mult in enumerate(a.surge_steps):
        m = {k: med([f[i][k] for f in figs if i < len(f)])
             for k in figs[0][i]}
        print("  %-5s %9s %9s %5.2f %8s %7s %8s %10s %8s %6s %8s %8s %9s "
              "%3.0f%% %3.0f%%" % (
                  "%gx" % mult, num(m["offered"]), num(m["goodput"]),
                  m["of_c"], pct(m["in_time"]), num(m["routed"]),
                  num(m["overflow"]), num(m["overloaded"]),
                  num(m["internal"]), num(m["never"]), kb(m["rss"]),
                  fmt_us(m["cpu"]), fmt_us(m["answer_p99"]),
                  m["busy"] * 100, m["lg_busy"] * 100))
    if len(runs) > 1:
        for i, mult in enumerate(a.surge_steps):
            row("  goodput at %gx, each round" % mult,
                [f[i]["goodput"] for f in figs], num)
    # C is a closed loop's, with few contacts in flight; an open loop may
    # route more (bigger commits), so flatness is shown against both.
    best = [max(x["goodput"] for x in f) for f in figs]
    row("  best step's goodput / C", [max(x["of_c"] for x in f)
                                      for f in figs], lambda v: "%.2f" % v)
    row("  lowest goodput past 1x / best step's",
        [div(min([x["goodput"] for x, m in zip(f, a.surge_steps) if m > 1]
                 or [float("nan")]), bst) for f, bst in zip(figs, best)],
        lambda v: "%.2f" % v)
    print("  (medians of %d rounds.  goodput: routed pushes read during the "
          "step; in %gs: share of\n  the contacts answered - routed, "
          "overflow, overloaded or internal - within max_wait\n  + 1 s of "
          "the send; never: no answer %g s after the last send; peak RSS: "
          "VmHWM;\n  CPU/rtd: crisisd CPU per routed contact; answ p99: "
          "send -> any answer; cpu, lg:\n  crisisd's and the load "
          "generator's CPU use, of one core)" % (
              len(runs), deadline, deadline + a.surge_grace))
    print()


def report_backlog(r, a):
    """Issue 11's backlog test."""
    if "backlog" not in r:
        return
    runs = [x for x in r["backlog"] if x.get("ok")]
    if not runs:
        print("crisisd, backlog: every run failed")
        print()
        return
    print("crisisd, backlog of %s waiting contacts (%d clinicians on tier 1, "
          "all busy; %d gateways)" % ("{:,}".format(a.backlog),
                                      a.clinicians, a.intakes))
    row("backlog filled at contacts/s", [x["fill"]["per_s"] for x in runs],
        num)
    for name, label in (("queued_empty", "sent -> queued, empty queue"),
                        ("queued_backlog", "sent -> queued, with the backlog"),
                        ("complete_offer", "complete -> offer"),
                        ("available_offer", "status available -> offer")):
        for key, tag in (("p50_us", "p50"), ("p99_us", "p99"),
                         ("max_us", "max")):
            row("%s %s" % (label, tag), [x[name].get(key) for x in runs],
                fmt_us)
    row("reps measured", [x["complete_offer"]["n"] for x in runs], num)
    row("crisisd CPU per rep (2 hand-offs, 2 new contacts)",
        [div(x["cpu_s"]["handoffs"], x["complete_offer"]["n"]) * 1e6
         for x in runs], fmt_us)
    row("crisisd CPU per contact while filling",
        [div(x["cpu_s"]["fill"], x["fill"]["contacts"]) * 1e6
         for x in runs], fmt_us)
    row("crisisd RSS with the backlog", [x["rss_backlog_kb"] for x in runs],
        kb)
    print()


def per_round(r, a, b, fn):
    """fn over the results of parts a and b of the same round, if both ran."""
    if a not in r or b not in r:
        return []
    return [fn(x, y) for x, y in zip(r[a], r[b])]


def report_ratios(r, a):
    """Ratios within a round; returns them for the targets."""
    ratios = {
        "routed": per_round(r, "closed", "echo", lambda c, e:
                            div(c["routed_per_s"], e["requests_per_s"])),
        "routed1": per_round(r, "closed1", "echo", lambda c, e:
                             div(c["routed_per_s"], e["requests_per_s"])),
        "offer": per_round(r, "open", "echo", lambda o, e:
                           div(lat(o, "offer", "p99_us"),
                               lat(e, "echo", "p99_us"))),
        "commit": [div(lat(c, "commit", "p999_us"),
                       lat(c, "commit", "p50_us"))
                   for c in r.get("closed", []) if "commit" in c["lat"]],
        "commit_durable": [div(lat(c, "commit_durable", "p999_us"),
                               lat(c, "commit_durable", "p50_us"))
                           for c in r.get("closed", [])
                           if "commit_durable" in c["lat"]],
        "sqlite": [div(x["single"]["p999_us"], x["single"]["p50_us"])
                   for x in r.get("sqlite", [])],
        "capacity": per_round(r, "surge", "echo", lambda s, e: div(
            s["capacity"]["routed_per_s"], e["requests_per_s"])),
        "capacity_commit": [div(lat(s["capacity"], "commit", "p999_us"),
                                lat(s["capacity"], "commit", "p50_us"))
                            for s in r.get("surge", [])
                            if "commit" in s["capacity"]["lat"]],
        "capacity_durable": [
            div(lat(s["capacity"], "commit_durable", "p999_us"),
                lat(s["capacity"], "commit_durable", "p50_us"))
            for s in r.get("surge", [])
            if "commit_durable" in s["capacity"]["lat"]],
        "backlog_queued": [div(x["queued_backlog"].get("p99_us"),
                               x["queued_empty"].get("p99_us"))
                           for x in r.get("backlog", []) if x.get("ok")],
        "backlog_offer": per_round(r, "backlog", "echo", lambda x, e: div(
            x.get("available_offer", {}).get("p99_us"),
            lat(e, "echo", "p99_us"))),
        "pg_routed": per_round(r, "closed-pg", "closed", lambda p, s: div(
            p["routed_per_s"], s["routed_per_s"])),
        "pg_offer": per_round(r, "open-pg", "open", lambda p, s: div(
            lat(p, "offer", "p99_us"), lat(s, "offer", "p99_us"))),
    }
    print("Ratios (per round)")
    for key, label, f in (
            ("routed", "closed routed/s / echo req/s", "%.3f"),
            ("routed1", "closed (one at a time) routed/s / echo req/s",
             "%.3f"),
            ("offer", "open offer p99 / echo p99", "%.2f"),
            ("commit", "crisisd commit p99.9 / p50, closed loop", "%.2f"),
            ("commit_durable", "commit to durable p99.9 / p50, closed loop",
             "%.2f"),
            ("sqlite", "raw SQLite commit p99.9 / p50 (inline ckpt)",
             "%.2f"),
            ("capacity", "surge capacity C / echo req/s", "%.3f"),
            ("capacity_commit", "crisisd commit p99.9 / p50, capacity run",
             "%.2f"),
            ("capacity_durable",
             "commit to durable p99.9 / p50, capacity run", "%.2f"),
            ("backlog_queued", "queued p99 with backlog / empty queue",
             "%.2f"),
            ("backlog_offer", "backlog available -> offer p99 / echo p99",
             "%.2f"),
            ("pg_routed", "PostgreSQL / SQLite closed routed/s", "%.3f"),
            ("pg_offer", "PostgreSQL / SQLite open offer p99", "%.2f")):
        if ratios[key]:
            row(label, ratios[key], lambda v, f=f: f % v)
    print()
    return ratios


def report_pg(r, ratios):
    """Issue 15: PostgreSQL beside SQLite, the same parts in the same
    rounds; the ratio is the median of the per-round ratios."""
    if not ratios["pg_routed"] and not ratios["pg_offer"]:
        return
    print("PostgreSQL beside SQLite (%s)" % r.get("pg_server", "?"))
    for sq, pg, label, fn, fmt in (
            ("closed", "closed-pg", "closed loop routed/s",
             lambda x: x["routed_per_s"], num),
            ("open", "open-pg", "open loop contact -> offer p99",
             lambda x: lat(x, "offer", "p99_us"), fmt_us),
            ("open", "open-pg", "open loop contact -> queued p99",
             lambda x: lat(x, "queued", "p99_us"), fmt_us)):
        if sq in r and pg in r:
            row("%s, SQLite" % label, [fn(x) for x in r[sq]], fmt)
            row("%s, PostgreSQL" % label, [fn(x) for x in r[pg]], fmt)
    for key, label, f in (
            ("pg_routed", "routed/s ratio PostgreSQL / SQLite", "%.3f"),
            ("pg_offer", "offer p99 ratio PostgreSQL / SQLite", "%.2f")):
        if ratios[key]:
            row(label, ratios[key], lambda v, f=f: f % v)
    print()


def report_failover(r):
    """Issue 15: takeover times over the kills (bench/failover)."""
    if "failover" not in r:
        return
    f = r["failover"]
    print("Takeover, two crisisd on one PostgreSQL database under load "
          "(bench/failover): %d SIGKILLs of the active, lease_ms %d" % (
              f["kills"], f["lease_ms"]))
    for key, label in (("welcome", "SIGKILL -> first welcome on the other"),
                       ("lease", "SIGKILL -> lease taken (its log line)")):
        s = f["takeover"][key]
        print("  %-44s p50 %s  p99 %s  max %s  (n %d; limit %d ms)" % (
            label, fmt_ms(s.get("p50_ms")), fmt_ms(s.get("p99_ms")),
            fmt_ms(s.get("max_ms")), s.get("n", 0), f["limit_ms"]))
    c = f["counts"]
    print("  %-44s %d sent, %d queued, %d routed, %d overflow, %d open "
          "at the end" % ("contacts", c["sent"], c["queued"], c["routed"],
                          c["overflow"], c["unfinished"]))
    print("  %-44s lost %d, duplicated %d, routed to two clinicians %d" % (
        "correctness", c["lost"], c["duplicated"], c["double_routed"]))
    print()


def fmt_ms(v):
    """Milliseconds, or - when not measured."""
    return "-" if v is None or v != v else "%.0f ms" % v


def surge_targets(r, ratios):
    """Issue 11's targets, where their parts ran."""
    nan = float("nan")
    t = []
    if "surge" in r:
        past, share = [], []
        for run in r["surge"]:
            cap = run["capacity"]["routed_per_s"]
            past.append(min([div(s["routed_per_s"], cap)
                             for s in run["steps"] if s["multiplier"] > 1]
                            or [nan]))
            share.append(min(div(s["counts"]["answered_in_time"],
                                 s["counts"]["sent"]) for s in run["steps"]))
        t += [("issue11_routed_vs_echo", med(ratios["capacity"]), 0.10,
               ">=", "%.3f"),
              ("issue11_commit_p999_vs_p50", med(ratios["capacity_commit"]),
               5.0, "<=", "%.2f"),
              ("issue11_commit_to_durable_p999_vs_p50",
               med(ratios["capacity_durable"]), 5.0, "<=", "%.2f"),
              ("issue11_surge_goodput_vs_capacity_past_1x", med(past), 0.90,
               ">=", "%.2f"),
              ("issue11_surge_answered_in_time_share", med(share), 1.0,
               ">=", "%.4f")]
    if "backlog" in r:
        ok = [x for x in r["backlog"] if x.get("ok")]
        t += [("issue11_backlog_available_to_offer_p99_ms",
               med([x["available_offer"].get("p99_us", nan) / 1000
                    for x in ok]), 5.0, "<=", "%.2f"),
              ("issue11_backlog_queued_p99_vs_empty",
               med(ratios["backlog_queued"]), 2.0, "<=", "%.2f")]
    return t


def failover_targets(r):
    """Issue 15's takeover target: p99 within lease_ms + 2 s."""
    if "failover" not in r:
        return []
    f = r["failover"]
    p99 = f["takeover"]["welcome"].get("p99_ms")
    return [("issue15_takeover_p99_ms",
             float("nan") if p99 is None else p99, f["limit_ms"], "<=",
             "%.0f")]


def report_targets(b, r, ratios):
    """One line per target of the issue."""
    nan = float("nan")

    def pick(part, fn):
        return med([fn(x) for x in r[part]]) if part in r else nan

    targets = [
        ("routed_vs_echo", med(ratios["routed"]), 0.25, ">=", "%.3f"),
        ("routed_vs_echo_one_at_a_time", med(ratios["routed1"]), 0.25, ">=",
         "%.3f"),
        ("offer_p99_vs_echo_p99", med(ratios["offer"]), 3.0, "<=", "%.2f"),
        ("escalation_lateness_p99_ms",
         pick("open", lambda x: lat(x, "escalation_late", "p99_us")) / 1000,
         5.0, "<=", "%.2f"),
        ("idle_rss_bytes_per_conn", pick("idle", lambda x:
                                         x["bytes_per_conn"]),
         3072, "<=", "%.0f"),
        ("commit_p999_vs_p50", med(ratios["commit"]), 5.0, "<=", "%.2f"),
        ("commit_to_durable_p999_vs_p50", med(ratios["commit_durable"]), 5.0,
         "<=", "%.2f"),
        ("stats_seconds_1M", pick("stats", lambda x: x["seconds"]), 1.0,
         "<=", "%.2f"),
    ] + surge_targets(r, ratios) + web_targets(r) + failover_targets(r) + [
        ("correctness_failures", len(b.failures), 0, "<=", "%d"),
    ]
    for f in b.failures:
        print("FAILED: %s" % f)
    for name, value, limit, op, f in targets:
        if value != value:
            print("target %s: not measured" % name)
            continue
        met = value >= limit if op == ">=" else value <= limit
        print("target %s: measured %s vs limit %s %s: %s" % (
            name, f % value, op, f % limit, "met" if met else "MISSED"))


def report(b):
    """The table, the ratios and one line per target."""
    r, a = b.results, b.a
    print()
    print("crisisd benchmark: %d rounds, medians [each run]; crisisd and "
          "servers on core %s, load on core %s; %.0f s" % (
              a.runs, b.cores[0], b.cores[1], b.elapsed))
    print()
    report_baselines(r, a)
    report_crisisd(r, a, b.labels)
    report_surge(r, a)
    report_backlog(r, a)
    report_other(r, a)
    report_web(r)
    report_flood(r)
    report_failover(r)
    ratios = report_ratios(r, a)
    report_pg(r, ratios)
    report_targets(b, r, ratios)


def profile_report(path):
    """The top of crisisd's profile under the closed loop (perf, self time)."""
    for sort, label in (("dso", "by library"),
                        ("dso,symbol", "top functions")):
        p = subprocess.run(["perf", "report", "-i", path, "--stdio",
                            "--no-children", "-g", "none", "--sort", sort],
                           capture_output=True, text=True)
        lines = [ln.strip() for ln in p.stdout.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        print()
        print("crisisd profile under the closed loop, %s (self time):"
              % label)
        for ln in lines[:10]:
            print("  " + ln)
