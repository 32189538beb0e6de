/*
 * upstream.c: the connection to crisisd (upstream.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "link.h"
#include "log.h"
#include "upstream.h"
#include "util.h"

#define UPSTREAM_HELLO_ID "hello"
#define UPSTREAM_ADDRESS_MAX_BYTES 640 /* "; trying HOST:PORT" */

struct upstream {
	struct event_base *base;
	const struct gwconf *conf;
	struct upstream_callbacks cb;
	void *arg;
	SSL_CTX *tls; /* NULL: plain TCP */
	struct bufferevent *bev;
	bool connected; /* TCP (and TLS) up, hello sent */
	bool ready; /* welcomed */
	int64_t down_since_ms;
	int64_t last_rx_ms;
	unsigned long pings;
	struct link_walk walk; /* through conf->crisisd */
	struct event *retry;
	struct event *ping;
	struct log_limit refused;
};

static void upstream_connect(struct upstream *u);

/* The address in use, or tried next. */
static const struct gwconf_address *
upstream_address(const struct upstream *u)
{
	return &u->conf->crisisd[u->walk.at];
}

/* Arm the ping timer for one interval. */
static void
upstream_ping_arm(struct upstream *u)
{
	int64_t ms = u->conf->ping_interval_ms;
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(u->ping, &tv);
}

/*
 * Drop the connection, tell the gateway, and try the next address: at
 * once within a round, so that a takeover is found fast, after the
 * backoff when every address has failed.  Never from here: the retry
 * timer runs it, so that a connect that fails at once does not recurse.
 */
static void
upstream_close(struct upstream *u, const char *why)
{
	bool was_ready = u->ready;
	const struct gwconf_address *a = upstream_address(u);
	int64_t ms = link_walk_failed(&u->walk);
	const struct gwconf_address *next = upstream_address(u);
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)((ms % 1000) * 1000) };
	char then[UPSTREAM_ADDRESS_MAX_BYTES] = "";

	if (next != a)
		snprintf(then, sizeof then, "; trying %s:%s", next->host,
		    next->port);

	if (u->bev != NULL) {
		bufferevent_free(u->bev);
		u->bev = NULL;
	}
	u->connected = u->ready = false;
	evtimer_del(u->ping);
	if (was_ready) {
		u->down_since_ms = util_monotonic_ms();
		log_warnx("crisisd: connection lost at %s:%s: %s%s", a->host,
		    a->port, why, then);
	} else {
		log_limited(&u->refused, LOG_LEVEL_WARNING,
		    "crisisd: cannot use %s:%s: %s%s", a->host, a->port, why,
		    then);
	}
	evtimer_add(u->retry, &tv);
	if (was_ready && u->cb.down != NULL)
		u->cb.down(u->arg);
}

/* Send without the ready check (hello goes before welcome). */
static void
upstream_write(struct upstream *u, const char *line)
{
	if (bufferevent_write(u->bev, line, strlen(line)) == -1)
		fatalx("bufferevent_write: out of memory");
}

/* The reply to hello: welcome, or why crisisd refused us. */
static void
upstream_hello_reply(struct upstream *u, const struct cd_msg *msg)
{
	if (msg->type != CD_WELCOME) {
		char why[GWMSG_TEXT_MAX + 64];

		snprintf(why, sizeof why, "hello refused: %s: %s",
		    msg->code[0] ? msg->code : "?", msg->message);
		upstream_close(u, why);
		return;
	}
	u->ready = true;
	link_walk_ok(&u->walk);
	log_notice("crisisd: welcomed at %s:%s as %s%s",
	    upstream_address(u)->host, upstream_address(u)->port,
	    u->conf->principal, u->tls != NULL ? " (TLS)" : "");
	if (u->cb.ready != NULL)
		u->cb.ready(u->arg);
}

/* One line from crisisd. */
static void
upstream_line(struct upstream *u, const char *line, size_t len)
{
	struct cd_msg msg;
	const char *why = NULL;

	if (gwmsg_parse_crisisd(line, len, &msg, &why) == -1) {
		log_warnx("crisisd: unusable message (%s); ignored", why);
		return;
	}
	if (!u->ready) {
		if (strcmp(msg.id, UPSTREAM_HELLO_ID) == 0)
			upstream_hello_reply(u, &msg);
		return;
	}
	if (msg.type == CD_PONG)
		return;
	u->cb.message(u->arg, &msg);
}

/* Every whole line in the input; a line over the limit closes. */
static void
upstream_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t len;
	char *line;

	u->last_rx_ms = util_monotonic_ms();
	while (u->bev == bev) {
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > u->conf->max_line_bytes)
				upstream_close(u, "line over max_line_bytes");
			return;
		}
		len = (size_t)eol.pos;
		if (len > u->conf->max_line_bytes) {
			upstream_close(u, "line over max_line_bytes");
			return;
		}
		line = (char *)evbuffer_pullup(in, (ev_ssize_t)len + 1);
		upstream_line(u, line, len);
		/* The handler may have closed this connection. */
		if (u->bev != bev)
			return;
		evbuffer_drain(in, len + 1);
	}
}

/* Say hello with the token as the file holds it now. */
static void
upstream_hello(struct upstream *u)
{
	char *token, *cause = NULL, *line;

	if ((token = gwconf_read_token(u->conf->token_file, &cause)) == NULL) {
		upstream_close(u, cause);
		free(cause);
		return;
	}
	line = gwmsg_hello(UPSTREAM_HELLO_ID, u->conf->principal, token);
	explicit_bzero(token, strlen(token));
	free(token);
	upstream_write(u, line);
	explicit_bzero(line, strlen(line));
	free(line);
}

