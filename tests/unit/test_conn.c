/*
 * test_conn.c: conn.c over a real loopback TCP pair inside one event base:
 * line framing, the line cap, the hello deadline, the graceful close after
 * an error, closing from inside the line callback, the output cap, and the
 * cap on all connections' output together.
 * Run it under valgrind too: the callback cases are about freed memory.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "conn.h"
#include "msg.h"
#include "util.h"

#define TEST_LINES_MAX 8
#define TEST_LINE_MAX_BYTES 128
#define TEST_CAP_BYTES 64
#define TEST_READ_TIMEOUT_MS 2000
#define TEST_SMALL_BUFFER_BYTES 4096

/* What the callbacks saw, and what the line callback should do. */
struct rec {
	char lines[TEST_LINES_MAX][TEST_LINE_MAX_BYTES];
	size_t lens[TEST_LINES_MAX];
	size_t nlines;
	int nclosed;
	int ndrained;
	char why[TEST_LINE_MAX_BYTES];
	const char *close_on; /* conn_close on this line */
	const char *fail_on; /* conn_fail on this line */
	const char *echo_on; /* reply "pong" to this line */
};

struct fixture {
	struct event_base *base;
	struct conn *c;
	int client;
	struct rec rec;
};

/* Record a line and act on it as the test asked. */
static void
rec_line(struct conn *c, const char *line, size_t len)
{
	struct rec *r = conn_data(c);
	json_t *id;

	if (r->nlines < TEST_LINES_MAX && len < TEST_LINE_MAX_BYTES) {
		memcpy(r->lines[r->nlines], line, len);
		r->lines[r->nlines][len] = '\0';
		r->lens[r->nlines++] = len;
	}
	if (r->close_on != NULL && strcmp(line, r->close_on) == 0)
		conn_close(c, "bye");
	else if (r->fail_on != NULL && strcmp(line, r->fail_on) == 0) {
		id = json_integer(7);
		conn_fail(c, id, CODE_BAD_REQUEST, "no");
		json_decref(id);
	} else if (r->echo_on != NULL && strcmp(line, r->echo_on) == 0)
		(void)conn_send(c, "pong");
}

/* Record the close. */
static void
rec_closed(struct conn *c, const char *why)
{
	struct rec *r = conn_data(c);

	r->nclosed++;
	strlcpy_(r->why, why, sizeof r->why);
}

/* Record a drained callback. */
static void
rec_drained(struct conn *c)
{
	struct rec *r = conn_data(c);

	r->ndrained++;
}

static const struct conn_cbs test_cbs = { rec_line, rec_closed, rec_drained };

/* A connected loopback pair: *server accepted, *client connected. */
static void
tcp_pair(int *server, int *client, int small_buffers)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int lfd, size = TEST_SMALL_BUFFER_BYTES;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	assert_true((*client = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	if (small_buffers)
		assert_int_equal(setsockopt(*client, SOL_SOCKET, SO_RCVBUF,
		                     &size, sizeof size),
		    0);
	assert_int_equal(connect(*client, (struct sockaddr *)&sin, sizeof sin),
	    0);
	assert_true((*server = accept(lfd, NULL, NULL)) != -1);
	if (small_buffers)
		assert_int_equal(setsockopt(*server, SOL_SOCKET, SO_SNDBUF,
		                     &size, sizeof size),
		    0);
	close(lfd);
}

/* A base, a pair and a conn on its server side with these limits. */
static void
fixture_open(struct fixture *f, size_t max_line, int64_t hello_ms,
    int small_buffers)
{
	struct conn_limits limits = { max_line, hello_ms };
	int server;

	memset(f, 0, sizeof *f);
	assert_non_null(f->base = event_base_new());
	tcp_pair(&server, &f->client, small_buffers);
	assert_non_null(f->c = conn_new(f->base, server, &limits, &test_cbs));
	conn_set_data(f->c, &f->rec);
}

/* Close whatever the test left open. */
static void
fixture_close(struct fixture *f)
{
	if (f->rec.nclosed == 0)
		conn_close(f->c, "test over");
	if (f->client != -1)
		close(f->client);
	event_base_free(f->base);
	assert_int_equal(conn_count(), 0);
	/* Every byte counted in was counted out when the connections went. */
	assert_int_equal(conn_output_total(), 0);
}

/* Run the event loop for ms milliseconds. */
static void
run_ms(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Write all of s from the client. */
static void
client_write(int fd, const char *s, size_t len)
{
	assert_int_equal(write(fd, s, len), (ssize_t)len);
}

/* Read until EOF; the bytes read, or -1 on a timeout or an error. */
static ssize_t
client_read_to_eof(int fd, char *buf, size_t size)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t have = 0;
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, TEST_READ_TIMEOUT_MS) != 1)
			return -1;
		n = read(fd, buf + have, size - 1 - have);
		if (n == 0)
			break;
		if (n == -1 || (have += (size_t)n) == size - 1)
			return -1;
	}
	buf[have] = '\0';
	return (ssize_t)have;
}

