// chart.js: contacts per hour by outcome, as stacked bars in inline SVG
// built with DOM calls (no markup strings, no styles in attributes: the
// colours are classes in app.css).  Each bar has a <title> (a tooltip, and
// words for screen readers); the numbers are also given as a table.

import {svg, el, fmtClock, parseTime, table} from "./util.js";

// The outcomes a stats group (crisisctl stats --by hour) gives counts of.
// "other" is what is left of the total: open, assigned, or closed by a
// supervisor.
export const SERIES = [
	{key: "answered", label: "Answered"},
	{key: "overflows", label: "Overflowed"},
	{key: "abandoned", label: "Abandoned"},
	{key: "other", label: "Other (open, unanswered)"},
];

const HOUR = 3600 * 1000;
const MAX_BARS = 24 * 14;

// One bar's counts from one group of the stats JSON.
function counts(g) {
	const n = (v) => (typeof v === "number" && v > 0 ? v : 0);
	const c = {answered: n(g.answered), overflows: n(g.overflows), abandoned: n(g.abandoned)};
	c.other = Math.max(0, n(g.total) - c.answered - c.overflows - c.abandoned);
	c.total = n(g.total);
	return c;
}

// The groups, with the hours that had no contact filled in as zeros, from
// since (or the first group) to until (or the last group).
export function hourly(stats, sinceMs, untilMs) {
	const by = new Map();
	for (const g of stats.groups || []) {
		const t = parseTime(g.start);
		if (!Number.isNaN(t))
			by.set(t, counts(g));
	}
	const keys = [...by.keys()].sort((a, b) => a - b);
	let start = Number.isFinite(sinceMs) ? Math.floor(sinceMs / HOUR) * HOUR : keys[0];
	let end = Number.isFinite(untilMs) ? Math.ceil(untilMs / HOUR) * HOUR - HOUR : keys[keys.length - 1];
	if (start === undefined || end === undefined)
		return [];
	if (keys.length) {
		start = Math.min(start, keys[0]);
		end = Math.max(end, keys[keys.length - 1]);
	}
	if ((end - start) / HOUR + 1 > MAX_BARS) {
		// Too many hours for one chart: only the hours that have data.
		return keys.map((t) => ({t, ...by.get(t)}));
	}
	const out = [];
	for (let t = start; t <= end; t += HOUR)
		out.push({t, ...(by.get(t) || {answered: 0, overflows: 0, abandoned: 0, other: 0, total: 0})});
	return out;
}

// A round top for the axis and its step.
function scale(max) {
	if (max <= 5)
		return {top: Math.max(max, 1), step: 1};
	const raw = max / 5;
	const mag = 10 ** Math.floor(Math.log10(raw));
	const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
	return {top: Math.ceil(max / step) * step, step};
}

function hourLabel(t) {
	const s = fmtClock(t);
	return s.slice(0, 5);
}

// The chart for bars (from hourly()) at width px; an <svg> element.
export function chart(bars, width, titleText) {
	const height = 260;
	const m = {top: 16, right: 12, bottom: 44, left: 40};
	const w = Math.max(width - m.left - m.right, 50);
	const h = height - m.top - m.bottom;
	const max = Math.max(0, ...bars.map((b) => b.total));
	const {top, step} = scale(max);
	const y = (v) => m.top + h - (v / top) * h;
	const slot = w / Math.max(bars.length, 1);
	const barW = Math.max(1, Math.min(40, slot * 0.75));
	const total = bars.reduce((s, b) => s + b.total, 0);

	const id = "chart-" + Math.random().toString(36).slice(2, 8);
	const root = svg("svg", {
		class: "chart", width: String(width), height: String(height),
		viewBox: "0 0 " + width + " " + height, role: "img",
		"aria-labelledby": id + "-t " + id + "-d", data: {test: "stats-chart"},
	},
	    svg("title", {id: id + "-t"}, titleText),
	    svg("desc", {id: id + "-d"},
	        bars.length + " hours, " + total + " contacts in all. The table below the chart has the numbers."));

	// Grid lines and the y axis.
	const grid = svg("g", {class: "chart-grid", "aria-hidden": "true"});
	for (let v = 0; v <= top; v += step) {
		grid.append(
		    svg("line", {x1: m.left, x2: m.left + w, y1: y(v), y2: y(v)}),
		    svg("text", {x: m.left - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-label"}, String(v)));
	}
	root.append(grid);

	// The bars, one stacked group per hour.
	const every = Math.max(1, Math.ceil(44 / slot));	// a label each ~44 px
	bars.forEach((b, i) => {
		const x = m.left + i * slot + (slot - barW) / 2;
		const g = svg("g", {class: "chart-bar", data: {test: "chart-bar", hour: new Date(b.t).toISOString()}});
		g.append(svg("title", {}, hourLabel(b.t) + ": " + b.total + " contacts — " +
		    SERIES.map((s) => b[s.key] + " " + s.label.toLowerCase()).join(", ")));
		let base = 0;
		for (const s of SERIES) {
			const v = b[s.key];
			if (!v)
				continue;
			g.append(svg("rect", {
				class: "seg seg-" + s.key, x: x.toFixed(1), width: barW.toFixed(1),
				y: y(base + v).toFixed(1), height: Math.max(0, y(base) - y(base + v)).toFixed(1),
			}));
			base += v;
		}
		root.append(g);
		if (i % every === 0) {
			const d = new Date(b.t);
			const lx = m.left + i * slot + slot / 2;
			root.append(svg("text", {x: lx.toFixed(1), y: m.top + h + 16, "text-anchor": "middle",
			    class: "chart-label", "aria-hidden": "true"}, hourLabel(b.t)));
			if (d.getHours() === 0 || i === 0)
				root.append(svg("text", {x: lx.toFixed(1), y: m.top + h + 32, "text-anchor": "middle",
				    class: "chart-label chart-day", "aria-hidden": "true"},
				    (d.getMonth() + 1) + "/" + d.getDate()));
		}
	});
	root.append(svg("line", {class: "chart-axis", x1: m.left, x2: m.left + w,
	    y1: m.top + h, y2: m.top + h, "aria-hidden": "true"}));
	return root;
}

// The legend: a swatch (a shape and a colour) and words per series.
export function legend() {
	return el("ul", {class: "legend", "aria-hidden": "true"},
	    SERIES.map((s) => el("li", {},
	        svg("svg", {width: "14", height: "14", viewBox: "0 0 14 14", class: "swatch"},
	            svg("rect", {class: "seg seg-" + s.key, x: "1", y: "1", width: "12", height: "12"})),
	        " " + s.label)));
}

// The same numbers as a table (inside a <details>).
export function numbers(bars) {
	const cols = [{key: "t", label: "Hour starting", render: (b) => new Date(b.t).toLocaleString()},
	    ...SERIES.map((s) => ({key: s.key, label: s.label, class: "num",
	        render: (b) => String(b[s.key])})),
	    {key: "total", label: "Total", class: "num", render: (b) => String(b.total)}];
	return el("details", {class: "chart-numbers"},
	    el("summary", {}, "The chart's numbers as a table"),
	    table(cols, bars, {caption: "Contacts per hour by outcome"}));
}