/* Why a TLS connection failed, for the log. */
static const char *
upstream_tls_error(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long err = bufferevent_get_openssl_error(bev);

	if (err == 0)
		return NULL;
	ERR_error_string_n(err, buf, size);
	return buf;
}

/* Connected, or the connection failed or closed. */
static void
upstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream *u = arg;
	char buf[256];
	const char *tls_why;

	if (what & BEV_EVENT_CONNECTED) {
		u->connected = true;
		u->last_rx_ms = util_monotonic_ms();
		upstream_hello(u);
		return;
	}
	if (u->tls != NULL &&
	    (tls_why = upstream_tls_error(bev, buf, sizeof buf)) != NULL)
		upstream_close(u, tls_why);
	else if (what & BEV_EVENT_EOF)
		upstream_close(u, "closed by crisisd");
	else
		upstream_close(u,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* A new SSL for one connection: checks the server's name or address. */
static SSL *
upstream_ssl(struct upstream *u)
{
	const char *name = u->conf->tls.server_name != NULL
	    ? u->conf->tls.server_name
	    : upstream_address(u)->host;
	X509_VERIFY_PARAM *param;
	SSL *ssl;

	if ((ssl = SSL_new(u->tls)) == NULL)
		fatalx("SSL_new failed");
	param = SSL_get0_param(ssl);
	/* An address is checked as an IP SAN, a name as a DNS SAN. */
	if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) {
		X509_VERIFY_PARAM_set_hostflags(param,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(param, name, 0) != 1)
			fatalx("X509_VERIFY_PARAM_set1_host failed");
		SSL_set_tlsext_host_name(ssl, name);
	}
	return ssl;
}

/* Start one connection attempt. */
static void
upstream_connect(struct upstream *u)
{
	char *cause = NULL;

	if (u->tls != NULL)
		u->bev =
		    bufferevent_openssl_socket_new(u->base, -1, upstream_ssl(u),
		        BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	else
		u->bev =
		    bufferevent_socket_new(u->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (u->bev == NULL)
		fatalx("cannot make a bufferevent");
	bufferevent_setcb(u->bev, upstream_read_cb, NULL, upstream_event_cb, u);
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
	if (link_connect(u->bev, upstream_address(u)->host,
	        upstream_address(u)->port, &cause) == -1) {
		upstream_close(u, cause);
		free(cause);
		return;
	}
	upstream_ping_arm(u);
}

/* Timer: the backoff is over. */
static void
upstream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	upstream_connect(arg);
}

/*
 * Timer, every ping_interval_ms while connected: a connection that said
 * nothing for two intervals (a ping included) is dead, or a hello went
 * unanswered; otherwise ping.
 */
static void
upstream_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	int64_t quiet = util_monotonic_ms() - u->last_rx_ms;
	char id[32], *line;

	(void)fd;
	(void)what;
	if (!u->connected ||
	    (!u->ready && quiet >= u->conf->ping_interval_ms) ||
	    quiet >= 2 * u->conf->ping_interval_ms) {
		upstream_close(u,
		    u->ready ? "no answer to ping" : "no answer to hello");
		return;
	}
	if (u->ready) {
		snprintf(id, sizeof id, "ping-%lu", ++u->pings);
		line = gwmsg_ping(id);
		upstream_write(u, line);
		free(line);
	}
	upstream_ping_arm(u);
}

/* The TLS context: the CA to trust, and our certificate if any. */
static SSL_CTX *
upstream_tls_ctx(const struct gwconf_tls *tls, char **cause)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		fatalx("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, tls->ca, NULL) != 1) {
		xasprintf(cause, "tls: cannot load ca %s", tls->ca);
		goto fail;
	}
	if (tls->certificate != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, tls->certificate) != 1 ||
	        SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) !=
	            1 ||
	        SSL_CTX_check_private_key(ctx) != 1)) {
		xasprintf(cause, "tls: cannot use certificate %s with key %s",
		    tls->certificate, tls->key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* A connection to crisisd, not yet started. */
struct upstream *
upstream_new(struct event_base *base, const struct gwconf *conf,
    const struct upstream_callbacks *cb, void *arg, char **cause)
{
	struct upstream *u = xcalloc(1, sizeof *u);

	u->base = base;
	u->conf = conf;
	u->cb = *cb;
	u->arg = arg;
	u->down_since_ms = util_monotonic_ms();
	if (conf->tls.enabled &&
	    (u->tls = upstream_tls_ctx(&conf->tls, cause)) == NULL) {
		free(u);
		return NULL;
	}
	link_walk_init(&u->walk, conf->ncrisisd, conf->reconnect_min_ms,
	    conf->reconnect_max_ms);
	u->retry = evtimer_new(base, upstream_retry_cb, u);
	u->ping = evtimer_new(base, upstream_ping_cb, u);
	if (u->retry == NULL || u->ping == NULL)
		fatalx("evtimer_new failed");
	return u;
}

/* Connect now. */
void
upstream_start(struct upstream *u)
{
	upstream_connect(u);
}

/* Welcomed? */
bool
upstream_ready(const struct upstream *u)
{
	return u->ready;
}

/* Since when crisisd has been away. */
int64_t
upstream_down_since(const struct upstream *u)
{
	return u->down_since_ms;
}

/* Send one line when welcomed. */
int
upstream_send(struct upstream *u, const char *line)
{
	if (!u->ready)
		return -1;
	upstream_write(u, line);
	return 0;
}

/* Close and free. */
void
upstream_free(struct upstream *u)
{
	if (u == NULL)
		return;
	if (u->bev != NULL)
		bufferevent_free(u->bev);
	event_free(u->retry);
	event_free(u->ping);
	SSL_CTX_free(u->tls);
	free(u);
}
