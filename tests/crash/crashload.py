"""The crash test's load: intakes, clinicians and a killer, one asyncio loop.

Every client keeps its own record of what the daemon told it, because the
verdict (crashcheck.py) compares those records with the database:

Intake     submits its share of contacts, each under a unique ref, and keeps
           re-sending a ref until it gets `queued` (after every reconnect,
           and after an `internal`/`overloaded` error).  It abandons a few
           contacts at random and records every routed/overflow push.
Clinician  goes available after every welcome; accepts, declines or ignores
           each offer at random after a short random pause; completes each
           assigned contact after a short random time, re-sending the
           complete after a reconnect until it is answered.  An accept whose
           reply was lost to a kill is settled after the reconnect by trying
           to complete it: `ok` proves the daemon had assigned it to us.
Killer     SIGKILLs crisisd at random moments and restarts it with the same
           config and database, sometimes after a short outage so that
           deadlines pass while it is down.

Every connection reconnects as soon as the daemon accepts again.  Given
several daemons' addresses (Load.ports(): active and standby on one
PostgreSQL database, CONTRACT §10), a connection moves to the next address
each time one is refused, turns its hello away (`unavailable`) or ends.
"""

import asyncio
import json
import random

# Seconds between connection attempts while the daemon is down.
CONNECT_RETRY_S = 0.01
# Seconds a client waits before re-sending after an overloaded/internal error.
ERROR_RETRY_S = 0.05
# Longest pause of a clinician before acting on an offer.
OFFER_PAUSE_MAX_S = 0.15
# Range of the time a clinician spends on an assigned contact.
TALK_S = (0.02, 0.3)
# Longest outage after a kill (some kills restart at once).
OUTAGE_MAX_S = 0.4
# Tries, and seconds between them, when the binary cannot be executed (it
# is being rebuilt, say).
RESTART_TRIES = 5
RESTART_RETRY_S = 0.5
# Share of kills followed by an outage rather than an immediate restart.
OUTAGE_SHARE = 0.3
# How a clinician answers an offer: (action, probability).
OFFER_CHOICES = (("accept", 0.45), ("decline", 0.25), ("ignore", 0.30))
# Share of contacts an intake abandons, and the longest wait before it does.
ABANDON_SHARE = 0.05
ABANDON_WAIT_MAX_S = 0.8
RISKS = ("imminent", "high", "moderate", "moderate", "low", "unknown")
CHANNELS = ("voice", "text", "chat")
# Share of contacts that name a patient (continuity of care).
PATIENT_SHARE = 0.2


class Link:
    """One connection that says hello, correlates replies and reconnects."""

    def __init__(self, load, name, role, token, on_push, on_welcome):
        self.load = load
        self.name = name
        self.role = role
        self.token = token
        self.on_push = on_push
        self.on_welcome = on_welcome
        self.ready = asyncio.Event()
        self.pending = {}
        self.writer = None
        self.nid = 0
        self.welcomes = 0
        self.turn = 0

    async def run(self):
        """Connect, hello, read until the connection ends; again until
        stop, at the next address each time."""
        while not self.load.stopping:
            ports = self.load.ports()
            port = ports[self.turn % len(ports)]
            self.turn += 1
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port)
            except OSError:
                await asyncio.sleep(CONNECT_RETRY_S)
                continue
            self.writer = writer
            reading = asyncio.ensure_future(self._read(reader))
            w = await self._send({"type": "hello", "role": self.role,
                                  "principal": self.name,
                                  "token": self.token})
            if w is not None and w.get("type") == "welcome":
                self.welcomes += 1
                self.ready.set()
                self.load.welcomed(self, port)
                self.on_welcome()
            elif w is not None and w.get("code") == "unavailable" and \
                    len(ports) > 1:
                self.load.turned_away += 1
                writer.close()
            elif w is not None:
                self.load.anomaly("%s: hello answered %s" % (
                    self.name, json.dumps(w)))
                writer.close()
            await reading
            self._lost()
            if not self.load.stopping:
                await asyncio.sleep(CONNECT_RETRY_S)

    async def _read(self, reader):
        """Dispatch each line until the connection ends, then _lost()."""
        try:
            await self._dispatch(reader)
        finally:
            self._lost()

    async def _dispatch(self, reader):
        """Each line: a reply to its request, the rest as pushes."""
        while True:
            try:
                line = await reader.readline()
            except (OSError, ValueError):
                return
            if not line.endswith(b"\n"):
                return
            try:
                msg = json.loads(line)
            except ValueError:
                self.load.anomaly("%s: not JSON: %r" % (self.name, line))
                continue
            fut = self.pending.pop(msg.get("id"), None) if isinstance(
                msg.get("id"), str) else None
            if fut is not None:
                if not fut.done():
                    fut.set_result(msg)
            else:
                self.on_push(msg)

    def _lost(self):
        """The connection ended: unanswered requests get None."""
        self.ready.clear()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_result(None)

    async def _send(self, msg):
        """Send msg with a fresh id; its reply, or None if the link dropped."""
        if self.writer is None or self.writer.is_closing():
            self._lost()
            return None
        self.nid += 1
        rid = "%s-%d" % (self.name, self.nid)
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        line = json.dumps(dict(msg, id=rid), separators=(",", ":"))
        try:
            self.writer.write(line.encode() + b"\n")
        except OSError:
            self.pending.pop(rid, None)
            self._lost()
            return None
        return await fut

    async def request(self, msg):
        """Wait for a welcomed connection, then send; None if it dropped."""
        while not self.ready.is_set():
            await self.ready.wait()
        return await self._send(msg)

    def close(self):
        """Drop the connection (at the end)."""
        if self.writer is not None:
            self.writer.close()


