// review.js: the supervisor's review views.  The contact log with filters
// and paging (GET /api/contacts), one contact's timeline
// (GET /api/contacts/CID), stats with the hourly chart (GET /api/stats),
// open follow-ups (GET /api/followups) and disclosures
// (GET /api/disclosures).
//
// Records are fetched when a view is opened and shown, never stored: the
// views are emptied when the supervisor logs out.  Every read is audited by
// crisisd, so nothing here polls.

import * as api from "./api.js";
import {
	$, el, clear, show, fmtDateTime, fmtDuration, fmtPercent, parseTime, riskBadge,
	localInputToRfc3339, msToLocalInput, table, DISPOSITIONS,
} from "./util.js";
import {chart, hourly, legend, numbers} from "./chart.js";

export const EVENT_LABEL = {
	queued: "queued", offered: "offered", declined: "declined", expired: "offer expired",
	escalated: "escalated", waiting: "waiting", assigned: "assigned", abandoned: "abandoned",
	overflow: "overflow", completed: "completed", clinician_away: "clinician set away",
	roster_gap: "roster gap", call_ended: "call ended", connect_failed: "connection failed",
	closed: "closed by supervisor",
};

// A timeline event's detail in words.  Unknown keys are shown as JSON text
// (as text: never as markup).
export function eventDetail(d) {
	if (d === null || d === undefined)
		return "";
	if (typeof d !== "object")
		return String(d);
	const parts = [];
	const done = new Set(["policy"]);
	const take = (k, f) => {
		if (d[k] !== undefined && d[k] !== null) {
			parts.push(f(d[k]));
			done.add(k);
		}
	};
	take("risk", (v) => "risk " + v);
	take("continuity", (v) => (v ? "the patient's own clinician first" : "no continuity"));
	take("disposition", (v) => "disposition: " + (DISPOSITIONS[v] || v));
	take("disclosure", (v) => "disclosed to " + show(v.recipient) + " (" + show(v.affiliation) +
	    "): " + show(v.nature));
	take("target", (v) => "to " + v);
	take("reason", (v) => "reason: " + v);
	take("by", (v) => "by " + v);
	take("missed", (v) => v + " offers missed in a row");
	take("from", (v) => "from " + fmtDateTime(v));
	if ("to" in d) {
		parts.push(d.to ? "to " + fmtDateTime(d.to) : "no end known");
		done.add("to");
	}
	for (const [k, v] of Object.entries(d))
		if (!done.has(k))
			parts.push(k + ": " + (typeof v === "string" ? v : JSON.stringify(v)));
	return parts.join("; ");
}

const STATE_WORDS = {
	open: "Open", assigned: "Assigned", completed: "Completed", overflow: "Overflow",
	abandoned: "Abandoned",
};

