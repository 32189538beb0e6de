"""The crash test's verdict: the clients' records against the database.

The database is read through the harness's Daemon.sql (either store; on
SQLite a read-only connection).  Each check is a name and a list of
problems (empty: passed); the figures are counts worth printing whatever
the outcome.
"""

TERMINAL = ("completed", "overflow", "abandoned")
# How many examples of each failed check are shown.
EXAMPLES = 5


class Verdict:
    """Checks (name -> problems) and figures (name -> value), in order."""

    def __init__(self):
        self.checks = []
        self.figures = []

    def check(self, name, problems):
        """Record one check."""
        self.checks.append((name, list(problems)))

    def figure(self, name, value):
        """Record one figure."""
        self.figures.append((name, value))

    def failed(self):
        """The checks that found problems."""
        return [(n, p) for n, p in self.checks if p]

    def lines(self):
        """The report: figures, one PASS/FAIL line per check, the summary."""
        out = ["%-22s %s" % (n + ":", v) for n, v in self.figures]
        for name, problems in self.checks:
            if not problems:
                out.append("PASS %s" % name)
                continue
            out.append("FAIL %s: %d problem%s" % (
                name, len(problems), "" if len(problems) == 1 else "s"))
            out.extend("    " + p for p in problems[:EXAMPLES])
            if len(problems) > EXAMPLES:
                out.append("    ... and %d more" % (len(problems) - EXAMPLES))
        npass = sum(1 for _, p in self.checks if not p)
        out.append("%d passed, %d failed" % (npass, len(self.checks) - npass))
        return out


def read_db(d):
    """Contacts, events by contact, the integrity check (None but on
    SQLite), open offers and results not acknowledged, from d's database."""
    contacts = d.sql("SELECT id, intake, ref, state, clinician FROM contacts")
    events = {}
    for cid, seq, ev, clin in d.sql(
            "SELECT contact, seq, event, clinician FROM contact_events "
            "ORDER BY contact, seq"):
        events.setdefault(cid, []).append((seq, ev, clin))
    integrity = None
    if d.store == "sqlite":
        integrity = [r[0] for r in d.sql("PRAGMA integrity_check")]
    offers = d.sql("SELECT count(*) FROM offers")[0][0]
    undelivered = d.sql("SELECT count(*) FROM pushes WHERE "
                        "acked_at IS NULL")[0][0]
    return contacts, events, integrity, offers, undelivered


def poll_db(d):
    """Ids of contacts still open or assigned, and of abandoned ones."""
    rows = d.sql("SELECT id, state FROM contacts WHERE state IN "
                 "('open', 'assigned', 'abandoned')")
    return ({cid for cid, st in rows if st != "abandoned"},
            {cid for cid, st in rows if st == "abandoned"})


def timeline_problems(cid, state, evs):
    """What is wrong with one contact's timeline, as text."""
    names = [e for _, e, _ in evs]
    out = []
    if not names or names[0] != "queued":
        out.append("%s: timeline does not start with queued: %s" % (
            cid, names[:3]))
    if names.count("queued") > 1:
        out.append("%s: queued %d times" % (cid, names.count("queued")))
    terms = [i for i, n in enumerate(names) if n in TERMINAL]
    if len(terms) != 1:
        out.append("%s: %d terminal events %s" % (
            cid, len(terms), [names[i] for i in terms]))
    elif names[terms[0]] != state:
        out.append("%s: terminal event %s but state %s" % (
            cid, names[terms[0]], state))
    if terms and terms[-1] != len(names) - 1:
        out.append("%s: events after %s: %s" % (
            cid, names[terms[-1]], names[terms[-1] + 1:]))
    if "assigned" in names:
        after = names[names.index("assigned") + 1:]
        if "offered" in after:
            out.append("%s: offered after assigned" % cid)
        if state not in ("assigned", "completed"):
            out.append("%s: assigned, then %s" % (cid, state))
    elif state == "completed":
        out.append("%s: completed without an assigned event" % cid)
    return out


def _acked(load):
    """{(intake, ref): set of contact ids acknowledged}."""
    return {(it.name, ref): cids for it in load.intakes
            for ref, cids in it.cids.items()}


def check_contacts(v, load, contacts):
    """Lost, duplicated and unacknowledged contacts."""
    by_ref = {}
    for row in contacts:
        by_ref.setdefault((row[1], row[2]), []).append(row)
    acked = _acked(load)
    lost, dup, unacked = [], [], []
    for (intake, ref), cids in sorted(acked.items()):
        rows = by_ref.get((intake, ref), [])
        if len(cids) > 1:
            dup.append("%s %s: acknowledged as %s" % (intake, ref,
                                                      sorted(cids)))
        if not rows:
            lost.append("%s %s (%s): no row" % (intake, ref, sorted(cids)))
        elif len(rows) > 1:
            dup.append("%s %s: %d rows" % (intake, ref, len(rows)))
        elif rows[0][0] not in cids:
            lost.append("%s %s: acknowledged %s, stored %s" % (
                intake, ref, sorted(cids), rows[0][0]))
    sent = {(it.name, ref) for it in load.intakes for ref in it.sends}
    for key, rows in by_ref.items():
        if key not in sent:
            dup.append("%s %s: a row nobody sent (%s)" % (key[0], key[1],
                                                         rows[0][0]))
    for it in load.intakes:
        unacked += ["%s %s: sent %d times, never queued" % (
            it.name, ref, it.sends.get(ref, 0)) for ref in sorted(it.unacked)]
        if it.submitted < it.ncontacts:
            unacked.append("%s: submitted %d of %d" % (
                it.name, it.submitted, it.ncontacts))
    v.check("every contact acknowledged", unacked)
    v.check("no contact lost", lost)
    v.check("no contact duplicated", dup)
    return lost, dup


