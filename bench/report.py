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
    return a / b if b and b == b else float("nan")


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
    """The closed and open loops."""
    for part in ("closed", "closed1"):
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
    if "open" in r:
        opn = r["open"]
        print("crisisd, open loop at %d contacts/s (1 in %d an escalation "
              "probe)" % (a.rate, a.probe_every))
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
        for name, label in (("escalation_fire_late",
                             "  of which timer fired late (store, ms)"),
                            ("escalation_fire_to_offer",
                             "  of which fired -> offer arrived")):
            for key, tag in (("p50_us", "p50"), ("p99_us", "p99")):
                row("%s %s" % (label, tag),
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
        "sqlite": [div(x["single"]["p999_us"], x["single"]["p50_us"])
                   for x in r.get("sqlite", [])],
    }
    print("Ratios (per round)")
    for key, label, f in (
            ("routed", "closed routed/s / echo req/s", "%.3f"),
            ("routed1", "closed (one at a time) routed/s / echo req/s",
             "%.3f"),
            ("offer", "open offer p99 / echo p99", "%.2f"),
            ("commit", "crisisd commit p99.9 / p50, closed loop", "%.2f"),
            ("sqlite", "raw SQLite commit p99.9 / p50 (inline ckpt)",
             "%.2f")):
        if ratios[key]:
            row(label, ratios[key], lambda v, f=f: f % v)
    print()
    return ratios


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
        ("stats_seconds_1M", pick("stats", lambda x: x["seconds"]), 1.0,
         "<=", "%.2f"),
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
    report_other(r, a)
    report_flood(r)
    report_targets(b, r, report_ratios(r, a))


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
