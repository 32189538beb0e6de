/*
 * echo.c: the benchmark's baseline server, the floor for any JSON-over-TCP
 * daemon on this machine.  One libevent loop; every line is parsed with
 * jansson and answered with one line built with jansson, as crisisd does,
 * but with nothing behind it (no store, no routing).
 *
 * usage: echo PORT    (listens on 127.0.0.1:PORT until SIGTERM or SIGINT)
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

/* A line longer than this closes the connection (crisisd's default). */
#define ECHO_LINE_MAX_BYTES 16384
#define ECHO_BACKLOG 1024

/* Close a connection. */
static void
echo_close(struct bufferevent *bev)
{
	bufferevent_free(bev);
}

/* Answer one request line: parse it, reply with its id and ref. */
static int
echo_answer(struct evbuffer *out, const char *line, size_t len)
{
	json_error_t err;
	json_t *req, *reply, *id, *ref;
	char *text;

	if ((req = json_loadb(line, len, 0, &err)) == NULL)
		reply = json_pack("{s:s, s:s, s:s}", "type", "error", "code",
		    "bad_request", "message", err.text);
	else {
		id = json_object_get(req, "id");
		ref = json_object_get(req, "ref");
		reply =
		    json_pack("{s:s, s:O*, s:O*, s:s}", "type", "queued", "id",
		        id, "ref", ref, "contact", "01JBENCHECHO0000000000000");
	}
	json_decref(req);
	if (reply == NULL || (text = json_dumps(reply, JSON_COMPACT)) == NULL) {
		json_decref(reply);
		return -1;
	}
	json_decref(reply);
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	free(text);
	return 0;
}

/* Every complete line gets its answer. */
static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	char *line;
	size_t len;

	(void)arg;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		int rc = echo_answer(out, line, len);

		free(line);
		if (rc == -1) {
			echo_close(bev);
			return;
		}
	}
	if (evbuffer_get_length(in) > ECHO_LINE_MAX_BYTES)
		echo_close(bev);
}

/* The peer closed or failed. */
static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		echo_close(bev);
}

/* A new connection. */
static void
echo_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct event_base *base = arg;
	struct bufferevent *bev;
	int on = 1;

	(void)l;
	(void)sa;
	(void)salen;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, echo_read_cb, NULL, echo_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* SIGTERM or SIGINT: stop. */
static void
echo_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct event_base *base;
	struct evconnlistener *l;
	struct event *sigterm, *sigint;
	long port;
	char *end;

	if (argc != 2 || (port = strtol(argv[1], &end, 10)) < 1 ||
	    port > 65535 || *end != '\0') {
		fprintf(stderr, "usage: echo PORT\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		return 1;
	l = evconnlistener_new_bind(base, echo_accept_cb, base,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, ECHO_BACKLOG,
	    (struct sockaddr *)&sin, sizeof sin);
	if (l == NULL) {
		perror("echo: listen");
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, echo_signal_cb, base);
	sigint = evsignal_new(base, SIGINT, echo_signal_cb, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL))
		return 1;
	fprintf(stderr, "echo: listening on 127.0.0.1:%ld\n", port);
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return 0;
}
