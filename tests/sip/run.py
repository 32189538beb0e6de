#!/usr/bin/env python3
"""Run the SIP tests: tests/sip/test_*.py, every test_* function, one at a
time (each starts Kamailio, crisisd, crisis-sipgw and baresip phones; two
cores do not run two such labs well side by side).

    python3 tests/sip/run.py [FILTER...]

Prints `PASS name (12.3s)` or `FAIL name: reason` with the tail of the
output, and ends with `N passed, N failed`.  Exit 1 if anything failed.
"""

import importlib
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEST_TIMEOUT_S = 150


def discover(filters):
    sys.path.insert(0, str(HERE))
    tests = []
    for path in sorted(HERE.glob("test_*.py")):
        mod = importlib.import_module(path.stem)
        for name, obj in vars(mod).items():
            if name.startswith("test_") and callable(obj) and \
                    getattr(obj, "__module__", None) == path.stem and \
                    (not filters or any(f in name for f in filters)):
                tests.append((path.stem, name))
    return tests


def run_one(module, name):
    code = ("import sys; sys.path.insert(0, %r); import %s as m; m.%s()"
            % (str(HERE), module, name))
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=TEST_TIMEOUT_S)
        ok, out = p.returncode == 0, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        ok = False
        out = "timed out after %ds\n%s" % (TEST_TIMEOUT_S, (e.stdout or b"")
                                            .decode("utf-8", "replace"))
    return ok, out, time.monotonic() - t0


def main():
    passed = failed = 0
    for module, name in discover(sys.argv[1:]):
        ok, out, secs = run_one(module, name)
        if ok:
            passed += 1
            print("PASS %s (%.1fs)" % (name, secs), flush=True)
            for line in out.splitlines():
                if line.startswith("# "):
                    print("    " + line, flush=True)
        else:
            failed += 1
            lines = out.strip().splitlines()
            print("FAIL %s: %s" % (name, lines[-1] if lines else "?"),
                  flush=True)
            for line in lines[-30:]:
                print("    " + line, flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
