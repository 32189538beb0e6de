#!/usr/bin/env python3
"""crashtest: SIGKILL crisisd under load, again and again; nothing is lost.

    python3 tests/crash/crashtest.py [--contacts N] [--kills K] [--seed S]
        [--intakes I] [--clinicians C] [--rate R] [--keep]

A real crisisd (tests/e2e/harness.py sets it up: short timers, a roster of
C clinicians on three tiers, I intake principals, a few patients) takes N
contacts from I gateways while C clinicians accept, decline or ignore offers
at random and complete what they are assigned (crashload.py).  Meanwhile
crisisd is SIGKILLed K times at random moments and restarted with the same
config and database; the clients reconnect and re-send what was never
acknowledged.  When the load is done and every contact has had time to end,
crisisd gets SIGTERM and the database (read-only) is checked against what
each client was told (crashcheck.py): no acknowledged contact lost or
duplicated, one terminal outcome each with a consistent timeline, nobody
assigned twice, every intake told its results and never two different ones,
PRAGMA integrity_check ok.

Prints the figures, one PASS/FAIL line per check and `N passed, N failed`;
exits 1 if any check failed (the daemon's directory is then kept).
"""

import argparse
import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))

import crashcheck  # noqa: E402
import crashload  # noqa: E402
import harness  # noqa: E402

# Contacts per second over the whole run, unless --rate says otherwise.
DEFAULT_RATE = 40.0
# The shortest mean time between kills, in seconds: the daemon must get to
# do some work between two kills.
MIN_KILL_GAP_S = 0.1
# Seconds allowed, after the load, for every contact to end (scaled).
DRAIN_S = 30
# Short timers, so that contacts end quickly (ms, scaled by the harness).
CONFIG = {
    "log_level": "info",
    "tiers": [(1, "ring-all", 300), (2, "longest-idle", 200),
              (3, "round-robin", 200)],
    "max_wait_ms": 1500,
    "continuity_ms": 200,
    "imminent_max_wait_ms": 800,
    "wrapup_ms": 50,
    "max_missed_offers": 3,
    "max_connections": 256,
    "hello_timeout_ms": 2000,
}
# Patients with a primary clinician (the first few clinicians).
NPATIENTS = 4


def clinician_tiers(i):
    """The tiers clinician i is on call for: spread, some on two."""
    t = i % 3 + 1
    return (t, t % 3 + 1) if i % 3 == 0 else (t,)


def setup(opts):
    """A daemon with the roster the load needs, started; and the specs."""
    d = harness.Daemon(**CONFIG)
    share, extra = divmod(opts.contacts, opts.intakes)
    intakes = []
    for i in range(opts.intakes):
        name = "gw%d" % (i + 1)
        intakes.append((name, d.add_intake(name), share + (i < extra)))
    clinicians = []
    for i in range(opts.clinicians):
        name = "c%02d" % (i + 1)
        clinicians.append((name, d.add_clinician(name,
                                                 tiers=clinician_tiers(i))))
    patients = []
    for i in range(min(NPATIENTS, opts.clinicians)):
        patients.append("p%d" % (i + 1))
        d.add_patient(patients[-1], clinicians[i][0])
    d.start()
    return d, intakes, clinicians, patients


def run(contacts=500, kills=30, seed=None, intakes=3, clinicians=8,
        rate=DEFAULT_RATE):
    """One whole crash test; returns (Verdict, daemon)."""
    opts = argparse.Namespace(contacts=contacts, kills=kills, seed=seed,
                              intakes=max(1, intakes),
                              clinicians=max(1, clinicians), rate=rate)
    if opts.seed is None:
        opts.seed = int.from_bytes(os.urandom(4), "big")
    t0 = time.monotonic()
    d, intake_specs, clin_specs, patients = setup(opts)
    duration = max(contacts / max(rate, 0.001), kills * MIN_KILL_GAP_S)
    load = crashload.Load(d, intake_specs, clin_specs, patients, opts.seed)

    async def go():
        try:
            return await load.run(duration * harness.SCALE, kills,
                                  DRAIN_S * harness.SCALE,
                                  lambda: crashcheck.poll_db(d))
        finally:
            await load.close()

    try:
        drained = asyncio.run(go())
    except BaseException:
        d.kill()
        raise
    stop_error = None
    try:
        d.stop()
    except AssertionError as e:
        stop_error = str(e)
    v = crashcheck.verdict(d, load, stop_error, drained,
                           time.monotonic() - t0)
    v.figures.insert(0, ("seed", opts.seed))
    return v, d


def main(argv=None):
    """Parse the options, run, print, exit 0 or 1."""
    ap = argparse.ArgumentParser(
        description="SIGKILL crisisd under load; check nothing is lost")
    ap.add_argument("--contacts", type=int, default=500)
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--intakes", type=int, default=3)
    ap.add_argument("--clinicians", type=int, default=8)
    ap.add_argument("--rate", type=float, default=DEFAULT_RATE,
                    help="contacts per second (default %g)" % DEFAULT_RATE)
    ap.add_argument("--keep", action="store_true",
                    help="keep the daemon's directory even if all passed")
    opts = ap.parse_args(argv)
    if opts.contacts < 1 or opts.kills < 0 or opts.rate <= 0:
        ap.error("--contacts must be at least 1, --kills at least 0 and "
                 "--rate positive")
    v, d = run(opts.contacts, opts.kills, opts.seed, opts.intakes,
               opts.clinicians, opts.rate)
    print("\n".join(v.lines()), flush=True)
    if v.failed() or opts.keep:
        print("daemon directory kept: %s (log %s, database %s)" % (
            d.dir, d.log_path, d.db), file=sys.stderr)
        return 1 if v.failed() else 0
    shutil.rmtree(d.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
