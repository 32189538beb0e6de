/*
 * http_auth.c: who is using the web console (CONTRACT §8).
 *
 * A login checks the password (Argon2id, crisisctl password set) on a
 * worker thread: a check costs ~90 ms and 64 MiB, far too long for the
 * loop that routes crisis calls.  It then opens a session: a random id in
 * an HttpOnly, SameSite=Strict cookie (Secure over TLS) and a random CSRF
 * token that every POST must echo in X-CSRF-Token.  Only a hash of the id
 * is kept, so the table of sessions holds nothing that logs a person in.
 *
 * Failed logins are throttled per principal: after 5 in a minute the next
 * gets 429 until the oldest is a minute old.  An unknown principal is
 * checked against a hash too, so a failure takes as long whether the
 * principal exists or not.  Intake principals cannot log in.  A session
 * ends at logout, after session_idle_ms unused, or at once when its
 * principal is disabled or removed.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "http_int.h"
#include "log.h"
#include "password.h"
#include "store.h"
#include "token.h"
#include "util.h"
#include "worker.h"

/* Failed logins a principal may have in a window before 429. */
#define HTTP_LOGIN_FAILURES_MAX 5
#define HTTP_LOGIN_WINDOW_MS (60 * 1000)
/* Principals whose failures are remembered, at most (oldest go first). */
#define HTTP_THROTTLE_MAX 10000
/* Console sessions at most; a login past it gets 503. */
#define HTTP_SESSIONS_MAX 10000
#define HTTP_COOKIE "crisisd_session"

/* A principal's recent failed logins. */
struct http_throttle {
	char principal[PRINCIPAL_ID_MAX + 1];
	int64_t failures[HTTP_LOGIN_FAILURES_MAX]; /* ring, monotonic ms */
	size_t n, next;
	int64_t last_ms;
	UT_hash_handle hh;
};

/* One login being checked on the worker. */
struct http_login {
	struct http *h;
	struct evhttp_request *req;
	char principal[PRINCIPAL_ID_MAX + 1];
	enum role role;
	bool may_log_in; /* a known, enabled clinician or supervisor */
	char hash[PASSWORD_HASH_BYTES];
	char *password; /* sodium_malloc'd, wiped when done */
	size_t len;
	bool ok;
};

/* The hash the unknown are checked against, made once. */
static char http_dummy_hash[PASSWORD_HASH_BYTES];

/* 32 random bytes as base64url (no padding): a session id or a token. */
static void
http_random_token(char out[HTTP_TOKEN_CHARS + 1])
{
	unsigned char raw[HTTP_TOKEN_BYTES];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, HTTP_TOKEN_CHARS + 1, raw, sizeof raw,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

/* The table key of a session id: a hash of it, in hex. */
static void
http_session_key(const char *id, char key[HTTP_KEY_CHARS + 1])
{
	unsigned char h[HTTP_KEY_CHARS / 2];

	crypto_generichash(h, sizeof h, (const unsigned char *)id, strlen(id),
	    NULL, 0);
	sodium_bin2hex(key, HTTP_KEY_CHARS + 1, h, sizeof h);
}

/* The value of cookie name in the request's Cookie header, or false. */
static bool
http_cookie(struct evhttp_request *req, const char *name, char *out,
    size_t size)
{
	const char *c =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	size_t nlen = strlen(name), vlen;

	while (c != NULL && *c != '\0') {
		c += strspn(c, " ;");
		if (strncmp(c, name, nlen) == 0 && c[nlen] == '=') {
			c += nlen + 1;
			vlen = strcspn(c, ";");
			if (vlen == 0 || vlen >= size)
				return false;
			memcpy(out, c, vlen);
			out[vlen] = '\0';
			return true;
		}
		c = strchr(c, ';');
	}
	return false;
}

/* --- throttling --- */

/* Failures of principal still in the window; when the oldest leaves it. */
static size_t
http_throttle_count(struct http *h, const char *principal, int64_t now,
    int64_t *free_at)
{
	struct http_throttle *t;
	size_t n = 0;

	*free_at = now;
	HASH_FIND_STR(h->throttle, principal, t);
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		int64_t leaves = t->failures[i] + HTTP_LOGIN_WINDOW_MS;

		if (leaves <= now)
			continue;
		if (n++ == 0 || leaves < *free_at)
			*free_at = leaves;
	}
	return n;
}

