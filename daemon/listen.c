/*
 * listen.c: the listening sockets and the accept path.
 *
 * The sockets come from systemd (LISTEN_FDS) when it passed any, otherwise
 * they are bound from the configured addresses.  Accepting runs through
 * libevent's evconnlistener.  Two things protect the process:
 *   - over max_connections a new socket gets one "overloaded" error line and
 *     is closed at once, without a struct conn;
 *   - when accept() fails for want of descriptors or memory, every socket
 *     stops accepting for LISTEN_BACKOFF_MS (else the readable listening
 *     socket would spin the loop), with one log line per back-off.
 *
 * TLS listeners (tls.listen) sit in the same listener, so the cap, the
 * back-off and the close cover them too.  They are always bound here, also
 * under socket activation.  Their accept callback makes a TLS session and
 * hands it to conn.c (conn_tls_handoff) around the owner's accept callback:
 * the conn_new() that callback makes then speaks TLS, and the protocol
 * layer never needs to know which kind of socket a connection came from.
 * Over the connection cap a TLS socket is closed at once: the "overloaded"
 * line could only be sent after a handshake, which is the work the cap is
 * there to refuse.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include <systemd/sd-daemon.h>

#include "conn.h"
#include "listen.h"
#include "log.h"
#include "msg.h"
#include "tls.h"
#include "util.h"
#include "wire.h"

#define LISTEN_BACKLOG 4096 /* the kernel caps it at net.core.somaxconn */
#define LISTEN_BACKOFF_MS 1000
/* Input read and dropped from a refused socket, so close() sends no RST. */
#define LISTEN_REFUSE_DRAIN_BYTES 4096
/* "[" INET6_ADDRSTRLEN "]:" port. */
#define LISTEN_ADDR_MAX_BYTES 64
#define LISTEN_HOST_MAX_BYTES 256
#define LISTEN_PORT_MAX_BYTES 8

struct listener {
	struct event_base *base;
	listen_accept_cb cb;
	void *arg;
	struct evconnlistener **evls;
	size_t nevls;
	struct event *backoff_ev;
	bool backing_off;
	size_t max_connections;
	size_t max_unauthenticated;
	char *overloaded; /* the refusal line, with its '\n' */
	struct tls *tls; /* for new TLS connections; NULL: no TLS */
	char **tls_addrs; /* tls.listen as bound, to spot a change at reload */
	size_t ntls_addrs;
};

/* Write fd's own address, "127.0.0.1:7410" or "[::1]:7410", into buf. */
static void
listen_format_local(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	char host[INET6_ADDRSTRLEN], port[LISTEN_PORT_MAX_BYTES];

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof host, port,
	        sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "fd %d", fd);
		return;
	}
	if (ss.ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
}

/* Is this accept() error the process running out of descriptors or memory? */
static bool
listen_is_exhaustion(int error)
{
	return error == EMFILE || error == ENFILE || error == ENOBUFS ||
	    error == ENOMEM;
}

/* Start or stop accepting on every socket. */
static void
listen_set_enabled(struct listener *l, bool enabled)
{
	for (size_t i = 0; i < l->nevls; i++) {
		if (enabled)
			evconnlistener_enable(l->evls[i]);
		else
			evconnlistener_disable(l->evls[i]);
	}
}

/* The back-off is over: accept again. */
static void
listen_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	l->backing_off = false;
	listen_set_enabled(l, true);
}

/* accept() failed for a reason that is not the peer's. */
static void
listen_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int error = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { LISTEN_BACKOFF_MS / 1000,
		(LISTEN_BACKOFF_MS % 1000) * 1000 };

	(void)evl;
	if (!listen_is_exhaustion(error)) {
		log_warnx("accept: %s", strerror(error));
		return;
	}
	if (l->backing_off)
		return;
	log_warnx("accept: %s; not accepting for %d ms", strerror(error),
	    LISTEN_BACKOFF_MS);
	l->backing_off = true;
	listen_set_enabled(l, false);
	evtimer_add(l->backoff_ev, &tv);
}

/*
 * Turn a socket away: one error line, our FIN, and the peer's first bytes
 * read and dropped so that close() does not reset the line away.  Nothing
 * here may block: the socket is non-blocking and the line fits any buffer.
 */
static void
listen_refuse(struct listener *l, int fd)
{
	char drop[512];
	size_t dropped = 0;
	ssize_t n;

	(void)send(fd, l->overloaded, strlen(l->overloaded),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)shutdown(fd, SHUT_WR);
	while (dropped < LISTEN_REFUSE_DRAIN_BYTES &&
	    (n = recv(fd, drop, sizeof drop, MSG_DONTWAIT)) > 0)
		dropped += (size_t)n;
	close(fd);
}

/* Refusals for want of room, logged once a minute with a count. */
static struct log_limit listen_refused_limit;

/* Say in the log that a connection was refused, without flooding it. */
static void
listen_log_refused(const struct listener *l)
{
	log_limited(&listen_refused_limit, LOG_LEVEL_WARNING,
	    "refused a connection: %zu open, limits.max_connections is %zu",
	    conn_count(), l->max_connections);
}

