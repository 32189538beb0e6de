// supervisor.js: the supervisor's page.  The wallboard (open contacts,
// clinicians, the last hour's figures, roster gaps, latest events), seeded
// by a snapshot and kept live by the event stream; the tabs; and the review
// views of review.js.
//
// Memory stays bounded however long the page runs: closed contacts leave
// the board a minute after they close, the event list keeps the newest
// MAX_EVENTS, and the board shows at most MAX_ROWS contacts.

import * as api from "./api.js";
import {
	$, el, clear, show, fmtClock, fmtShort, fmtDuration, fmtPercent, parseTime,
	riskBadge,
} from "./util.js";
import {createReview, eventDetail, EVENT_LABEL} from "./review.js";

const CLOSED_KEEP_MS = 60000;
const MAX_EVENTS = 100;
const MAX_ROWS = 200;
const MAX_GAP_EVENTS = 20;
const STATS_EVERY_MS = 30000;
const STATS_SOON_MS = 5000;	// after an event that changes the figures
const SNAPSHOT_EVERY_MS = 20000;
const SNAPSHOT_SOON_MS = 1500;
const GAPS_EVERY_MS = 300000;

const CLOSING = new Set(["completed", "overflow", "abandoned", "closed"]);
const STAGE_LABEL = {
	start: "queued", continuity: "ringing their clinician", tier: "ringing",
	waiting: "waiting for a clinician", imminent: "ringing every tier", done: "done",
};
const STATE_LABEL = {
	open: "open", assigned: "assigned", completed: "completed",
	overflow: "overflowed", abandoned: "abandoned", closed: "closed by supervisor",
};
const CLIN_STATUS = {
	available: "Available", away: "Away", busy: "Busy", wrapup: "Wrap-up",
};
const RISK_RANK = {imminent: 0, high: 1, moderate: 2, low: 3, unknown: 4};