/* Remember a failed login; the table forgets its stalest principal first. */
static void
http_throttle_fail(struct http *h, const char *principal, int64_t now)
{
	struct http_throttle *t, *tmp, *stalest = NULL;

	HASH_FIND_STR(h->throttle, principal, t);
	if (t == NULL) {
		if (h->nthrottle >= HTTP_THROTTLE_MAX) {
			HASH_ITER (hh, h->throttle, t, tmp) {
				if (stalest == NULL ||
				    t->last_ms < stalest->last_ms)
					stalest = t;
			}
			HASH_DEL(h->throttle, stalest);
			free(stalest);
			h->nthrottle--;
		}
		t = xcalloc(1, sizeof(*t));
		strlcpy_(t->principal, principal, sizeof t->principal);
		HASH_ADD_STR(h->throttle, principal, t);
		h->nthrottle++;
	}
	t->failures[t->next] = now;
	t->next = (t->next + 1) % HTTP_LOGIN_FAILURES_MAX;
	if (t->n < HTTP_LOGIN_FAILURES_MAX)
		t->n++;
	t->last_ms = now;
}

/* A login succeeded: its principal's failures are forgotten. */
static void
http_throttle_clear(struct http *h, const char *principal)
{
	struct http_throttle *t;

	HASH_FIND_STR(h->throttle, principal, t);
	if (t != NULL) {
		HASH_DEL(h->throttle, t);
		free(t);
		h->nthrottle--;
	}
}

/* --- sessions --- */

/* Open a session for a checked login; its cookie id into id. */
static struct http_session *
http_session_new(struct http *h, const struct http_login *l,
    char id[HTTP_TOKEN_CHARS + 1])
{
	struct http_session *s = xcalloc(1, sizeof(*s));

	http_random_token(id);
	http_session_key(id, s->key);
	strlcpy_(s->principal, l->principal, sizeof s->principal);
	s->role = l->role;
	http_random_token(s->csrf);
	s->used_ms = util_monotonic_ms();
	HASH_ADD_STR(h->sessions, key, s);
	h->nsessions++;
	return s;
}