class Intake:
    """A gateway: contacts under unique refs, and the results it was sent."""

    def __init__(self, load, name, token, ncontacts, rng):
        self.load = load
        self.name = name
        self.rng = rng
        self.ncontacts = ncontacts
        self.link = Link(load, name, "intake", token, self.push, lambda: None)
        self.cids = {}        # ref -> set of contact ids acknowledged
        self.unacked = set()  # refs sent but never acknowledged
        self.sends = {}       # ref -> times sent
        self.results = {}     # contact id -> [(type, clinician or target)]
        self.result_refs = {}  # contact id -> refs named by its results
        self.abandoned = set()  # contact ids whose abandon got ok
        self.submitted = 0

    def push(self, msg):
        """A routed or overflow result (anything else is an anomaly),
        acknowledged if the load says so."""
        t = msg.get("type")
        if t not in ("routed", "overflow"):
            self.load.anomaly("%s: unexpected push %s" % (
                self.name, json.dumps(msg)))
            return
        cid = msg.get("contact")
        what = msg.get("clinician") if t == "routed" else msg.get("target")
        self.results.setdefault(cid, []).append((t, what))
        self.result_refs.setdefault(cid, set()).add(msg.get("ref"))
        if self.load.ack_results:
            self.load.spawn(self.ack(cid))

    async def ack(self, cid):
        """Acknowledge a result; one lost with its connection comes again
        after the next welcome, and is acknowledged then."""
        r = await self.link.request({"type": "ack", "contact": cid})
        if r is not None and r.get("type") != "ok":
            self.load.anomaly("%s: ack %s answered %s" % (
                self.name, cid, json.dumps(r)))

    async def submit_all(self, mean_gap_s):
        """Submit this intake's contacts at random intervals."""
        for i in range(self.ncontacts):
            await asyncio.sleep(self.rng.expovariate(1.0 / mean_gap_s))
            ref = "%s-ref-%06d" % (self.name, i)
            self.submitted += 1
            self.load.spawn(self.submit(ref))

    def _contact_msg(self, ref):
        """The contact message for ref (the same fields every time)."""
        r = random.Random(ref)
        msg = {"type": "contact", "ref": ref, "risk": r.choice(RISKS),
               "channel": r.choice(CHANNELS), "caller": "+1555%07d" % (
                   r.randrange(10 ** 7))}
        if self.load.patients and r.random() < PATIENT_SHARE:
            msg["patient"] = r.choice(self.load.patients)
        return msg

    async def submit(self, ref):
        """Send ref until it is acknowledged with queued."""
        self.unacked.add(ref)
        msg = self._contact_msg(ref)
        while not self.load.stopping:
            self.sends[ref] = self.sends.get(ref, 0) + 1
            r = await self.link.request(msg)
            if r is None:
                continue
            if r.get("type") == "queued":
                self.cids.setdefault(ref, set()).add(r.get("contact"))
                self.unacked.discard(ref)
                if r.get("ref") != ref:
                    self.load.anomaly("%s: queued for %s names ref %r" % (
                        self.name, ref, r.get("ref")))
                if self.rng.random() < ABANDON_SHARE:
                    self.load.spawn(self.abandon(r.get("contact")))
                return
            if r.get("type") == "error" and r.get("code") in (
                    "internal", "overloaded"):
                self.load.errors += 1
                await asyncio.sleep(ERROR_RETRY_S)
                continue
            self.load.anomaly("%s: contact %s answered %s" % (
                self.name, ref, json.dumps(r)))
            return

    async def abandon(self, cid):
        """The caller hangs up a little later."""
        await asyncio.sleep(self.rng.uniform(0, ABANDON_WAIT_MAX_S))
        r = await self.link.request({"type": "abandon", "contact": cid})
        if r is None:
            return
        if r.get("type") == "ok":
            self.abandoned.add(cid)
        elif r.get("code") != "conflict":
            self.load.anomaly("%s: abandon %s answered %s" % (
                self.name, cid, json.dumps(r)))


