/*
 * http_bridge.c: one protocol, two transports (CONTRACT §8).
 *
 * A console session speaks the TCP protocol itself: it opens one end of a
 * socketpair as an ordinary connection of crisisd's, welcomed at once for
 * the principal who logged in (proto_open_welcomed), and keeps the other
 * end.  Each POST /api/messages becomes one line on it, with an id of ours
 * in place of the browser's; the reply line that echoes that id becomes
 * the HTTP answer, with the browser's id put back.  Every other line (the
 * welcome, offers, withdrawals, events) is a push: it goes to the
 * session's event streams (GET /api/events) as a server-sent event, and
 * is kept, a bounded number, so a stream that reconnects with
 * Last-Event-ID misses nothing.  A session may have a few streams at once
 * (the console open in several tabs of one browser share its cookie);
 * each gets every push.  No rule of routing or of the protocol is
 * written twice: the decoder, the roles and the engine see a connection
 * like any other.
 *
 * A clinician's console counts as a connection for routing: away until it
 * says available, and when its last event stream has been gone for
 * hello_timeout_ms the protocol connection is closed, which declines its
 * open offers as any disconnect does.  The next request opens a new one.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "conn.h"
#include "http_int.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/* Pushes kept for a stream to resume from: this many, this many bytes. */
#define HTTP_EVENTS_KEPT 256
#define HTTP_EVENT_BYTES_KEPT (1024 * 1024)
/* Requests of one session waiting for their replies, at most. */
#define HTTP_PENDING_MAX 32
/* A comment on the stream this often, so proxies and browsers keep it. */
#define HTTP_KEEPALIVE_MS 15000
/* A stream whose browser leaves this much unread is dropped (it resumes). */
#define HTTP_STREAM_UNREAD_MAX (1024 * 1024)
/* Streams of one session at once; a newer one past it ends the oldest. */
#define HTTP_STREAMS_MAX 8
/* Our request ids: "w:" and a number; the supervisor's own watch. */
#define HTTP_ID_PREFIX "w:"
#define HTTP_WATCH_ID "w:watch"

/* One push, kept for a stream to resume from. */
struct http_event {
	uint64_t seq;
	char *line;
	size_t len;
	int64_t at_ms; /* when it came (monotonic): an offer's clock */
	TAILQ_ENTRY(http_event) entry;
};
TAILQ_HEAD(http_events, http_event);

/* One event stream: a GET /api/events being answered. */
struct http_stream {
	struct http_bridge *b;
	struct evhttp_request *req;
	struct evhttp_connection *con;
	TAILQ_ENTRY(http_stream) entry;
};

/* A message waiting for its reply. */
struct http_pending {
	uint64_t n;
	struct evhttp_request *req;
	json_t *client_id; /* the browser's id, or NULL */
	TAILQ_ENTRY(http_pending) entry;
};

struct http_bridge {
	struct http *h;
	struct http_session *s;
	struct bufferevent *bev; /* our end; NULL: no protocol connection */
	uint64_t next_n;
	TAILQ_HEAD(, http_pending) pending;
	size_t npending;
	struct http_events events;
	size_t nevents, event_bytes;
	uint64_t seq; /* the last push's */
	uint64_t welcome_seq; /* the current protocol connection's welcome */
	TAILQ_HEAD(, http_stream) streams; /* oldest first */
	size_t nstreams;
	struct event *grace_ev;
	struct event *keepalive_ev;
};

static void http_bridge_close_protocol(struct http_bridge *b, const char *why);

/* --- the event stream --- */

/* Write one SSE message (id and data lines) on a stream. */
static void
http_stream_write(struct http_stream *st, uint64_t seq, const char *line,
    size_t len)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL)
		fatalx("http: out of memory for an event");
	evbuffer_add_printf(out, "id: %llu\ndata: ", (unsigned long long)seq);
	evbuffer_add(out, line, len);
	evbuffer_add(out, "\n\n", 2);
	evhttp_send_reply_chunk(st->req, out);
	evbuffer_free(out);
}

/*
 * An offer's expires_in_ms counts from when it is read: one kept since
 * at_ms is sent with what is left, or not at all when that is nothing.
 */