void
http_auth_end(struct http *h, struct http_session *s)
{
	HASH_DEL(h->sessions, s);
	h->nsessions--;
	http_bridge_free(s->bridge);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* The cookie that opens (or, with id NULL, ends) a session. */
static void
http_set_cookie(struct http *h, struct evhttp_request *req, const char *id)
{
	char *v;

	xasprintf(&v, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
	    HTTP_COOKIE, id != NULL ? id : "", id == NULL ? "; Max-Age=0" : "",
	    h->tls != NULL ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
	    v);
	free(v);
}

/* The principal as it stands: may it use the console now? */
static bool
http_principal_stands(struct http *h, const char *principal, enum role role)
{
	uint8_t hash[TOKEN_HASH_BYTES];
	char stored[16];
	bool disabled = true;

	return store_principal_get(h->st, principal, stored, hash, &disabled) ==
	    STORE_OK &&
	    !disabled && msg_role_from_name(stored) == (int)role;
}

struct http_session *
http_auth_check(struct http *h, struct evhttp_request *req, bool csrf)
{
	char id[HTTP_TOKEN_CHARS + 1], key[HTTP_KEY_CHARS + 1];
	const char *token;
	struct http_session *s = NULL;

	if (http_cookie(req, HTTP_COOKIE, id, sizeof id)) {
		http_session_key(id, key);
		HASH_FIND_STR(h->sessions, key, s);
	}
	/* Unused too long ends it, whether or not the sweep came by yet. */
	if (s != NULL &&
	    util_monotonic_ms() - s->used_ms >= h->session_idle_ms) {
		log_info("web session of %s ended: unused for %lld ms",
		    s->principal,
		    (long long)(util_monotonic_ms() - s->used_ms));
		http_auth_end(h, s);
		s = NULL;
	}
	if (s != NULL && !http_principal_stands(h, s->principal, s->role)) {
		log_notice("web session of %s ended: the principal no longer "
		           "stands",
		    s->principal);
		http_auth_end(h, s);
		s = NULL;
	}
	if (s == NULL) {
		http_reply_error(req, 401, CODE_UNAUTHORIZED, "log in first");
		return NULL;
	}
	token = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-CSRF-Token");
	if (csrf &&
	    (token == NULL || strlen(token) != HTTP_TOKEN_CHARS ||
	        sodium_memcmp(token, s->csrf, HTTP_TOKEN_CHARS) != 0)) {
		http_reply_error(req, 403, CODE_FORBIDDEN,
		    "missing or wrong X-CSRF-Token");
		return NULL;
	}
	s->used_ms = util_monotonic_ms();
	return s;
}

/* --- the login --- */

/* On the worker: the slow part. */
static void
http_login_run(void *arg)
{
	struct http_login *l = arg;

	l->ok = password_verify(l->may_log_in ? l->hash : http_dummy_hash,
	            l->password, l->len) &&
	    l->may_log_in;
}

/* Free a login, wiping the password it carried. */
static void
http_login_free(struct http_login *l)
{
	sodium_free(l->password);
	sodium_memzero(l->hash, sizeof l->hash);
	free(l);
}

/* Back on the loop: open the session, or count the failure. */
static void
http_login_done(void *arg, bool ran)
{
	struct http_login *l = arg;
	struct http *h = l->h;
	char id[HTTP_TOKEN_CHARS + 1];
	struct http_session *s;

	if (!ran) {
		http_reply_error(l->req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
		    "stopping");
	} else if (!l->ok) {
		http_throttle_fail(h, l->principal, util_monotonic_ms());
		log_limited_cause("web login refused", LOG_LEVEL_NOTICE,
		    "web login refused for %s",
		    l->may_log_in ? l->principal : "an unknown principal");
		http_reply_error(l->req, 401, CODE_UNAUTHORIZED,
		    "unknown principal or wrong password");
	} else {
		http_throttle_clear(h, l->principal);
		s = http_session_new(h, l, id);
		http_set_cookie(h, l->req, id);
		sodium_memzero(id, sizeof id);
		log_info("web login: %s %s", msg_role_name(s->role),
		    s->principal);
		http_reply_json(l->req, HTTP_OK,
		    json_pack("{s:s, s:s, s:s}", "principal", s->principal,
		        "role", msg_role_name(s->role), "csrf", s->csrf));
	}
	http_login_free(l);
}

/* What the store says of the principal: its role and password hash. */
static void
http_login_lookup(struct http_login *l)
{
	uint8_t token_hash[TOKEN_HASH_BYTES];
	char role[16];
	bool disabled = true;
	int r;

	if (!util_valid_principal_id(l->principal) ||
	    store_principal_get(l->h->st, l->principal, role, token_hash,
	        &disabled) != STORE_OK ||
	    disabled)
		return;
	r = msg_role_from_name(role);
	if (r != ROLE_CLINICIAN && r != ROLE_SUPERVISOR)
		return;
	l->role = (enum role)r;
	l->may_log_in = store_principal_password(l->h->st, l->principal,
	                    l->hash, sizeof l->hash) == STORE_OK;
}

/* Zero the request's body in place (it held a password). */
static void
http_wipe_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	if (len > 0)
		sodium_memzero(evbuffer_pullup(in, -1), len);
}