def check_outcomes(v, load, contacts, events):
    """Terminal states, timelines, assignment and the intakes' results."""
    rows = {r[0]: r for r in contacts}
    assigned_to = {}
    for c in load.clinicians:
        for cid in c.assigned | c.recovered:
            assigned_to.setdefault(cid, set()).add(c.name)
    missing, untold, timeline, double, results = [], [], [], [], []
    for it in load.intakes:
        for ref, cids in sorted(it.cids.items()):
            for cid in sorted(cids):
                row = rows.get(cid)
                if row is None:
                    continue
                state, clin = row[3], row[4]
                evs = events.get(cid, [])
                if state not in TERMINAL:
                    missing.append("%s %s: still %s" % (cid, ref, state))
                timeline += timeline_problems(cid, state, evs)
                nassigned = sum(1 for _, e, _ in evs if e == "assigned")
                who = assigned_to.get(cid, set())
                if nassigned > 1:
                    double.append("%s: %d assigned events" % (cid, nassigned))
                if len(who) > 1:
                    double.append("%s: assigned to %s" % (cid, sorted(who)))
                if who and clin not in who:
                    double.append("%s: stored clinician %s, assigned to %s"
                                  % (cid, clin, sorted(who)))
                got = it.results.get(cid, [])
                untold += _missing_result(cid, ref, state, got)
                results += _result_problems(it, cid, ref, state, clin, got)
    v.check("one terminal outcome", missing)
    v.check("every intake told", untold)
    v.check("consistent timelines", timeline)
    v.check("never assigned twice", double)
    v.check("results agree", results)
    return missing + untold, timeline, double, results


def _missing_result(cid, ref, state, got):
    """A closed, not abandoned contact whose intake got no result."""
    if state in ("completed", "overflow") and not got:
        return ["%s %s: %s, but the intake got no routed/overflow" % (
            cid, ref, state)]
    return []


def _result_problems(it, cid, ref, state, clin, got):
    """Results that contradict each other or the database."""
    out = []
    distinct = set(got)
    if len(distinct) > 1:
        out.append("%s %s: intake got %s" % (cid, ref, sorted(distinct)))
    for kind, what in distinct:
        if kind == "routed" and (state not in ("assigned", "completed") or
                                 what != clin):
            out.append("%s: routed to %s, stored %s/%s" % (cid, what, state,
                                                           clin))
        if kind == "overflow" and state != "overflow":
            out.append("%s: overflow pushed, stored %s" % (cid, state))
    if state == "abandoned" and got:
        out.append("%s: abandoned, but the intake got %s" % (cid, got))
    if cid in it.abandoned and state != "abandoned":
        out.append("%s: abandon answered ok, stored %s" % (cid, state))
    refs = it.result_refs.get(cid, set())
    if refs and refs != {ref}:
        out.append("%s: results name refs %s, not %s" % (cid, sorted(refs),
                                                        ref))
    return out


def verdict(d, load, stop_error, drained, elapsed_s):
    """Every check and figure of one run (d: the harness's Daemon)."""
    v = Verdict()
    contacts, events, integrity, offers, undelivered = read_db(d)
    lost, dup = check_contacts(v, load, contacts)
    missing, timeline, double, results = check_outcomes(v, load, contacts,
                                                        events)
    if integrity is not None:
        v.check("integrity_check ok",
                [] if integrity == ["ok"] else integrity)
    v.check("clients told nothing unexpected",
            load.anomalies + load.refused_completes)
    v.check("restarts", [load.restart_failure] if load.restart_failure
            else [])
    v.check("SIGTERM exits 0", [stop_error] if stop_error else [])
    states = {}
    for r in contacts:
        states[r[3]] = states.get(r[3], 0) + 1
    acked = _acked(load)
    v.figure("contacts", "%d acknowledged, %d rows" % (len(acked),
                                                        len(contacts)))
    v.figure("kills", "%d (%d with an outage)" % (load.kills, load.outages))
    v.figure("lost", len(lost))
    v.figure("duplicated", len(dup))
    v.figure("double-assigned", len(double))
    v.figure("missing outcome", len(missing))
    v.figure("bad timeline", len(timeline))
    v.figure("conflicting results", len(results))
    if integrity is not None:
        v.figure("integrity", ", ".join(integrity[:3]))
    v.figure("outcomes", ", ".join("%s %d" % kv for kv in
                                  sorted(states.items())))
    v.figure("re-sent refs", sum(1 for it in load.intakes
                                 for n in it.sends.values() if n > 1))
    v.figure("error replies", load.errors)
    v.figure("lost accepts settled", sum(len(c.recovered)
                                         for c in load.clinicians))
    v.figure("offers seen", sum(c.offers for c in load.clinicians))
    v.figure("open offer rows", offers)
    v.figure("unacknowledged results", undelivered)
    v.figure("drained", "yes" if drained else "no (timed out)")
    v.figure("elapsed", "%.1f s" % elapsed_s)
    return v