static bool
http_event_resend(struct http_stream *st, const struct http_event *e,
    int64_t now)
{
	json_t *m = json_loadb(e->line, e->len, 0, NULL);
	json_t *left = json_object_get(m, "expires_in_ms");
	char *text;
	bool sent = false;

	if (json_is_integer(left) &&
	    strcmp(json_string_value(json_object_get(m, "type")), "offer") ==
	        0) {
		json_int_t ms = json_integer_value(left) - (now - e->at_ms);

		if (ms > 0) {
			json_object_set_new(m, "expires_in_ms",
			    json_integer(ms));
			text = json_dumps(m, JSON_COMPACT);
			http_stream_write(st, e->seq, text, strlen(text));
			free(text);
			sent = true;
		}
	} else if (m != NULL) {
		http_stream_write(st, e->seq, e->line, e->len);
		sent = true;
	}
	json_decref(m);
	return sent;
}

/* Too much unread on the stream: drop it; the browser resumes. */
static bool
http_stream_stalled(const struct http_stream *st)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->con);

	return bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) >
	    HTTP_STREAM_UNREAD_MAX;
}

/* Forget a stream (its connection is closing, or it is ended). */
static void
http_stream_detach(struct http_stream *st, bool end)
{
	struct http_bridge *b = st->b;
	struct timeval grace = { b->h->hello_timeout_ms / 1000,
		(b->h->hello_timeout_ms % 1000) * 1000 };

	evhttp_connection_set_closecb(st->con, NULL, NULL);
	if (end)
		evhttp_send_reply_end(st->req);
	TAILQ_REMOVE(&b->streams, st, entry);
	b->nstreams--;
	free(st);
	if (b->nstreams > 0)
		return;
	evtimer_del(b->keepalive_ev);
	/* No stream for hello_timeout_ms: gone, as a dropped connection. */
	if (b->bev != NULL)
		evtimer_add(b->grace_ev, &grace);
}

/* A stream's connection closed. */
static void
http_stream_closed_cb(struct evhttp_connection *con, void *arg)
{
	struct http_stream *st = arg;

	if (st->con != con)
		return;
	/*
	 * A request libevent took off its dying connection is ours to
	 * free (send_reply_end does so); one still on it goes with it.
	 */
	http_stream_detach(st, evhttp_request_get_connection(st->req) == NULL);
}

/* A push: keep it, and send it on every stream. */
static void
http_bridge_push(struct http_bridge *b, const char *line, size_t len,
    bool welcome)
{
	struct http_event *e = xcalloc(1, sizeof(*e)), *old;
	struct http_stream *st, *next;

	e->seq = ++b->seq;
	e->line = xstrdup(line);
	e->len = len;
	e->at_ms = util_monotonic_ms();
	TAILQ_INSERT_TAIL(&b->events, e, entry);
	b->nevents++;
	b->event_bytes += len;
	if (welcome)
		b->welcome_seq = e->seq;
	while (b->nevents > HTTP_EVENTS_KEPT ||
	    b->event_bytes > HTTP_EVENT_BYTES_KEPT) {
		old = TAILQ_FIRST(&b->events);
		TAILQ_REMOVE(&b->events, old, entry);
		b->nevents--;
		b->event_bytes -= old->len;
		free(old->line);
		free(old);
	}
	for (st = TAILQ_FIRST(&b->streams); st != NULL; st = next) {
		next = TAILQ_NEXT(st, entry);
		if (http_stream_stalled(st)) {
			log_limited_cause("web stream dropped", LOG_LEVEL_INFO,
			    "web session of %s: event stream not read; "
			    "dropped",
			    b->s->principal);
			http_stream_detach(st, true);
		} else
			http_stream_write(st, e->seq, line, len);
	}
}

/* Every 15 s: a comment line keeps the stream alive. */
static void
http_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_bridge *b = arg;
	struct http_stream *st;
	struct evbuffer *out;

	(void)fd;
	(void)what;
	TAILQ_FOREACH (st, &b->streams, entry) {
		if ((out = evbuffer_new()) == NULL)
			return;
		evbuffer_add(out, ":\n\n", 3);
		evhttp_send_reply_chunk(st->req, out);
		evbuffer_free(out);
	}
}

/* The stream was gone too long: the protocol connection ends. */
static void
http_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_bridge_close_protocol(arg, "event stream gone");
}

/* --- lines from the protocol connection --- */