/* buf is exactly one error line with this code (and this id, if >= 0). */
static void
assert_error_line(const char *buf, const char *code, json_int_t id)
{
	const char *nl = strchr(buf, '\n');
	json_t *o;

	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	assert_non_null(o = json_loadb(buf, (size_t)(nl - buf), 0, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "error");
	assert_string_equal(json_string_value(json_object_get(o, "code")),
	    code);
	assert_non_null(json_string_value(json_object_get(o, "message")));
	if (id >= 0)
		assert_int_equal(json_integer_value(json_object_get(o, "id")),
		    id);
	json_decref(o);
}

/* The peer read our error then EOF; its close lets ours finish. */
static void
assert_failed_with(struct fixture *f, const char *code)
{
	char buf[1024];

	assert_true(conn_closing(f->c));
	assert_true(client_read_to_eof(f->client, buf, sizeof buf) > 0);
	assert_error_line(buf, code, -1);
	close(f->client);
	f->client = -1;
	run_ms(f->base, 50);
	assert_int_equal(f->rec.nclosed, 1);
	assert_non_null(strstr(f->rec.why, code));
}

/* A line split across three writes arrives whole, once. */
static void
test_split_writes(void **state)
{
	struct fixture f;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	client_write(f.client, "hel", 3);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 0);
	client_write(f.client, "lo\nwor", 6);
	run_ms(f.base, 20);
	client_write(f.client, "ld\n", 3);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 2);
	assert_string_equal(f.rec.lines[0], "hello");
	assert_string_equal(f.rec.lines[1], "world");
	assert_false(conn_closing(f.c));
	fixture_close(&f);
}

/* A trailing '\r' goes, one inside the line stays, an empty line is kept. */
static void
test_crlf_stripped(void **state)
{
	struct fixture f;
	const char input[] = "a\r\nx\ry\r\n\r\nb\n";

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	client_write(f.client, input, sizeof input - 1);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 4);
	assert_string_equal(f.rec.lines[0], "a");
	assert_string_equal(f.rec.lines[1], "x\ry");
	assert_int_equal(f.rec.lens[2], 0);
	assert_string_equal(f.rec.lines[3], "b");
	fixture_close(&f);
}

/* Several lines in one write come out in order. */
static void
test_several_lines_one_read(void **state)
{
	struct fixture f;
	const char input[] = "one\ntwo\nthree\n";

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	client_write(f.client, input, sizeof input - 1);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 3);
	assert_string_equal(f.rec.lines[0], "one");
	assert_string_equal(f.rec.lines[1], "two");
	assert_string_equal(f.rec.lines[2], "three");
	fixture_close(&f);
}

/* Lines of exactly the cap pass, with "\n" and with "\r\n". */
static void
test_line_at_cap(void **state)
{
	struct fixture f;
	char input[2 * TEST_CAP_BYTES + 3];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	memset(input, 'x', sizeof input);
	input[TEST_CAP_BYTES] = '\n';
	input[2 * TEST_CAP_BYTES + 1] = '\r';
	input[2 * TEST_CAP_BYTES + 2] = '\n';
	client_write(f.client, input, sizeof input);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 2);
	assert_int_equal(f.rec.lens[0], TEST_CAP_BYTES);
	assert_int_equal(f.rec.lens[1], TEST_CAP_BYTES);
	assert_false(conn_closing(f.c));
	fixture_close(&f);
}

/* One byte over the cap, '\n' included: too_large, then EOF. */
static void
test_line_over_cap(void **state)
{
	struct fixture f;
	char input[TEST_CAP_BYTES + 2];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	memset(input, 'x', sizeof input);
	input[TEST_CAP_BYTES + 1] = '\n';
	client_write(f.client, input, sizeof input);
	run_ms(f.base, 50);
	assert_int_equal(f.rec.nlines, 0);
	assert_failed_with(&f, "too_large");
	fixture_close(&f);
}

