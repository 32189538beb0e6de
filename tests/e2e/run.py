#!/usr/bin/env python3
"""Run the end-to-end tests: tests/e2e/test_*.py, every test_* function.

    python3 tests/e2e/run.py [--store sqlite|postgresql] [-j N] [-v] [FILTER...]

The store (default $CRISISD_STORE, else sqlite) is what every daemon's
database is: a file, or a database of its own on one PostgreSQL server
that the runner starts in a temporary directory for the whole run and
stops at the end, whatever happens (pgstore.py).  Tests marked for the
other store only are reported as `SKIP name: why` and counted apart, and
so is a test that finds out for itself that it cannot run here
(harness.skip()).

Each test runs in its own Python process (and starts its own daemon), two at
a time by default.  A FILTER selects tests whose name contains it (shell
wildcards allowed; "test_ctl" or "test_routing.py" selects a whole file).
One line per test: `PASS name (0.4s)` or `FAIL name: reason`, with details
indented under a failure and measurements (# ...) under a pass; the last line
is `N passed, N failed (STORE)`, or `N passed, N failed, N skipped (STORE)`
when tests were skipped.  Exit 1 if anything failed.
"""

import argparse
import fnmatch
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT_TAG = "@@E2E-RESULT@@ "
TEST_TIMEOUT_S = 120


def discover():
    """[(module, function name, (store, why) or None)] in file and
    definition order; the third is a test's @sqlite_only or
    @postgresql_only mark."""
    sys.path.insert(0, str(HERE))
    tests = []
    for path in sorted(HERE.glob("test_*.py")):
        mod = importlib.import_module(path.stem)
        for name, obj in vars(mod).items():
            if name.startswith("test_") and callable(obj) and \
                    getattr(obj, "__module__", None) == path.stem:
                tests.append((path.stem, name,
                              getattr(obj, "store_only", None)))
    return tests


def selected(module, name, filters):
    """Does a test match any filter (or are there none)?"""
    if not filters:
        return True
    for f in filters:
        f = f[:-3] if f.endswith(".py") else f
        if any(ch in f for ch in "*?["):
            if fnmatch.fnmatch(name, f) or fnmatch.fnmatch(module, f):
                return True
        elif f in name or f == module or f == module + "." + name:
            return True
    return False


def run_child(module, name):
    """Run one test in this process; print its result as a tagged line."""
    sys.path.insert(0, str(HERE))
    import harness
    result = {"ok": True, "reason": "", "details": []}
    t0 = time.monotonic()
    try:
        fn = getattr(importlib.import_module(module), name)
        fn()
    except harness.Skipped as e:
        result["skipped"] = str(e)
    except BaseException as e:  # report everything, even SystemExit
        result["ok"] = False
        text = str(e).strip() or type(e).__name__
        if not isinstance(e, AssertionError):
            text = "%s: %s" % (type(e).__name__, text)
        lines = text.splitlines()
        result["reason"] = lines[0]
        details = lines[1:]
        tb = traceback.extract_tb(e.__traceback__)
        where = [f for f in tb if f.filename.endswith(".py") and
                 Path(f.filename).parent == HERE]
        for f in where[-3:]:
            details.append("at %s:%d in %s: %s" % (
                Path(f.filename).name, f.lineno, f.name, (f.line or "")))
        traffic = harness.transcript_tail()
        if traffic:
            details.append("last traffic (s, who, dir, line):")
            details.extend("  " + t for t in traffic)
        for d in harness.DAEMONS:
            d.close(check=False)
            details.append("daemon log tail (%s):" % d.log_path)
            details.extend("  " + l for l in d.log_tail(25).splitlines())
        result["details"] = details
    for d in harness.DAEMONS:
        if d.alive():
            d.kill()
        if result["ok"]:
            shutil.rmtree(d.dir, ignore_errors=True)
    # The server's directory goes at the end of the run, failed tests'
    # databases with it; dropping them now keeps its disk use small.
    harness.drop_databases()
    harness.stop_servers()
    result["elapsed"] = time.monotonic() - t0
    result["notes"] = list(harness.NOTES)
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


# The test processes running now, for an interrupted run to end.
RUNNING = set()