/* The pending request numbered n, taken off the list, or NULL. */
static struct http_pending *
http_pending_take(struct http_bridge *b, uint64_t n)
{
	struct http_pending *p;

	TAILQ_FOREACH (p, &b->pending, entry) {
		if (p->n == n) {
			TAILQ_REMOVE(&b->pending, p, entry);
			b->npending--;
			return p;
		}
	}
	return NULL;
}

/* Answer a pending request with its reply m (stolen). */
static void
http_pending_answer(struct http_pending *p, json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	int status = HTTP_OK, code;

	if (p->client_id != NULL)
		json_object_set(m, "id", p->client_id);
	else
		json_object_del(m, "id");
	if (type != NULL && strcmp(type, "error") == 0) {
		code = msg_code_from_name(
		    json_string_value(json_object_get(m, "code")));
		status = http_status_of(
		    code >= 0 ? (enum msg_code)code : CODE_INTERNAL);
	}
	http_reply_json(p->req, status, m);
	json_decref(p->client_id);
	free(p);
}

/* Our request number in a reply's id ("w:N"), or 0. */
static uint64_t
http_reply_number(json_t *id)
{
	const char *s = json_string_value(id);
	char *end;
	unsigned long long n;

	if (s == NULL ||
	    strncmp(s, HTTP_ID_PREFIX, strlen(HTTP_ID_PREFIX)) != 0)
		return 0;
	n = strtoull(s + strlen(HTTP_ID_PREFIX), &end, 10);
	return *end == '\0' ? (uint64_t)n : 0;
}

/*
 * Can the line be other than a plain push: a reply to one of ours (its id
 * "w:..." as a key and value, which a string inside the line cannot fake:
 * its quotes would be escaped), or a welcome?  Most lines are a watching
 * supervisor's events, and need no parse at all.
 */
static bool
http_line_special(const char *line, size_t len)
{
	static const char ours[] = "\"id\":\"" HTTP_ID_PREFIX;
	static const char welcome[] = "\"welcome\"";

	return memmem(line, len, ours, sizeof ours - 1) != NULL ||
	    memmem(line, len, welcome, sizeof welcome - 1) != NULL;
}

/* One line from crisisd: a reply to one of ours, or a push. */
static void
http_bridge_line(struct http_bridge *b, const char *line, size_t len)
{
	json_t *m, *id;
	const char *type;
	struct http_pending *p;
	bool welcome;
	uint64_t n;

	if (!http_line_special(line, len)) {
		http_bridge_push(b, line, len, false);
		return;
	}
	m = json_loadb(line, len, 0, NULL);
	type = json_string_value(json_object_get(m, "type"));
	if (m == NULL || type == NULL) {
		log_warnx("web session of %s: a line from crisisd is not a "
		          "message",
		    b->s->principal);
		json_decref(m);
		return;
	}
	id = json_object_get(m, "id");
	if (json_is_string(id) &&
	    strcmp(json_string_value(id), HTTP_WATCH_ID) == 0) {
		json_decref(m);
		return;
	}
	if ((n = http_reply_number(id)) != 0 &&
	    (p = http_pending_take(b, n)) != NULL) {
		http_pending_answer(p, m);
		return;
	}
	welcome = strcmp(type, "welcome") == 0;
	json_decref(m);
	http_bridge_push(b, line, len, welcome);
}

/* Lines are ready on our end. */
static void
http_bridge_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		http_bridge_line(arg, line, len);
		free(line);
	}
}

/* Answer every waiting request: the protocol connection is gone. */
static void
http_pending_fail(struct http_bridge *b, const char *why)
{
	struct http_pending *p;

	while ((p = TAILQ_FIRST(&b->pending)) != NULL) {
		TAILQ_REMOVE(&b->pending, p, entry);
		http_reply_error(p->req, HTTP_SERVUNAVAIL, CODE_UNAVAILABLE,
		    why);
		json_decref(p->client_id);
		free(p);
	}
	b->npending = 0;
}

/* crisisd closed the protocol connection (a disable, a replacement). */
static void
http_bridge_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_bridge *b = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* Its last lines (an "unauthorized", say) are read first. */
	http_bridge_read_cb(b->bev, b);
	http_bridge_close_protocol(b, "connection closed by crisisd");
}

