/*
 * http.h: the web console (CONTRACT §8), served by crisisd on its own
 * event loop with libevent's HTTP server: the console's files, login with
 * a password, and the very protocol of the TCP side carried over HTTP
 * (messages in, server-sent events out).
 */
#ifndef CRISISD_HTTP_H
#define CRISISD_HTTP_H

struct conf;
struct event_base;
struct http;
struct store;

/*
 * Listen on conf->http.listen (over TLS when the tls group has a
 * certificate).  NULL and *cause if a listener cannot be opened; NULL
 * and no cause when the config has no http group.
 */
struct http *http_open(struct event_base *base, const struct conf *conf,
    struct store *st, char **cause);

/* A new config (SIGHUP): session_idle_ms and the limits. */
void http_reload(struct http *h, const struct conf *conf);

/* Stop listening, end every session, free. */
void http_close(struct http *h);

#endif