export function startSupervisor(session, ctx) {
	const st = {
		contacts: new Map(),	// contact -> board row state
		clinicians: new Map(),	// clinician -> snapshot entry
		skew: 0,		// server clock minus ours, ms
		followupsOpen: null,
		events: [],		// newest first, at most MAX_EVENTS
		gapEvents: [],
		gaps: null,		// GET /api/roster/gaps
		snapshotting: false,
		snapshotAgain: false,
		heldEvents: [],		// events seen while a snapshot is in flight
		welcomes: 0,
		link: "connecting",	// the event stream's state
		timers: [],
		soon: {},
		stopped: false,
		renderQueued: false,
		ageCells: new Map(),
	};
	const stopFns = [];
	function on(node, ev, fn) {
		node.addEventListener(ev, fn);
		stopFns.push(() => node.removeEventListener(ev, fn));
	}

	const review = createReview(ctx);
	const serverNow = () => Date.now() + st.skew;

	// ---------------------------------------------------------- tabs

	const tabs = ["wallboard", "log", "stats", "followups", "disclosures"];
	function selectTab(name, focus, load = true) {
		for (const t of tabs) {
			const tab = $("tab-" + t);
			const on_ = t === name;
			tab.setAttribute("aria-selected", String(on_));
			tab.tabIndex = on_ ? 0 : -1;
			$("panel-" + t).hidden = !on_;
		}
		if (focus)
			$("tab-" + name).focus();
		if (load)
			review.activate(name);
	}
	function onTabKey(e) {
		const i = tabs.indexOf(e.target.id.replace("tab-", ""));
		if (i < 0)
			return;
		let j = null;
		if (e.key === "ArrowRight")
			j = (i + 1) % tabs.length;
		else if (e.key === "ArrowLeft")
			j = (i + tabs.length - 1) % tabs.length;
		else if (e.key === "Home")
			j = 0;
		else if (e.key === "End")
			j = tabs.length - 1;
		if (j === null)
			return;
		e.preventDefault();
		selectTab(tabs[j], true);
	}
	for (const t of tabs)
		on($("tab-" + t), "click", () => selectTab(t, false));
	on(document.querySelector("#supervisor-view .tabs"), "keydown", onTabKey);

	function openContact(cid) {
		selectTab("log", false);
		review.openContact(cid);
	}

	// ---------------------------------------------------------- board state

	function contactOf(cid, create) {
		let c = st.contacts.get(cid);
		if (!c && create) {
			c = {contact: cid, ref: null, risk: "unknown", channel: null, program: null,
			    state: "open", stage: "start", tier: null, queuedAt: NaN,
			    offers: new Map(), clinician: null, closedAt: null, partial: true};
			st.contacts.set(cid, c);
		}
		return c;
	}

	function fromSnapshot(snap) {
		const now = Date.now();
		// The server's clock, from a contact's queued_at and waited_ms.
		for (const s of snap.contacts || []) {
			const q = parseTime(s.queued_at);
			if (!Number.isNaN(q) && typeof s.waited_ms === "number") {
				st.skew = q + s.waited_ms - now;
				break;
			}
		}
		const seen = new Set();
		for (const s of snap.contacts || []) {
			seen.add(s.contact);
			const c = contactOf(s.contact, true);
			c.partial = false;
			c.ref = s.ref ?? null;
			c.risk = s.risk || "unknown";
			c.channel = s.channel ?? null;
			c.program = s.program ?? null;
			c.state = s.state || "open";
			c.stage = s.stage || c.stage;
			c.tier = s.tier ?? null;
			c.queuedAt = parseTime(s.queued_at);
			c.clinician = s.clinician ?? null;
			c.closedAt = null;
			c.offers = new Map();
			for (const o of s.offers || [])
				c.offers.set(o.clinician, o.tier);
		}
		// Open here, not open there: it closed while we looked away.
		for (const [cid, c] of st.contacts)
			if (!seen.has(cid) && c.closedAt === null)
				st.contacts.delete(cid);
		st.clinicians = new Map();
		for (const c of snap.clinicians || [])
			st.clinicians.set(c.clinician, {...c});
		if (typeof snap.followups_open === "number")
			st.followupsOpen = snap.followups_open;
		renderKpis();
	}

	function setClin(id, fn) {
		const c = st.clinicians.get(id);
		if (c)
			fn(c);
	}

	// Apply one watch event to the board.  Idempotent enough to be applied
	// again after a snapshot that already had it.
	function apply(ev) {
		const name = ev.event;
		if (name === "roster_gap") {
			// Applied again after a snapshot: one warning is shown once.
			const same = (g) => g.at === ev.at && g.tier === ev.tier &&
			    JSON.stringify(g.detail || {}) === JSON.stringify(ev.detail || {});
			if (st.gapEvents.some(same))
				return;
			st.gapEvents.unshift(ev);
			st.gapEvents.length = Math.min(st.gapEvents.length, MAX_GAP_EVENTS);
			return;
		}
		if (typeof ev.contact !== "string")
			return;
		const known = st.contacts.has(ev.contact);
		if (!known && (CLOSING.has(name) || name === "call_ended"))
			return;	// closed before we saw it: the event list has it
		const c = contactOf(ev.contact, true);
		const d = ev.detail || {};
		switch (name) {
		case "queued":
			if (d.risk)
				c.risk = d.risk;
			c.queuedAt = parseTime(ev.at);
			if (!known)
				c.stage = c.risk === "imminent" ? "imminent" : "start";
			break;
		case "offered":
			c.offers.set(ev.clinician, ev.tier);
			if (d.continuity)
				c.stage = "continuity";
			else if (c.stage === "start" || c.stage === "waiting" || c.stage === "continuity")
				c.stage = c.risk === "imminent" ? "imminent" : "tier";
			if (ev.tier !== undefined && c.stage !== "imminent")
				c.tier = ev.tier;
			break;
		case "declined":
		case "expired":
			c.offers.delete(ev.clinician);
			break;
		case "escalated":
			c.tier = ev.tier ?? c.tier;
			c.stage = "tier";
			break;
		case "waiting":
			c.stage = "waiting";
			break;
		case "assigned":
			c.state = "assigned";
			c.clinician = ev.clinician ?? null;
			c.offers.clear();
			if (ev.tier !== undefined)
				c.tier = ev.tier;
			setClin(ev.clinician, (k) => {
				k.status = "busy";
				k.contact = ev.contact;
			});
			break;
		case "connect_failed":
			c.state = "open";
			c.clinician = null;
			c.stage = "tier";
			break;
		case "clinician_away":
			setClin(ev.clinician, (k) => {
				k.status = "away";
			});
			break;
		case "completed":
		case "overflow":
		case "abandoned":
		case "closed":
			if (c.closedAt === null || name !== "closed") {
				c.state = name;
				c.offers.clear();
				c.closedAt = c.closedAt ?? Date.now();
			}
			if (name === "completed" && ev.clinician)
				setClin(ev.clinician, (k) => {
					k.status = "wrapup";
					delete k.contact;
				});
			break;
		default:
			break;
		}
	}

	// ---------------------------------------------------------- rendering

	function queueRender() {
		if (st.renderQueued || st.stopped)
			return;
		st.renderQueued = true;
		requestAnimationFrame(() => {
			st.renderQueued = false;
			if (!st.stopped)
				renderBoard();
		});
	}

	function ringingOf(c) {
		return [...c.offers.keys()].sort();
	}

	function sortedContacts() {
		const order = (c) => (c.closedAt !== null ? 2 : c.state === "assigned" ? 1 : 0);
		return [...st.contacts.values()].sort((a, b) =>
		    order(a) - order(b) ||
		    (order(a) === 2 ? b.closedAt - a.closedAt : 0) ||
		    (RISK_RANK[a.risk] ?? 4) - (RISK_RANK[b.risk] ?? 4) ||
		    (a.queuedAt || 0) - (b.queuedAt || 0));
	}

	function stateText(c) {
		if (c.closedAt !== null || c.state !== "open")
			return STATE_LABEL[c.state] || c.state;
		return STAGE_LABEL[c.stage] || c.stage || "open";
	}

	function ageText(c) {
		if (Number.isNaN(c.queuedAt))
			return "—";
		const end = c.closedAt !== null ? c.closedAt + st.skew : serverNow();
		return fmtDuration(end - c.queuedAt);
	}

	function renderContacts() {
		const box = $("wb-contacts");
		const had = document.activeElement;
		const focusCid = had && box.contains(had) ? had.dataset.contact : null;
		clear(box);
		st.ageCells.clear();
		const all = sortedContacts();
		const open = all.filter((c) => c.closedAt === null).length;
		$("wb-contact-count").textContent = "(" + open + " open)";
		if (all.length === 0) {
			box.append(el("p", {class: "muted", data: {test: "wb-no-contacts"}},
			    "No open contacts."));
			return;
		}
		const rows = all.slice(0, MAX_ROWS);
		const tbody = el("tbody");
		for (const c of rows) {
			const age = el("td", {"data-label": "Age", class: "num"}, ageText(c));
			st.ageCells.set(c.contact, age);
			const ringing = ringingOf(c);
			const btn = el("button", {type: "button", class: "link id",
			    data: {contact: c.contact, test: "wb-open-contact"},
			    "aria-label": "Open the timeline of contact " + c.contact,
			    on: {click: () => openContact(c.contact)}}, c.contact);
			tbody.append(el("tr", {
				class: ["risk-row-" + c.risk, c.closedAt !== null ? "row-closed" : null],
				data: {test: "wb-contact", contact: c.contact, state: c.state},
			},
			    el("td", {"data-label": "Contact"}, btn),
			    el("td", {"data-label": "Risk"}, riskBadge(c.risk)),
			    el("td", {"data-label": "Channel"}, show(c.channel)),
			    el("td", {"data-label": "State", data: {test: "wb-state"}}, stateText(c)),
			    age,
			    el("td", {"data-label": "Tier", class: "num"}, show(c.tier)),
			    el("td", {"data-label": "Ringing", data: {test: "wb-ringing"}},
			        ringing.length ? ringing.join(", ") : "—"),
			    el("td", {"data-label": "Clinician", data: {test: "wb-clinician"}},
			        show(c.clinician))));
		}
		const head = ["Contact", "Risk", "Channel", "State", "Age", "Tier", "Ringing", "Clinician"];
		box.append(el("table", {class: "data board"},
		    el("caption", {class: "visually-hidden"},
		        "Open contacts, most urgent first; closed ones stay a minute"),
		    el("thead", {}, el("tr", {}, head.map((h) => el("th", {scope: "col"}, h)))),
		    tbody));
		if (all.length > rows.length)
			box.append(el("p", {class: "muted"},
			    "and " + (all.length - rows.length) + " more not shown."));
		if (focusCid) {
			const again = box.querySelector('button[data-contact="' + CSS.escape(focusCid) + '"]');
			if (again)
				again.focus();
		}
	}

	function renderClinicians() {
		const box = $("wb-clinicians");
		clear(box);
		const list = [...st.clinicians.values()].sort((a, b) =>
		    String(a.clinician).localeCompare(String(b.clinician)));
		$("wb-clin-count").textContent = "(" + list.length + ")";
		if (list.length === 0) {
			box.append(el("p", {class: "muted"}, "No clinician is connected."));
			return;
		}
		// Who rings for what, from the contacts (always current).
		const ringing = new Map();
		for (const c of st.contacts.values())
			for (const id of c.offers.keys())
				ringing.set(id, (ringing.get(id) || 0) + 1);
		const tbody = el("tbody");
		for (const k of list) {
			const s = CLIN_STATUS[k.status] ? k.status : "away";
			const n = ringing.get(k.clinician) || 0;
			tbody.append(el("tr", {data: {test: "wb-clin", clinician: k.clinician, status: s}},
			    el("td", {"data-label": "Clinician"},
			        el("span", {class: "id"}, k.clinician),
			        k.name ? el("span", {class: "muted"}, " " + k.name) : null),
			    el("td", {"data-label": "Status"},
			        el("span", {class: "pill pill-" + s}, CLIN_STATUS[s] || show(k.status))),
			    el("td", {"data-label": "Tiers"}, show(k.tiers)),
			    el("td", {"data-label": "Ringing for", class: "num"},
			        n ? n + (n === 1 ? " contact" : " contacts") : "—"),
			    el("td", {"data-label": "Contact"}, k.contact ? el("span", {class: "id"}, k.contact) : "—")));
		}
		const head = ["Clinician", "Status", "Tiers", "Ringing for", "Contact"];
		box.append(el("table", {class: "data board"},
		    el("thead", {}, el("tr", {}, head.map((h) => el("th", {scope: "col"}, h)))),
		    tbody));
	}

	function renderEvents() {
		const list = $("wb-events");
		clear(list);
		if (st.events.length === 0) {
			list.append(el("li", {class: "muted"}, "Nothing yet."));
			return;
		}
		for (const ev of st.events) {
			const bits = [];
			if (ev.tier !== undefined && ev.tier !== null)
				bits.push("tier " + ev.tier);
			if (ev.clinician)
				bits.push(ev.clinician);
			const det = eventDetail(ev.detail);
			if (det)
				bits.push(det);
			list.append(el("li", {data: {test: "wb-event", event: ev.event}},
			    el("time", {datetime: ev.at || ""}, fmtClock(ev.at)), " ",
			    el("strong", {}, EVENT_LABEL[ev.event] || ev.event), " ",
			    ev.contact ? el("span", {class: "id"}, ev.contact) : null,
			    bits.length ? " — " + bits.join(" · ") : ""));
		}
	}

	function renderGaps() {
		const list = $("gaps");
		clear(list);
		const now = serverNow();
		const items = [];
		for (const g of st.gaps || []) {
			const from = parseTime(g.start);
			const to = parseTime(g.end);
			const soon = from - now < 24 * 3600 * 1000;
			items.push(el("li", {class: soon ? "gap gap-soon" : "gap", data: {test: "gap"}},
			    el("span", {class: "gap-icon", "aria-hidden": "true"}, soon ? "⚠" : "•"), " ",
			    from <= now ? "Now, until " + fmtShort(to) :
			        fmtShort(from) + " – " + fmtShort(to),
			    " (" + fmtDuration(g.duration_ms ?? (to - from)) + ")",
			    soon ? el("strong", {}, " within 24 h") : null));
		}
		if (st.gaps !== null && items.length === 0)
			items.push(el("li", {class: "muted"}, "No tier-1 gap in the next 7 days."));
		for (const ev of st.gapEvents.slice(0, 5)) {
			const d = ev.detail || {};
			items.push(el("li", {class: "gap gap-soon", data: {test: "gap-event"}},
			    el("span", {class: "gap-icon", "aria-hidden": "true"}, "⚠"), " ",
			    "Warned at " + fmtClock(ev.at) + ": tier " + show(ev.tier) +
			    " has nobody on call from " + fmtShort(d.from) +
			    (d.to ? " to " + fmtShort(d.to) : " (no end known)") + "."));
		}
		if (st.gaps === null && items.length === 0)
			items.push(el("li", {class: "muted"}, "Loading…"));
		list.append(...items);
	}

	function renderKpis() {
		const dl = $("kpis");
		clear(dl);
		const s = st.stats;
		const item = (label, value, test, warn) =>
		    el("div", {class: ["kpi", warn ? "kpi-warn" : null], data: {test}},
		        el("dt", {}, label), el("dd", {}, value));
		if (s) {
			dl.append(
			    item("Answer rate", fmtPercent(s.answer_rate), "kpi-answer-rate"),
			    item("Service level" + (s.service_level_ms ? " (" + fmtDuration(s.service_level_ms) + ")" : ""),
			        fmtPercent(s.service_level), "kpi-service-level"),
			    item("Overflows", show(s.overflows, "0"), "kpi-overflows", s.overflows > 0),
			    item("Abandoned", show(s.abandoned, "0"), "kpi-abandoned", s.abandoned > 0),
			    item("Contacts", show(s.total, "0"), "kpi-total"),
			    item("Median time to answer",
			        fmtDuration(s.time_to_answer_ms ? s.time_to_answer_ms.median : null), "kpi-tta"));
		} else {
			dl.append(item("Figures", "loading…", "kpi-loading"));
		}
		if (st.followupsOpen !== null)
			dl.append(item("Follow-ups open", String(st.followupsOpen), "kpi-followups",
			    st.followupsOpen > 0));
	}

	function renderBoard() {
		renderContacts();
		renderClinicians();
		renderEvents();
		renderGaps();
	}

	// Every second: ages tick, closed contacts leave after a minute.
	function tick() {
		const now = Date.now();
		let gone = false;
		for (const [cid, c] of st.contacts)
			if (c.closedAt !== null && now - c.closedAt > CLOSED_KEEP_MS) {
				st.contacts.delete(cid);
				gone = true;
			}
		if (gone) {
			queueRender();
			return;
		}
		for (const [cid, cell] of st.ageCells) {
			const c = st.contacts.get(cid);
			if (c) {
				const t = ageText(c);
				if (cell.textContent !== t)
					cell.textContent = t;
			}
		}
	}

	// ---------------------------------------------------------- fetching

	function every(fn, ms) {
		st.timers.push(setInterval(fn, ms));
	}

	// Run fn within ms, once however often asked meanwhile.
	function soon(key, fn, ms) {
		if (st.soon[key])
			return;
		st.soon[key] = setTimeout(() => {
			st.soon[key] = null;
			fn();
		}, ms);
	}

	async function snapshot() {
		if (st.stopped)
			return;
		if (st.snapshotting) {
			st.snapshotAgain = true;
			return;
		}
		st.snapshotting = true;
		st.heldEvents = [];
		try {
			const snap = await api.send({type: "snapshot"});
			if (st.stopped)
				return;
			if (!snap || snap.type !== "snapshot")
				throw new Error("crisisd answered the snapshot with " + show(snap && snap.type));
			fromSnapshot(snap);
			// Events that crossed the snapshot on the other channel.
			for (const ev of st.heldEvents)
				apply(ev);
			queueRender();
		} catch (e) {
			ctx.error("Wallboard snapshot", e);
		} finally {
			st.snapshotting = false;
			st.heldEvents = [];
			if (st.snapshotAgain) {
				st.snapshotAgain = false;
				soon("snapshot", snapshot, SNAPSHOT_SOON_MS);
			}
		}
	}

	async function loadStats() {
		if (st.stopped)
			return;
		const since = new Date(serverNow() - 3600 * 1000).toISOString();
		try {
			const s = await api.get("/api/stats", {since});
			if (st.stopped)
				return;
			st.stats = s;
			$("kpi-updated").textContent = "updated " + fmtClock(Date.now());
			renderKpis();
		} catch (e) {
			$("kpi-updated").textContent = "not updated: see the status line";
			ctx.error("Last hour's figures", e);
		}
	}

	async function loadGaps() {
		if (st.stopped)
			return;
		try {
			const g = await api.get("/api/roster/gaps");
			if (st.stopped)
				return;
			st.gaps = Array.isArray(g) ? g : [];
			renderGaps();
		} catch (e) {
			ctx.error("Roster gaps", e);
		}
	}

	// ---------------------------------------------------------- stream

	function onEvent(ev) {
		st.events.unshift(ev);
		if (st.events.length > MAX_EVENTS)
			st.events.length = MAX_EVENTS;
		if (st.snapshotting)
			st.heldEvents.push(ev);
		const known = st.contacts.has(ev.contact);
		apply(ev);
		queueRender();
		const name = ev.event;
		if (name === "queued" && ev.detail && ev.detail.risk === "imminent")
			ctx.announce("Imminent-risk contact queued; it rings every tier.");
		if (name === "roster_gap") {
			ctx.announce("Roster gap warning: tier " + show(ev.tier) + " will have nobody on call.");
			soon("gaps", loadGaps, 2000);
		}
		// What events do not carry (channel, program, clinicians who
		// came and went, wrap-up ending): a snapshot soon after.
		if (name === "queued" || !known || name === "completed" || name === "clinician_away" ||
		    name === "connect_failed")
			soon("snapshot", snapshot, SNAPSHOT_SOON_MS);
		if (CLOSING.has(name) || name === "assigned" || name === "queued")
			soon("stats", loadStats, STATS_SOON_MS);
	}

	// Back after a drop (again > 0) or connected the first time: the
	// banner says so, and the wallboard starts from a snapshot, whatever
	// happened meanwhile.
	function live(again) {
		if (again)
			ctx.banner("Reconnected — the wallboard was refreshed.", "ok");
		else
			ctx.banner("");
		setTimeout(() => {
			const b = $("conn-banner");
			if (b.dataset.kind === "ok")
				ctx.banner("");
		}, 8000);
		snapshot();
		loadStats();
	}

	function onMessage(msg) {
		if (msg.type === "welcome") {
			st.welcomes++;
			live(st.welcomes > 1);
		} else if (msg.type === "event") {
			onEvent(msg);
		} else if (msg.type === "error") {
			ctx.status("crisisd: " + show(msg.message) + " (" + show(msg.code) + ")", "error");
		}
	}

	function onLink(state) {
		const was = st.link;
		st.link = state;
		// Back within hello_timeout_ms: crisisd kept the session and
		// replays the events missed, with no welcome.
		if (state === "open" && (was === "reconnecting" || was === "down") &&
		    st.welcomes > 0)
			live(true);
		if (state === "connecting")
			ctx.banner("Connecting to crisisd…", "info");
		else if (state === "reconnecting" || state === "down")
			ctx.banner("Live updates lost — reconnecting. The wallboard may be out of date.",
			    "error");
		const board = $("panel-wallboard");
		board.classList.toggle("stale", state !== "open");
	}

	// ---------------------------------------------------------- start, stop

	selectTab("wallboard", false);
	st.stats = null;
	renderKpis();
	renderBoard();
	every(tick, 1000);
	every(loadStats, STATS_EVERY_MS);
	every(snapshot, SNAPSHOT_EVERY_MS);
	every(loadGaps, GAPS_EVERY_MS);
	every(renderGaps, 60000);
	loadGaps();
	const stream = new api.EventStream("/api/events", {
		message: onMessage,
		state: onLink,
		error: (e) => ctx.status(api.describe(e), "error"),
	});
	stream.start();

	return {
		stop() {
			st.stopped = true;
			stream.stop();
			for (const t of st.timers)
				clearInterval(t);
			for (const t of Object.values(st.soon))
				clearTimeout(t);
			for (const fn of stopFns)
				fn();
			review.stop();
			st.contacts.clear();
			st.clinicians.clear();
			st.events = [];
			st.gapEvents = [];
			st.ageCells.clear();
			for (const id of ["wb-contacts", "wb-clinicians", "wb-events", "gaps", "kpis"])
				clear($(id));
			for (const id of ["wb-contact-count", "wb-clin-count", "kpi-updated"])
				$(id).textContent = "";
			$("panel-wallboard").classList.remove("stale");
			selectTab("wallboard", false, false);
		},
	};
}
