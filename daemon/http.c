/*
 * http.c: the web console's server (CONTRACT §8) on crisisd's own loop:
 * libevent's evhttp on the http group's addresses, over TLS with the tls
 * group's certificate when it has one.  This file routes each request,
 * serves the console's files (built in: web.h) and holds the answers'
 * common form; logins live in http_auth.c, the protocol in http_bridge.c.
 *
 * Every answer is strict: a Content-Security-Policy of 'self' only, no
 * framing, no referrer, no sniffing; API answers are never cached.  Only
 * GET and POST are taken, headers and bodies are bounded, and an idle
 * connection is closed.
 */
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "config.h"
#include "conn.h"
#include "http_int.h"
#include "listen.h"
#include "log.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "web.h"
#include "wire.h"
#include "worker.h"

/* Request headers, all together, at most (a browser sends ~1 KB). */
#define HTTP_HEADERS_MAX_BYTES (16 * 1024)
/* A connection that sends no request this long is closed. */
#define HTTP_IDLE_TIMEOUT_S 60
/* How often unused sessions are looked for. */
#define HTTP_SWEEP_MS (60 * 1000)
/* The protocol line a message becomes has room for our id besides. */
#define HTTP_ID_ROOM_BYTES 64

/* One route: a method and path, and who answers. */
struct http_route {
	enum evhttp_cmd_type method;
	const char *path;
	bool prefix; /* path is a prefix ("/api/contacts/") */
	void (*handle)(struct http *, struct evhttp_request *);
};

static void http_events(struct http *, struct evhttp_request *);
static void http_messages(struct http *, struct evhttp_request *);

static const struct http_route http_routes[] = {
	{ EVHTTP_REQ_POST, "/api/login", false, http_auth_login },
	{ EVHTTP_REQ_POST, "/api/logout", false, http_auth_logout },
	{ EVHTTP_REQ_GET, "/api/session", false, http_auth_whoami },
	{ EVHTTP_REQ_GET, "/api/events", false, http_events },
	{ EVHTTP_REQ_POST, "/api/messages", false, http_messages },
	{ EVHTTP_REQ_GET, "/api/contacts", false, http_review_log },
	{ EVHTTP_REQ_GET, "/api/contacts/", true, http_review_show },
	{ EVHTTP_REQ_GET, "/api/stats", false, http_review_stats },
	{ EVHTTP_REQ_GET, "/api/followups", false, http_review_followups },
	{ EVHTTP_REQ_GET, "/api/disclosures", false, http_review_disclosures },
	{ EVHTTP_REQ_GET, "/api/roster/gaps", false, http_review_gaps },
};

void
http_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy",
	    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	    "form-action 'self'");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
}

void
http_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (out == NULL || text == NULL)
		fatalx("http: out of memory for an answer");
	http_security_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(out, text, strlen(text));
	free(text);
	evhttp_send_reply(req, status, NULL, out);
	evbuffer_free(out);
}

int
http_status_of(enum msg_code code)
{
	switch (code) {
	case CODE_BAD_REQUEST:
		return HTTP_BADREQUEST;
	case CODE_UNAUTHORIZED:
		return 401;
	case CODE_FORBIDDEN:
		return 403;
	case CODE_NOT_FOUND:
		return HTTP_NOTFOUND;
	case CODE_CONFLICT:
		return 409;
	case CODE_TOO_LARGE:
		return 413;
	case CODE_OVERLOADED:
	case CODE_UNAVAILABLE:
		return HTTP_SERVUNAVAIL;
	case CODE_INTERNAL:
	default:
		return HTTP_INTERNAL;
	}
}

void
http_reply_error(struct evhttp_request *req, int status, enum msg_code code,
    const char *message)
{
	http_reply_json(req, status,
	    json_pack("{s:s, s:s, s:s}", "type", "error", "code",
	        msg_code_name(code), "message", message));
}

json_t *
http_body_object(struct http *h, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t err;
	json_t *o;

	if (len > h->max_body) {
		http_reply_error(req, 413, CODE_TOO_LARGE, "body too large");
		return NULL;
	}
	o = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(o)) {
		json_decref(o);
		http_reply_error(req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    "the body must be one JSON object");
		return NULL;
	}
	return o;
}

/* GET /api/events: a logged-in session's event stream. */
static void
http_events(struct http *h, struct evhttp_request *req)
{
	struct http_session *s = http_auth_check(h, req, false);

	if (s != NULL)
		http_bridge_events(h, s, req);
}

/* POST /api/messages: one protocol message, CSRF header required. */
static void
http_messages(struct http *h, struct evhttp_request *req)
{
	struct http_session *s = http_auth_check(h, req, true);

	if (s != NULL)
		http_bridge_message(h, s, req);
}

/* The console's file at path ("/" is the page), or NULL. */
static const struct web_asset *
http_asset(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct web_asset *a = web_assets; a->path != NULL; a++) {
		if (strcmp(a->path, path) == 0)
			return a;
	}
	return NULL;
}

/* Serve one of the console's files. */
static void
http_serve_asset(struct evhttp_request *req, const struct web_asset *a)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	if (out == NULL)
		fatalx("http: out of memory for a file");
	http_security_headers(req);
	evhttp_add_header(h, "Content-Type", a->type);
	/* Revalidate each time: an upgraded daemon serves a new console. */
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evbuffer_add_reference(out, a->data, a->size, NULL, NULL);
	evhttp_send_reply(req, HTTP_OK, NULL, out);
	evbuffer_free(out);
}