/* --- the protocol connection --- */

/* Close our end: crisisd sees a disconnect. */
static void
http_bridge_close_protocol(struct http_bridge *b, const char *why)
{
	evtimer_del(b->grace_ev);
	if (b->bev == NULL)
		return;
	log_debug("web session of %s: protocol connection closed: %s",
	    b->s->principal, why);
	bufferevent_free(b->bev);
	b->bev = NULL;
	http_pending_fail(b, "the session's connection ended; send again");
}

/* Open the protocol connection, welcomed; false (and why) if refused. */
static bool
http_bridge_open_protocol(struct http_bridge *b, const char **why)
{
	struct timeval grace = { b->h->hello_timeout_ms / 1000,
		(b->h->hello_timeout_ms % 1000) * 1000 };
	struct conn *c;
	int fds[2];

	if (b->bev != NULL)
		return true;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	        fds) == -1) {
		*why = "out of file descriptors";
		return false;
	}
	if ((c = proto_open_welcomed(b->h->base, fds[0], b->s->principal,
	         b->s->role, why)) == NULL) {
		close(fds[1]);
		return false;
	}
	/* Both ends below routing's sockets (see LOOP_PRIORITIES). */
	conn_set_priority(c, LOOP_PRIORITY_WEB);
	b->bev =
	    bufferevent_socket_new(b->h->base, fds[1], BEV_OPT_CLOSE_ON_FREE);
	if (b->bev == NULL ||
	    bufferevent_priority_set(b->bev, LOOP_PRIORITY_WEB) == -1)
		fatalx("http: bufferevent_socket_new");
	bufferevent_setcb(b->bev, http_bridge_read_cb, NULL,
	    http_bridge_event_cb, b);
	bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	if (b->s->role == ROLE_SUPERVISOR)
		bufferevent_write(b->bev,
		    "{\"type\":\"watch\",\"id\":\"" HTTP_WATCH_ID "\"}\n",
		    sizeof(
		        "{\"type\":\"watch\",\"id\":\"" HTTP_WATCH_ID "\"}\n") -
		        1);
	if (b->nstreams == 0)
		evtimer_add(b->grace_ev, &grace);
	return true;
}

/* The session's bridge, made on first use. */
static struct http_bridge *
http_bridge_get(struct http *h, struct http_session *s)
{
	struct http_bridge *b = s->bridge;

	if (b != NULL)
		return b;
	b = xcalloc(1, sizeof(*b));
	b->h = h;
	b->s = s;
	TAILQ_INIT(&b->pending);
	TAILQ_INIT(&b->events);
	TAILQ_INIT(&b->streams);
	b->grace_ev = evtimer_new(h->base, http_grace_cb, b);
	b->keepalive_ev =
	    event_new(h->base, -1, EV_PERSIST, http_keepalive_cb, b);
	if (b->grace_ev == NULL || b->keepalive_ev == NULL)
		fatalx("http: evtimer_new");
	s->bridge = b;
	return b;
}

/* --- the two endpoints --- */

/*
 * The id the stream resumes after: the Last-Event-ID header a browser
 * sends when it reconnects by itself, else ?lastEventId=N (a page that
 * opens a new EventSource cannot set the header).  False if neither
 * names a push of this session.
 */
static bool
http_stream_last_id(const struct http_bridge *b, struct evhttp_request *req,
    uint64_t *last)
{
	const char *v =
	    evhttp_find_header(evhttp_request_get_input_headers(req),
	        "Last-Event-ID");
	const char *query =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	unsigned long long n = 0;
	bool ok = false;
	char *end;

	TAILQ_INIT(&params);
	if (v == NULL && query != NULL &&
	    evhttp_parse_query_str(query, &params) == 0)
		v = evhttp_find_header(&params, "lastEventId");
	if (v != NULL && *v >= '0' && *v <= '9') {
		n = strtoull(v, &end, 10);
		ok = *end == '\0' && n <= b->seq;
	}
	evhttp_clear_headers(&params);
	if (ok)
		*last = (uint64_t)n;
	return ok;
}