/* Throttled?  Then 429 with Retry-After, and true. */
static bool
http_login_throttled(struct http *h, struct evhttp_request *req,
    const char *principal)
{
	int64_t now = util_monotonic_ms(), free_at;
	char retry[24];

	if (http_throttle_count(h, principal, now, &free_at) <
	    HTTP_LOGIN_FAILURES_MAX)
		return false;
	snprintf(retry, sizeof retry, "%lld",
	    (long long)((free_at - now + 999) / 1000));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
	    retry);
	log_limited_cause("web login throttled", LOG_LEVEL_NOTICE,
	    "web logins for %s throttled: %d failures in a minute",
	    util_valid_principal_id(principal) ? principal : "(not an id)",
	    HTTP_LOGIN_FAILURES_MAX);
	http_reply_error(req, 429, CODE_OVERLOADED,
	    "too many failed logins; try again later");
	return true;
}

void
http_auth_login(struct http *h, struct evhttp_request *req)
{
	json_t *body = http_body_object(h, req), *p, *w;
	struct http_login *l;

	if (body == NULL)
		return;
	p = json_object_get(body, "principal");
	w = json_object_get(body, "password");
	if (!json_is_string(p) || !json_is_string(w) ||
	    json_string_length(p) > PRINCIPAL_ID_MAX ||
	    json_string_length(w) > PASSWORD_MAX_BYTES) {
		json_decref(body);
		http_reply_error(req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    "principal and password must be strings");
		return;
	}
	if (http_login_throttled(h, req, json_string_value(p)) ||
	    h->nsessions >= HTTP_SESSIONS_MAX) {
		if (h->nsessions >= HTTP_SESSIONS_MAX)
			http_reply_error(req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
			    "too many sessions");
		json_decref(body);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->h = h;
	l->req = req;
	strlcpy_(l->principal, json_string_value(p), sizeof l->principal);
	l->len = json_string_length(w);
	if ((l->password = sodium_malloc(l->len + 1)) == NULL)
		fatalx("http: out of memory for a password");
	memcpy(l->password, json_string_value(w), l->len + 1);
	/*
	 * The other copies are wiped before they are freed: the request's
	 * body, and jansson's (its own buffer, about to be freed unread).
	 */
	sodium_memzero((char *)json_string_value(w), l->len);
	json_decref(body);
	http_wipe_body(req);
	http_login_lookup(l);
	if (worker_submit(h->hasher, http_login_run, http_login_done, l) ==
	    -1) {
		http_reply_error(req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
		    "too many logins at once; try again");
		http_login_free(l);
	}
}

void
http_auth_logout(struct http *h, struct evhttp_request *req)
{
	struct http_session *s = http_auth_check(h, req, true);

	if (s == NULL)
		return;
	log_info("web logout: %s", s->principal);
	http_auth_end(h, s);
	http_set_cookie(h, req, NULL);
	http_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply(req, 204, NULL, NULL);
}

void
http_auth_whoami(struct http *h, struct evhttp_request *req)
{
	struct http_session *s = http_auth_check(h, req, false);

	if (s != NULL)
		http_reply_json(req, HTTP_OK,
		    json_pack("{s:s, s:s, s:s}", "principal", s->principal,
		        "role", msg_role_name(s->role), "csrf", s->csrf));
}

void
http_auth_sweep(struct http *h, bool all)
{
	int64_t now = util_monotonic_ms();
	struct http_session *s, *tmp;
	struct http_throttle *t, *ttmp;

	HASH_ITER (hh, h->sessions, s, tmp) {
		if (all || now - s->used_ms >= h->session_idle_ms) {
			if (!all)
				log_info("web session of %s ended: unused for "
				         "%lld ms",
				    s->principal,
				    (long long)(now - s->used_ms));
			http_auth_end(h, s);
		}
	}
	HASH_ITER (hh, h->throttle, t, ttmp) {
		if (all || now - t->last_ms >= HTTP_LOGIN_WINDOW_MS) {
			HASH_DEL(h->throttle, t);
			free(t);
			h->nthrottle--;
		}
	}
}

void
http_auth_init(void)
{
	char pw[HTTP_TOKEN_CHARS + 1];

	if (http_dummy_hash[0] != '\0')
		return;
	http_random_token(pw);
	if (password_hash(pw, strlen(pw), http_dummy_hash) == -1)
		fatalx("http: cannot make a password hash");
	sodium_memzero(pw, sizeof pw);
}
