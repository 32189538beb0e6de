"""The SIP lab: real Kamailio, crisis-sipgw and baresip phones on loopback,
beside a real crisisd from tests/e2e/harness.py.

Kamailio   sipgw/kamailio.cfg on a UDP port of its own, evapi on a TCP
           port, its log kept (no ERROR may appear in it).
Gateway    crisis-sipgw with a config written here; stop/start/kill.
Phone      one baresip: a config folder, an account, audio from an 8 kHz
           tone (sox), audio recorded by the sndfile module, and commands
           and events through its ctrl_tcp module (netstrings of JSON).
Lab        all of it together: lab.phone("dr1", register=True) and so on;
           a context manager that stops everything and keeps the logs of
           a failed test.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import harness  # noqa: E402

SIPGW = os.environ.get("SIPGW_BIN", str(ROOT / "crisis-sipgw"))
KAMAILIO_CFG = str(ROOT / "sipgw" / "kamailio.cfg")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
BARESIP = shutil.which("baresip") or "/usr/bin/baresip"


def free_udp_port():
    """A loopback UDP port that is free now, whose TCP twin is free too."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
            t2 = socket.socket()
            t2.bind(("127.0.0.1", port + 1))  # baresip's TLS is port + 1
            t2.close()
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


def wait_for(what, pred, timeout, step=0.02):
    """Poll pred() until true; raise with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout,
                                                                  what))


def tone(path, freq, seconds=30):
    """An 8 kHz mono 16-bit WAV sine of freq Hz (sox)."""
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", path,
                    "synth", str(seconds), "sine", str(freq), "vol", "0.5"],
                   check=True, capture_output=True)
    return path


def dominant_frequency(path):
    """The tone's frequency in a recording, from sox's stat (Rough freq)."""
    p = subprocess.run(["sox", path, "-n", "stat"], capture_output=True,
                       text=True, timeout=30)
    for line in p.stderr.splitlines():
        if line.startswith("Rough   frequency"):
            return float(line.split(":")[1])
    raise AssertionError("sox stat gave no frequency for %s: %s" % (
        path, p.stderr[-300:]))


def rms_amplitude(path):
    """RMS amplitude of a recording (sox stat), 0 for silence."""
    p = subprocess.run(["sox", path, "-n", "stat"], capture_output=True,
                       text=True, timeout=30)
    for line in p.stderr.splitlines():
        if line.startswith("RMS     amplitude"):
            return float(line.split(":")[1])
    return 0.0


class Kamailio:
    """Kamailio with sipgw/kamailio.cfg; its log is self.log_path."""

    def __init__(self, workdir, ring_ms=20000, suspend_max_ms=180000):
        self.dir = os.path.join(workdir, "kamailio")
        os.makedirs(self.dir, exist_ok=True)
        self.sip_port = free_udp_port()
        self.evapi_port = harness.free_port()
        self.ring_ms = ring_ms
        self.suspend_max_ms = suspend_max_ms
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self.proc = None

    def command(self):
        return [KAMAILIO, "-f", KAMAILIO_CFG, "-DD", "-E", "-m", "64",
                "-M", "16", "-Y", self.dir, "-w", self.dir,
                "-A", "SIP_LISTEN=udp:127.0.0.1:%d" % self.sip_port,
                "-A", 'EVAPI_BIND="127.0.0.1:%d"' % self.evapi_port,
                "-A", "CLINICIAN_RING_MS=%d" % self.ring_ms,
                "-A", "SUSPEND_MAX_MS=%d" % self.suspend_max_ms]

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("kamailio exited %d:\n%s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.evapi_port),
                                         0.2).close()
                return True
            except OSError:
                return False
        wait_for("kamailio's evapi port", up, 15)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
            self.proc = None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def errors(self):
        """Lines of Kamailio's log at ERROR or CRITICAL."""
        return [l for l in self.log_text().splitlines()
                if " ERROR: " in l or " CRITICAL: " in l]