/*
 * Idle sockets that never say hello must not keep real clients out: past
 * the cap, the connection that has waited longest for its hello gives way
 * to the new one (which has its hello_timeout_ms to say hello).  Logged
 * once a minute with a count.
 */
static void
listen_make_unauth_room(const struct listener *l)
{
	static struct log_limit limit;

	if (l->max_unauthenticated == 0 ||
	    conn_unauthenticated() < l->max_unauthenticated)
		return;
	log_limited(&limit, LOG_LEVEL_WARNING,
	    "closed a connection without a hello: %zu wait for theirs, "
	    "limits.max_unauthenticated is %zu",
	    conn_unauthenticated(), l->max_unauthenticated);
	conn_evict_unauthenticated();
}

/* A new connection: hand it over, or refuse it when we are full. */
static void
listen_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	(void)evl;
	(void)sa;
	(void)salen;
	if (conn_count() >= l->max_connections) {
		listen_log_refused(l);
		listen_refuse(l, fd);
		return;
	}
	listen_make_unauth_room(l);
	l->cb(fd, l->arg);
}

/* A new connection on a TLS socket: the same, with a TLS session. */
static void
listen_accept_tls(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct ssl_st *ssl;

	(void)evl;
	(void)sa;
	(void)salen;
	if (conn_count() >= l->max_connections) {
		listen_log_refused(l);
		close(fd);
		return;
	}
	if ((ssl = tls_ssl_new(l->tls)) == NULL) {
		log_warnx("accept: no memory for a TLS session");
		close(fd);
		return;
	}
	listen_make_unauth_room(l);
	conn_tls_handoff(fd, ssl);
	l->cb(fd, l->arg);
	conn_tls_handoff_end();
}

/* Accept on a bound, listening socket; fd is closed on failure. */
static int
listen_add_fd(struct listener *l, int fd, bool tls, char **cause)
{
	struct evconnlistener *evl;
	char name[LISTEN_ADDR_MAX_BYTES];
	const unsigned flags =
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	listen_format_local(fd, name, sizeof name);
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (evl = evconnlistener_new(l->base,
	         tls ? listen_accept_tls : listen_accept, l, flags, 0, fd)) ==
	        NULL) {
		xasprintf(cause, "listen %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(evl, listen_error_cb);
	l->evls = xreallocarray(l->evls, l->nevls + 1, sizeof *l->evls);
	l->evls[l->nevls++] = evl;
	log_info("listening on %s%s", name, tls ? " (TLS)" : "");
	return 0;
}

/* Serve the n sockets systemd passed, closing them all on failure. */
static int
listen_adopt_systemd(struct listener *l, int n, char **cause)
{
	int fd, last = SD_LISTEN_FDS_START + n - 1;

	for (fd = SD_LISTEN_FDS_START; fd <= last; fd++) {
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			xasprintf(cause,
			    "LISTEN_FDS: fd %d is not a listening "
			    "stream socket",
			    fd);
			close(fd);
			break;
		}
		if (listen_add_fd(l, fd, false, cause) == -1)
			break;
	}
	if (fd > last)
		return 0;
	while (++fd <= last)
		close(fd);
	return -1;
}

/*
 * Split "host:port", "[v6]:port" or "*:port" into host (empty for every
 * address) and port.
 */
static int
listen_split(const char *addr, char host[LISTEN_HOST_MAX_BYTES],
    char port[LISTEN_PORT_MAX_BYTES])
{
	const char *colon, *end, *p;
	size_t hostlen;

	if (addr[0] == '[') {
		if ((end = strchr(addr, ']')) == NULL || end[1] != ':')
			return -1;
		colon = end + 1;
		addr++;
		hostlen = (size_t)(end - addr);
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return -1;
		hostlen = (size_t)(colon - addr);
		if (hostlen == 1 && addr[0] == '*')
			hostlen = 0;
	}
	if (hostlen >= LISTEN_HOST_MAX_BYTES || colon[1] == '\0' ||
	    strlen(colon + 1) >= LISTEN_PORT_MAX_BYTES)
		return -1;
	for (p = colon + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
	}
	if (strtol(colon + 1, NULL, 10) > UINT16_MAX)
		return -1;
	memcpy(host, addr, hostlen);
	host[hostlen] = '\0';
	strlcpy_(port, colon + 1, LISTEN_PORT_MAX_BYTES);
	return 0;
}

