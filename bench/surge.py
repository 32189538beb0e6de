"""bench/surge.py: issue 11's parts of bench/run, the surge curve and the
backlog test.

Both run crisisd with the contract's default routing (CONTRACT §2: tiers
ring-all 20 s, longest-idle 15 s, ring-all 20 s; max_offers_per_clinician
1) and every bench clinician on tier 1, so a ring-all offer can reach all
of them; but with wrapup_ms = 0 and a max_wait_ms of the bench's (10 s:
the surge's contacts must all be answered within the run).  Clinicians
accept every offer and complete every assignment at once: capacity is
what the routing path gives, not the clinicians' time.  Limits are the
defaults (max_open_contacts 5000 per gateway, and max_open_contacts_total
where the daemon has it) but for the per-gateway rate, off by default
(--surge-gateway-rate), so that admission is not what bounds 1x.

- surge: the closed loop (bench/loadgen closed, as bench/run's) gives the
  capacity C; then an open loop at each --surge-steps multiple of C for
  --surge-seconds, spread over the intakes (gateway principals), each on a
  fresh crisisd: goodput (routed pushes read during the step, per second),
  how many contacts were answered (routed, overflow, or refused with
  overloaded or internal) within max_wait_ms + 1 s of their send, what
  became of the rest, and crisisd's peak RSS (VmHWM).
- backlog: bench/backlog on core 1 against crisisd with every clinician
  busy and --backlog contacts waiting (max_wait_ms 10 min).
"""

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURGE_PARTS = ("surge", "backlog")
# The contract's default tiers (CONTRACT §2).
TIERS = [(1, "ring-all", 20000), (2, "longest-idle", 15000),
         (3, "ring-all", 20000)]
# The backlog must not overflow while it is measured.
BACKLOG_MAX_WAIT_MS = 600000
# After a step's load, how long past max_wait_ms + 1 s to wait for the
# last answers before counting the rest as never answered.
SURGE_GRACE_S = 4
# bench/run's defaults of the options --quick shortens too.
RUN_DEFAULTS = {"runs": 3, "echo_seconds": 5}
# What --quick sets, where the option was not given.
QUICK = {"runs": 1, "echo_seconds": 2, "capacity_seconds": 3,
         "capacity_warmup": 1, "surge_seconds": 2, "surge_max_wait_ms": 2000,
         "surge_grace": 2, "backlog": 1000, "backlog_reps": 200,
         "backlog_seconds": 10}
FULL = {"capacity_seconds": 10, "capacity_warmup": 2, "surge_seconds": 10,
        "surge_max_wait_ms": 10000, "surge_grace": SURGE_GRACE_S,
        "backlog": 10000, "backlog_reps": 500, "backlog_seconds": 60}


def add_surge_options(ap):
    """bench/run's options for the surge and the backlog."""
    ap.add_argument("--quick", action="store_true",
                    help="only echo, surge and backlog, once, short "
                    "(under a minute): a smoke test")
    ap.add_argument("--capacity-seconds", type=float,
                    help="closed loop measuring the surge's capacity C (10)")
    ap.add_argument("--capacity-warmup", type=float, help="its warm-up (2)")
    ap.add_argument("--surge-seconds", type=float,
                    help="length of each surge step (10)")
    ap.add_argument("--surge-steps", default="0.5,1,2,4,8",
                    type=lambda t: [float(x) for x in t.split(",")],
                    help="offered load of the steps, multiples of C")
    ap.add_argument("--surge-max-wait-ms", type=int,
                    help="routing.max_wait_ms in the surge (10000)")
    ap.add_argument("--surge-grace", type=float,
                    help="seconds past max_wait_ms + 1 s to wait for the "
                    "last answers of a step (%d)" % SURGE_GRACE_S)
    ap.add_argument("--surge-gateway-rate", type=float, default=0,
                    help="limits.max_contacts_per_second per gateway, as a "
                    "multiple of its share of C (0: off, the default)")
    ap.add_argument("--backlog", type=int,
                    help="contacts waiting in the backlog test (10000)")
    ap.add_argument("--backlog-reps", type=int,
                    help="samples of each backlog latency (500)")
    ap.add_argument("--backlog-seconds", type=float,
                    help="each backlog phase stops after this long (60)")


def quick_options(a):
    """Fill in the options not given: --quick's values, or the full ones.
    --quick also shortens --runs and --echo-seconds when they were left at
    bench/run's defaults."""
    for k, v in (QUICK if a.quick else FULL).items():
        if getattr(a, k) is None or (a.quick and
                                     getattr(a, k) == RUN_DEFAULTS.get(k)):
            setattr(a, k, v)
    return a


