// clinician.js: the clinician's page.  Go available or away; offers with
// their countdown, ring and notification; accept and decline; the
// assigned contact; complete with disposition, notes and the §2.51
// disclosure.
//
// What the clinician wants (available or away) is kept apart from what
// crisisd last said: after every (re)connect crisisd has them away, and the
// page sends "available" again if that is what they had chosen.

import * as api from "./api.js";
import * as alerts from "./alert.js";
import {
	$, el, clear, show, fmtClock, riskBadge, RISK_LABEL, DISPOSITIONS,
	WITHDRAW_REASON, AWAY_REASON,
} from "./util.js";

const TICK_MS = 250;
const GONE_SHOWN_MS = 5000;	// how long a withdrawn offer's reason stays
const RING_AGAIN_MS = {imminent: 2500, high: 2500};
const RING_AGAIN_DEFAULT_MS = 5000;

export function startClinician(session, ctx) {
	const st = {
		want: false,		// the clinician chose available
		server: "away",		// what crisisd has: away | available
		reason: "",		// why crisisd set them away
		welcomes: 0,
		link: "connecting",	// the event stream
		offers: new Map(),	// contact -> offer state
		assigned: null,		// the assigned message, or null
		busySending: false,
		lastRing: 0,
		bannerTimer: null,
	};
	const offersList = $("offers");
	const stopFns = [];

	function on(node, ev, fn) {
		node.addEventListener(ev, fn);
		stopFns.push(() => node.removeEventListener(ev, fn));
	}

	// ---------------------------------------------------------- status

	function renderStatus() {
		const pill = $("my-status");
		let s, text;
		if (st.link !== "open" && st.welcomes > 0 && st.link !== "connecting") {
			s = "offline";
			text = "Offline — reconnecting";
		} else if (st.welcomes === 0) {
			s = "offline";
			text = "Connecting…";
		} else if (st.assigned !== null) {
			s = "busy";
			text = "Busy with a contact";
		} else if (st.server === "available") {
			s = "available";
			text = "Available";
		} else {
			s = "away";
			text = "Away";
		}
		pill.textContent = text;
		pill.dataset.status = s;
		pill.className = "pill pill-" + s;
		let why = "";
		if (st.server === "away" && st.reason)
			why = "Set away by crisisd: " + st.reason + ". Choose Go available when you are ready.";
		else if (s === "away")
			why = "You receive no offers while away.";
		$("my-status-reason").textContent = why;
		$("go-available").setAttribute("aria-pressed", String(st.want));
		$("go-away").setAttribute("aria-pressed", String(!st.want));
		$("go-available").disabled = st.busySending;
		$("go-away").disabled = st.busySending;
	}

	async function setStatus(want, why) {
		st.busySending = true;
		renderStatus();
		try {
			await api.send({type: "status", status: want ? "available" : "away"});
			st.server = want ? "available" : "away";
			if (want)
				st.reason = "";
			ctx.status(want ? "You are available for offers." : "You are away.");
			return true;
		} catch (e) {
			ctx.error(why || "Setting your status", e);
			return false;
		} finally {
			st.busySending = false;
			renderStatus();
		}
	}

	async function goAvailable() {
		alerts.prime();	// a click: sound may start from here on
		st.want = true;
		renderStatus();
		if (!(await setStatus(true)))
			st.want = false;
		renderStatus();
	}

	async function goAway() {
		st.want = false;
		renderStatus();
		await setStatus(false);
	}

	// ---------------------------------------------------------- banner

	function flash(text, kind, ms) {
		ctx.banner(text, kind);
		clearTimeout(st.bannerTimer);
		st.bannerTimer = ms ? setTimeout(() => ctx.banner(""), ms) : null;
	}

	function onLink(state) {
		const was = st.link;
		st.link = state;
		if (state === "connecting")
			flash("Connecting to crisisd…", "info");
		else if (state === "reconnecting" || state === "down")
			flash("Connection to crisisd lost — reconnecting. No new offers reach " +
			    "you until it is back.", "error");
		else if (state === "open" && (was === "reconnecting" || was === "down") &&
		    st.welcomes > 0)
			// Back within hello_timeout_ms, crisisd kept the session and
			// replays what was missed: no welcome comes.  (After a longer
			// drop the welcome follows and says more.)
			flash("Reconnected.", "ok", 10000);
		renderStatus();
	}

	// ---------------------------------------------------------- offers

	function offerLabel(o) {
		const m = o.msg;
		return (RISK_LABEL[m.risk] || "Risk unknown") + ", " + show(m.channel, "unknown channel") +
		    (m.program ? ", program " + m.program : "");
	}

	function renderCount() {
		const live = [...st.offers.values()].filter((o) => !o.gone).length;
		$("offer-count").textContent = live ? "(" + live + ")" : "";
		$("offers-empty").hidden = st.offers.size > 0;
	}

	function fact(term, value) {
		return [el("dt", {}, term), el("dd", {}, value)];
	}

	function buildOffer(o) {
		const m = o.msg;
		const risk = RISK_LABEL[m.risk] ? m.risk : "unknown";
		const titleId = "offer-title-" + o.n;
		o.countText = el("span", {class: "countdown-text", data: {test: "countdown"}});
		o.bar = el("progress", {max: String(o.total), value: String(o.total),
		    "aria-hidden": "true"});
		o.reasonInput = el("input", {id: "decline-reason-" + o.n, maxlength: "200",
		    autocomplete: "off", data: {test: "decline-reason"}});
		o.acceptBtn = el("button", {type: "button", class: "btn btn-accept",
		    data: {test: "accept"}, on: {click: () => accept(o)}},
		    "Accept ", el("kbd", {"aria-hidden": "true"}, "A"));
		o.declineBtn = el("button", {type: "button", class: "btn btn-decline",
		    data: {test: "decline"}, on: {click: () => decline(o)}},
		    "Decline ", el("kbd", {"aria-hidden": "true"}, "D"));
		o.actions = el("div", {class: "offer-actions"},
		    o.acceptBtn,
		    el("div", {class: "decline-group"},
		        el("label", {for: o.reasonInput.id}, "Decline reason (optional)"),
		        el("div", {class: "decline-row"}, o.reasonInput, o.declineBtn)));
		o.note = el("p", {class: "offer-note", data: {test: "offer-note"}});
		o.node = el("li", {
			class: ["offer", "offer-" + risk],
			tabindex: "0",
			"aria-labelledby": titleId,
			"aria-keyshortcuts": "A D",
			data: {test: "offer", contact: m.contact, risk},
		},
		    el("div", {class: "offer-head", id: titleId},
		        riskBadge(risk),
		        el("span", {class: "offer-channel"}, " " + show(m.channel) + " contact"),
		        m.tier ? el("span", {class: "offer-tier muted"}, " · tier " + m.tier) : null,
		        m.continuity ? el("span", {class: "tag"}, "Your patient") : null),
		    el("dl", {class: "facts offer-facts"},
		        fact("Program", show(m.program)),
		        fact("Language", show(m.language)),
		        fact("Needs", show(m.needs)),
		        fact("Patient", show(m.patient)),
		        fact("Contact", el("span", {class: "id"}, show(m.contact)))),
		    el("div", {class: "countdown"},
		        el("span", {}, "Expires in "), o.countText, o.bar),
		    o.actions, o.note);
		updateCountdown(o, performance.now());
	}

	function updateCountdown(o, now) {
		const left = Math.max(0, o.deadline - now);
		const secs = Math.ceil(left / 1000);
		const text = secs + " s";
		if (o.countText.textContent !== text)
			o.countText.textContent = text;
		o.bar.value = left;
		o.node.classList.toggle("offer-ending", left < 5000);
	}

	function addOffer(msg) {
		const ms = Number(msg.expires_in_ms);
		const total = Number.isFinite(ms) && ms > 0 ? ms : 0;
		const old = st.offers.get(msg.contact);
		if (old && !old.gone) {
			// Sent again (after a reconnect): a fresh deadline.
			old.msg = msg;
			old.deadline = performance.now() + total;
			return;
		}
		if (old)
			dropOffer(old);
		const o = {
			n: ++addOffer.n, msg, total: Math.max(total, 1),
			deadline: performance.now() + total, gone: false, sending: false,
			notice: null,
		};
		buildOffer(o);
		st.offers.set(msg.contact, o);
		// The most urgent first: imminent, then high, then by arrival.
		const rank = {imminent: 0, high: 1};
		const r = rank[msg.risk] ?? 2;
		let before = null;
		for (const other of st.offers.values())
			if (other !== o && !other.gone && (rank[other.msg.risk] ?? 2) > r) {
				before = other.node;
				break;
			}
		offersList.insertBefore(o.node, before);
		renderCount();
		const secs = Math.round(total / 1000);
		ctx.announce("New offer: " + offerLabel(o) + ". Expires in " + secs +
		    " seconds. Press A to accept or D to decline when it has focus.");
		alerts.ring(msg.risk);
		st.lastRing = performance.now();
		o.notice = alerts.notify("New crisis contact: " + (RISK_LABEL[msg.risk] || "risk unknown"),
		    show(msg.channel) + " · expires in " + secs + " s",
		    "offer-" + msg.contact, msg.risk === "imminent" || msg.risk === "high",
		    () => o.node.focus());
		// Nothing has focus (the clinician is waiting): put it on the offer.
		const a = document.activeElement;
		if (a === null || a === document.body || a === $("main"))
			o.node.focus();
	}
	addOffer.n = 0;

	// Move focus somewhere sensible before a focused offer goes away.
	function rescueFocus(o) {
		if (!o.node.contains(document.activeElement))
			return;
		for (const other of st.offers.values())
			if (other !== o && !other.gone) {
				other.node.focus();
				return;
			}
		const h = $("offers-title");
		h.setAttribute("tabindex", "-1");
		h.focus();
	}

	function dropOffer(o) {
		rescueFocus(o);
		if (o.notice)
			o.notice.close();
		o.node.remove();
		if (st.offers.get(o.msg.contact) === o)
			st.offers.delete(o.msg.contact);
		renderCount();
	}

	// The offer ended: say why in its place for a few seconds.
	function endOffer(o, why, announce) {
		if (o.gone)
			return;
		o.gone = true;
		rescueFocus(o);
		if (o.notice)
			o.notice.close();
		o.actions.remove();
		o.node.classList.add("offer-gone");
		o.node.removeAttribute("tabindex");
		o.node.removeAttribute("aria-keyshortcuts");
		o.note.textContent = why;
		renderCount();
		if (announce)
			ctx.announce("Offer withdrawn: " + offerLabel(o) + ". " + why + ".");
		setTimeout(() => dropOffer(o), GONE_SHOWN_MS);
	}

	function onWithdrawn(msg) {
		const o = st.offers.get(msg.contact);
		if (!o)
			return;
		const why = WITHDRAW_REASON[msg.reason] || "withdrawn (" + show(msg.reason) + ")";
		endOffer(o, "Withdrawn: " + why, msg.reason !== "busy");
	}

	async function accept(o) {
		if (o.gone || o.sending)
			return;
		o.sending = true;
		o.acceptBtn.disabled = o.declineBtn.disabled = true;
		o.note.textContent = "Accepting…";
		try {
			const reply = await api.send({type: "accept", contact: o.msg.contact});
			if (reply && reply.type === "assigned") {
				endOffer(o, "Accepted", false);
				setAssigned(reply);
				ctx.status("You accepted contact " + o.msg.contact + ".");
			} else {
				throw new api.ApiError(200, "bad_response",
				    "crisisd answered the accept with " + show(reply && reply.type));
			}
		} catch (e) {
			o.sending = false;
			if (e.status === 409 || e.status === 404) {
				endOffer(o, "No longer offered to you (taken, withdrawn or expired)", true);
				ctx.error("Accept", e);
				return;
			}
			if (!o.gone) {
				o.acceptBtn.disabled = o.declineBtn.disabled = false;
				o.note.textContent = "Not accepted: " + api.describe(e);
			}
			ctx.error("Accept", e);
		}
	}

	async function decline(o) {
		if (o.gone || o.sending)
			return;
		o.sending = true;
		o.acceptBtn.disabled = o.declineBtn.disabled = true;
		const reason = o.reasonInput.value.trim();
		const msg = {type: "decline", contact: o.msg.contact};
		if (reason)
			msg.reason = reason;
		try {
			await api.send(msg);
			endOffer(o, "Declined", false);
			ctx.status("You declined contact " + o.msg.contact + ".");
		} catch (e) {
			o.sending = false;
			if (e.status === 409 || e.status === 404) {
				endOffer(o, "No longer offered to you", false);
			} else if (!o.gone) {
				o.acceptBtn.disabled = o.declineBtn.disabled = false;
				o.note.textContent = "Not declined: " + api.describe(e);
			}
			ctx.error("Decline", e);
		}
	}

	// A and D on a focused offer (not while typing a reason).
	function onOfferKey(e) {
		if (e.altKey || e.ctrlKey || e.metaKey || e.repeat)
			return;
		const t = e.target;
		if (t.closest("input, textarea, select"))
			return;
		const card = t.closest("li.offer");
		if (!card)
			return;
		const o = st.offers.get(card.dataset.contact);
		if (!o || o.gone)
			return;
		const k = e.key.toLowerCase();
		if (k === "a") {
			e.preventDefault();
			accept(o);
		} else if (k === "d") {
			e.preventDefault();
			decline(o);
		}
	}

	// After a reload nobody clicked yet: the browser keeps the sound off
	// until the first click or key press, which turns it on.
	function renderSound() {
		const blocked = !alerts.isMuted() && !alerts.soundReady();
		const note = $("sound-note");
		if (note.hidden !== !blocked)
			note.hidden = !blocked;
	}

	function primeOnGesture() {
		if (!alerts.soundReady())
			alerts.prime();
	}

	function tick() {
		const now = performance.now();
		renderSound();
		let ringFor = null;
		for (const o of [...st.offers.values()]) {
			if (o.gone)
				continue;
			if (now >= o.deadline) {
				// Expired (also while the stream was down): gone.
				endOffer(o, "Expired", false);
				continue;
			}
			updateCountdown(o, now);
			if (ringFor === null || o.msg.risk === "imminent" ||
			    (o.msg.risk === "high" && ringFor !== "imminent"))
				ringFor = o.msg.risk;
		}
		// Keep ringing, gently, while an offer waits.
		if (ringFor !== null && st.assigned === null) {
			const every = RING_AGAIN_MS[ringFor] || RING_AGAIN_DEFAULT_MS;
			if (now - st.lastRing >= every) {
				alerts.ring(ringFor);
				st.lastRing = now;
			}
		}
	}

	// ---------------------------------------------------------- assigned

	function setAssigned(msg) {
		const same = st.assigned !== null && st.assigned.contact === msg.contact;
		st.assigned = msg;
		const o = st.offers.get(msg.contact);
		if (o && !o.gone)
			endOffer(o, "Accepted", false);
		const dl = $("assigned-details");
		clear(dl);
		const rows = [
			["Caller", show(msg.caller)],
			["Patient", show(msg.patient)],
			["Reference", el("span", {class: "id"}, show(msg.ref))],
			["Risk", riskBadge(msg.risk)],
			["Channel", show(msg.channel)],
			["Program", show(msg.program)],
			["Language", show(msg.language)],
			["Needs", show(msg.needs)],
			["Tier", show(msg.tier)],
			["Contact", el("span", {class: "id"}, show(msg.contact))],
			["Accepted at", fmtClock(Date.now())],
		];
		for (const [k, v] of rows)
			dl.append(el("dt", {}, k), el("dd", {data: {field: k.toLowerCase().replace(/ /g, "-")}}, v));
		if (!same) {
			$("complete-form").reset();
			syncDisclosure();
			$("complete-error").textContent = "";
		}
		$("assigned-panel").hidden = false;
		renderStatus();
		if (!same) {
			ctx.announce("You are assigned a contact: " + (RISK_LABEL[msg.risk] || "") +
			    ", " + show(msg.channel) + ". The caller's details are shown.");
			$("assigned-title").focus();
		}
	}

	function clearAssigned() {
		st.assigned = null;
		clear($("assigned-details"));
		$("complete-form").reset();
		syncDisclosure();
		$("complete-error").textContent = "";
		$("assigned-panel").hidden = true;
		renderStatus();
	}

	const discIds = ["disc-recipient", "disc-affiliation", "disc-nature"];

	function syncDisclosure() {
		const on = $("disposition").value === "emergency_dispatched";
		$("disclosure-fields").hidden = !on;
		for (const id of discIds) {
			const i = $(id);
			i.required = on;
			if (!on)
				i.removeAttribute("aria-invalid");
		}
	}

	function invalid(node, text) {
		node.setAttribute("aria-invalid", "true");
		$("complete-error").textContent = text;
		node.focus();
	}

	async function onComplete(e) {
		e.preventDefault();
		if (st.assigned === null)
			return;
		const err = $("complete-error");
		err.textContent = "";
		for (const n of document.querySelectorAll("#complete-form [aria-invalid]"))
			n.removeAttribute("aria-invalid");
		const disp = $("disposition").value;
		if (!DISPOSITIONS[disp])
			return invalid($("disposition"), "Choose a disposition.");
		const msg = {type: "complete", contact: st.assigned.contact, disposition: disp};
		const notes = $("notes").value.trim();
		if (notes)
			msg.notes = notes;
		if (disp === "emergency_dispatched") {
			const d = {};
			for (const id of discIds) {
				const v = $(id).value.trim();
				if (!v)
					return invalid($(id), "An emergency disclosure needs the recipient, " +
					    "their affiliation and the nature of what was disclosed (42 CFR §2.51).");
				d[id.slice(5)] = v;
			}
			msg.disclosure = d;
		}
		const btn = $("complete-submit");
		btn.disabled = true;
		try {
			await api.send(msg);
			const cid = st.assigned.contact;
			clearAssigned();
			ctx.status("Contact " + cid + " completed (" + DISPOSITIONS[disp] +
			    "). A short wrap-up follows before new offers.");
			ctx.announce("Contact completed.");
			$("go-available").focus();
		} catch (ex) {
			if (ex.status === 409 || ex.status === 404) {
				err.textContent = "crisisd says this contact cannot be completed now: " +
				    ex.message;
			} else {
				err.textContent = "Not completed: " + api.describe(ex);
			}
			ctx.error("Complete", ex);
		} finally {
			btn.disabled = false;
		}
	}

	// ---------------------------------------------------------- stream

	async function onWelcome() {
		st.welcomes++;
		st.server = "away";	// crisisd's rule after every (re)connect
		const again = st.welcomes > 1;
		renderStatus();
		if (!st.want) {
			if (again)
				flash("Reconnected. You are away: choose Go available to receive offers.",
				    "warn", 10000);
			else
				flash("");
			return;
		}
		const ok = await setStatus(true, "Going available again after the reconnect");
		if (ok)
			flash(again ? "Reconnected — you are available again." :
			    "Connected — you are available.", "ok", 10000);
		else
			flash("Reconnected, but you could not be set available. Press Go available.",
			    "error");
	}

	function onPushedStatus(msg) {
		st.server = msg.status === "available" ? "available" : "away";
		if (st.server === "away") {
			st.want = false;
			st.reason = AWAY_REASON[msg.reason] || (msg.reason ? String(msg.reason) : "");
			const text = "You have been set away" + (st.reason ? ": " + st.reason : "") + ".";
			ctx.announce(text);
			flash(text + " Choose Go available when you are ready.", "warn");
		}
		renderStatus();
	}

	function onMessage(msg) {
		switch (msg.type) {
		case "welcome":
			onWelcome();
			break;
		case "offer":
			if (typeof msg.contact === "string")
				addOffer(msg);
			break;
		case "withdrawn":
			onWithdrawn(msg);
			break;
		case "status":
			onPushedStatus(msg);
			break;
		case "assigned":
			setAssigned(msg);
			break;
		case "error":
			ctx.status("crisisd: " + show(msg.message) + " (" + show(msg.code) + ")", "error");
			break;
		default:
			break;	// new message types: ignored, as the protocol allows
		}
	}

	// ---------------------------------------------------------- notifications

	function renderNotify() {
		const btn = $("notify-enable");
		const note = $("notify-note");
		const p = alerts.notifyPermission();
		btn.hidden = p !== "default";
		if (p === "granted")
			note.textContent = "Desktop notifications are on (they show no patient details).";
		else if (p === "denied")
			note.textContent = "Desktop notifications are blocked in this browser's settings.";
		else if (p === "unsupported")
			note.textContent = "This browser has no desktop notifications.";
		else
			note.textContent = "";
	}

	async function enableNotify() {
		alerts.prime();
		await alerts.askNotify();
		renderNotify();
		$("sound-toggle").focus();
	}

	function toggleSound() {
		const on = alerts.isMuted();	// muted now: turning on
		alerts.setMuted(!on);
		if (on)
			alerts.prime();
		const btn = $("sound-toggle");
		btn.setAttribute("aria-pressed", String(on));
		btn.textContent = on ? "Sound: on" : "Sound: off";
	}

	function testSound() {
		if (!alerts.prime()) {
			ctx.status("This browser cannot play sounds (no Web Audio).", "error");
			return;
		}
		if (alerts.isMuted())
			ctx.status("Sound is off; turn it on to hear offers.");
		else
			setTimeout(() => alerts.ring("moderate"), 50);
	}

	// ---------------------------------------------------------- start, stop

	on($("go-available"), "click", goAvailable);
	on($("go-away"), "click", goAway);
	on($("notify-enable"), "click", enableNotify);
	on($("sound-toggle"), "click", toggleSound);
	on($("sound-test"), "click", testSound);
	on(offersList, "keydown", onOfferKey);
	on($("complete-form"), "submit", onComplete);
	on($("disposition"), "change", syncDisclosure);
	on($("complete-form"), "input", (e) => e.target.removeAttribute("aria-invalid"));
	on(document, "pointerdown", primeOnGesture);
	on(document, "keydown", primeOnGesture);

	alerts.setMuted(false);
	alerts.prime();
	const soundBtn = $("sound-toggle");
	soundBtn.setAttribute("aria-pressed", "true");
	soundBtn.textContent = "Sound: on";
	renderNotify();
	renderCount();
	clearAssigned();

	const ticker = setInterval(tick, TICK_MS);
	const stream = new api.EventStream("/api/events", {
		message: onMessage,
		state: onLink,
		error: (e) => ctx.status(api.describe(e), "error"),
	});
	stream.start();

	return {
		stop() {
			stream.stop();
			clearInterval(ticker);
			clearTimeout(st.bannerTimer);
			for (const fn of stopFns)
				fn();
			for (const o of st.offers.values())
				if (o.notice)
					o.notice.close();
			st.offers.clear();
			clear(offersList);
			clearAssigned();
			$("sound-note").hidden = true;
			st.want = false;
			st.server = "away";
			$("my-status-reason").textContent = "";
		},
	};
}
