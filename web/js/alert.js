// alert.js: the ring of an offer (Web Audio, no sound file) and desktop
// notifications.
//
// Browsers let a page make sound only after a user gesture: prime() is
// called from the login click (or the sound button) and makes the
// AudioContext then.  Notifications are asked for once, from a button.

let ctx = null;
let muted = false;
let rings = 0;

// What tests can see of the sound: data-audio on <body> is the
// AudioContext's state ("running" once a gesture allowed it), data-rings
// the number of rings played.
function mark() {
	document.body.dataset.audio = ctx === null ? "none" : ctx.state;
	document.body.dataset.rings = String(rings);
}

export function prime() {
	const AC = window.AudioContext || window.webkitAudioContext;
	if (!AC)
		return false;
	// Not before the user has touched the page: the browser would refuse
	// and warn.  The first click or key press calls this again.
	if (navigator.userActivation && !navigator.userActivation.hasBeenActive)
		return false;
	try {
		if (ctx === null) {
			ctx = new AC();
			ctx.onstatechange = mark;
		}
		if (ctx.state === "suspended")
			ctx.resume().catch(() => {});
		mark();
	} catch {
		ctx = null;
		return false;
	}
	return true;
}

export function soundReady() {
	return ctx !== null && ctx.state === "running";
}

export function setMuted(m) {
	muted = m;
}

export function isMuted() {
	return muted;
}

// One short tone with a soft attack and release (no clicks).
function tone(freq, start, len, gain) {
	const osc = ctx.createOscillator();
	const g = ctx.createGain();
	osc.type = "sine";
	osc.frequency.setValueAtTime(freq, start);
	g.gain.setValueAtTime(0.0001, start);
	g.gain.exponentialRampToValueAtTime(gain, start + 0.02);
	g.gain.exponentialRampToValueAtTime(0.0001, start + len);
	osc.connect(g).connect(ctx.destination);
	osc.start(start);
	osc.stop(start + len + 0.05);
}

// The ring: two rising tones; three quick high ones for imminent and high.
export function ring(risk) {
	if (muted || ctx === null || ctx.state !== "running")
		return;
	rings++;
	mark();
	const t = ctx.currentTime + 0.01;
	if (risk === "imminent" || risk === "high") {
		for (let i = 0; i < 3; i++)
			tone(1046, t + i * 0.18, 0.14, 0.25);
	} else {
		tone(660, t, 0.22, 0.2);
		tone(880, t + 0.25, 0.3, 0.2);
	}
}

export function notifySupported() {
	return "Notification" in window;
}

export function notifyPermission() {
	return notifySupported() ? Notification.permission : "unsupported";
}

export async function askNotify() {
	if (!notifySupported())
		return "unsupported";
	try {
		return await Notification.requestPermission();
	} catch {
		return Notification.permission;
	}
}

// A desktop notification, when allowed and the page is not in front.  Its
// text names no patient and no caller: it may show on a locked screen.
// Returns it (so it can be closed when the offer ends) or null.
export function notify(title, body, tag, urgent, onClick) {
	if (!notifySupported() || Notification.permission !== "granted")
		return null;
	if (document.visibilityState === "visible" && document.hasFocus())
		return null;
	try {
		const n = new Notification(title, {body, tag, requireInteraction: urgent,
		    silent: true});
		n.onclick = () => {
			window.focus();
			onClick();
			n.close();
		};
		return n;
	} catch {
		return null;
	}
}