def status_kb(pid, key):
    """A kB field (VmRSS, VmHWM) of /proc/PID/status; 0 if absent."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Surge:
    """The surge curve and the backlog test, run by bench/run's rounds."""

    def __init__(self, bench):
        self.b = bench
        self.a = bench.a
        self.template = bench.dir / "surge-template.db"
        self.has_total = False

    def setup(self):
        """The template: bench/run's principals, every clinician on tier 1
        (not the probe holder, which these parts never connect)."""
        b = self.b
        csv = ["clinician,tier,start,end"]
        for line in b.tokens.read_text().splitlines():
            pid = line.split()[0]
            if pid.startswith("bench-c"):
                csv.append("%s,1,2000-01-01T00:00:00Z,2100-01-01T00:00:00Z"
                           % pid)
        roster = b.dir / "surge-roster.csv"
        roster.write_text("\n".join(csv) + "\n")
        shutil.copyfile(b.bare, self.template)
        conf = b.dir / "surge-template.conf"
        conf.write_text(self.conf_text(1, self.template))
        b.ctl(conf, "roster", "import", str(roster))
        # max_open_contacts_total is newer than the contract: say it only
        # to a crisisd that knows it (crisisd -t: 2 for a config error).
        conf.write_text(self.conf_text(1, self.template,
                                       extra="max_open_contacts_total = "
                                       "20000;"))
        self.has_total = subprocess.run(
            [b.crisisd, "-t", "-c", str(conf)], capture_output=True
        ).returncode == 0

    def conf_text(self, port, db, max_wait_ms=None, rate=0, extra=""):
        """The contract's default routing with the changes above."""
        tiers = ",\n".join(
            '    { tier = %d; strategy = "%s"; offer_timeout_ms = %d; }' % t
            for t in TIERS)
        return """# crisisd.conf written by bench/surge.py
listen = [ "127.0.0.1:%d" ];
database = "%s";
log_level = "info";
timezone = "UTC";
routing : {
  tiers = (
%s
  );
  max_wait_ms = %d;
  overflow_target = "tel:988";
  wrapup_ms = 0;
  max_offers_per_clinician = 1;
};
limits : {
  max_connections = 10000;
  max_contacts_per_second = %d;
  %s
};
""" % (port, db, tiers, max_wait_ms or self.a.surge_max_wait_ms, rate, extra)

    def daemon(self, name, fn, **conf):
        """Run fn(port, db, pid) against a fresh crisisd of this config;
        add its peak and final RSS."""
        def go(port, db, pid):
            r = fn(port, db, pid)
            r["rss_peak_kb"] = status_kb(pid, "VmHWM")
            r["rss_end_kb"] = status_kb(pid, "VmRSS")
            return r
        return self.b.with_daemon(
            name, go, template=self.template,
            conf_text=lambda port, db: self.conf_text(port, db, **conf))

    # --- the surge ---

    def capacity(self, rnd):
        """The closed loop: C, with commit latency and CPU per contact."""
        a, b = self.a, self.b
        name = "capacity-%d" % rnd

        def go(port, db, pid):
            argv = ["closed"] + b.load_args(port) + [
                "--window", str(a.window), "--duration",
                str(a.capacity_seconds), "--warmup", str(a.capacity_warmup),
                "--drain", str(a.surge_max_wait_ms / 1000 + 5)]
            return b.probed(name, pid, lambda: b.loadgen(argv, name))
        return self.daemon(name, go)

    def step(self, rnd, mult, cap):
        """The open loop at mult x cap contacts/s for --surge-seconds."""
        a, b = self.a, self.b
        name = "surge-%d-%gx" % (rnd, mult)
        rate = max(1, int(round(mult * cap)))
        deadline_ms = a.surge_max_wait_ms + 1000
        gw_rate = 0
        if a.surge_gateway_rate:
            gw_rate = int(-(-a.surge_gateway_rate * cap // a.intakes))

        def go(port, db, pid):
            argv = ["open"] + b.load_args(port) + [
                "--rate", str(rate), "--duration", str(a.surge_seconds),
                "--warmup", "0", "--probe-every", "0", "--holders", "0",
                "--answer-deadline-ms", str(deadline_ms),
                "--drain", str(deadline_ms / 1000 + a.surge_grace)]
            return b.loadgen(argv, name)
        r = self.daemon(name, go, rate=gw_rate)
        r.update(multiplier=mult, offered_per_s=rate, deadline_ms=deadline_ms)
        return r

    def run_surge(self, rnd):
        """C, then each step of the curve at a multiple of it."""
        cap = self.capacity(rnd)
        c = cap["routed_per_s"]
        steps = []
        for mult in self.a.surge_steps:
            steps.append(self.step(rnd, mult, c))
        return {"capacity": cap, "steps": steps}

    # --- the backlog ---

    def run_backlog(self, rnd):
        """bench/backlog against crisisd with every clinician busy."""
        a, b = self.a, self.b
        name = "backlog-%d" % rnd

        def go(port, db, pid):
            errlog = b.dir / ("%s.client.log" % name)
            with open(errlog, "w") as err:
                p = subprocess.run(
                    ["taskset", "-c", "1", str(ROOT / "bench" / "backlog"),
                     "--port", str(port), "--tokens", str(b.tokens),
                     "--clinicians", str(a.clinicians), "--intakes",
                     str(a.intakes), "--backlog", str(a.backlog), "--reps",
                     str(a.backlog_reps), "--seconds",
                     str(a.backlog_seconds), "--pid", str(pid)],
                    stdout=subprocess.PIPE, stderr=err, text=True)
            out = p.stdout.strip().splitlines()
            r = json.loads(out[-1]) if out else {"ok": False}
            r["rss_backlog_kb"] = status_kb(pid, "VmRSS")
            if not r.get("ok"):
                b.failures.append("%s: %s (see %s)" % (
                    name, r.get("failure", "failed"), errlog))
            return r
        # No per-gateway cap on open contacts, and a total cap (where the
        # daemon has one) well above the backlog.
        extra = "max_open_contacts = 0;"
        if self.has_total:
            extra += " max_open_contacts_total = %d;" % (2 * a.backlog +
                                                         10000)
        return self.daemon(name, go, max_wait_ms=BACKLOG_MAX_WAIT_MS,
                           extra=extra)