/* Send the kept pushes after the last id (or from the current welcome). */
static void
http_stream_replay(struct http_stream *st, struct evhttp_request *req)
{
	struct http_bridge *b = st->b;
	uint64_t after = b->welcome_seq > 0 ? b->welcome_seq - 1 : 0;
	int64_t now = util_monotonic_ms();
	struct http_event *e;

	http_stream_last_id(b, req, &after);
	TAILQ_FOREACH (e, &b->events, entry) {
		if (e->seq > after)
			http_event_resend(st, e, now);
	}
}

void
http_bridge_events(struct http *h, struct http_session *s,
    struct evhttp_request *req)
{
	struct http_bridge *b = http_bridge_get(h, s);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct timeval keepalive = { HTTP_KEEPALIVE_MS / 1000, 0 };
	struct http_stream *st;
	const char *why = NULL;

	if (!http_bridge_open_protocol(b, &why)) {
		http_reply_error(req, HTTP_SERVUNAVAIL, CODE_UNAVAILABLE, why);
		return;
	}
	/* A few streams per session (tabs); past that, the oldest ends. */
	if (b->nstreams >= HTTP_STREAMS_MAX)
		http_stream_detach(TAILQ_FIRST(&b->streams), true);
	evtimer_del(b->grace_ev);
	http_security_headers(req);
	evhttp_add_header(out, "Content-Type", "text/event-stream");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	st = xcalloc(1, sizeof(*st));
	st->b = b;
	st->req = req;
	st->con = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(st->con, http_stream_closed_cb, st);
	TAILQ_INSERT_TAIL(&b->streams, st, entry);
	if (b->nstreams++ == 0)
		evtimer_add(b->keepalive_ev, &keepalive);
	http_stream_replay(st, req);
}

/* The browser's message as our protocol line, with our id; NULL if bad. */
static char *
http_message_line(struct http_bridge *b, struct evhttp_request *req, json_t *m,
    uint64_t *n, json_t **client_id)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	char id[32];
	char *line;

	if (type == NULL || strcmp(type, "hello") == 0) {
		http_reply_error(req, HTTP_BADREQUEST, CODE_BAD_REQUEST,
		    type == NULL ? "field 'type' is required"
		                 : "the console says hello by logging in");
		return NULL;
	}
	*client_id = json_incref(json_object_get(m, "id"));
	*n = ++b->next_n;
	snprintf(id, sizeof id, HTTP_ID_PREFIX "%llu", (unsigned long long)*n);
	json_object_set_new(m, "id", json_string(id));
	if ((line = json_dumps(m, JSON_COMPACT)) == NULL)
		fatalx("http: out of memory for a message");
	return line;
}

void
http_bridge_message(struct http *h, struct http_session *s,
    struct evhttp_request *req)
{
	struct http_bridge *b = http_bridge_get(h, s);
	json_t *m = http_body_object(h, req), *client_id = NULL;
	struct http_pending *p;
	const char *why = NULL;
	uint64_t n;
	char *line;

	if (m == NULL)
		return;
	if (b->npending >= HTTP_PENDING_MAX) {
		json_decref(m);
		http_reply_error(req, HTTP_SERVUNAVAIL, CODE_OVERLOADED,
		    "too many messages waiting for replies");
		return;
	}
	if ((line = http_message_line(b, req, m, &n, &client_id)) == NULL) {
		json_decref(m);
		return;
	}
	json_decref(m);
	if (!http_bridge_open_protocol(b, &why)) {
		free(line);
		json_decref(client_id);
		http_reply_error(req, HTTP_SERVUNAVAIL, CODE_UNAVAILABLE, why);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->n = n;
	p->req = req;
	p->client_id = client_id;
	TAILQ_INSERT_TAIL(&b->pending, p, entry);
	b->npending++;
	bufferevent_write(b->bev, line, strlen(line));
	bufferevent_write(b->bev, "\n", 1);
	free(line);
}

void
http_bridge_free(struct http_bridge *b)
{
	struct http_event *e;

	if (b == NULL)
		return;
	while (!TAILQ_EMPTY(&b->streams))
		http_stream_detach(TAILQ_FIRST(&b->streams), true);
	http_bridge_close_protocol(b, "session ended");
	while ((e = TAILQ_FIRST(&b->events)) != NULL) {
		TAILQ_REMOVE(&b->events, e, entry);
		free(e->line);
		free(e);
	}
	event_free(b->grace_ev);
	event_free(b->keepalive_ev);
	free(b);
}