/*
 * A line that never ends, much longer than the cap and the read watermark:
 * too_large, then EOF, and no line is ever delivered.
 */
static void
test_endless_line(void **state)
{
	struct fixture f;
	char input[16 * TEST_CAP_BYTES];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	memset(input, 'x', sizeof input);
	client_write(f.client, input, sizeof input);
	run_ms(f.base, 50);
	assert_int_equal(f.rec.nlines, 0);
	assert_failed_with(&f, "too_large");
	fixture_close(&f);
}

/* No hello in time: unauthorized, EOF, and the close once the peer closes. */
static void
test_hello_timeout(void **state)
{
	struct fixture f;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 50, 0);
	run_ms(f.base, 150);
	assert_int_equal(f.rec.nclosed, 0);
	assert_int_equal(conn_send(f.c, "late"), -1);
	assert_failed_with(&f, "unauthorized");
	fixture_close(&f);
}

/* A peer that never closes its side is closed after CONN_LINGER_MS. */
static void
test_linger_bounded(void **state)
{
	struct fixture f;
	char buf[1024];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 50, 0);
	run_ms(f.base, 150);
	assert_true(client_read_to_eof(f.client, buf, sizeof buf) > 0);
	assert_error_line(buf, "unauthorized", -1);
	run_ms(f.base, CONN_LINGER_MS / 2);
	assert_int_equal(f.rec.nclosed, 0);
	run_ms(f.base, CONN_LINGER_MS / 2 + 200);
	assert_int_equal(f.rec.nclosed, 1);
	assert_non_null(strstr(f.rec.why, "no hello within 50 ms"));
	fixture_close(&f);
}

/* conn_hello_done stops the deadline. */
static void
test_hello_done(void **state)
{
	struct fixture f;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 50, 0);
	conn_hello_done(f.c);
	run_ms(f.base, 150);
	assert_false(conn_closing(f.c));
	client_write(f.client, "ping\n", 5);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 1);
	assert_int_equal(f.rec.nclosed, 0);
	fixture_close(&f);
}

/* conn_close from the line callback: later lines dropped, freed once. */
static void
test_close_in_line_cb(void **state)
{
	struct fixture f;
	const char input[] = "a\nquit\nb\n";
	char buf[64];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	f.rec.close_on = "quit";
	client_write(f.client, input, sizeof input - 1);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nlines, 2);
	assert_string_equal(f.rec.lines[1], "quit");
	assert_int_equal(f.rec.nclosed, 1);
	assert_string_equal(f.rec.why, "bye");
	assert_int_equal(conn_count(), 0);
	assert_int_equal(client_read_to_eof(f.client, buf, sizeof buf), 0);
	fixture_close(&f);
}

/* conn_fail from the line callback: the error echoes the id, then EOF. */
static void
test_fail_in_line_cb(void **state)
{
	struct fixture f;
	const char input[] = "bad\nafter\n";
	char buf[1024];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	f.rec.fail_on = "bad";
	client_write(f.client, input, sizeof input - 1);
	run_ms(f.base, 50);
	assert_int_equal(f.rec.nlines, 1);
	assert_true(conn_closing(f.c));
	assert_true(client_read_to_eof(f.client, buf, sizeof buf) > 0);
	assert_error_line(buf, "bad_request", 7);
	fixture_close(&f);
	assert_string_equal(f.rec.why, "test over");
}

/* A peer that half-closes after its request still gets the reply. */
static void
test_reply_after_peer_half_close(void **state)
{
	struct fixture f;
	char buf[64];

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	f.rec.echo_on = "ping";
	client_write(f.client, "ping\n", 5);
	assert_int_equal(shutdown(f.client, SHUT_WR), 0);
	run_ms(f.base, 50);
	assert_int_equal(client_read_to_eof(f.client, buf, sizeof buf), 5);
	assert_string_equal(buf, "pong\n");
	assert_int_equal(f.rec.nclosed, 1);
	assert_string_equal(f.rec.why, "peer closed");
	fixture_close(&f);
}

