// tests/browser/console.mjs: the web console (CONTRACT §8) used in a real
// browser, Debian's Chromium driven headless by puppeteer-core, against a
// real crisisd.  tests/e2e/test_browser.py starts crisisd, makes the
// principals and runs this; it also plays the gateway, which this script
// asks for over stdin/stdout (see Python below).
//
//   node tests/browser/console.mjs --port HTTP_PORT --shots DIR
//       [--readme-shots DIR] [--chromium PATH]
//
// Environment: CONSOLE_CLINICIAN, CONSOLE_SUPERVISOR, CONSOLE_PASSWORD (the
// logins), CONSOLE_HELLO_TIMEOUT_MS (crisisd's hello_timeout_ms: how long a
// stream may be gone before the session counts as disconnected),
// CRISISD_TIME_SCALE (every wait is multiplied by it, as in the harness).
//
// The browser reaches crisisd through a small TCP relay in this process,
// so that the test can cut the network under the page (every connection
// closed, new ones refused for a while) and watch the page notice and
// reconnect by itself.
//
// Output: one line per check ("ok   ..." or "FAIL ..."), "@@ask {...}"
// lines for the Python side, and last "@@report {...}": the checks, the
// axe-core findings, the screenshots and the time taken.  Exit 0 only if
// every check passed.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import {createRequire} from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// ------------------------------------------------------------ arguments

function parseArgs(argv) {
	const a = {chromium: "/usr/bin/chromium", readmeShots: null};
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i], v = argv[i + 1];
		if (v === undefined)
			throw new Error("console.mjs: " + k + " needs a value");
		if (k === "--port")
			a.port = Number(v);
		else if (k === "--shots")
			a.shots = v;
		else if (k === "--readme-shots")
			a.readmeShots = v;
		else if (k === "--chromium")
			a.chromium = v;
		else
			throw new Error("console.mjs: unknown argument " + k);
	}
	if (!a.port || !a.shots)
		throw new Error("usage: console.mjs --port HTTP_PORT --shots DIR " +
		    "[--readme-shots DIR] [--chromium PATH]");
	return a;
}

const ARGS = parseArgs(process.argv.slice(2));
const SCALE = Number(process.env.CRISISD_TIME_SCALE || "1") || 1;
const CLINICIAN = process.env.CONSOLE_CLINICIAN;
const SUPERVISOR = process.env.CONSOLE_SUPERVISOR;
const PASSWORD = process.env.CONSOLE_PASSWORD;
const HELLO_TIMEOUT_MS = Number(process.env.CONSOLE_HELLO_TIMEOUT_MS || "500");
if (!CLINICIAN || !SUPERVISOR || !PASSWORD)
	throw new Error("console.mjs: set CONSOLE_CLINICIAN, CONSOLE_SUPERVISOR and CONSOLE_PASSWORD");

// How long a page may take to show what crisisd pushed (scaled).
const SHOWN_MS = 5000 * SCALE;
// Chromium's EventSource waits ~3 s before it reconnects; then the page
// needs its welcome or replay.
const RECONNECT_MS = 15000 * SCALE;
const WIDTHS = [360, 1280];
const t0 = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ reporting

const report = {checks: [], axe: [], screenshots: [], readme: [], console: [], elapsed_s: 0};
let failures = 0;

function check(ok, what, detail) {
	report.checks.push({ok: Boolean(ok), what, detail: detail || ""});
	if (ok) {
		console.log("ok   " + what);
	} else {
		failures++;
		console.log("FAIL " + what + (detail ? ": " + detail : ""));
	}
	return Boolean(ok);
}

// A wait that must succeed: a failure stops the scenario (what follows
// depends on it), with the reason in the report.
async function must(what, promise) {
	try {
		const v = await promise;
		check(true, what);
		return v;
	} catch (e) {
		check(false, what, String(e && e.message ? e.message : e).split("\n")[0]);
		throw new Stop(what);
	}
}

class Stop extends Error {}

// ------------------------------------------------------------ the Python side

// "@@ask {"n":N,"what":W,"args":{...}}" on stdout; the answer comes back as
// one JSON line {"n":N,"result":...} or {"n":N,"error":"..."} on stdin.
const asks = new Map();
let askNo = 0;
readline.createInterface({input: process.stdin}).on("line", (line) => {
	let m;
	try {
		m = JSON.parse(line);
	} catch {
		return;
	}
	const p = asks.get(m.n);
	if (!p)
		return;
	asks.delete(m.n);
	if (m.error)
		p.reject(new Error(m.error));
	else
		p.resolve(m.result);
}).on("close", () => {
	for (const p of asks.values())
		p.reject(new Error("the Python side went away"));
	asks.clear();
});