export function createReview(ctx) {
	const st = {
		loaded: new Set(),
		log: {offset: 0, limit: 50, params: {}},
		detailFrom: null,	// the row button to go back to
		stopped: false,
		seq: {},		// the newest request of each kind
		resize: null,
		lastStats: null,
	};
	const stopFns = [];
	function on(node, ev, fn) {
		node.addEventListener(ev, fn);
		stopFns.push(() => node.removeEventListener(ev, fn));
	}

	// Fetch for view `kind`; an answer that a newer request overtook,
	// or that comes after logout, is dropped.
	async function fetchFor(kind, path, params) {
		const n = (st.seq[kind] = (st.seq[kind] || 0) + 1);
		const data = await api.get(path, params);
		if (st.stopped || st.seq[kind] !== n)
			return undefined;
		return data;
	}

	function loading(box, what) {
		clear(box);
		box.append(el("p", {class: "muted", role: "status"}, "Loading " + what + "…"));
	}

	function failed(box, what, e) {
		clear(box);
		box.append(el("p", {class: "form-error"}, "Could not load " + what + ": " + api.describe(e)));
		ctx.error("Loading " + what, e);
	}

	// ---------------------------------------------------------- log

	function logParams() {
		const p = {
			since: localInputToRfc3339($("log-since").value),
			until: localInputToRfc3339($("log-until").value),
			risk: $("log-risk").value,
			outcome: $("log-outcome").value,
			channel: $("log-channel").value,
			clinician: $("log-clinician").value.trim(),
			program: $("log-program").value.trim(),
		};
		return p;
	}

	// A contact id as a button that opens its timeline (in the log tab,
	// switching to it from the follow-ups and disclosures).
	function openButton(cid, otherTab) {
		return el("button", {type: "button", class: "link id", data: {contact: cid, test: "open-contact"},
		    "aria-label": "Open the timeline of contact " + cid,
		    on: {click: (e) => {
			if (otherTab)
				$("tab-log").click();
			openContact(cid, otherTab ? null : e.currentTarget);
		    }}}, cid);
	}

	async function loadLog() {
		const box = $("log-table");
		const {offset, limit, params} = st.log;
		loading(box, "contacts");
		$("log-prev").disabled = true;
		$("log-next").disabled = true;
		let rows;
		try {
			rows = await fetchFor("log", "/api/contacts", {...params, limit, offset});
		} catch (e) {
			failed(box, "the contact log", e);
			return;
		}
		if (rows === undefined)
			return;
		if (!Array.isArray(rows)) {
			failed(box, "the contact log", new Error("the answer is not a list"));
			return;
		}
		clear(box);
		$("log-range").textContent = rows.length ?
		    "rows " + (offset + 1) + "–" + (offset + rows.length) : "";
		if (rows.length === 0) {
			box.append(el("p", {class: "muted", data: {test: "log-empty"}},
			    offset ? "No more contacts." : "No contact matches these filters."));
		} else {
			box.append(table([
				{key: "queued_at", label: "Queued", render: (r) => fmtDateTime(r.queued_at)},
				{key: "id", label: "Contact", render: (r) => openButton(r.id)},
				{key: "risk", label: "Risk", render: (r) => riskBadge(r.risk)},
				{key: "channel", label: "Channel"},
				{key: "program", label: "Program"},
				{key: "state", label: "Outcome", render: (r) => STATE_WORDS[r.state] || show(r.state)},
				{key: "clinician", label: "Clinician"},
				{key: "tier", label: "Tier", class: "num", render: (r) => (r.tier ? String(r.tier) : "—")},
				{key: "time_to_answer_ms", label: "Time to answer", class: "num",
				    render: (r) => fmtDuration(r.time_to_answer_ms)},
				{key: "disposition", label: "Disposition",
				    render: (r) => (r.disposition ? DISPOSITIONS[r.disposition] || r.disposition : "—")},
			], rows, {
				class: "clickable",
				caption: "Contacts, newest first. Choose a contact to see its timeline.",
				rowAttrs: (r) => ({data: {test: "log-row", contact: r.id}}),
			}));
		}
		$("log-prev").disabled = offset === 0;
		$("log-next").disabled = rows.length < limit;
	}

	function onLogSubmit(e) {
		e.preventDefault();
		const since = $("log-since").value, until = $("log-until").value;
		if (since && until && Date.parse(since) >= Date.parse(until)) {
			ctx.status("The log's From must be before its Until.", "error");
			$("log-until").focus();
			return;
		}
		st.log = {offset: 0, limit: parseInt($("log-limit").value, 10) || 50, params: logParams()};
		loadLog();
	}

	// A click anywhere on a row opens it (the button in it is the keyboard's way).
	function onLogClick(e) {
		if (e.target.closest("button, a"))
			return;
		const tr = e.target.closest("tr[data-contact]");
		if (tr)
			openContact(tr.dataset.contact, tr.querySelector("button"));
	}

	// ---------------------------------------------------------- one contact

	function facts(pairs) {
		const dl = el("dl", {class: "facts"});
		for (const [k, v] of pairs)
			dl.append(el("dt", {}, k), el("dd", {}, v));
		return dl;
	}

	async function openContact(cid, from) {
		st.detailFrom = from || null;
		const panel = $("contact-detail");
		const body = $("detail-body");
		panel.hidden = false;
		$("detail-title").textContent = "Contact " + cid;
		loading(body, "the timeline");
		$("detail-title").focus();
		let c;
		try {
			c = await fetchFor("detail", "/api/contacts/" + encodeURIComponent(cid));
		} catch (e) {
			failed(body, "contact " + cid, e);
			return;
		}
		if (c === undefined)
			return;
		clear(body);
		body.append(
		    facts([
			["Contact", el("span", {class: "id", data: {test: "detail-id"}}, show(c.id))],
			["Reference", el("span", {class: "id"}, show(c.ref))],
			["Gateway", show(c.intake)],
			["Risk", riskBadge(c.risk)],
			["Channel", show(c.channel)],
			["Program", show(c.program)],
			["Language", show(c.language)],
			["Needs", show(c.needs)],
			["Caller", show(c.caller)],
			["Patient", show(c.patient)],
			["Outcome", el("span", {data: {test: "detail-state"}}, STATE_WORDS[c.state] || show(c.state))],
			["Clinician", show(c.clinician)],
			["Answering tier", c.tier ? String(c.tier) : "—"],
			["Queued", fmtDateTime(c.queued_at)],
			["Assigned", fmtDateTime(c.assigned_at)],
			["Closed", fmtDateTime(c.closed_at)],
			["Time to answer", fmtDuration(c.time_to_answer_ms)],
			["Disposition", c.disposition ? DISPOSITIONS[c.disposition] || c.disposition : "—"],
			["Notes", el("span", {class: "notes"}, show(c.notes))],
		    ]));
		if (c.disclosure) {
			const d = c.disclosure;
			body.append(el("section", {class: "callout", data: {test: "detail-disclosure"}},
			    el("h4", {}, "Emergency disclosure (42 CFR §2.51)"),
			    facts([["At", fmtDateTime(d.at)], ["By", show(d.clinician)],
				["To", show(d.recipient)], ["Affiliation", show(d.affiliation)],
				["Nature", show(d.nature)]])));
		}
		if (c.followup) {
			const f = c.followup;
			body.append(el("section", {class: "callout", data: {test: "detail-followup"}},
			    el("h4", {}, "Follow-up " + show(f.id)),
			    facts([["Reason", show(f.reason)], ["Opened", fmtDateTime(f.opened_at)],
				["Closed", f.closed_at ? fmtDateTime(f.closed_at) + " by " + show(f.closed_by) : "still open"],
				["Note", show(f.note)]])));
		}
		const events = Array.isArray(c.events) ? c.events : [];
		body.append(el("h4", {}, "Timeline (" + events.length + " events)"),
		    table([
			{key: "at", label: "Time", render: (r) => fmtDateTime(r.at)},
			{key: "elapsed_ms", label: "Since queued", class: "num",
			    render: (r) => (typeof r.elapsed_ms === "number" ? "+" + fmtDuration(r.elapsed_ms) : "—")},
			{key: "event", label: "Event", render: (r) => EVENT_LABEL[r.event] || show(r.event)},
			{key: "tier", label: "Tier", class: "num"},
			{key: "clinician", label: "Clinician"},
			{key: "detail", label: "Detail", render: (r) => eventDetail(r.detail) || "—"},
		    ], events, {class: "timeline", caption: "Every step of the contact's routing, in order",
			rowAttrs: (r) => ({data: {test: "timeline-row", event: r.event}})}));
	}

	function closeDetail() {
		$("contact-detail").hidden = true;
		clear($("detail-body"));
		const back = st.detailFrom;
		st.detailFrom = null;
		if (back && back.isConnected)
			back.focus();
		else
			$("tab-log").focus();
	}

	// ---------------------------------------------------------- stats

	function statsWindow() {
		let since = localInputToRfc3339($("stats-since").value);
		let until = localInputToRfc3339($("stats-until").value);
		return {since, until};
	}

	async function loadStats() {
		const box = $("stats-body");
		const {since, until} = statsWindow();
		if (since && until && Date.parse(since) >= Date.parse(until)) {
			ctx.status("The stats' From must be before its Until.", "error");
			return;
		}
		loading(box, "stats");
		let s;
		try {
			s = await fetchFor("stats", "/api/stats", {since, until, by: "hour"});
		} catch (e) {
			failed(box, "stats", e);
			return;
		}
		if (s === undefined)
			return;
		st.lastStats = {s, since: parseTime(since), until: until ? parseTime(until) : Date.now()};
		renderStats();
	}

	function renderStats() {
		if (!st.lastStats)
			return;
		const {s, since, until} = st.lastStats;
		const box = $("stats-body");
		clear(box);
		const tta = s.time_to_answer_ms || {};
		const kpi = (label, value, test) => el("div", {class: "kpi", data: {test}}, el("dt", {}, label), el("dd", {}, value));
		box.append(el("section", {class: "panel"},
		    el("h3", {}, "Summary"),
		    el("dl", {class: "kpis"},
			kpi("Contacts", show(s.total, "0"), "stats-total"),
			kpi("Answered", show(s.answered, "0"), "stats-answered"),
			kpi("Answer rate", fmtPercent(s.answer_rate), "stats-answer-rate"),
			kpi("Service level" + (s.service_level_ms ? " (" + fmtDuration(s.service_level_ms) + ")" : ""),
			    fmtPercent(s.service_level), "stats-service-level"),
			kpi("Overflows", show(s.overflows, "0"), "stats-overflows"),
			kpi("Abandoned", show(s.abandoned, "0"), "stats-abandoned"),
			kpi("Time to answer, median", fmtDuration(tta.median), "stats-tta-median"),
			kpi("Time to answer, 90th percentile", fmtDuration(tta.p90), "stats-tta-p90"))));

		const bars = hourly(s, since, until);
		const chartBox = el("div", {class: "chart-box", data: {test: "chart-box"}});
		const sec = el("section", {class: "panel"},
		    el("h3", {}, "Contacts per hour by outcome"), legend(), chartBox);
		box.append(sec);
		if (bars.length === 0) {
			chartBox.append(el("p", {class: "muted"}, "No contacts in this window."));
		} else {
			const w = Math.max(chartBox.clientWidth, 280);
			chartBox.append(chart(bars, w, "Contacts per hour by outcome"));
			sec.append(numbers(bars));
		}

		const byOutcome = Object.entries(s.by_outcome || {}).map(([k, v]) => ({k: STATE_WORDS[k] || k, v}));
		const byRisk = Object.entries(s.by_risk || {}).map(([k, v]) => ({k, v}));
		box.append(el("div", {class: "two-col"},
		    el("section", {class: "panel"}, el("h3", {}, "By outcome"),
			table([{key: "k", label: "Outcome"}, {key: "v", label: "Contacts", class: "num"}], byOutcome)),
		    el("section", {class: "panel"}, el("h3", {}, "By risk"),
			table([{key: "k", label: "Risk", render: (r) => riskBadge(r.k)},
			    {key: "v", label: "Contacts", class: "num"}], byRisk))));
		const per = Array.isArray(s.per_clinician) ? s.per_clinician : [];
		box.append(el("section", {class: "panel"}, el("h3", {}, "Per clinician"),
		    per.length ? table([
			{key: "clinician", label: "Clinician"},
			{key: "offers", label: "Offers", class: "num"},
			{key: "accepted", label: "Accepted", class: "num"},
			{key: "declined", label: "Declined", class: "num"},
			{key: "expired", label: "Expired", class: "num"},
			{key: "median_time_to_accept_ms", label: "Median time to accept", class: "num",
			    render: (r) => fmtDuration(r.median_time_to_accept_ms)},
		    ], per) : el("p", {class: "muted"}, "No offers in this window.")));
	}

	// Redraw the chart when its box changes width (a rotated phone, a
	// resized window).
	function onResize() {
		clearTimeout(st.resize);
		st.resize = setTimeout(() => {
			if (!$("panel-stats").hidden && st.lastStats)
				renderStats();
		}, 200);
	}

	// ---------------------------------------------------------- follow-ups

	async function loadFollowups() {
		const box = $("fu-table");
		loading(box, "follow-ups");
		let rows;
		try {
			rows = await fetchFor("followups", "/api/followups");
		} catch (e) {
			failed(box, "follow-ups", e);
			return;
		}
		if (rows === undefined)
			return;
		clear(box);
		rows = Array.isArray(rows) ? rows : [];
		$("fu-count").textContent = "(" + rows.length + ")";
		if (rows.length === 0) {
			box.append(el("p", {class: "muted"}, "No follow-up is open."));
			return;
		}
		box.append(table([
			{key: "id", label: "Follow-up", class: "num"},
			{key: "opened_at", label: "Opened", render: (r) => fmtDateTime(r.opened_at)},
			{key: "age_ms", label: "Waiting", class: "num", render: (r) => fmtDuration(r.age_ms)},
			{key: "reason", label: "Reason"},
			{key: "risk", label: "Risk", render: (r) => riskBadge(r.risk)},
			{key: "channel", label: "Channel"},
			{key: "program", label: "Program"},
			{key: "caller", label: "Caller"},
			{key: "patient", label: "Patient"},
			{key: "contact", label: "Contact", render: (r) => openButton(r.contact, true)},
		], rows, {rowAttrs: (r) => ({data: {test: "fu-row", contact: r.contact}})}));
	}

	// ---------------------------------------------------------- disclosures

	async function loadDisclosures() {
		const box = $("disc-table");
		const since = localInputToRfc3339($("disc-since").value);
		const until = localInputToRfc3339($("disc-until").value);
		loading(box, "disclosures");
		let rows;
		try {
			rows = await fetchFor("disclosures", "/api/disclosures", {since, until});
		} catch (e) {
			failed(box, "disclosures", e);
			return;
		}
		if (rows === undefined)
			return;
		clear(box);
		rows = Array.isArray(rows) ? rows : [];
		$("disc-count").textContent = "(" + rows.length + ")";
		if (rows.length === 0) {
			box.append(el("p", {class: "muted"}, "No disclosure in this window."));
			return;
		}
		box.append(table([
			{key: "at", label: "At", render: (r) => fmtDateTime(r.at)},
			{key: "clinician", label: "Clinician"},
			{key: "recipient", label: "Disclosed to"},
			{key: "affiliation", label: "Affiliation"},
			{key: "nature", label: "Nature"},
			{key: "patient", label: "Patient"},
			{key: "contact", label: "Contact", render: (r) => openButton(r.contact, true)},
		], rows, {rowAttrs: (r) => ({data: {test: "disc-row", contact: r.contact}})}));
	}

	// ---------------------------------------------------------- wiring

	function onDisclosuresSubmit(e) {
		e.preventDefault();
		loadDisclosures();
	}

	function onStatsSubmit(e) {
		e.preventDefault();
		loadStats();
	}

	on($("log-filter"), "submit", onLogSubmit);
	on($("log-filter"), "reset", () => setTimeout(() => {
		st.log = {offset: 0, limit: 50, params: {}};
		loadLog();
	}, 0));
	on($("log-prev"), "click", () => {
		st.log.offset = Math.max(0, st.log.offset - st.log.limit);
		loadLog();
	});
	on($("log-next"), "click", () => {
		st.log.offset += st.log.limit;
		loadLog();
	});
	on($("log-table"), "click", onLogClick);
	on($("detail-close"), "click", closeDetail);
	on($("stats-filter"), "submit", onStatsSubmit);
	on($("fu-refresh"), "click", loadFollowups);
	on($("disc-filter"), "submit", onDisclosuresSubmit);
	on(window, "resize", onResize);

	// Default windows: the last 24 hours for stats, the last 30 days for
	// disclosures.
	const now = Date.now();
	$("stats-since").value = msToLocalInput(now - 24 * 3600 * 1000);
	$("stats-until").value = "";
	$("disc-since").value = msToLocalInput(now - 30 * 24 * 3600 * 1000);
	$("disc-until").value = "";

	return {
		// A tab was opened: load its view the first time.
		activate(name) {
			if (st.stopped || st.loaded.has(name))
				return;
			st.loaded.add(name);
			if (name === "log")
				loadLog();
			else if (name === "stats")
				loadStats();
			else if (name === "followups")
				loadFollowups();
			else if (name === "disclosures")
				loadDisclosures();
		},
		openContact(cid) {
			openContact(cid, null);
		},
		stop() {
			st.stopped = true;
			clearTimeout(st.resize);
			for (const fn of stopFns)
				fn();
			st.lastStats = null;
			for (const id of ["log-table", "detail-body", "stats-body", "fu-table", "disc-table"])
				clear($(id));
			for (const id of ["log-range", "fu-count", "disc-count"])
				$(id).textContent = "";
			$("contact-detail").hidden = true;
			$("log-filter").reset();
			$("stats-filter").reset();
			$("disc-filter").reset();
			$("log-prev").disabled = true;
			$("log-next").disabled = true;
		},
	};
}