class Clinician:
    """A clinician answering offers at random and completing its contacts."""

    def __init__(self, load, name, token, rng):
        self.load = load
        self.name = name
        self.rng = rng
        self.link = Link(load, name, "clinician", token, self.push,
                         self.welcomed)
        self.assigned = set()     # contact ids we got `assigned` for
        self.recovered = set()    # contact ids completed after a lost accept
        self.lost_accepts = set()  # accepts whose reply a kill took
        self.completing = set()   # contact ids with a complete task running
        self.settling = set()     # contact ids of a lost accept being settled
        self.completed = set()    # contact ids whose complete was answered
        self.offers = 0
        self.generation = 0

    def welcomed(self):
        """After every welcome: available, then settle lost accepts."""
        self.generation += 1
        self.load.spawn(self.available())
        for cid in list(self.lost_accepts):
            self.lost_accepts.discard(cid)
            self.load.spawn(self.settle_lost_accept(cid))

    async def available(self):
        """Say we are available."""
        r = await self.link.request({"type": "status",
                                     "status": "available"})
        if r is not None and r.get("type") != "ok":
            self.load.anomaly("%s: status answered %s" % (
                self.name, json.dumps(r)))

    def push(self, msg):
        """Offers, withdrawals and being set away."""
        t = msg.get("type")
        if t == "offer":
            self.offers += 1
            self.load.spawn(self.answer(msg.get("contact"), self.generation))
        elif t == "status" and msg.get("status") == "away":
            self.load.spawn(self.available())
        elif t == "assigned":
            # Told again after a reconnect: our accept's reply was lost.
            cid = msg.get("contact")
            self.lost_accepts.discard(cid)
            self.assigned.add(cid)
            self.load.spawn(self.complete(cid, first=False))
        elif t != "withdrawn":
            self.load.anomaly("%s: unexpected push %s" % (
                self.name, json.dumps(msg)))

    def _choose(self):
        """accept, decline or ignore, by OFFER_CHOICES."""
        x = self.rng.random()
        for action, p in OFFER_CHOICES:
            if x < p:
                return action
            x -= p
        return OFFER_CHOICES[-1][0]

    async def answer(self, cid, generation):
        """Act on one offer after a short pause (not across a reconnect)."""
        action = self._choose()
        await asyncio.sleep(self.rng.uniform(0, OFFER_PAUSE_MAX_S))
        if action == "ignore" or generation != self.generation:
            return
        r = await self.link.request({"type": action, "contact": cid})
        if r is None:
            if action == "accept":
                self.lost_accepts.add(cid)
            return
        if action == "accept" and r.get("type") == "assigned":
            if r.get("contact") != cid:
                self.load.anomaly("%s: accept %s answered %s" % (
                    self.name, cid, json.dumps(r)))
            self.assigned.add(cid)
            self.load.spawn(self.complete(cid, first=True))
        elif r.get("type") == "error" and r.get("code") == "conflict":
            return
        elif r.get("type") not in ("ok",):
            self.load.anomaly("%s: %s %s answered %s" % (
                self.name, action, cid, json.dumps(r)))

    async def complete(self, cid, first):
        """Talk for a while, then complete; re-send until answered."""
        if cid in self.completing:
            return
        self.completing.add(cid)
        await asyncio.sleep(self.rng.uniform(*TALK_S))
        while not self.load.stopping:
            r = await self.link.request({"type": "complete", "contact": cid,
                                         "disposition": "resolved"})
            if r is None:
                first = False
                continue
            if r.get("type") == "ok":
                self.completed.add(cid)
            elif first and cid not in self.recovered | self.settling:
                self.load.refused_completes.append(
                    "%s: complete %s, just assigned to it, answered %s" % (
                        self.name, cid, json.dumps(r)))
            elif r.get("code") not in ("conflict", "not_found"):
                self.load.anomaly("%s: complete %s answered %s" % (
                    self.name, cid, json.dumps(r)))
            else:
                self.completed.add(cid)
            break
        self.completing.discard(cid)

    async def settle_lost_accept(self, cid):
        """Complete an accept whose reply was lost, if it was ours.

        Another accept of the same contact (offered twice) may have been
        answered `assigned`: then complete() owns it.
        """
        if cid in self.assigned or cid in self.completing:
            return
        self.settling.add(cid)
        r = await self.link.request({"type": "complete", "contact": cid,
                                     "disposition": "resolved"})
        self.settling.discard(cid)
        if r is None:
            self.lost_accepts.add(cid)
        elif r.get("type") == "ok":
            self.recovered.add(cid)
            self.completed.add(cid)
        elif r.get("code") not in ("conflict", "not_found"):
            self.load.anomaly("%s: complete after a lost accept %s "
                              "answered %s" % (self.name, cid,
                                               json.dumps(r)))


