// api.js: the console's only network code.
//
// request() is fetch with the session cookie (same origin only), the CSRF
// header on every request that changes something, JSON in and out, and
// every failure turned into an ApiError with the protocol's error code.
// A 401 anywhere ends the session in the page (back to the login form).
//
// EventStream wraps EventSource for GET /api/events: the browser reconnects
// by itself (sending Last-Event-ID); when it gives up (an HTTP error, such
// as an ended session) we check the session and open a new one with backoff,
// resuming after the last event seen (?lastEventId=N: a new EventSource
// cannot send the header).

let csrf = null;
let unauthorized = () => {};

// The CSRF token lives in this variable only: never in storage.  After a
// reload it is fetched again from GET /api/session.
export function setCsrf(token) {
	csrf = token;
}

export function onUnauthorized(fn) {
	unauthorized = fn;
}

export class ApiError extends Error {
	constructor(status, code, message, retryAfter = null) {
		super(message);
		this.status = status;	// HTTP status, 0 when crisisd was not reached
		this.code = code;	// the protocol's error code, or "network", "http_N"
		this.retryAfter = retryAfter;	// seconds, from Retry-After
	}
}

const CODE_BY_STATUS = {
	400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	409: "conflict", 413: "too_large", 429: "overloaded", 500: "internal",
	503: "overloaded",
};

// Paths whose 401 means "wrong password" or "not logged in yet", not "your
// session just ended".
const NO_SESSION_PATHS = new Set(["/api/login", "/api/session"]);

export async function request(method, path, body) {
	const headers = {Accept: "application/json"};
	const opts = {method, headers, credentials: "same-origin", cache: "no-store",
	    redirect: "error"};
	if (method !== "GET" && method !== "HEAD" && csrf !== null)
		headers["X-CSRF-Token"] = csrf;
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		opts.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, opts);
	} catch (e) {
		throw new ApiError(0, "network", "cannot reach crisisd (" + e.message + ")");
	}
	let data = null;
	let text = "";
	try {
		text = await res.text();
	} catch (e) {
		throw new ApiError(0, "network", "the answer was cut off (" + e.message + ")");
	}
	if (text !== "") {
		try {
			data = JSON.parse(text);
		} catch {
			if (res.ok)
				throw new ApiError(res.status, "bad_response",
				    "crisisd's answer to " + path + " was not JSON");
		}
	}
	if (!res.ok) {
		const code = (data && data.code) || CODE_BY_STATUS[res.status] || "http_" + res.status;
		const message = (data && data.message) || res.statusText || "HTTP " + res.status;
		const ra = parseInt(res.headers.get("Retry-After") || "", 10);
		const err = new ApiError(res.status, code, message, Number.isNaN(ra) ? null : ra);
		if (res.status === 401 && !NO_SESSION_PATHS.has(path))
			unauthorized(err);
		throw err;
	}
	if (data && data.type === "error")
		throw new ApiError(res.status, data.code || "internal", data.message || "error");
	return data;
}

export function get(path, params) {
	if (params) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(params))
			if (v !== null && v !== undefined && v !== "")
				q.set(k, String(v));
		const s = q.toString();
		if (s)
			path += "?" + s;
	}
	return request("GET", path);
}

// One protocol message over POST /api/messages; the reply message back.
export function send(msg) {
	return request("POST", "/api/messages", msg);
}

// Words for an error, for the status line.
export function describe(err) {
	if (!(err instanceof ApiError))
		return String(err && err.message ? err.message : err);
	if (err.status === 0)
		return err.message;
	return err.message + " (" + err.code + ", HTTP " + err.status + ")";
}

// The event stream.  handlers: message(msg, id), state(s) with s one of
// "connecting", "open", "reconnecting", "down".
export class EventStream {
	constructor(url, handlers) {
		this.url = url;
		this.h = handlers;
		this.es = null;
		this.retry = null;
		this.backoff = 1000;
		this.stopped = false;
		this.lastId = "";	// the last event's id: a new stream resumes after it
		this.lastTick = Date.now();
		// A machine that slept keeps a dead socket for a long time; a
		// jump of the clock means we slept: start over.
		this.watch = setInterval(() => {
			const now = Date.now();
			if (now - this.lastTick > 20000)
				this.restart("woke from sleep");
			this.lastTick = now;
		}, 5000);
		this.onOnline = () => {
			if (this.es === null || this.es.readyState !== EventSource.OPEN)
				this.restart("network back");
		};
		window.addEventListener("online", this.onOnline);
	}

	start() {
		this.stopped = false;
		this.open();
	}

	open() {
		if (this.stopped)
			return;
		this.h.state(this.es === null ? "connecting" : "reconnecting");
		const es = new EventSource(this.lastId === "" ? this.url :
		    this.url + "?lastEventId=" + encodeURIComponent(this.lastId));
		this.es = es;
		es.onopen = () => {
			if (es !== this.es)
				return;
			this.backoff = 1000;
			this.h.state("open");
		};
		es.onmessage = (e) => {
			if (es !== this.es)
				return;
			if (e.lastEventId)
				this.lastId = e.lastEventId;
			let msg;
			try {
				msg = JSON.parse(e.data);
			} catch {
				this.h.error(new Error("an event that is not JSON was dropped"));
				return;
			}
			if (msg === null || typeof msg !== "object" || typeof msg.type !== "string") {
				this.h.error(new Error("an event without a type was dropped"));
				return;
			}
			this.h.message(msg, e.lastEventId);
		};
		es.onerror = () => {
			if (es !== this.es)
				return;
			if (es.readyState === EventSource.CONNECTING) {
				// The browser is reconnecting by itself.
				this.h.state("reconnecting");
				return;
			}
			// The browser gave up (HTTP error or wrong type): find
			// out whether the session is still alive, then retry.
			es.close();
			this.h.state("down");
			this.schedule();
		};
	}

	schedule() {
		if (this.stopped || this.retry !== null)
			return;
		const delay = this.backoff;
		this.backoff = Math.min(this.backoff * 2, 30000);
		this.retry = setTimeout(async () => {
			this.retry = null;
			try {
				await request("GET", "/api/session");
			} catch (e) {
				if (e instanceof ApiError && e.status === 401) {
					unauthorized(e);
					return;
				}
				this.h.error(e);
				this.schedule();
				return;
			}
			this.open();
		}, delay);
	}

	restart(why) {
		if (this.stopped)
			return;
		if (this.es !== null)
			this.es.close();
		if (this.retry !== null) {
			clearTimeout(this.retry);
			this.retry = null;
		}
		this.h.error(new Error("event stream restarted: " + why));
		this.open();
	}

	stop() {
		this.stopped = true;
		if (this.es !== null)
			this.es.close();
		this.es = null;
		if (this.retry !== null)
			clearTimeout(this.retry);
		this.retry = null;
		clearInterval(this.watch);
		window.removeEventListener("online", this.onOnline);
	}
}