/* The route of a request, or NULL. */
static const struct http_route *
http_route(enum evhttp_cmd_type method, const char *path, bool *wrong_method)
{
	*wrong_method = false;
	for (size_t i = 0; i < nitems(http_routes); i++) {
		const struct http_route *r = &http_routes[i];
		bool match = r->prefix
		    ? strncmp(path, r->path, strlen(r->path)) == 0
		    : strcmp(path, r->path) == 0;

		if (match && r->method == method)
			return r;
		if (match)
			*wrong_method = true;
	}
	return NULL;
}

/* Every request: route it, else a file of the console, else 404. */
static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *path =
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	const struct web_asset *a;
	const struct http_route *r;
	struct bufferevent *bev;
	bool wrong_method;

	/*
	 * The connection runs below routing's sockets from now on (see
	 * LOOP_PRIORITIES); libevent sets its socket after the bufferevent
	 * callback, which resets any priority given there.
	 */
	if (con != NULL &&
	    (bev = evhttp_connection_get_bufferevent(con)) != NULL)
		(void)bufferevent_priority_set(bev, LOOP_PRIORITY_WEB);
	if (path == NULL || path[0] != '/') {
		http_reply_error(req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    "bad path");
		return;
	}
	if ((r = http_route(method, path, &wrong_method)) != NULL)
		r->handle(h, req);
	else if (wrong_method ||
	    (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, POST");
		http_reply_error(req, HTTP_BADMETHOD, CODE_BAD_REQUEST,
		    "method not allowed here");
	} else if (method == EVHTTP_REQ_GET && (a = http_asset(path)) != NULL)
		http_serve_asset(req, a);
	else
		http_reply_error(req, HTTP_NOTFOUND, CODE_NOT_FOUND,
		    "no such page");
}

/* A new connection's bufferevent: TLS when the console has it. */
static struct bufferevent *
http_bev_cb(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct ssl_st *ssl;

	if (h->tls == NULL)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = tls_ssl_new(h->tls)) == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* Every minute: end the sessions nobody used for session_idle_ms. */
static void
http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_auth_sweep(arg, false);
}

/* Listen on every address one "host:port" resolves to. */
static int
http_bind(struct http *h, const char *addr, char **cause)
{
	int fds[LISTEN_ADDRS_MAX];
	size_t n, i;

	if (listen_bind_address(addr, fds, nitems(fds), &n, cause) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (evhttp_accept_socket_with_handle(h->evh, fds[i]) == NULL)
			break;
	}
	if (i == n)
		return 0;
	xasprintf(cause, "http.listen %s: cannot accept there", addr);
	for (; i < n; i++)
		close(fds[i]);
	return -1;
}

/* The limits a config sets, at start and at a reload. */
static void
http_apply(struct http *h, const struct conf *conf)
{
	h->session_idle_ms = conf->http.session_idle_ms;
	h->service_level_ms = conf->service_level_ms;
	h->short_abandon_ms = conf->short_abandon_ms;
	h->hello_timeout_ms = conf->hello_timeout_ms;
	h->max_body = conf->max_line_bytes > HTTP_ID_ROOM_BYTES
	    ? conf->max_line_bytes - HTTP_ID_ROOM_BYTES
	    : conf->max_line_bytes;
	evhttp_set_max_body_size(h->evh, (ev_ssize_t)h->max_body + 1);
}

struct http *
http_open(struct event_base *base, const struct conf *conf, struct store *st,
    char **cause)
{
	struct timeval sweep = { HTTP_SWEEP_MS / 1000, 0 };
	struct http *h;

	*cause = NULL;
	if (conf->http.nlisten == 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->st = st;
	if ((h->evh = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	if (conf->tls.certificate != NULL &&
	    (h->tls = tls_new(&conf->tls, cause)) == NULL) {
		http_close(h);
		return NULL;
	}
	/* Every method reaches us, so each gets our strict 405. */
	evhttp_set_allowed_methods(h->evh,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->evh, HTTP_HEADERS_MAX_BYTES);
	evhttp_set_timeout(h->evh, HTTP_IDLE_TIMEOUT_S);
	evhttp_set_bevcb(h->evh, http_bev_cb, h);
	evhttp_set_gencb(h->evh, http_request_cb, h);
	http_apply(h, conf);
	for (size_t i = 0; i < conf->http.nlisten; i++) {
		if (http_bind(h, conf->http.listen[i], cause) == -1) {
			http_close(h);
			return NULL;
		}
		log_info("web console on %s://%s",
		    h->tls != NULL ? "https" : "http", conf->http.listen[i]);
	}
	/* The review reads on a connection of their own, on their thread. */
	if ((h->review_store = store_open(conf->database, STORE_OPEN_EXISTING,
	         cause)) == NULL) {
		http_close(h);
		return NULL;
	}
	http_auth_init();
	h->hasher = worker_new(base, 1);
	h->reviewer = worker_new(base, 1);
	h->sweep_ev = event_new(base, -1, EV_PERSIST, http_sweep_cb, h);
	if (h->sweep_ev == NULL || event_add(h->sweep_ev, &sweep) == -1)
		fatalx("http: sweep timer");
	return h;
}

void
http_reload(struct http *h, const struct conf *conf)
{
	if (h != NULL)
		http_apply(h, conf);
}

void
http_close(struct http *h)
{
	if (h == NULL)
		return;
	/* Logins in progress are answered first, then every session ends. */
	worker_free(h->hasher);
	worker_free(h->reviewer);
	store_close(h->review_store);
	http_auth_sweep(h, true);
	if (h->sweep_ev != NULL)
		event_free(h->sweep_ev);
	if (h->evh != NULL)
		evhttp_free(h->evh);
	tls_free(h->tls);
	free(h);
}