function ask(what, args = {}) {
	const n = ++askNo;
	return new Promise((resolve, reject) => {
		asks.set(n, {resolve, reject});
		console.log("@@ask " + JSON.stringify({n, what, args}));
	});
}

// ------------------------------------------------------------ the relay

// Browser <-> relay <-> crisisd.  cut(ms) closes every connection and
// refuses new ones (accepts and closes them at once) for ms.
class Relay {
	constructor(target) {
		this.target = target;
		this.sockets = new Set();
		this.refuseUntil = 0;
		this.cuts = [];	// [start, end] of each cut, for the console filter
	}

	listen() {
		this.server = net.createServer((c) => this.accept(c));
		return new Promise((resolve) => this.server.listen(0, "127.0.0.1", () => {
			this.port = this.server.address().port;
			resolve();
		}));
	}

	accept(client) {
		if (Date.now() < this.refuseUntil) {
			client.destroy();
			return;
		}
		const up = net.connect(this.target, "127.0.0.1");
		for (const [a, b] of [[client, up], [up, client]]) {
			this.sockets.add(a);
			a.on("data", (d) => b.write(d));
			a.on("end", () => b.end());
			a.on("error", () => b.destroy());
			a.on("close", () => {
				this.sockets.delete(a);
				b.destroy();
			});
		}
	}

	cut(ms) {
		const now = Date.now();
		this.refuseUntil = now + ms;
		this.cuts.push([now, now + ms]);
		for (const s of this.sockets)
			s.destroy();
	}

	close() {
		for (const s of this.sockets)
			s.destroy();
		this.server.close();
	}
}

// ------------------------------------------------------------ pages

let browser;
const pages = {};