/* The peer's close ends each connection; serials and peers look right. */
static void
test_peer_closed(void **state)
{
	struct fixture f, g;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	fixture_open(&g, TEST_CAP_BYTES, 0, 0);
	assert_int_equal(conn_count(), 2);
	assert_true(conn_serial(g.c) > conn_serial(f.c));
	assert_int_equal(strncmp(conn_peer(f.c), "127.0.0.1:", 10), 0);
	assert_int_equal(conn_send(f.c, "hi"), 0);
	close(f.client);
	f.client = -1;
	run_ms(f.base, 50);
	assert_int_equal(f.rec.nclosed, 1);
	assert_string_equal(f.rec.why, "peer closed");
	assert_int_equal(conn_count(), 1);
	conn_close(g.c, "done");
	assert_int_equal(g.rec.nclosed, 1);
	assert_string_equal(g.rec.why, "done");
	fixture_close(&f);
	fixture_close(&g);
}

/* Output to a peer that does not read is capped and the conn closed. */
static void
test_output_cap(void **state)
{
	struct fixture f;
	char *line;
	size_t sent = 0;
	int rc = 0;
	const size_t chunk_bytes = 64 * 1024;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 1);
	line = xmalloc(chunk_bytes + 1);
	memset(line, 'y', chunk_bytes);
	line[chunk_bytes] = '\0';
	while (sent < 16 * CONN_OUTPUT_MAX_BYTES &&
	    (rc = conn_send(f.c, line)) == 0) {
		sent += chunk_bytes + 1;
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	}
	free(line);
	assert_int_equal(rc, -1);
	assert_true(sent > CONN_OUTPUT_MAX_BYTES);
	assert_true(conn_closing(f.c));
	assert_true(conn_unsent(f.c) > CONN_OUTPUT_MAX_BYTES);
	assert_int_equal(conn_send(f.c, "more"), -1);
	assert_int_equal(f.rec.nclosed, 0);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nclosed, 1);
	assert_int_equal(strncmp(f.rec.why, "peer not reading (", 18), 0);
	fixture_close(&f);
}

/*
 * One line bigger than the cap still goes to a reading peer (a big
 * snapshot), and the drained callback comes once, after it is all out.
 */
static void
test_big_line_and_drained(void **state)
{
	struct fixture f;
	size_t big = CONN_OUTPUT_MAX_BYTES + 4096, got = 0;
	char *line, *buf;
	ssize_t n;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 0);
	line = xmalloc(big + 1);
	memset(line, 'z', big);
	line[big] = '\0';
	assert_int_equal(conn_send(f.c, line), 0);
	free(line);
	conn_notify_drained(f.c);
	assert_int_equal(f.rec.ndrained, 0);
	buf = xmalloc(65536);
	while (got < big + 1) {
		event_base_loop(f.base, EVLOOP_NONBLOCK);
		n = recv(f.client, buf, 65536, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	free(buf);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nclosed, 0);
	assert_int_equal(f.rec.ndrained, 1);
	/* Asked again with nothing queued: it comes from the loop, once. */
	conn_notify_drained(f.c);
	assert_int_equal(f.rec.ndrained, 1);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.ndrained, 2);
	fixture_close(&f);
}

/*
 * The unsent output of all connections: the tests below queue it without
 * running the loop, so all of it stays in the connections' buffers.
 */
#define TEST_KIB 1024
#define TEST_TOTAL_MAX (64 * TEST_KIB)
/* conn.c's CONN_STALLED_MS, restored after a test that changes it. */
#define TEST_STALL_DEFAULT_MS 200
#define TEST_STALL_MS 100

/* Close the fixtures' connections, then the fixtures (each checks all). */
static void
fixtures_close(struct fixture *const *fs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fs[i]->rec.nclosed == 0)
			conn_close(fs[i]->c, "test over");
	}
	for (i = 0; i < n; i++)
		fixture_close(fs[i]);
}

/* Queue n lines of exactly 1 KiB each ('\n' included) on c. */
static int
send_kib(struct conn *c, size_t n)
{
	char line[TEST_KIB];
	int rc = 0;

	memset(line, 'k', sizeof line - 1);
	line[sizeof line - 1] = '\0';
	while (n-- > 0 && rc == 0)
		rc = conn_send(c, line);
	return rc;
}