def run_one(module, name, verbose):
    """Run a test in a child process; returns (outcome, report lines),
    the outcome being "pass", "fail" or "skip" (harness.skip())."""
    t0 = time.monotonic()
    scale = float(os.environ.get("CRISISD_TIME_SCALE",
                                 "4" if os.environ.get("CRISISD_WRAPPER")
                                 else "1"))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
           "%s.%s" % (module, name)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    RUNNING.add(proc)
    try:
        out, _ = proc.communicate(timeout=TEST_TIMEOUT_S * scale)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "fail", ["FAIL %s: timed out after %.0fs" % (
            name, TEST_TIMEOUT_S * scale)] + ["    " + l for l in
                                              out.splitlines()[-40:]]
    finally:
        RUNNING.discard(proc)
    result = None
    other = []
    for line in out.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
        else:
            other.append(line)
    elapsed = time.monotonic() - t0
    if result is None:
        return "fail", ["FAIL %s: the test process died (exit %s)" % (
            name, proc.returncode)] + ["    " + l for l in other[-40:]]
    if result.get("skipped") is not None:
        return "skip", ["SKIP %s: %s" % (name, result["skipped"])]
    if result["ok"]:
        lines = ["PASS %s (%.1fs)" % (name, elapsed)]
        lines += ["    # " + n for n in result["notes"]]
        if verbose:
            lines += ["    " + l for l in other]
        return "pass", lines
    lines = ["FAIL %s: %s" % (name, result["reason"])]
    lines += ["    # " + n for n in result["notes"]]
    lines += ["    " + l for l in other]
    lines += ["    " + l for l in result["details"]]
    return "fail", lines


class Interrupted(Exception):
    """SIGTERM or SIGHUP: end the run as Ctrl-C does."""


def _interrupt(signum, frame):
    """A signal handler that ends the run through the finally clauses."""
    raise Interrupted("signal %d" % signum)


def start_store(store):
    """Start what the store needs for the whole run; returns a function
    that stops it.  The children find it through the environment."""
    os.environ["CRISISD_STORE"] = store
    if store != "postgresql":
        return lambda: None
    sys.path.insert(0, str(HERE))
    import pgstore
    directory = tempfile.mkdtemp(prefix="crisisd-pg-")

    def stop():
        pgstore.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)

    t0 = time.monotonic()
    try:
        os.environ["CRISISD_PG_HOST"] = pgstore.start(directory)
    except BaseException:
        log = pgstore.log_tail(directory)
        stop()
        print("postgresql: the server did not start; its log:\n" + log,
              file=sys.stderr)
        raise
    print("postgresql: a server on %s (%.1fs to start)" % (
        directory, time.monotonic() - t0), flush=True)
    return stop


def main():
    """Parse arguments, run the selected tests, print the summary."""
    ap = argparse.ArgumentParser(description="crisisd end-to-end tests")
    ap.add_argument("-j", "--jobs", type=int, default=2,
                    help="tests run at once (default 2)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show each passing test's output too")
    ap.add_argument("--store", choices=("sqlite", "postgresql"),
                    default=os.environ.get("CRISISD_STORE") or "sqlite",
                    help="the daemons' database (default $CRISISD_STORE, "
                    "else sqlite)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("filters", nargs="*", help="test name filters")
    args = ap.parse_args()
    if args.child:
        module, name = args.child.split(".", 1)
        return run_child(module, name)

    tests = [t for t in discover() if selected(t[0], t[1], args.filters)]
    if not tests:
        print("no test matches %s" % " ".join(args.filters), file=sys.stderr)
        print("0 passed, 0 failed (%s)" % args.store)
        return 1
    skipped = [(name, mark[1]) for _, name, mark in tests
               if mark and mark[0] != args.store]
    runnable = [t for t in tests if not t[2] or t[2][0] == args.store]
    t0 = time.monotonic()
    passed = failed = 0
    lock = threading.Lock()

    def one(test):
        nonlocal passed, failed
        outcome, lines = run_one(test[0], test[1], args.verbose)
        with lock:
            if outcome == "pass":
                passed += 1
            elif outcome == "skip":
                skipped.append((test[1], None))
            else:
                failed += 1
            print("\n".join(lines), flush=True)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        stop_store = start_store(args.store)
    except Exception as e:  # the run cannot start: say so in its format
        print("FAIL %s: %s" % (args.store, e), flush=True)
        print("0 passed, 1 failed (%s)" % args.store)
        return 1
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        for name, why in skipped:
            print("SKIP %s: %s" % (name, why), flush=True)
        list(pool.map(one, runnable))
    except (KeyboardInterrupt, Interrupted) as e:
        # Nothing more starts; the tests running now are killed, so that
        # the store can stop at once.
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(RUNNING):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        print("e2e: interrupted (%s)" % (str(e) or "Ctrl-C"), flush=True)
        failed += 1
    finally:
        pool.shutdown(wait=True)
        stop_store()
    print("e2e: %d tests in %.1fs on %s" % (
        len(runnable), time.monotonic() - t0, args.store))
    if skipped:
        print("%d passed, %d failed, %d skipped (%s)" % (
            passed, failed, len(skipped), args.store))
    else:
        print("%d passed, %d failed (%s)" % (passed, failed, args.store))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