/* A socket bound to ai and listening, or -1 with errno set. */
static int
listen_bind(const struct addrinfo *ai)
{
	int fd, on = 1, saved;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    (ai->ai_family == AF_INET6 &&
	        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) ==
	            -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Did an earlier entry of the getaddrinfo list have the same address? */
static bool
listen_seen(const struct addrinfo *first, const struct addrinfo *ai)
{
	for (const struct addrinfo *p = first; p != ai; p = p->ai_next) {
		if (p->ai_addrlen == ai->ai_addrlen &&
		    memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return true;
	}
	return false;
}

/* Bind every address one configured "host:port" resolves to. */
static int
listen_open_addr(struct listener *l, const char *addr, bool tls, char **cause)
{
	struct addrinfo hints, *res, *ai;
	char host[LISTEN_HOST_MAX_BYTES], port[LISTEN_PORT_MAX_BYTES];
	int fd, rc;

	if (listen_split(addr, host, port) == -1) {
		xasprintf(cause, "listen %s: expected host:port or [v6]:port",
		    addr);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints,
	         &res)) != 0) {
		xasprintf(cause, "listen %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (listen_seen(res, ai))
			continue;
		if ((fd = listen_bind(ai)) == -1) {
			xasprintf(cause, "listen %s: %s", addr,
			    strerror(errno));
			break;
		}
		if (listen_add_fd(l, fd, tls, cause) == -1)
			break;
	}
	freeaddrinfo(res);
	return ai == NULL ? 0 : -1;
}

/* Open every listening socket; NULL and *cause on the first failure. */
struct listener *
listen_open(struct event_base *base, char *const *addrs, size_t naddrs,
    listen_accept_cb cb, void *arg, char **cause)
{
	struct listener *l;
	char *line;
	int n, rc = 0;

	l = xcalloc(1, sizeof *l);
	l->base = base;
	l->cb = cb;
	l->arg = arg;
	l->max_connections = SIZE_MAX;
	line = wire_error(CODE_OVERLOADED, "too many connections", NULL);
	xasprintf(&l->overloaded, "%s\n", line);
	free(line);
	if ((l->backoff_ev = evtimer_new(base, listen_backoff_cb, l)) == NULL)
		fatalx("listen_open: out of memory");

	if ((n = sd_listen_fds(1)) < 0) {
		xasprintf(cause, "LISTEN_FDS: %s", strerror(-n));
		rc = -1;
	} else if (n > 0)
		rc = listen_adopt_systemd(l, n, cause);
	else {
		for (size_t i = 0; i < naddrs && rc == 0; i++)
			rc = listen_open_addr(l, addrs[i], false, cause);
		if (rc == 0 && l->nevls == 0) {
			*cause = xstrdup("no address to listen on");
			rc = -1;
		}
	}
	if (rc == -1) {
		listen_close(l);
		return NULL;
	}
	return l;
}

/* Also listen on tls->listen over TLS; nothing to do if it is empty. */
int
listen_add_tls(struct listener *l, const struct conf_tls *tls, char **cause)
{
	if (tls->nlisten == 0)
		return 0;
	if ((l->tls = tls_new(tls, cause)) == NULL)
		return -1;
	l->tls_addrs = xreallocarray(NULL, tls->nlisten, sizeof *l->tls_addrs);
	for (size_t i = 0; i < tls->nlisten; i++) {
		l->tls_addrs[l->ntls_addrs++] = xstrdup(tls->listen[i]);
		if (listen_open_addr(l, tls->listen[i], true, cause) == -1)
			return -1;
	}
	return 0;
}

/* Does tls name the addresses the TLS sockets were bound from? */
static bool
listen_tls_same(const struct listener *l, const struct conf_tls *tls)
{
	if (tls->nlisten != l->ntls_addrs)
		return false;
	for (size_t i = 0; i < tls->nlisten; i++) {
		if (strcmp(tls->listen[i], l->tls_addrs[i]) != 0)
			return false;
	}
	return true;
}

/* SIGHUP: a new TLS context for new connections; a failure keeps the old. */
void
listen_reload_tls(struct listener *l, const struct conf_tls *tls)
{
	struct tls *t;
	char *cause = NULL;

	if (!listen_tls_same(l, tls))
		log_warnx("reload: a change to tls.listen takes a restart");
	if (l->tls == NULL || tls->nlisten == 0)
		return;
	if ((t = tls_new(tls, &cause)) == NULL) {
		log_error("reload: %s; TLS keeps the running certificate",
		    cause);
		free(cause);
		return;
	}
	tls_free(l->tls);
	l->tls = t;
	log_info("TLS certificate and CA reloaded");
}

/* Connections beyond max are refused with "overloaded". */
void
listen_set_max_connections(struct listener *l, size_t max)
{
	l->max_connections = max;
}

/* The cap on connections waiting for their hello. */
void
listen_set_max_unauthenticated(struct listener *l, size_t max)
{
	l->max_unauthenticated = max;
}

/* Stop accepting and close every socket; safe on a half-built listener. */
void
listen_close(struct listener *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nevls; i++)
		evconnlistener_free(l->evls[i]);
	free(l->evls);
	if (l->backoff_ev != NULL)
		event_free(l->backoff_ev);
	free(l->overloaded);
	tls_free(l->tls);
	for (size_t i = 0; i < l->ntls_addrs; i++)
		free(l->tls_addrs[i]);
	free(l->tls_addrs);
	free(l);
}

/* How many sockets we listen on. */
size_t
listen_count(const struct listener *l)
{
	return l->nevls;
}
