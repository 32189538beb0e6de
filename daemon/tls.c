/*
 * tls.c: the TLS server context (OpenSSL 3) and the few questions conn.c
 * asks of one TLS connection.  This is the only file that includes
 * OpenSSL's headers; connections run on libevent's bufferevent_openssl,
 * which conn.c makes from the SSL this file hands out.
 *
 * The context is built once at start and again on SIGHUP (a new one for
 * new connections; a failure keeps the old one).  Choices, and why:
 *   - TLS 1.2 at least (1.3 if the config says so).  For 1.2, only ECDHE
 *     key exchange with AEAD ciphers: forward secrecy, no CBC.  TLS 1.3's
 *     own suites are OpenSSL's defaults.
 *   - No session resumption (no cache, no tickets): gateways and clinicians
 *     hold one long connection, so resumption saves little, and without it
 *     a reloaded certificate or CA applies to every new connection.
 *   - No renegotiation: a client could make us redo handshakes at will.
 *   - A peer that closes without close_notify has simply closed (OpenSSL 3
 *     would call it an error).  Our messages are whole lines, so a cut
 *     can only lose a partial line, which is dropped anyway.
 *   - Buffers released when idle: with thousands of quiet connections the
 *     two 16 KB record buffers each would dominate our memory.
 *   - Client certificates are asked for only when ca is set, and verified
 *     against it; without require_client_cert a client may send none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls.h"
#include "util.h"

/* TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305, RSA or ECDSA. */
#define TLS_CIPHERS_TLS12 "ECDHE+AESGCM:ECDHE+CHACHA20"
/* Client certificate chains longer than this are refused. */
#define TLS_VERIFY_DEPTH 4
#define TLS_SESSION_ID_CONTEXT "crisisd"
#define TLS_REASON_MAX_BYTES 256

struct tls {
	SSL_CTX *ctx;
};

/* OpenSSL's reason for the failure just seen; its error queue is emptied. */
static void
tls_reason(char *buf, size_t size)
{
	unsigned long err, first = 0;
	const char *reason;

	while ((err = ERR_get_error()) != 0) {
		if (first == 0)
			first = err;
	}
	if (first == 0) {
		strlcpy_(buf, "unknown error", size);
		return;
	}
	if ((reason = ERR_reason_error_string(first)) != NULL)
		strlcpy_(buf, reason, size);
	else
		ERR_error_string_n(first, buf, size);
}

/* Fail tls_new: *cause is "what path: OpenSSL's reason"; t is freed. */
static struct tls *
tls_fail(struct tls *t, char **cause, const char *what, const char *path)
{
	char reason[TLS_REASON_MAX_BYTES];

	tls_reason(reason, sizeof reason);
	xasprintf(cause, "%s%s%s: %s", what, path != NULL ? " " : "",
	    path != NULL ? path : "", reason);
	tls_free(t);
	return NULL;
}

/* Protocol floor, ciphers, and no resumption or renegotiation. */
static int
tls_set_policy(SSL_CTX *ctx, const struct conf_tls *conf)
{
	int floor =
	    conf->min_version == CONF_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;

	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	        SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	        (const unsigned char *)TLS_SESSION_ID_CONTEXT,
	        sizeof TLS_SESSION_ID_CONTEXT - 1) != 1)
		return -1;
	if (SSL_CTX_set_min_proto_version(ctx, floor) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_TLS12) != 1)
		return -1;
	return 0;
}

/* Ask for client certificates and verify them against conf->ca. */
static int
tls_set_client_ca(SSL_CTX *ctx, const struct conf_tls *conf)
{
	STACK_OF(X509_NAME) * names;
	int mode = SSL_VERIFY_PEER;

	if (SSL_CTX_load_verify_locations(ctx, conf->ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(conf->ca)) == NULL)
		return -1;
	/* The names tell a client which of its certificates to send. */
	SSL_CTX_set_client_CA_list(ctx, names);
	if (conf->require_client_cert)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	return 0;
}

/* A TLS server context from the tls group, or NULL and *cause. */
struct tls *
tls_new(const struct conf_tls *conf, char **cause)
{
	struct tls *t = xcalloc(1, sizeof *t);

	ERR_clear_error();
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return tls_fail(t, cause, "tls: cannot make a context", NULL);
	if (tls_set_policy(t->ctx, conf) == -1)
		return tls_fail(t, cause, "tls: cannot set the policy", NULL);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, conf->certificate) != 1)
		return tls_fail(t, cause, "tls.certificate", conf->certificate);
	if (SSL_CTX_use_PrivateKey_file(t->ctx, conf->key, SSL_FILETYPE_PEM) !=
	    1)
		return tls_fail(t, cause, "tls.key", conf->key);
	if (SSL_CTX_check_private_key(t->ctx) != 1)
		return tls_fail(t, cause, "tls.key", conf->key);
	if (conf->ca != NULL && tls_set_client_ca(t->ctx, conf) == -1)
		return tls_fail(t, cause, "tls.ca", conf->ca);
	return t;
}

/* Free the context; connections made with it keep their reference. */
void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* A server-side session for one new connection, or NULL. */
struct ssl_st *
tls_ssl_new(struct tls *t)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		ERR_clear_error();
	return ssl;
}

/* Free a session no bufferevent took over. */
void
tls_ssl_free(struct ssl_st *ssl)
{
	SSL_free(ssl);
}

/* Why TLS on bev failed, for the log. */
void
tls_error(struct bufferevent *bev, int error, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long err, first = 0;
	const char *reason;
	long verify;

	/*
	 * libevent hands its saved errors back newest first, and saves
	 * SSL_get_error()'s small codes among OpenSSL's packed ones: keep the
	 * oldest that names a library.
	 */
	while ((err = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(err) != 0)
			first = err;
	}
	if (first == 0) {
		strlcpy_(buf, error != 0 ? strerror(error) : "peer closed",
		    size);
		return;
	}
	if ((reason = ERR_reason_error_string(first)) == NULL) {
		ERR_error_string_n(first, buf, size);
		return;
	}
	verify = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (verify != X509_V_OK)
		snprintf(buf, size, "%s: %s", reason,
		    X509_verify_cert_error_string(verify));
	else
		strlcpy_(buf, reason, size);
}

/* The verified peer certificate's subject CN into buf; -1 if none. */
int
tls_peer_cn(struct bufferevent *bev, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *cert;
	X509_NAME *name;
	unsigned char *utf8 = NULL;
	int i, len = -1;

	if (ssl == NULL || (cert = SSL_get0_peer_certificate(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	name = X509_get_subject_name(cert);
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) >= 0)
		len = ASN1_STRING_to_UTF8(&utf8,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (len < 0) {
		strlcpy_(buf, "(no CN)", size);
		return 0;
	}
	snprintf(buf, size, "%.*s", len, (const char *)utf8);
	OPENSSL_free(utf8);
	/* The CN goes into log lines: keep it on one line. */
	for (char *p = buf; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return 0;
}

/* The protocol version in use. */
const char *
tls_version(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	return ssl != NULL ? SSL_get_version(ssl) : "unknown";
}

/* Send close_notify if the handshake is done; best effort. */
void
tls_shutdown(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}
