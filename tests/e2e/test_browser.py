"""The web console in a real browser (issue 13): Debian's Chromium, headless,
driven by puppeteer-core (tests/browser/console.mjs) against a real crisisd
started here.  This side makes the principals and their passwords, plays
the gateway over the TCP protocol when the script asks for a contact, and
tells it what the gateway and crisisd saw (routed, the stored record, a
clinician's status).

Needs /usr/bin/chromium (Debian's chromium package), node, and
tests/browser/node_modules (`make check` runs `npm ci` there).  Without
them the test fails and says what to install: it is never skipped
silently.  Screenshots go to build/screenshots/ (CONSOLE_SHOTS to change
it); with CONSOLE_README_SHOTS=DIR, the README's go to DIR too
(`make screenshots`).
"""

import json
import os
import shutil
import subprocess
import threading
import time

from harness import ROOT, SCALE, Daemon, note, submit

PASSWORD = "a long walk on the beach at dawn"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BROWSER_DIR = ROOT / "tests" / "browser"
# The whole scenario, at most (it takes ~40 s).
SCENARIO_TIMEOUT_S = 100
SLOW = 60000
# Longer than Chromium's EventSource waits before it reconnects (~3 s), so
# that a short drop resumes the same protocol session, and a drop longer
# than this ends it.
HELLO_TIMEOUT_MS = 5000


def browser_prerequisites():
    """What is missing to run the browser tests, in words ([] if none)."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("%s (apt-get install chromium; `make check` as root "
                       "installs it)" % CHROMIUM)
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    for pkg in ("puppeteer-core", "axe-core"):
        if not (BROWSER_DIR / "node_modules" / pkg).is_dir():
            missing.append("tests/browser/node_modules/%s (make browser-deps, "
                           "or: cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 "
                           "npm ci)" % pkg)
    return missing


class Gateway:
    """Answers the script's requests: the gateway's and crisisd's side."""

    def __init__(self, d):
        self.d = d
        self.gw = d.login("gw")
        self.sup = d.login("sup-tcp")
        self.n = 0

    def contact(self, args):
        self.n += 1
        extra = {k: v for k, v in args.items()
                 if k not in ("risk", "channel")}
        cid, _ = submit(self.gw, "browser-%d" % self.n,
                        risk=args.get("risk", "moderate"),
                        channel=args.get("channel", "voice"), **extra)
        return {"contact": cid}

    def routed(self, args):
        m = self.gw.expect("routed", contact=args["contact"])
        return {"clinician": m.get("clinician")}

    def show(self, args):
        return self.d.ctl_json("show", args["contact"])

    def status(self, args):
        snap = self.sup.request({"type": "snapshot"}, expect="snapshot")
        for c in snap["clinicians"]:
            if c.get("clinician") == args["clinician"]:
                return {"status": c.get("status")}
        return {"status": "not connected"}

    def answer(self, ask):
        try:
            fn = getattr(self, ask["what"])
            return {"n": ask["n"], "result": fn(ask.get("args", {}))}
        except Exception as e:  # the script reports it as a failed check
            return {"n": ask["n"], "error": "%s: %s" % (type(e).__name__, e)}


def run_console(d, shots, readme_shots=None):
    """Run console.mjs against d; (exit code, report, output lines)."""
    cmd = ["node", str(BROWSER_DIR / "console.mjs"), "--port",
           str(d.http_port), "--shots", str(shots), "--chromium", CHROMIUM]
    if readme_shots:
        cmd += ["--readme-shots", str(readme_shots)]
    env = dict(os.environ, CONSOLE_CLINICIAN="c1", CONSOLE_SUPERVISOR="sup",
               CONSOLE_PASSWORD=PASSWORD,
               CONSOLE_HELLO_TIMEOUT_MS=str(d.conf["hello_timeout_ms"]),
               CRISISD_TIME_SCALE=str(SCALE))
    proc = subprocess.Popen(cmd, cwd=str(BROWSER_DIR), env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    timer = threading.Timer(SCENARIO_TIMEOUT_S * SCALE, proc.kill)
    timer.start()
    gw = Gateway(d)
    report, lines = None, []
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("@@ask "):
                answer = gw.answer(json.loads(line[len("@@ask "):]))
                proc.stdin.write(json.dumps(answer) + "\n")
                proc.stdin.flush()
            elif line.startswith("@@report "):
                report = json.loads(line[len("@@report "):])
            else:
                lines.append(line)
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rc, report, lines


def test_console_in_chromium():
    missing = browser_prerequisites()
    assert not missing, "cannot run the browser tests; missing:\n" + \
        "\n".join(missing)
    with Daemon(http=True, tiers=[(1, "ring-all", SLOW)], max_wait_ms=SLOW,
                imminent_max_wait_ms=SLOW, wrapup_ms=200,
                hello_timeout_ms=HELLO_TIMEOUT_MS) as d:
        d.add_intake("gw")
        d.add_supervisor("sup")
        d.add_supervisor("sup-tcp")
        d.add_clinician("c1", tiers=(1,), name="Dr. Rivera")
        d.start()
        for who in ("sup", "c1"):
            d.ctl("password", "set", who, input=PASSWORD + "\n")
        shots = os.environ.get("CONSOLE_SHOTS", str(ROOT / "build" /
                                                    "screenshots"))
        t = time.monotonic()
        rc, report, lines = run_console(
            d, shots, os.environ.get("CONSOLE_README_SHOTS"))
        took = time.monotonic() - t
        assert report is not None, "console.mjs ended (exit %s) without a " \
            "report:\n%s" % (rc, "\n".join(lines[-40:]))
        failed = [c for c in report["checks"] if not c["ok"]]
        note("browser scenario %.1f s: %d checks, %d axe runs, %d "
             "screenshots in %s" % (took, len(report["checks"]),
                                    len(report["axe"]),
                                    len(report["screenshots"]), shots))
        minor = sorted({"%s %s" % (v["impact"], v["id"])
                        for a in report["axe"] for v in a["violations"]
                        if v["impact"] not in ("serious", "critical")})
        if minor:
            note("axe, moderate or minor only: %s" % ", ".join(minor))
        assert not failed and rc == 0, "%d browser checks failed:\n%s" % (
            len(failed), "\n".join(lines))
