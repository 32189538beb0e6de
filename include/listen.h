/*
 * listen.h: the listening sockets: bound from the config, or handed over by
 * systemd socket activation; accepting with a cap on connections and a
 * back-off when the process runs out of descriptors.
 */
#ifndef CRISISD_LISTEN_H
#define CRISISD_LISTEN_H

#include <stddef.h>

#include <event2/event.h>

struct listener;

/* A newly accepted socket, already under max_connections. */
typedef void (*listen_accept_cb)(int fd, void *arg);

/*
 * Open every address of conf->listen ("host:port", "[v6]:port"), or take the
 * sockets of LISTEN_FDS when systemd passed any.  Returns NULL and *cause.
 */
struct listener *listen_open(struct event_base *base, char *const *addrs,
    size_t naddrs, listen_accept_cb cb, void *arg, char **cause);

struct conf_tls;

/*
 * Also listen on every tls->listen address, over TLS, with a context built
 * from tls (tls.c); nothing to do when it names none.  These are bound
 * here even under socket activation.  Returns -1 and *cause on failure.
 */
int
listen_add_tls(struct listener *l, const struct conf_tls *tls, char **cause);

/*
 * SIGHUP: new TLS connections get a context built from tls; on failure
 * (logged) the running one stays.  A change of tls.listen is logged as
 * taking a restart.
 */
void listen_reload_tls(struct listener *l, const struct conf_tls *tls);

/* Connections beyond this get "overloaded" and are closed at once. */
void listen_set_max_connections(struct listener *l, size_t max);
/*
 * At most max connections wait for their hello: one more makes the one
 * that waited longest give way (limits.max_unauthenticated).
 */
void listen_set_max_unauthenticated(struct listener *l, size_t max);

/* Sockets one "host:port" may resolve to (every address of a name). */
#define LISTEN_ADDRS_MAX 16

/*
 * Bind and listen on every address addr ("host:port", "[v6]:port",
 * "*:port") resolves to: their sockets into fds[*n] (the web console's
 * listeners are made this way too).  -1 and *cause, nothing left open.
 */
int listen_bind_address(const char *addr, int *fds, size_t max, size_t *n,
    char **cause);

/* Stop accepting (SIGTERM); the sockets are closed. */
void listen_close(struct listener *l);

/* How many sockets we listen on. */
size_t listen_count(const struct listener *l);

#endif