class Load:
    """The clients, the killer, and what they saw."""

    # The clients' classes (a load may bring its own), and whether the
    # intakes acknowledge their results.
    intake_class = Intake
    clinician_class = Clinician
    ack_results = False

    def __init__(self, daemon, intakes, clinicians, patients, seed):
        self.daemon = daemon
        self.stopping = False
        self.patients = patients
        self.rng = random.Random(seed)
        self.intakes = []
        self.clinicians = []
        self.tasks = set()
        self.anomalies = []
        self.refused_completes = []
        self.kills = 0
        self.outages = 0
        self.errors = 0
        self.turned_away = 0
        self.restart_failure = None
        self._intake_specs = intakes
        self._clinician_specs = clinicians

    def ports(self):
        """The daemons' ports now (a restart may move one), in the order
        the clients try them."""
        return [self.daemon.port]

    def welcomed(self, link, port):
        """A hook: link was welcomed at port."""

    def anomaly(self, text):
        """Something a client was told that the contract does not allow."""
        self.anomalies.append(text)

    def spawn(self, coro):
        """Run coro as a task kept until it ends."""
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self._task_done)
        return t

    def _task_done(self, t):
        """Forget a finished task; a client that crashed is an anomaly."""
        self.tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            e = t.exception()
            self.anomaly("client task died: %s: %s (%s)" % (
                type(e).__name__, e, t.get_coro().__qualname__))

    def build(self):
        """Make the clients from (name, token, share) specs."""
        for name, token, n in self._intake_specs:
            self.intakes.append(self.intake_class(
                self, name, token, n, random.Random(self.rng.random())))
        for name, token in self._clinician_specs:
            self.clinicians.append(self.clinician_class(
                self, name, token, random.Random(self.rng.random())))

    async def kill_loop(self, kills, mean_gap_s):
        """SIGKILL and restart the daemon kills times at random moments."""
        loop = asyncio.get_running_loop()
        for _ in range(kills):
            await asyncio.sleep(self.rng.uniform(0.2, 1.8) * mean_gap_s)
            self.daemon.kill()
            self.kills += 1
            if self.rng.random() < OUTAGE_SHARE:
                self.outages += 1
                await asyncio.sleep(self.rng.uniform(0, OUTAGE_MAX_S))
            if not await self._restart(loop):
                return

    async def _restart(self, loop, daemon=None):
        """Start the daemon (or daemon) again; a binary being rebuilt gets
        retries."""
        daemon = daemon or self.daemon
        for attempt in range(RESTART_TRIES):
            daemon.stopped = False
            try:
                await loop.run_in_executor(None, daemon.start)
                return True
            except OSError as e:
                error = e
                await asyncio.sleep(RESTART_RETRY_S)
            except AssertionError as e:
                error = e
                break
        self.restart_failure = "restart %d: %s" % (self.kills, error)
        return False

    def settled(self, open_cids, abandoned):
        """Is everything done: acknowledged, closed, answered, reported?"""
        for it in self.intakes:
            if it.unacked or it.submitted < it.ncontacts:
                return False
            for cids in it.cids.values():
                for cid in cids:
                    if cid in open_cids:
                        return False
                    if cid not in it.results and cid not in abandoned:
                        return False
        return not any(c.completing or c.settling or c.lost_accepts
                       for c in self.clinicians)

    async def drain(self, timeout_s, poll):
        """Wait until settled() (poll gives open ids, abandoned ids)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            open_cids, abandoned = await loop.run_in_executor(None, poll)
            if self.settled(open_cids, abandoned):
                return True
            await asyncio.sleep(0.2)
        return False

    async def run(self, duration_s, kills, drain_s, poll):
        """The whole load: clients, submissions and kills, then the drain."""
        specs = self._intake_specs
        gap = duration_s * len(specs) / max(1, sum(n for _, _, n in specs))
        return await self.run_with(
            gap, lambda: self.kill_loop(kills, duration_s / max(1, kills)),
            drain_s, poll)

    async def run_with(self, gap, killer, drain_s, poll):
        """Clients, each intake submitting every gap s, and killer() (a
        coroutine) killing; then the drain.  True if everything settled."""
        self.build()
        for c in self.intakes + self.clinicians:
            self.spawn(c.link.run())
        work = [self.spawn(it.submit_all(gap)) for it in self.intakes]
        work.append(self.spawn(killer()))
        await asyncio.gather(*work)
        if self.restart_failure is not None:
            self.stopping = True
            return False
        drained = await self.drain(drain_s, poll)
        self.stopping = True
        return drained

    async def close(self):
        """Stop every client and task."""
        self.stopping = True
        for c in self.intakes + self.clinicians:
            c.link.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.sleep(0)