class Gateway:
    """crisis-sipgw pointed at a Kamailio and a crisisd."""

    def __init__(self, workdir, daemon, kamailio, principal="sipgw",
                 lines=None, overflow_uri=None, timers=None, tls=False,
                 crisisd_before=()):
        self.dir = os.path.join(workdir, "sipgw")
        os.makedirs(self.dir, exist_ok=True)
        self.conf_path = os.path.join(self.dir, "crisis-sipgw.conf")
        self.log_path = os.path.join(self.dir, "crisis-sipgw.log")
        token = os.path.join(self.dir, "token")
        with open(token, "w") as f:
            f.write(daemon.tokens[principal] + "\n")
        lines = lines or [{"user": "crisis", "risk": "unknown",
                           "language": "en", "program": "IOP"}]
        timers = dict({"reply_timeout_ms": 1500, "outage_grace_ms": 1000,
                       "reconnect_min_ms": 50, "reconnect_max_ms": 500,
                       "ping_interval_ms": 2000}, **(timers or {}))
        port = daemon.tls_port if tls else daemon.port
        # crisisd_before: addresses tried before the lab's crisisd (a
        # list, CONTRACT §10); without, the single-string form.
        address = '"127.0.0.1:%d"' % port
        if crisisd_before:
            address = "[ %s ]" % ", ".join('"%s"' % a for a in list(
                crisisd_before) + ["127.0.0.1:%d" % port])
        out = ['crisisd : { address = %s; principal = "%s";'
               ' token_file = "token";' % (address, principal)]
        if tls:
            out.append(' tls : { ca = "%s"; certificate = "%s"; key = "%s";'
                       ' };' % tuple(os.path.join(daemon.tls_dir, n) for n in
                                     ("ca.crt", "client.crt", "client.key")))
        out.append("};")
        out.append('evapi = "127.0.0.1:%d";' % kamailio.evapi_port)
        out.append("lines = ( %s );" % ", ".join(
            "{ %s }" % " ".join('%s = "%s";' % kv for kv in l.items())
            for l in lines))
        out.append('overflow_uris = ( { target = "tel:988"; uri = "%s"; } );'
                   % (overflow_uri or "sip:988@127.0.0.1:9"))
        out.append('log_level = "debug";')
        out.append("timers : { %s };" % " ".join(
            "%s = %d;" % kv for kv in timers.items()))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(out) + "\n")
        self.proc = None
        self.starts = 0

    def start(self):
        self.log = open(self.log_path, "ab")
        self.starts += 1
        self.proc = subprocess.Popen([SIPGW, "-c", self.conf_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        return self

    def wait_ready(self, timeout=10):
        """Until the log says both sides are up (after this start)."""
        wait_for("crisis-sipgw welcomed and connected", lambda:
                 self.log_text().count("welcomed") >= self.starts and
                 self.log_text().count("Kamailio routes") >=
                 self.starts, timeout)


    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("crisis-sipgw ignored SIGTERM")
            assert rc == 0, "crisis-sipgw exited %d after SIGTERM" % rc
        if self.proc is not None:
            self.log.close()
            self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.log.close()
            self.proc = None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Phone:
    """One baresip: a SIP phone with a tone to send, recording what it
    hears, driven and watched through ctrl_tcp."""

    def __init__(self, workdir, name, kamailio, freq, register=False,
                 answer=True):
        self.name = name
        self.dir = os.path.join(workdir, "phone-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.kamailio = kamailio
        self.port = free_udp_port()
        self.ctrl_port = harness.free_port()
        self.tone = tone(os.path.join(self.dir, "tone.wav"), freq)
        self.events = []
        self.lock = threading.Lock()
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.register = register
        cfg = ["poll_method epoll",
               "sip_listen 127.0.0.1:%d" % self.port,
               "net_interface 127.0.0.1",
               "module_path /usr/lib/baresip/modules",
               "module g711.so", "module aufile.so", "module sndfile.so",
               "module aubridge.so",
               "module_app account.so", "module_app menu.so",
               "module_app ctrl_tcp.so",
               "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
               "audio_source aufile,%s" % self.tone,
               "audio_player aubridge,nil", "audio_alert aubridge,nil",
               "snd_path %s" % self.dir,
               "rtp_ports 30000-39999"]
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        acct = "<sip:%s@127.0.0.1:%d>;regint=%d;answermode=%s" % (
            name, kamailio.sip_port, 600 if register else 0,
            "auto" if answer else "manual")
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(acct + "\n")
        self.proc = None
        self.sock = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BARESIP, "-f", self.dir],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

        def ctrl():
            try:
                self.sock = socket.create_connection(
                    ("127.0.0.1", self.ctrl_port), 0.2)
                return True
            except OSError:
                return False
        wait_for("baresip %s's ctrl_tcp" % self.name, ctrl, 10)
        self.sock.settimeout(None)
        threading.Thread(target=self._reader, daemon=True).start()
        if self.register:
            wait_for("%s registered" % self.name, self.registered, 10,
                     step=0.1)
        return self

    def registered(self):
        """Ask baresip (menu's reginfo) whether its account is bound."""
        with self.lock:
            self.events = [e for e in self.events
                           if e.get("token") != "reginfo"]
        self.command("reginfo")
        reply = wait_for("reginfo reply", lambda: [
            e for e in list(self.events) if e.get("token") == "reginfo"], 5)
        return "OK" in reply[0].get("data", "")

    def _reader(self):
        """Collect ctrl_tcp's netstrings (events and command replies)."""
        buf = b""
        while True:
            sock = self.sock
            if sock is None:
                return
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while True:
                colon = buf.find(b":")
                if colon < 0 or not buf[:colon].isdigit():
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 2 + n:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 2 + n:]
                try:
                    msg = json.loads(payload)
                except ValueError:
                    continue
                msg["_at"] = time.monotonic()
                with self.lock:
                    self.events.append(msg)

    def command(self, cmd, params=""):
        body = json.dumps({"command": cmd, "params": params,
                           "token": cmd}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))

    def dial(self, user):
        self.command("dial", "sip:%s@127.0.0.1:%d" % (
            user, self.kamailio.sip_port))

    def hangup(self):
        self.command("hangup")

    def has_event(self, type):
        with self.lock:
            return [e for e in self.events if e.get("type") == type]

    def wait_event(self, type, timeout=10):
        return wait_for("%s: %s" % (self.name, type),
                        lambda: self.has_event(type), timeout)[0]

    def recordings(self):
        """The WAV files sndfile wrote of what this phone heard."""
        return sorted(str(p) for p in Path(self.dir).glob("dump-*-dec.wav"))

    def stop(self):
        if self.sock is not None:
            try:
                self.command("quit")
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()
            self.proc = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Lab:
    """crisisd + Kamailio + crisis-sipgw, and the phones of one test."""

    def __init__(self, ring_ms=20000, daemon_overrides=None, timers=None,
                 tls=False, start_gateway=True, crisisd_before=()):
        self.dir = tempfile.mkdtemp(prefix="crisis-sip-")
        overrides = dict(tiers=[(1, "ring-all", 3000), (2, "ring-all", 3000)],
                         max_wait_ms=15000, continuity_ms=0, wrapup_ms=300)
        overrides.update(daemon_overrides or {})
        self.daemon = harness.Daemon(tls=tls, **overrides)
        self.daemon.add_intake("sipgw")
        self.kamailio = Kamailio(self.dir, ring_ms=ring_ms)
        self.phones = {}
        self.tls = tls
        self.timers = timers
        self.start_gateway = start_gateway
        self.crisisd_before = crisisd_before
        self.gateway = None

    def __enter__(self):
        self.kamailio.start()
        self.gateway = Gateway(self.dir, self.daemon, self.kamailio,
                               overflow_uri=None, timers=self.timers,
                               tls=self.tls,
                               crisisd_before=self.crisisd_before)
        return self

    def go(self, overflow_phone=None):
        """Start crisisd (clinicians are added before: the roster is read
        at start), point overflow at a phone, start the gateway and wait
        until it is up on both sides."""
        self.daemon.start()
        if overflow_phone is not None:
            text = open(self.gateway.conf_path).read().replace(
                "sip:988@127.0.0.1:9", "sip:%s@127.0.0.1:%d" % (
                    overflow_phone.name, overflow_phone.port))
            with open(self.gateway.conf_path, "w") as f:
                f.write(text)
        self.gateway.start()
        self.gateway.wait_ready()
        return self

    def phone(self, name, freq=440, register=False, answer=True):
        p = Phone(self.dir, name, self.kamailio, freq, register, answer)
        self.phones[name] = p
        return p.start()

    def clinician(self, cid, tiers=(1,)):
        """A clinician whose crisisd endpoint is sip:CID@HOST."""
        return self.daemon.add_clinician(cid, tiers=tiers,
                                         endpoint="sip:%s@crisis.example"
                                         % cid)

    def __exit__(self, exc_type, exc, tb):
        for p in self.phones.values():
            p.stop()
        if self.gateway is not None:
            if exc_type is None:
                self.gateway.stop()
            else:
                self.gateway.kill()
        self.kamailio.stop()
        self.daemon.close(check=exc_type is None)
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            sys.stderr.write("lab kept in %s\n" % self.dir)
        return False

    def kamailio_errors(self):
        return self.kamailio.errors()


SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SIPP_DIR = HERE / "sipp"


def register(kamailio, user, contact_port, expires=600):
    """REGISTER user at Kamailio with a Contact on contact_port (a SIPp
    instance answering for many users); asserts 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(3)
    port = s.getsockname()[1]
    msg = ("REGISTER sip:127.0.0.1:{k} SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-reg-{u}-{t}\r\n"
           "From: <sip:{u}@127.0.0.1:{k}>;tag=r{t}\r\n"
           "To: <sip:{u}@127.0.0.1:{k}>\r\n"
           "Call-ID: reg-{u}-{t}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
           "Contact: <sip:{u}@127.0.0.1:{c}>\r\nExpires: {e}\r\n"
           "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").format(
               k=kamailio.sip_port, p=port, u=user, t=int(time.time() * 1e6),
               c=contact_port, e=expires)
    try:
        s.sendto(msg.encode(), ("127.0.0.1", kamailio.sip_port))
        reply = s.recv(4096).decode("utf-8", "replace")
    finally:
        s.close()
    assert reply.startswith("SIP/2.0 200"), "REGISTER %s: %s" % (
        user, reply.splitlines()[0] if reply else "no reply")


class Sipp:
    """One SIPp process on loopback; its stats and RTT traces in self.dir."""

    def __init__(self, workdir, name, scenario, args):
        self.dir = os.path.join(workdir, "sipp-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_udp_port()
        self.cmd = [SIPP, "-sf", str(SIPP_DIR / scenario), "-i",
                    "127.0.0.1", "-p", str(self.port), "-nostdin",
                    "-trace_stat", "-stf", os.path.join(self.dir, "stat.csv"),
                    "-trace_err", "-error_file",
                    os.path.join(self.dir, "errors.log")] + list(args)
        self.proc = None

    def start(self):
        self.out = open(os.path.join(self.dir, "out.log"), "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out)
        return self

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        finally:
            self.out.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # SIPp: quit softly
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def last_stats(self):
        """The last row of SIPp's statistics CSV as a dict."""
        with open(os.path.join(self.dir, "stat.csv")) as f:
            rows = [l.rstrip(";\n").split(";") for l in f if l.strip()]
        return dict(zip(rows[0], rows[-1]))

    def rtts_ms(self):
        """Every call's timer 1 (INVITE to answer), in ms (-trace_rtt)."""
        out = []
        for path in Path(self.dir).glob("*_rtt.csv"):
            with open(path) as f:
                for line in f:
                    parts = line.strip().rstrip(";").split(";")
                    # Date_ms;response_time_ms;rtd_no
                    try:
                        out.append(float(parts[1]))
                    except (IndexError, ValueError):
                        continue
        return out


class Bots:
    """Clinicians who accept every offer at once and complete at once,
    each on its own connection and thread (a load, not a person)."""

    def __init__(self, daemon, ids):
        self.clients = [daemon.clinician(i) for i in ids]
        self.accepted = {}
        self.stop_flag = False
        self.threads = [threading.Thread(target=self._run, args=(c,),
                                         daemon=True) for c in self.clients]
        for t in self.threads:
            t.start()

    def _run(self, c):
        while not self.stop_flag:
            m = c._next_line(time.monotonic() + 0.2)
            if m is None:
                if c.eof:
                    return
                continue
            if m.get("type") == "offer":
                c.send({"type": "accept", "contact": m["contact"]})
            elif m.get("type") == "assigned":
                self.accepted[m["contact"]] = m["_at"]
                c.send({"type": "complete", "contact": m["contact"],
                        "disposition": "resolved"})

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(2)