/* The total follows what is queued, written and dropped with a close. */
static void
test_output_total_counts(void **state)
{
	struct fixture f, g;

	(void)state;
	fixture_open(&f, TEST_CAP_BYTES, 0, 1);
	fixture_open(&g, TEST_CAP_BYTES, 0, 1);
	assert_int_equal(conn_output_total(), 0);
	assert_int_equal(conn_send(f.c, "hello"), 0);
	assert_int_equal(conn_send(g.c, "abc"), 0);
	assert_int_equal(conn_output_total(), 6 + 4);
	/* The kernel takes a few bytes at once. */
	run_ms(f.base, 20);
	run_ms(g.base, 20);
	assert_int_equal(conn_output_total(), 0);
	/* More than the small socket buffers take stays with us. */
	assert_int_equal(send_kib(f.c, 100), 0);
	assert_int_equal(send_kib(g.c, 20), 0);
	assert_int_equal(conn_output_total(), 120 * TEST_KIB);
	run_ms(f.base, 20);
	assert_true(conn_unsent(f.c) > 0);
	assert_int_equal(conn_output_total(),
	    conn_unsent(f.c) + conn_unsent(g.c));
	/* A close drops what was left unsent. */
	conn_close(g.c, "done");
	assert_int_equal(conn_output_total(), conn_unsent(f.c));
	conn_close(f.c, "done");
	assert_int_equal(conn_output_total(), 0);
	fixtures_close((struct fixture *[]){ &f, &g }, 2);
}

/*
 * Past the limit the connection holding the most is closed, from the loop
 * and as a slow reader, even one already ending with an error; the one
 * whose line crossed the limit lives on.  The closing connection's output
 * no longer counts, so more lines under the limit close nobody else.
 */
static void
test_output_total_closes_largest(void **state)
{
	struct fixture a, b, c;
	json_t *id = json_integer(1);

	(void)state;
	conn_set_output_stall_ms(0); /* the cap's arithmetic alone */
	fixture_open(&a, TEST_CAP_BYTES, 0, 1);
	fixture_open(&b, TEST_CAP_BYTES, 0, 1);
	fixture_open(&c, TEST_CAP_BYTES, 0, 1);
	conn_set_output_total_max(TEST_TOTAL_MAX);
	assert_int_equal(send_kib(a.c, 40), 0);
	conn_fail(a.c, id, CODE_BAD_REQUEST, "no");
	json_decref(id);
	assert_int_equal(send_kib(b.c, 10), 0);
	assert_int_equal(send_kib(c.c, 14), 0);
	assert_false(conn_closing(b.c));
	/* 64 KiB and a's error line: c's next line crosses the limit. */
	assert_int_equal(send_kib(c.c, 1), 0);
	assert_true(conn_closing(a.c));
	assert_false(conn_closing(b.c));
	assert_false(conn_closing(c.c));
	assert_int_equal(a.rec.nclosed, 0);
	/* a holds 40 KiB still, but they are on their way out. */
	assert_int_equal(send_kib(b.c, 30), 0);
	assert_false(conn_closing(b.c));
	assert_false(conn_closing(c.c));
	run_ms(a.base, 20);
	assert_int_equal(a.rec.nclosed, 1);
	assert_int_equal(strncmp(a.rec.why, "peer not reading (", 18), 0);
	assert_int_equal(conn_output_total(),
	    conn_unsent(b.c) + conn_unsent(c.c));
	conn_set_output_total_max(SIZE_MAX);
	conn_set_output_stall_ms(TEST_STALL_DEFAULT_MS);
	fixtures_close((struct fixture *[]){ &a, &b, &c }, 3);
}

/* The connection whose own line crossed the limit is closed by the loop. */
static void
test_output_total_closes_sender(void **state)
{
	struct fixture f;
	size_t lines = 0;

	(void)state;
	conn_set_output_stall_ms(0); /* the cap's arithmetic alone */
	fixture_open(&f, TEST_CAP_BYTES, 0, 1);
	conn_set_output_total_max(TEST_TOTAL_MAX);
	while (send_kib(f.c, 1) == 0)
		lines++;
	assert_int_equal(lines, TEST_TOTAL_MAX / TEST_KIB);
	assert_true(conn_closing(f.c));
	assert_int_equal(f.rec.nclosed, 0);
	assert_int_equal(conn_send(f.c, "more"), -1);
	run_ms(f.base, 20);
	assert_int_equal(f.rec.nclosed, 1);
	assert_int_equal(strncmp(f.rec.why, "peer not reading (", 18), 0);
	conn_set_output_total_max(SIZE_MAX);
	conn_set_output_stall_ms(TEST_STALL_DEFAULT_MS);
	fixture_close(&f);
}

