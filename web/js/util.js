// util.js: DOM building without innerHTML, and time and number formatting.
//
// Every piece of data reaches the page as a text node or an attribute value
// set through the DOM, never as markup: what a gateway or a clinician typed
// cannot become HTML, script or style.

const SVG_NS = "http://www.w3.org/2000/svg";

// Set attributes and children on a new element.  attrs: "class" sets the
// class list, "text" the text, "data" an object of data-* values, "on" an
// object of event listeners; anything else is an attribute (null, undefined
// and false leave it out, true sets it empty).
function fill(node, attrs, children) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === "class")
			node.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
		else if (k === "text")
			node.textContent = String(v);
		else if (k === "data")
			for (const [dk, dv] of Object.entries(v))
				node.dataset[dk] = String(dv);
		else if (k === "on")
			for (const [ev, fn] of Object.entries(v))
				node.addEventListener(ev, fn);
		else
			node.setAttribute(k, v === true ? "" : String(v));
	}
	append(node, children);
	return node;
}

// Append children: nodes as they are, strings and numbers as text,
// arrays flattened, null and undefined skipped.
export function append(node, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(node, c);
		else if (c instanceof Node)
			node.appendChild(c);
		else
			node.appendChild(document.createTextNode(String(c)));
	}
	return node;
}

// el("p", {class: "x"}, "text", child…): an HTML element.
export function el(tag, attrs, ...children) {
	return fill(document.createElement(tag), attrs, children);
}

// svg("rect", {x: 1}): an SVG element.
export function svg(tag, attrs, ...children) {
	return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

// Remove every child (what logout and a re-render do).
export function clear(node) {
	node.replaceChildren();
}

export function $(id) {
	const n = document.getElementById(id);
	if (n === null)
		throw new Error("missing element #" + id);
	return n;
}

// The value to show for a field that may be null or empty.
export function show(v, dash = "—") {
	if (v === null || v === undefined || v === "")
		return dash;
	if (Array.isArray(v))
		return v.length ? v.join(", ") : dash;
	return String(v);
}

function pad(n, w = 2) {
	return String(n).padStart(w, "0");
}

// RFC 3339 (UTC) to milliseconds; NaN for null or nonsense.
export function parseTime(s) {
	return typeof s === "string" ? Date.parse(s) : NaN;
}

// HH:MM:SS in the browser's time zone.
export function fmtClock(t) {
	const ms = typeof t === "number" ? t : parseTime(t);
	if (Number.isNaN(ms))
		return "—";
	const d = new Date(ms);
	return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

// YYYY-MM-DD HH:MM:SS in the browser's time zone.
export function fmtDateTime(t) {
	const ms = typeof t === "number" ? t : parseTime(t);
	if (Number.isNaN(ms))
		return "—";
	const d = new Date(ms);
	return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
	    " " + fmtClock(ms);
}

// A short local time for what is near: "14:05" today, "Fri 4 Dec 14:05"
// otherwise.
const shortFmt = new Intl.DateTimeFormat(undefined, {weekday: "short", day: "numeric",
    month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
export function fmtShort(t) {
	const ms = typeof t === "number" ? t : parseTime(t);
	if (Number.isNaN(ms))
		return "—";
	const d = new Date(ms), now = new Date();
	if (d.toDateString() === now.toDateString())
		return "today " + pad(d.getHours()) + ":" + pad(d.getMinutes());
	return shortFmt.format(d);
}

// 1 h 02 m, 3 m 05 s, 12 s, 850 ms.
export function fmtDuration(ms) {
	if (ms === null || ms === undefined || Number.isNaN(ms))
		return "—";
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		return Math.round(ms) + " ms";
	const s = Math.floor(ms / 1000);
	if (s < 60)
		return s + " s";
	const m = Math.floor(s / 60);
	if (m < 60)
		return m + " m " + pad(s % 60) + " s";
	const h = Math.floor(m / 60);
	if (h < 48)
		return h + " h " + pad(m % 60) + " m";
	return Math.floor(h / 24) + " d " + (h % 24) + " h";
}

export function fmtPercent(x) {
	if (x === null || x === undefined || Number.isNaN(x))
		return "—";
	return (Math.round(x * 1000) / 10).toFixed(1) + " %";
}

// The name of the browser's time zone, for labels next to local times.
export function localZone() {
	try {
		return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
	} catch {
		return "local time";
	}
}

// A datetime-local input's value (local time) as RFC 3339 UTC, or "".
export function localInputToRfc3339(v) {
	if (!v)
		return "";
	const ms = Date.parse(v);	// "YYYY-MM-DDTHH:MM" is local time
	return Number.isNaN(ms) ? "" : new Date(ms).toISOString();
}

// A time in ms as a datetime-local input value (local time, minutes).
export function msToLocalInput(ms) {
	const d = new Date(ms);
	return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
	    "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

// Words for protocol values shown to people.
export const RISK_LABEL = {
	imminent: "Imminent risk", high: "High risk", moderate: "Moderate risk",
	low: "Low risk", unknown: "Risk unknown",
};
// A shape per risk, so that risk never rests on colour alone.
export const RISK_ICON = {
	imminent: "‼", high: "▲", moderate: "●", low: "○", unknown: "?",
};
export const RISKS = ["imminent", "high", "moderate", "low", "unknown"];
export const CHANNELS = ["voice", "text", "chat"];
export const OUTCOMES = ["open", "assigned", "completed", "overflow", "abandoned"];
export const DISPOSITIONS = {
	resolved: "Resolved",
	safety_plan: "Safety plan made",
	referred: "Referred",
	emergency_dispatched: "Emergency dispatched",
	follow_up: "Follow-up needed",
	other: "Other",
};
export const WITHDRAW_REASON = {
	taken: "taken by another clinician",
	busy: "you accepted another contact",
	abandoned: "the caller hung up",
	expired: "the offer expired",
	overflow: "sent to the overflow line",
};
export const AWAY_REASON = {
	missed_offers: "too many offers in a row went unanswered",
	connect_failed: "the caller could not be connected to your phone",
};

// A risk badge: icon (a shape, hidden from screen readers) and words.
export function riskBadge(risk) {
	const r = RISK_LABEL[risk] ? risk : "unknown";
	return el("span", {class: ["risk", "risk-" + r], data: {test: "risk"}},
	    el("span", {class: "risk-icon", "aria-hidden": "true", text: RISK_ICON[r]}),
	    " " + RISK_LABEL[r]);
}

// A <table> whose cells carry their column's name (data-label), which the
// narrow layout shows in front of each value instead of a header row.
// cols: [{key, label, render?(row) -> node|string, class?}]
export function table(cols, rows, opts = {}) {
	const thead = el("thead", {}, el("tr", {},
	    cols.map((c) => el("th", {scope: "col", class: c.class}, c.label))));
	const tbody = el("tbody");
	for (const row of rows) {
		const tr = el("tr", opts.rowAttrs ? opts.rowAttrs(row) : {});
		for (const c of cols) {
			const v = c.render ? c.render(row) : show(row[c.key]);
			tr.appendChild(el("td", {"data-label": c.label, class: c.class}, v));
		}
		tbody.appendChild(tr);
	}
	return el("table", {class: ["data", opts.class]},
	    opts.caption ? el("caption", {}, opts.caption) : null, thead, tbody);
}
