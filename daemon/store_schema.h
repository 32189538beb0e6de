/*
 * store_schema.h: the SQLite schema, as forward migrations.  Migration n
 * takes a database from user_version n-1 to n; store_open() runs the ones a
 * file lacks, each in its own transaction.  Never edit a released
 * migration: add the next one.
 *
 * Times are INTEGER milliseconds since the Unix epoch, UTC.
 * Included only by store.c.
 */
#ifndef CRISISD_STORE_SCHEMA_H
#define CRISISD_STORE_SCHEMA_H

static const char *const store_migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"INSERT INTO meta(key, value) VALUES ('roster_version', 0);"

	"CREATE TABLE principals ("
	"  id TEXT PRIMARY KEY,"
	"  role TEXT NOT NULL"
	"    CHECK (role IN ('intake', 'clinician', 'supervisor')),"
	"  token_hash BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL);"

	"CREATE TABLE clinicians ("
	"  id TEXT PRIMARY KEY REFERENCES principals(id),"
	"  name TEXT NOT NULL,"
	"  languages TEXT NOT NULL DEFAULT '',"
	"  skills TEXT NOT NULL DEFAULT '',"
	"  endpoint TEXT);"

	"CREATE TABLE patients ("
	"  id TEXT PRIMARY KEY,"
	"  primary_clinician TEXT NOT NULL REFERENCES clinicians(id),"
	"  program TEXT);"

	"CREATE TABLE shifts ("
	"  id INTEGER PRIMARY KEY,"
	"  clinician TEXT NOT NULL REFERENCES clinicians(id),"
	"  tier INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 31),"
	"  start_at INTEGER NOT NULL,"
	"  end_at INTEGER NOT NULL,"
	"  CHECK (end_at > start_at));"
	"CREATE INDEX shifts_end ON shifts(end_at);"
	"CREATE INDEX shifts_tier_start ON shifts(tier, start_at);"

	/* state: open | assigned | completed | overflow | abandoned */
	"CREATE TABLE contacts ("
	"  id TEXT PRIMARY KEY,"
	"  intake TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  channel TEXT NOT NULL,"
	"  risk TEXT NOT NULL,"
	"  caller TEXT,"
	"  patient TEXT,"
	"  program TEXT,"
	"  language TEXT,"
	"  needs TEXT NOT NULL DEFAULT '[]',"
	"  state TEXT NOT NULL,"
	"  tier INTEGER NOT NULL DEFAULT 0,"
	"  route TEXT,"
	"  clinician TEXT,"
	"  queued_at INTEGER NOT NULL,"
	"  deadline_at INTEGER NOT NULL,"
	"  assigned_at INTEGER,"
	"  closed_at INTEGER,"
	"  disposition TEXT,"
	"  notes TEXT,"
	"  policy_version INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (intake, ref));"
	"CREATE INDEX contacts_queued ON contacts(queued_at);"
	"CREATE INDEX contacts_live ON contacts(state)"
	"  WHERE state IN ('open', 'assigned');"
	"CREATE INDEX contacts_clinician ON contacts(clinician, assigned_at);"

	/* Append-only: nothing updates or deletes a row. */
	"CREATE TABLE contact_events ("
	"  seq INTEGER PRIMARY KEY,"
	"  contact TEXT NOT NULL REFERENCES contacts(id),"
	"  at INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  tier INTEGER,"
	"  clinician TEXT,"
	"  detail TEXT);"
	"CREATE INDEX contact_events_contact ON contact_events(contact, seq);"
	"CREATE TRIGGER contact_events_no_update BEFORE UPDATE ON "
	"contact_events"
	"  BEGIN SELECT RAISE(ABORT, 'contact events are append-only'); END;"
	"CREATE TRIGGER contact_events_no_delete BEFORE DELETE ON "
	"contact_events"
	"  BEGIN SELECT RAISE(ABORT, 'contact events are append-only'); END;"

	/* Offers open now, so a restart can resume them. */
	"CREATE TABLE offers ("
	"  contact TEXT NOT NULL REFERENCES contacts(id),"
	"  clinician TEXT NOT NULL,"
	"  tier INTEGER NOT NULL,"
	"  offered_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  PRIMARY KEY (contact, clinician)) WITHOUT ROWID;"

	/* routed/overflow messages owed to intake principals. */
	"CREATE TABLE pushes ("
	"  seq INTEGER PRIMARY KEY,"
	"  intake TEXT NOT NULL,"
	"  contact TEXT NOT NULL REFERENCES contacts(id),"
	"  message TEXT NOT NULL,"
	"  delivered_at INTEGER);"
	"CREATE INDEX pushes_pending ON pushes(intake, seq)"
	"  WHERE delivered_at IS NULL;"

	/* Any roster change bumps roster_version; the daemon polls it. */
	"CREATE TRIGGER principals_ins AFTER INSERT ON principals BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER principals_upd AFTER UPDATE ON principals BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER clinicians_ins AFTER INSERT ON clinicians BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER clinicians_upd AFTER UPDATE ON clinicians BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER patients_ins AFTER INSERT ON patients BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER patients_upd AFTER UPDATE ON patients BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER shifts_ins AFTER INSERT ON shifts BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER shifts_upd AFTER UPDATE ON shifts BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER shifts_del AFTER DELETE ON shifts BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; "
	"END;",

	/* 2: the supervisors' review: audit, disclosures, follow-ups. */
	/*
	 * Who read or changed what (42 CFR Part 2 records): actor_kind "os"
	 * for a crisisctl user, "principal" for a wire principal.  Append-only.
	 */
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('os', 'principal')),"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT);"
	"CREATE INDEX audit_at ON audit(at);"
	"CREATE INDEX audit_actor ON audit(actor, at);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;"

	/* Emergency disclosures (42 CFR 2.51), one per completed contact. */
	"CREATE TABLE disclosures ("
	"  contact TEXT PRIMARY KEY REFERENCES contacts(id),"
	"  clinician TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  affiliation TEXT NOT NULL,"
	"  nature TEXT NOT NULL);"
	"CREATE INDEX disclosures_at ON disclosures(at);"
	"CREATE TRIGGER disclosures_no_update BEFORE UPDATE ON disclosures"
	"  BEGIN SELECT RAISE(ABORT, 'disclosures are append-only'); END;"
	"CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures"
	"  BEGIN SELECT RAISE(ABORT, 'disclosures are append-only'); END;"

	/* Callbacks owed for abandoned and overflowed contacts. */
	"CREATE TABLE followups ("
	"  id INTEGER PRIMARY KEY,"
	"  contact TEXT NOT NULL UNIQUE REFERENCES contacts(id),"
	"  reason TEXT NOT NULL CHECK (reason IN ('abandoned', 'overflow')),"
	"  opened_at INTEGER NOT NULL,"
	"  closed_at INTEGER,"
	"  closed_by TEXT,"
	"  note TEXT);"
	"CREATE INDEX followups_open ON followups(opened_at)"
	"  WHERE closed_at IS NULL;"

	/*
	 * A follow-up is closed once; after that it is part of the record
	 * and no longer changes.
	 */
	"CREATE TRIGGER followups_closed_once BEFORE UPDATE ON followups"
	"  WHEN OLD.closed_at IS NOT NULL"
	"  BEGIN SELECT RAISE(ABORT, 'the follow-up is closed'); END;"
	"CREATE TRIGGER followups_no_delete BEFORE DELETE ON followups"
	"  BEGIN SELECT RAISE(ABORT, 'follow-ups are kept'); END;"

	/*
	 * Routing policies: the routing settings each contact keeps for its
	 * life (contacts.policy_version), so a reload or a restart with a new
	 * config does not change how a contact already queued is routed.
	 */
	"CREATE TABLE policies ("
	"  version INTEGER PRIMARY KEY,"
	"  routing TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"

	/*
	 * Filters of crisisctl log over many contacts: one index per filter,
	 * each ordered by queued_at, so the newest page of any filter is a
	 * walk down one index (crisisctl picks which).
	 */
	"CREATE INDEX contacts_state_queued ON contacts(state, queued_at);"
	"CREATE INDEX contacts_risk_queued ON contacts(risk, queued_at);"
	"CREATE INDEX contacts_clinician_queued ON contacts(clinician, "
	"queued_at);"
	"CREATE INDEX contacts_program_queued ON contacts(program, queued_at);"
	"CREATE INDEX contacts_channel_queued ON contacts(channel, queued_at);"

	/*
	 * crisisctl stats counts each clinician's offers, declines, expiries
	 * and accepts in a window from this index alone (a range per
	 * clinician and event, never the table).
	 */
	"CREATE INDEX contact_events_clinician"
	"  ON contact_events(event, clinician, at);"

	/*
	 * Which tier answered a contact, and how long the answering clinician
	 * took from its offer to the accept: kept on the contact when it is
	 * assigned, so stats over a million contacts read one table rather
	 * than millions of events.  The unary + keeps the lookup on the
	 * (contact, seq) index, a handful of rows, whatever the planner
	 * thinks of the others.  Contacts assigned before this migration are
	 * filled in from their timelines.
	 */
	"ALTER TABLE contacts ADD COLUMN answered_tier INTEGER;"
	"ALTER TABLE contacts ADD COLUMN accept_ms INTEGER;"
	/*
	 * Everything stats reads of a contact, in queued order: a window is
	 * one range of this index, and the contacts' rows (routes, notes,
	 * several hundred bytes each) are never read.
	 */
	"CREATE INDEX contacts_stats ON contacts(queued_at, state, risk,"
	"  clinician, assigned_at, closed_at, answered_tier, accept_ms,"
	"  program);"
	/* The daemon writes both on accept; older rows are filled here. */
	"UPDATE contacts SET"
	"  answered_tier = (SELECT a.tier FROM contact_events a"
	"    WHERE a.contact = contacts.id AND +a.event = 'assigned'"
	"    ORDER BY a.seq DESC LIMIT 1),"
	"  accept_ms = (SELECT a.at - (SELECT max(o.at) FROM contact_events o"
	"      WHERE o.contact = a.contact AND +o.event = 'offered'"
	"      AND +o.clinician = a.clinician AND +o.at <= a.at)"
	"    FROM contact_events a WHERE a.contact = contacts.id"
	"    AND +a.event = 'assigned' ORDER BY a.seq DESC LIMIT 1)"
	"  WHERE assigned_at IS NOT NULL;",

	/*
	 * 3: three contacts indexes the others already cover, dropped because
	 * every index is written on the routing path (inserts, and each
	 * state change moves an entry): contacts_stats begins with queued_at,
	 * contacts_state_queued holds the live states, and the assigned
	 * counts read contacts_stats by queued_at.
	 */
	"DROP INDEX contacts_queued;"
	"DROP INDEX contacts_live;"
	"DROP INDEX contacts_clinician;",

	/*
	 * 4: a result (routed, overflow) is owed to its gateway until the
	 * gateway acknowledges it with "ack", not merely until it was written
	 * to a socket: a gateway that crashed with results unread gets them
	 * again.  Results not yet acknowledged are looked up by contact (an
	 * ack, a repeated ref) and by intake in order (the replay after a
	 * welcome).
	 */
	"ALTER TABLE pushes RENAME COLUMN delivered_at TO acked_at;"
	/*
	 * A disabled principal (someone who left) cannot say hello, and its
	 * live connections are closed: the roster version moves with it.
	 */
	"ALTER TABLE principals ADD COLUMN disabled_at INTEGER;"
	"CREATE INDEX pushes_unacked_contact ON pushes(contact)"
	"  WHERE acked_at IS NULL;"

	/*
	 * 4, continued: a roster import writes its shifts in many short
	 * transactions, so a running crisisd never waits long for the write
	 * lock, yet stays "all rows or none" (CONTRACT §6).  Its shifts carry
	 * the import's id and are invisible to every reader of shifts (the
	 * daemon's roster, oncall, roster gaps) until one last transaction
	 * sets done_at.  An import left unfinished (its crisisctl killed) is
	 * removed by the next import or init: dropped_at claims it, so it can
	 * never be done, then its shifts and its row are deleted.  Ids are
	 * never reused, so a crisisctl whose import was dropped meanwhile
	 * cannot add to another's.
	 */
	"CREATE TABLE roster_imports ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  source TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  shift_count INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  done_at INTEGER,"
	"  dropped_at INTEGER,"
	"  CHECK (done_at IS NULL OR dropped_at IS NULL));"
	"CREATE INDEX roster_imports_unfinished ON roster_imports(id)"
	"  WHERE done_at IS NULL;"
	"ALTER TABLE shifts ADD COLUMN import INTEGER"
	"  REFERENCES roster_imports(id);"
	"CREATE INDEX shifts_import ON shifts(import)"
	"  WHERE import IS NOT NULL;"
	/* A done import is part of the roster and stays as it is. */
	"CREATE TRIGGER roster_imports_done_kept BEFORE UPDATE ON"
	" roster_imports WHEN OLD.done_at IS NOT NULL"
	"  BEGIN SELECT RAISE(ABORT, 'the roster import is done'); END;"
	"CREATE TRIGGER roster_imports_no_delete BEFORE DELETE ON"
	" roster_imports WHEN OLD.done_at IS NOT NULL"
	"  BEGIN SELECT RAISE(ABORT, 'the roster import is done'); END;"
	/*
	 * roster_version moves once per import, when it is done, not at each
	 * of its staged shifts (nor when an unfinished one is removed).
	 */
	"DROP TRIGGER shifts_ins;"
	"CREATE TRIGGER shifts_ins AFTER INSERT ON shifts"
	"  WHEN NEW.import IS NULL BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"DROP TRIGGER shifts_del;"
	"CREATE TRIGGER shifts_del AFTER DELETE ON shifts"
	"  WHEN coalesce(OLD.import, 0) NOT IN"
	"    (SELECT id FROM roster_imports WHERE done_at IS NULL) BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; END;"
	"CREATE TRIGGER roster_imports_done AFTER UPDATE OF done_at ON"
	" roster_imports WHEN NEW.done_at IS NOT NULL BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'roster_version'; "
	"END;",

	/*
	 * 5: web console passwords (Argon2id strings from libsodium);
	 * supervisors' requests to close a stuck contact: crisisctl files one,
	 * the daemon that owns the contact carries it out and says how; and
	 * when a routed call ended (the gateway's "ended"), for the review's
	 * talk time, in the stats index so stats still reads no table row.
	 */
	"ALTER TABLE principals ADD COLUMN password_hash TEXT;"
	"CREATE TABLE contact_closes ("
	"  id INTEGER PRIMARY KEY,"
	"  contact TEXT NOT NULL REFERENCES contacts(id),"
	"  supervisor TEXT NOT NULL REFERENCES principals(id),"
	"  reason TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  requested_at INTEGER NOT NULL,"
	"  done_at INTEGER,"
	"  result TEXT);"
	"CREATE INDEX contact_closes_pending ON contact_closes(id)"
	"  WHERE done_at IS NULL;"
	"ALTER TABLE contacts ADD COLUMN ended_at INTEGER;"
	"DROP INDEX contacts_stats;"
	"CREATE INDEX contacts_stats ON contacts(queued_at, state, risk,"
	"  clinician, assigned_at, closed_at, answered_tier, accept_ms,"
	"  program, ended_at);",
};

#endif
