/*
 * http_int.h: what the web console's files share: http.c (the server,
 * routing, replies, the console's files), http_auth.c (logins, sessions,
 * throttling) and http_bridge.c (the protocol carried over HTTP).
 */
#ifndef CRISISD_HTTP_INT_H
#define CRISISD_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>
#include <uthash.h>

#include "http.h"
#include "msg.h"
#include "util.h"

/* A session id and a CSRF token: 32 random bytes, base64url, no padding. */
#define HTTP_TOKEN_BYTES 32
#define HTTP_TOKEN_CHARS 43
/* The key a session is found by: a hash of its id, in hex. */
#define HTTP_KEY_CHARS 64

struct http_bridge;
struct http_throttle;
struct store;
struct tls;
struct worker;

/* A console login, alive until logout or session_idle_ms unused. */
struct http_session {
	char key[HTTP_KEY_CHARS + 1]; /* hash of the cookie's id */
	char principal[PRINCIPAL_ID_MAX + 1];
	enum role role;
	char csrf[HTTP_TOKEN_CHARS + 1];
	int64_t used_ms; /* last request, monotonic */
	struct http_bridge *bridge; /* its protocol session, if open */
	UT_hash_handle hh;
};

struct http {
	struct event_base *base;
	struct evhttp *evh;
	struct tls *tls; /* NULL: plain HTTP */
	struct store *st; /* the daemon's (the loop's) connection */
	int64_t session_idle_ms;
	int64_t hello_timeout_ms; /* a stream gone this long ends a session */
	size_t max_body; /* a message over it is too_large */
	struct worker *hasher; /* password checks, off the loop */
	struct worker *reviewer; /* review reads, off the loop */
	struct store *review_store; /* the reviewer's own connection */
	int64_t service_level_ms; /* review thresholds (the review group) */
	int64_t short_abandon_ms;
	struct http_session *sessions;
	size_t nsessions;
	struct http_throttle *throttle; /* failed logins by principal */
	size_t nthrottle;
	struct event *sweep_ev;
};

/* --- http.c: replies --- */

/* The headers every answer carries (strict: CONTRACT §8). */
void http_security_headers(struct evhttp_request *req);
/* Answer with JSON (stolen), Cache-Control no-store. */
void http_reply_json(struct evhttp_request *req, int status, json_t *body);
/* Answer {"type":"error","code":code,"message":message}. */
void http_reply_error(struct evhttp_request *req, int status,
    enum msg_code code, const char *message);
/* The HTTP status of a protocol error code (CONTRACT §8). */
int http_status_of(enum msg_code code);
/*
 * The request's body as a JSON object; NULL (and the error answered) if
 * it is missing, too large or not one object.
 */
json_t *http_body_object(struct http *h, struct evhttp_request *req);

/* --- http_auth.c: logins and sessions --- */

/* Make the hash unknown principals are checked against (once). */
void http_auth_init(void);
void http_auth_login(struct http *h, struct evhttp_request *req);
void http_auth_logout(struct http *h, struct evhttp_request *req);
void http_auth_whoami(struct http *h, struct evhttp_request *req);
/*
 * The live session the request's cookie names (its CSRF header checked
 * when csrf), its use noted; NULL with 401/403 answered if none.
 */
struct http_session *
http_auth_check(struct http *h, struct evhttp_request *req, bool csrf);
/* End sessions unused for session_idle_ms; every one when all. */
void http_auth_sweep(struct http *h, bool all);
/* End a session: its protocol session is closed as a disconnect. */
void http_auth_end(struct http *h, struct http_session *s);

/* --- http_review.c: the supervisors' review, audited, off the loop --- */

void http_review_log(struct http *h, struct evhttp_request *req);
void http_review_show(struct http *h, struct evhttp_request *req);
void http_review_stats(struct http *h, struct evhttp_request *req);
void http_review_followups(struct http *h, struct evhttp_request *req);
void http_review_disclosures(struct http *h, struct evhttp_request *req);
void http_review_gaps(struct http *h, struct evhttp_request *req);

/* --- http_bridge.c: the protocol over HTTP --- */

/* GET /api/events: this session's pushes as server-sent events. */
void http_bridge_events(struct http *h, struct http_session *s,
    struct evhttp_request *req);
/* POST /api/messages: one protocol message; its reply is the answer. */
void http_bridge_message(struct http *h, struct http_session *s,
    struct evhttp_request *req);
/* Close the session's protocol connection (as a disconnect) and free. */
void http_bridge_free(struct http_bridge *b);

#endif