// A browser profile of its own (cookies apart) with one page, watched for
// console errors, uncaught exceptions and CSP violations.
async function openPage(name, width) {
	const ctx = await browser.createBrowserContext();
	const page = await ctx.newPage();
	await page.setViewport({width, height: 800});
	page.crisis = {name, width, loggedIn: false, problems: []};
	page.on("console", (m) => {
		if (m.type() !== "error" && !/CSP violation/.test(m.text()))
			return;
		const url = (m.location() && m.location().url) || "";
		const entry = {page: name, at: Date.now(), text: m.text(), url};
		if (expectedConsoleError(page, entry))
			return;
		page.crisis.problems.push(entry);
	});
	page.on("pageerror", (e) => page.crisis.problems.push({
		page: name, at: Date.now(), text: "uncaught: " + e.message, url: ""}));
	// The page's own report of anything its CSP blocked.
	await page.evaluateOnNewDocument(() => {
		document.addEventListener("securitypolicyviolation", (e) => {
			console.error("CSP violation: " + e.violatedDirective + " blocked " +
			    (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
		});
	});
	pages[name] = page;
	return page;
}

// Errors a working console does show: the 401 of GET /api/session before
// anyone logged in (how the page learns it must ask for a login), and
// failed requests while the relay has the network cut.
function expectedConsoleError(page, e) {
	if (!page.crisis.loggedIn && /\/api\/session$/.test(e.url) && /401/.test(e.text))
		return true;
	const during = relay.cuts.some(([a, b]) => e.at >= a - 100 && e.at <= b + RECONNECT_MS);
	return during && /net::ERR_|status of 503/.test(e.text);
}

const text = (page, sel) => page.$eval(sel, (n) => n.textContent);
const visible = (page, sel, timeout = SHOWN_MS) =>
	page.waitForSelector(sel, {visible: true, timeout});

// The page as it is now, at both widths: a screenshot of the whole page
// (SHOTS/NAME-WIDTH.png; for the README's, when asked for, the viewport
// from the top of the page or of the element top) and axe-core's verdict
// at each width.
async function view(page, name, readme = [], top = null) {
	const width = page.crisis.width;
	for (const w of WIDTHS) {
		if (w !== page.viewport().width)
			await page.setViewport({width: w, height: 800});
		await sleep(150);	// layout and the tables-as-cards switch
		const file = path.join(ARGS.shots, `${name}-${w}.png`);
		await page.screenshot({path: file, fullPage: true});
		report.screenshots.push(file);
		if (ARGS.readmeShots && readme.includes(w)) {
			const small = path.join(ARGS.readmeShots, `${name}-${w}.png`);
			await page.evaluate((sel) => {
				const n = sel && document.querySelector(sel);
				if (n)
					n.scrollIntoView({block: "start"});
				else
					window.scrollTo(0, 0);
			}, top);
			await page.screenshot({path: small, fullPage: false});
			report.readme.push(small);
		}
		await axe(page, name);
	}
	if (page.viewport().width !== width)
		await page.setViewport({width, height: 800});
}

// axe-core over the page as it is (its CSP stays on: the script goes in
// through the DevTools protocol, which the page's policy does not cover).
async function axe(page, view) {
	await page.evaluate(AXE_SOURCE);
	const found = await page.evaluate(async () => {
		const r = await window.axe.run(document, {resultTypes: ["violations"]});
		return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
		    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}));
	});
	const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
	report.axe.push({view, width: page.viewport().width, violations: found});
	check(bad.length === 0, `axe: no serious or critical violation (${view}, ${page.viewport().width} px)`,
	    bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`).join("; "));
	for (const v of found.filter((x) => !bad.includes(x)))
		console.log(`note axe ${view}: ${v.impact} ${v.id} (${v.help})`);
}

async function login(page, principal, keyboard) {
	await visible(page, "#login-principal");
	if (keyboard) {
		await page.focus("#login-principal");
		await page.keyboard.type(principal);
		await page.keyboard.press("Tab");
		await page.keyboard.type(PASSWORD);
		await page.keyboard.press("Enter");
	} else {
		await page.type("#login-principal", principal);
		await page.type("#login-password", PASSWORD);
		await page.click("#login-submit");
	}
	page.crisis.loggedIn = true;
}

// Press Tab until the focus is on sel (at most n times): keyboard use.
// From the start of the page's main part, as after its skip link.
async function tabTo(page, sel, n = 40) {
	if (!(await page.evaluate((s) => document.activeElement !== null &&
	    document.activeElement.matches(s), sel)))
		await page.focus("#main");
	for (let i = 0; i < n; i++) {
		if (await page.evaluate((s) => document.activeElement !== null &&
		    document.activeElement.matches(s), sel))
			return;
		await page.keyboard.press("Tab");
	}
	throw new Error("Tab never reached " + sel);
}

const banner = (page) => page.$eval("#conn-banner", (b) =>
	({hidden: b.hidden, kind: b.dataset.kind || "", text: b.textContent}));

// ------------------------------------------------------------ the scenario

let relay;

async function scenario() {
	fs.mkdirSync(ARGS.shots, {recursive: true});
	for (const f of fs.readdirSync(ARGS.shots))
		if (/^failed-.*\.png$/.test(f))
			fs.unlinkSync(path.join(ARGS.shots, f));
	if (ARGS.readmeShots)
		fs.mkdirSync(ARGS.readmeShots, {recursive: true});
	relay = new Relay(ARGS.port);
	await relay.listen();
	const base = `http://127.0.0.1:${relay.port}/`;
	browser = await puppeteer.launch({
		executablePath: ARGS.chromium,
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		    "--disable-background-networking", "--disable-component-update",
		    "--disable-sync", "--autoplay-policy=no-user-gesture-required",
		    "--lang=en-US"],
	});

	// --- both log in: the supervisor with the mouse, the clinician with
	// the keyboard, on a phone-sized screen.
	const sup = await openPage("supervisor", 1280);
	const clin = await openPage("clinician", 360);
	await sup.goto(base);
	await must("the login form shows", visible(sup, "#login-view"));
	await view(sup, "login");
	await login(sup, SUPERVISOR, false);
	await must("the supervisor reaches the wallboard",
	    visible(sup, "[data-test=kpi-answer-rate]", 10000 * SCALE));
	check(/supervisor/.test(await text(sup, "#who")), "the supervisor's name and role are shown");

	await clin.goto(base);
	await login(clin, CLINICIAN, true);
	// (The page's own markup says away too: the view must be showing.)
	await must("the clinician's page says away after the welcome",
	    clin.waitForSelector("#clinician-view:not([hidden]) #my-status[data-status=away]",
	        {visible: true, timeout: 10000 * SCALE}));
	await tabTo(clin, "#go-available");
	await clin.keyboard.press("Enter");
	await must("Go available (keyboard) makes the clinician available",
	    clin.waitForSelector("#my-status[data-status=available]", {timeout: SHOWN_MS}));
	await must("the wallboard lists the clinician as available",
	    sup.waitForSelector(`tr[data-test=wb-clin][data-clinician="${CLINICIAN}"][data-status=available]`,
	        {timeout: 25000 * SCALE}));

	const gaps = await sup.$$eval("[data-test=gap-event]", (n) => n.map((g) => g.textContent));
	check(new Set(gaps).size === gaps.length, "each roster gap warning is listed once", gaps.join(" | "));

	// --- an offer, accepted with the keyboard.
	const t1 = Date.now();
	const c1 = await ask("contact", {risk: "high", caller: "+15550142", program: "IOP",
	    language: "es", needs: ["mat"]});
	const cid1 = c1.contact;
	const offer1 = `li.offer[data-contact="${cid1}"]`;
	await must("the offer appears on the clinician's page", visible(clin, offer1));
	const shownMs = Date.now() - t1;
	check(shownMs < 2000 * SCALE, `the offer is shown ${shownMs} ms after the gateway sent the contact`);
	check(/high/i.test(await text(clin, `${offer1} [data-test=risk]`)), "the offer shows its risk");
	check(/IOP/.test(await text(clin, offer1)) && /mat/.test(await text(clin, offer1)),
	    "the offer shows program and needs");
	check(/\d/.test(await text(clin, `${offer1} [data-test=countdown]`)), "the offer counts down");
	await must("the live region announces the offer",
	    clin.waitForFunction(() => /offer/i.test(document.querySelector("#announcer").textContent),
	        {timeout: SHOWN_MS}));
	await must("the offer rings (Web Audio)",
	    clin.waitForFunction(() => Number(document.body.dataset.rings || 0) > 0, {timeout: SHOWN_MS}));
	await must("the supervisor sees the contact live on the wallboard",
	    visible(sup, `tr[data-test=wb-contact][data-contact="${cid1}"]`));
	await must("the wallboard says who is ringing",
	    sup.waitForFunction((cid, who) => (document.querySelector(
	        `tr[data-test=wb-contact][data-contact="${cid}"] [data-test=wb-ringing]`)?.textContent || "")
	        .includes(who), {timeout: SHOWN_MS}, cid1, CLINICIAN));
	await view(clin, "clinician-offer", [360]);
	await view(sup, "wallboard-ringing", [1280]);

	await tabTo(clin, `${offer1} [data-test=accept]`);
	await clin.keyboard.press("Enter");
	const r1 = await must("the gateway gets routed", ask("routed", {contact: cid1}));
	check(r1.clinician === CLINICIAN, "routed to the clinician who accepted", JSON.stringify(r1));
	await must("the assigned contact shows", visible(clin, "#assigned-panel"));
	check(/555.?0142/.test(await text(clin, "#assigned-details")), "the assigned contact shows the caller");
	await must("the wallboard shows the contact assigned",
	    visible(sup, `tr[data-test=wb-contact][data-contact="${cid1}"][data-state=assigned]`));

	await clin.select("#disposition", "resolved");
	await clin.type("#notes", "Talked through the evening; safe at home.");
	await tabTo(clin, "#complete-submit");
	await clin.keyboard.press("Enter");
	await must("Complete (resolved) closes the assigned panel",
	    clin.waitForSelector("#assigned-panel", {hidden: true, timeout: SHOWN_MS}));
	await must("the completed contact leaves the wallboard's open contacts",
	    sup.waitForFunction((cid) => {
		    const r = document.querySelector(`tr[data-test=wb-contact][data-contact="${cid}"]`);
		    return r === null || r.dataset.state === "completed";
	    }, {timeout: SHOWN_MS}, cid1));

	// --- an imminent one, accepted with A, completed with a disclosure.
	const c2 = await ask("contact", {risk: "imminent", caller: "+15550199", channel: "text"});
	const cid2 = c2.contact;
	const offer2 = `li.offer[data-contact="${cid2}"]`;
	await must("the imminent offer appears", visible(clin, offer2));
	check(await clin.$(`${offer2}[data-risk=imminent]`) !== null, "the imminent offer is marked imminent");
	await clin.focus(offer2);
	await clin.keyboard.press("a");
	await must("A on the focused offer accepts it", visible(clin, "#assigned-panel"));
	await must("the gateway gets routed for the imminent contact", ask("routed", {contact: cid2}));
	await clin.select("#disposition", "emergency_dispatched");
	await must("emergency_dispatched asks for the disclosure", visible(clin, "#disclosure-fields"));
	await tabTo(clin, "#complete-submit");
	await clin.keyboard.press("Enter");
	await must("completing without the disclosure is refused in the page",
	    clin.waitForFunction(() => document.querySelector("#complete-error").textContent !== "" &&
	        document.querySelector("#disc-recipient").getAttribute("aria-invalid") === "true",
	    {timeout: SHOWN_MS}));
	await view(clin, "clinician-disclosure-refused");
	await clin.type("#disc-recipient", "County EMS");
	await clin.type("#disc-affiliation", "911 PSAP");
	await clin.type("#disc-nature", "location and imminent risk");
	await view(clin, "clinician-assigned", [1280]);
	await tabTo(clin, "#complete-submit");
	await clin.keyboard.press("Enter");
	await must("Complete (emergency_dispatched with the disclosure) closes the panel",
	    clin.waitForSelector("#assigned-panel", {hidden: true, timeout: SHOWN_MS}));
	const shown2 = await ask("show", {contact: cid2});
	check(shown2.disclosure && shown2.disclosure.recipient === "County EMS",
	    "crisisd recorded the disclosure", JSON.stringify(shown2.disclosure));

	// --- the network drops for less than hello_timeout_ms: the browser
	// reconnects by itself and the session goes on where it was.
	relay.cut(Math.max(50, HELLO_TIMEOUT_MS / 4));
	await must("the clinician's page says the connection is lost",
	    clin.waitForSelector("#conn-banner[data-kind=error]", {visible: true, timeout: SHOWN_MS}));
	await must("the wallboard says live updates are lost",
	    sup.waitForSelector("#conn-banner[data-kind=error]", {visible: true, timeout: SHOWN_MS}));
	check(await sup.$("#panel-wallboard.stale") !== null, "the wallboard is marked stale");
	await view(clin, "clinician-reconnecting", [360]);
	await must("the clinician's page shows it is back after a short drop",
	    clin.waitForFunction(() => document.querySelector("#conn-banner").dataset.kind !== "error" &&
	        document.querySelector("#my-status").dataset.status === "available",
	    {timeout: RECONNECT_MS}));
	await must("the wallboard shows it is live again after a short drop",
	    sup.waitForFunction(() => document.querySelector("#conn-banner").dataset.kind !== "error" &&
	        !document.querySelector("#panel-wallboard").classList.contains("stale"),
	    {timeout: RECONNECT_MS}));
	const c3 = await ask("contact", {risk: "moderate", channel: "chat"});
	const offer3 = `li.offer[data-contact="${c3.contact}"]`;
	await must("an offer reaches the clinician after the reconnect", visible(clin, offer3));
	await clin.type(`${offer3} [data-test=decline-reason]`, "in a session");
	await clin.focus(offer3);
	await clin.keyboard.press("d");
	await must("D on the focused offer declines it",
	    clin.waitForFunction((sel) => /declin/i.test(document.querySelector(
	        sel + " [data-test=offer-note]")?.textContent || ""), {timeout: SHOWN_MS}, offer3));
	await must("the wallboard lists the decline",
	    sup.waitForFunction((cid) => [...document.querySelectorAll("li[data-test=wb-event]")]
	        .some((l) => l.dataset.event === "declined" && l.textContent.includes(cid)),
	    {timeout: SHOWN_MS}, c3.contact));

	// --- a drop longer than hello_timeout_ms: crisisd counts the
	// clinician as disconnected; the page reconnects, says so, and makes
	// the clinician available again.
	relay.cut(HELLO_TIMEOUT_MS + 1500 * SCALE);
	await must("a long drop shows on the clinician's page",
	    clin.waitForSelector("#conn-banner[data-kind=error]", {visible: true, timeout: SHOWN_MS}));
	await must("after a long drop the clinician is told they are available again",
	    clin.waitForFunction(() => document.querySelector("#conn-banner").dataset.kind === "ok" &&
	        /available again/.test(document.querySelector("#conn-banner").textContent) &&
	        document.querySelector("#my-status").dataset.status === "available",
	    {timeout: RECONNECT_MS + HELLO_TIMEOUT_MS}));
	await must("after a long drop the wallboard is refreshed and live",
	    sup.waitForFunction(() => document.querySelector("#conn-banner").dataset.kind !== "error" &&
	        !document.querySelector("#panel-wallboard").classList.contains("stale"),
	    {timeout: RECONNECT_MS + HELLO_TIMEOUT_MS}));
	const back = await ask("status", {clinician: CLINICIAN});
	check(back.status === "available", "crisisd has the clinician available again", JSON.stringify(back));

	// --- review: the log, a timeline, stats, follow-ups, disclosures.
	await view(sup, "wallboard");
	await sup.click("#tab-log");
	await must("the contact log lists the contacts",
	    visible(sup, `tr[data-test=log-row][data-contact="${cid2}"]`));
	check(await sup.$(`tr[data-test=log-row][data-contact="${cid1}"]`) !== null,
	    "the contact log lists the first contact too");
	await view(sup, "log");
	await sup.click(`tr[data-test=log-row][data-contact="${cid2}"] [data-test=open-contact]`);
	await must("the timeline opens", visible(sup, "tr[data-test=timeline-row]"));
	const events = await sup.$$eval("tr[data-test=timeline-row]", (rows) => rows.map((r) => r.dataset.event));
	check(["queued", "offered", "assigned", "completed"].every((e) => events.includes(e)),
	    "the timeline has queued, offered, assigned, completed", events.join(","));
	check(/County EMS/.test(await text(sup, "[data-test=detail-disclosure]")),
	    "the timeline shows the disclosure");
	await view(sup, "timeline", [1280], "#contact-detail");

	await sup.click("#tab-stats");
	await must("the stats chart renders",
	    sup.waitForSelector("[data-test=stats-chart] g[data-test=chart-bar]", {timeout: SHOWN_MS}));
	check(await sup.$$eval("[data-test=stats-chart] g[data-test=chart-bar] rect",
	    (rects) => rects.some((r) => r.getBBox().height > 0)), "the chart has a bar for this hour");
	const total = Number((await text(sup, "[data-test=stats-total] dd")).replace(/\D/g, ""));
	check(total >= 3, "stats count the contacts", String(total));
	await view(sup, "stats", [1280]);

	await sup.click("#tab-followups");
	await must("the follow-ups view loads",
	    sup.waitForFunction(() => document.querySelector("#fu-table").childElementCount > 0,
	        {timeout: SHOWN_MS}));
	await view(sup, "followups");

	await sup.click("#tab-disclosures");
	await must("the disclosures view lists the disclosure",
	    visible(sup, `tr[data-test=disc-row][data-contact="${cid2}"]`));
	await view(sup, "disclosures");

	// The tabs work from the keyboard too (arrow keys, as the README says).
	await sup.focus("#tab-disclosures");
	await sup.keyboard.press("Home");
	await must("Home on the tabs goes back to the wallboard",
	    sup.waitForSelector("#tab-wallboard[aria-selected=true]", {timeout: SHOWN_MS}));

	// --- logging out leaves nothing on the page.
	for (const page of [clin, sup]) {
		await page.click("#logout");
		await must(`${page.crisis.name} logs out to the login form`, visible(page, "#login-view"));
		check(await page.$$eval("li.offer, tr[data-test=wb-contact], tr[data-test=log-row]",
		    (n) => n.length) === 0, `nothing of the records stays on the ${page.crisis.name}'s page`);
	}
}

async function main() {
	let stopped = null;
	try {
		await scenario();
	} catch (e) {
		stopped = e instanceof Stop ? e.message : String(e && e.stack ? e.stack : e);
		if (!(e instanceof Stop))
			check(false, "the scenario ran to its end", stopped);
		for (const page of Object.values(pages)) {
			const file = path.join(ARGS.shots, `failed-${page.crisis.name}.png`);
			await page.screenshot({path: file, fullPage: true}).catch(() => {});
			console.log("note: the page as it was: " + file);
		}
	}
	for (const page of Object.values(pages))
		report.console.push(...page.crisis.problems);
	check(report.console.length === 0, "no console errors, uncaught exceptions or CSP violations",
	    report.console.map((e) => `${e.page}: ${e.text} ${e.url}`).join("; "));
	if (relay)
		relay.close();
	if (browser)
		await browser.close();
	report.stopped = stopped;
	report.elapsed_s = (Date.now() - t0) / 1000;
	console.log("@@report " + JSON.stringify(report));
	process.stdin.destroy();
	process.exit(failures ? 1 : 0);
}

main();
