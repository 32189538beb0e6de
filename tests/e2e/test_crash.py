"""CONTRACT §5 under fire: a short run of tests/crash/crashtest.py.

500 contacts from three gateways, eight clinicians, 30 SIGKILLs and
restarts; then every check of the crash test (nothing lost or duplicated,
one outcome each, nobody assigned twice, integrity).  The full run is
`make crashtest`.  The seed is random and noted; CRISIS_CRASH_SEED fixes it.
"""

import os
import sys
from pathlib import Path

from harness import note

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crash"))

import crashtest  # noqa: E402

SHORT_CONTACTS = 500
SHORT_KILLS = 30


def test_crash_short_run():
    seed = os.environ.get("CRISIS_CRASH_SEED")
    v, d = crashtest.run(contacts=SHORT_CONTACTS, kills=SHORT_KILLS,
                         seed=int(seed) if seed else None)
    for name, value in v.figures:
        note("%s: %s" % (name, value))
    failed = v.failed()
    assert not failed, "%d of %d crash checks failed (database %s)\n%s" % (
        len(failed), len(v.checks), d.db, "\n".join(v.lines()))
