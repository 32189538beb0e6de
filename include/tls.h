/*
 * tls.h: the TLS server context of the tls group, and what conn.c needs to
 * know about one TLS connection.  tls.c is the only file that includes
 * OpenSSL's headers; the rest of crisisd sees struct tls and libevent's
 * bufferevents.
 */
#ifndef CRISISD_TLS_H
#define CRISISD_TLS_H

#include <stddef.h>

#include <event2/bufferevent.h>

#include "config.h"

struct tls;
struct ssl_st;

/*
 * A TLS server context from the tls group: certificate chain and key (they
 * must match), the minimum version, and client certificates verified
 * against ca when it is set (required if require_client_cert).  Returns
 * NULL and *cause ("tls.key /path: why") on failure.
 */
struct tls *tls_new(const struct conf_tls *conf, char **cause);

/*
 * Free the context.  Connections already made with it go on: each holds a
 * reference of its own.
 */
void tls_free(struct tls *t);

/* A new server-side TLS session for one connection, or NULL. */
struct ssl_st *tls_ssl_new(struct tls *t);

/* Free a session that no bufferevent took over; NULL is fine. */
void tls_ssl_free(struct ssl_st *ssl);

/*
 * Why TLS on bev failed, for the log: OpenSSL's reason, the certificate
 * check's when that failed, else error (an errno) or "peer closed".
 */
void tls_error(struct bufferevent *bev, int error, char *buf, size_t size);

/*
 * The subject CN of the peer's verified certificate into buf (control
 * characters replaced); -1 if the peer sent none.
 */
int tls_peer_cn(struct bufferevent *bev, char *buf, size_t size);

/* The protocol version in use, "TLSv1.3". */
const char *tls_version(struct bufferevent *bev);

/*
 * Send close_notify, so the peer knows our last line was the last; done
 * before the write side of the socket is shut.
 */
void tls_shutdown(struct bufferevent *bev);

#endif
