// main.js: start-up, login and logout, the status line and the announcer;
// hands the page to the clinician or the supervisor view by role.

import * as api from "./api.js";
import * as alerts from "./alert.js";
import {$, fmtClock} from "./util.js";
import {startClinician} from "./clinician.js";
import {startSupervisor} from "./supervisor.js";

let view = null;	// the running view: {stop()}
let session = null;	// {principal, role}
let loginBlockedUntil = 0;
let loginTimer = null;

// The status line: every request's failure (and a few results) in words,
// with the time, so nothing fails silently.
function status(text, kind = "info") {
	const line = $("status-line");
	line.textContent = text ? fmtClock(Date.now()) + " — " + text : "";
	line.dataset.kind = kind;
}

function error(context, err) {
	status(context + ": " + api.describe(err), "error");
}

// Read text out at once (assertive live region).  The region is emptied
// first so that the same words said twice are said twice.
let announceTimer = null;
function announce(text) {
	const a = $("announcer");
	a.textContent = "";
	clearTimeout(announceTimer);
	announceTimer = setTimeout(() => {
		a.textContent = text;
	}, 50);
}

// The event stream's banner: hidden while live.
function banner(text, kind) {
	const b = $("conn-banner");
	if (!text) {
		b.hidden = true;
		b.textContent = "";
		delete b.dataset.kind;
		return;
	}
	b.hidden = false;
	b.textContent = text;
	b.dataset.kind = kind;
}

const ctx = {status, error, announce, banner};

function showOnly(id) {
	for (const v of ["login-view", "clinician-view", "supervisor-view"])
		$(v).hidden = v !== id;
}

function showLogin(message) {
	showOnly("login-view");
	$("who").hidden = true;
	$("logout").hidden = true;
	$("login-password").value = "";
	$("login-error").textContent = message || "";
	document.title = "crisisd console — log in";
	$("login-principal").focus();
}

function enter(s) {
	session = {principal: s.principal, role: s.role};
	api.setCsrf(s.csrf);
	$("login-error").textContent = "";
	$("login-password").value = "";
	const who = $("who");
	who.textContent = s.principal + " · " + s.role;
	who.hidden = false;
	$("logout").hidden = false;
	if (s.role === "clinician") {
		showOnly("clinician-view");
		document.title = "crisisd — clinician " + s.principal;
		view = startClinician(s, ctx);
	} else if (s.role === "supervisor") {
		showOnly("supervisor-view");
		document.title = "crisisd — supervisor " + s.principal;
		view = startSupervisor(s, ctx);
	} else {
		leave("This console is for clinicians and supervisors; " +
		    s.role + " principals cannot use it.");
		return;
	}
	$("main").focus();
}

// Forget everything shown and held: records, offers, the token.
function leave(message) {
	if (view !== null) {
		view.stop();
		view = null;
	}
	session = null;
	api.setCsrf(null);
	banner("");
	$("login-principal").value = "";
	$("announcer").textContent = "";
	showLogin(message);
}

api.onUnauthorized(() => {
	if (session !== null) {
		leave("Your session has ended. Please log in again.");
		status("Session ended (HTTP 401); logged out.", "error");
	}
});

function blockLogin(seconds) {
	loginBlockedUntil = Date.now() + seconds * 1000;
	const btn = $("login-submit");
	btn.disabled = true;
	clearInterval(loginTimer);
	const tick = () => {
		const left = Math.ceil((loginBlockedUntil - Date.now()) / 1000);
		if (left <= 0) {
			clearInterval(loginTimer);
			btn.disabled = false;
			btn.textContent = "Log in";
			return;
		}
		btn.textContent = "Log in (wait " + left + " s)";
	};
	tick();
	loginTimer = setInterval(tick, 1000);
}

async function onLogin(e) {
	e.preventDefault();
	// The click is a user gesture: the only moment sound may be enabled.
	alerts.prime();
	const principal = $("login-principal").value.trim();
	const password = $("login-password").value;
	const err = $("login-error");
	if (!principal || !password) {
		err.textContent = "Enter your principal and your password.";
		(principal ? $("login-password") : $("login-principal")).focus();
		return;
	}
	if (Date.now() < loginBlockedUntil)
		return;
	const btn = $("login-submit");
	btn.disabled = true;
	err.textContent = "";
	try {
		const s = await api.request("POST", "/api/login", {principal, password});
		btn.disabled = false;
		status("Logged in as " + s.principal + ".");
		enter(s);
	} catch (ex) {
		btn.disabled = false;
		$("login-password").value = "";
		if (ex.status === 401) {
			err.textContent = "That principal and password do not match.";
		} else if (ex.status === 429) {
			const s = ex.retryAfter || 60;
			err.textContent = "Too many failed attempts. Try again in " + s + " s.";
			blockLogin(s);
		} else if (ex.status === 403) {
			err.textContent = ex.message;
		} else {
			err.textContent = "Could not log in: " + api.describe(ex);
		}
		status("Login failed: " + api.describe(ex), "error");
		$("login-password").focus();
	}
}

async function onLogout() {
	try {
		await api.request("POST", "/api/logout");
		leave("You have logged out.");
		status("Logged out.");
	} catch (ex) {
		// Clear the page all the same: nobody should see the records of
		// the one who meant to leave.
		leave("Logged out of this page. crisisd could not be told; " +
		    "your session ends when it has been idle long enough.");
		error("Logout", ex);
	}
}

async function boot() {
	$("login-form").addEventListener("submit", onLogin);
	$("logout").addEventListener("click", onLogout);
	for (const n of document.querySelectorAll(".tz"))
		n.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
	try {
		const s = await api.request("GET", "/api/session");
		enter(s);
	} catch (ex) {
		if (ex.status === 401) {
			showLogin("");
		} else {
			showLogin("");
			error("Checking the session", ex);
		}
	}
}

if (document.readyState === "loading")
	document.addEventListener("DOMContentLoaded", boot);
else
	boot();