/*
 * A lower limit (a reload) applies at once, and closes only as many as it
 * takes to get under 90% of it.
 */
static void
test_output_total_lowered(void **state)
{
	struct fixture a, b, c;

	(void)state;
	conn_set_output_stall_ms(0); /* the cap's arithmetic alone */
	fixture_open(&a, TEST_CAP_BYTES, 0, 1);
	fixture_open(&b, TEST_CAP_BYTES, 0, 1);
	fixture_open(&c, TEST_CAP_BYTES, 0, 1);
	assert_int_equal(send_kib(a.c, 30), 0);
	assert_int_equal(send_kib(b.c, 20), 0);
	assert_int_equal(send_kib(c.c, 10), 0);
	conn_set_output_total_max(40 * TEST_KIB);
	assert_true(conn_closing(a.c));
	assert_false(conn_closing(b.c));
	assert_false(conn_closing(c.c));
	conn_set_output_total_max(25 * TEST_KIB);
	assert_true(conn_closing(b.c));
	assert_false(conn_closing(c.c));
	run_ms(a.base, 20);
	run_ms(b.base, 20);
	run_ms(c.base, 20);
	assert_int_equal(a.rec.nclosed, 1);
	assert_int_equal(b.rec.nclosed, 1);
	assert_int_equal(c.rec.nclosed, 0);
	conn_set_output_total_max(SIZE_MAX);
	conn_set_output_stall_ms(TEST_STALL_DEFAULT_MS);
	fixtures_close((struct fixture *[]){ &a, &b, &c }, 3);
}

/*
 * Only a stalled connection is closed for the total, even when a reader
 * that is merely behind holds more; past twice the cap, that one too.
 */
static void
test_output_total_stalled_first(void **state)
{
	const struct timespec wait = { 0, (TEST_STALL_MS + 50) * 1000000L };
	struct fixture a, b;
	size_t max, sent = 0;

	(void)state;
	fixture_open(&a, TEST_CAP_BYTES, 0, 1);
	fixture_open(&b, TEST_CAP_BYTES, 0, 1);
	conn_set_output_stall_ms(TEST_STALL_MS);
	assert_int_equal(send_kib(a.c, 12), 0);
	run_ms(a.base, 20);
	nanosleep(&wait, NULL); /* nothing of a's leaves: a stalls */
	max = conn_unsent(a.c) + 20 * TEST_KIB;
	conn_set_output_total_max(max);
	while (!conn_closing(a.c) && sent < 40) {
		assert_int_equal(send_kib(b.c, 1), 0);
		sent++;
	}
	assert_true(conn_closing(a.c));
	assert_false(conn_closing(b.c));
	assert_true(conn_unsent(b.c) > conn_unsent(a.c));
	/* b alone: over the cap but under twice it, b is not stalled. */
	while (conn_unsent(b.c) < max + max / 2)
		assert_int_equal(send_kib(b.c, 1), 0);
	assert_false(conn_closing(b.c));
	while (send_kib(b.c, 1) == 0)
		;
	assert_true(conn_closing(b.c));
	assert_true(conn_unsent(b.c) > 2 * max - 2 * TEST_KIB);
	conn_set_output_total_max(SIZE_MAX);
	conn_set_output_stall_ms(TEST_STALL_DEFAULT_MS);
	fixtures_close((struct fixture *[]){ &a, &b }, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_writes),
		cmocka_unit_test(test_crlf_stripped),
		cmocka_unit_test(test_several_lines_one_read),
		cmocka_unit_test(test_line_at_cap),
		cmocka_unit_test(test_line_over_cap),
		cmocka_unit_test(test_endless_line),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_linger_bounded),
		cmocka_unit_test(test_hello_done),
		cmocka_unit_test(test_close_in_line_cb),
		cmocka_unit_test(test_fail_in_line_cb),
		cmocka_unit_test(test_reply_after_peer_half_close),
		cmocka_unit_test(test_peer_closed),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_big_line_and_drained),
		cmocka_unit_test(test_output_total_counts),
		cmocka_unit_test(test_output_total_closes_largest),
		cmocka_unit_test(test_output_total_closes_sender),
		cmocka_unit_test(test_output_total_lowered),
		cmocka_unit_test(test_output_total_stalled_first),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
