/*
 * test_notify.c: notify.c against a datagram socket standing in for
 * systemd's NOTIFY_SOCKET: READY/STATUS/RELOADING/STOPPING, the status rate
 * limit that never loses the last text, and the watchdog pings.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "notify.h"
#include "util.h"

#define TEST_DGRAM_MAX_BYTES 512
#define TEST_PINGS_MAX 16

struct notify_fixture {
	char dir[64];
	char path[128];
	int fd;
	struct event_base *base;
};

/* A datagram socket in a new temporary directory, named by NOTIFY_SOCKET. */
static int
setup(void **state)
{
	struct notify_fixture *f = xcalloc(1, sizeof *f);
	struct sockaddr_un addr;

	strlcpy_(f->dir, "/tmp/test_notify.XXXXXX", sizeof f->dir);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/notify", f->dir);
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	strlcpy_(addr.sun_path, f->path, sizeof addr.sun_path);
	assert_true(
	    (f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&addr, sizeof addr), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	assert_non_null(f->base = event_base_new());
	*state = f;
	return 0;
}

/* Undo setup. */
static int
teardown(void **state)
{
	struct notify_fixture *f = *state;

	notify_watchdog_stop();
	notify_stopping();
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	event_base_free(f->base);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The next datagram as a string, or -1 if none is waiting. */
static int
recv_dgram(int fd, char buf[TEST_DGRAM_MAX_BYTES])
{
	ssize_t n = recv(fd, buf, TEST_DGRAM_MAX_BYTES - 1, MSG_DONTWAIT);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The next datagram must be exactly want. */
static void
assert_dgram(int fd, const char *want)
{
	char buf[TEST_DGRAM_MAX_BYTES];

	assert_int_equal(recv_dgram(fd, buf), 0);
	assert_string_equal(buf, want);
}

/* No datagram must be waiting. */
static void
assert_no_dgram(int fd)
{
	char buf[TEST_DGRAM_MAX_BYTES];

	assert_int_equal(recv_dgram(fd, buf), -1);
}

/* Run the event loop for ms milliseconds. */
static void
run_ms(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Milliseconds on the monotonic clock. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Without NOTIFY_SOCKET nothing is sent and no timer is started. */
static void
test_disabled(void **state)
{
	struct notify_fixture *f = *state;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(setenv("WATCHDOG_USEC", "200000", 1), 0);
	notify_ready("up");
	notify_status(f->base, "status %d", 1);
	notify_reloading();
	notify_stopping();
	notify_watchdog_start(f->base);
	assert_int_equal(event_base_get_num_events(f->base,
	                     EVENT_BASE_COUNT_ADDED),
	    0);
	assert_no_dgram(f->fd);
}

/* READY, RELOADING and STOPPING arrive as systemd expects them. */
static void
test_ready_reloading_stopping(void **state)
{
	struct notify_fixture *f = *state;
	char buf[TEST_DGRAM_MAX_BYTES];

	notify_ready("serving 0 connections");
	assert_dgram(f->fd, "READY=1\nSTATUS=serving 0 connections");
	notify_ready(NULL);
	assert_dgram(f->fd, "READY=1");
	notify_reloading();
	assert_int_equal(recv_dgram(f->fd, buf), 0);
	assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	notify_stopping();
	assert_dgram(f->fd, "STOPPING=1");
	assert_no_dgram(f->fd);
}

/*
 * The first status goes out at once; a burst right after waits, and only
 * its last text is sent, about a second after the first.  Newlines cannot
 * sneak in another assignment.
 */
static void
test_status_rate_limit(void **state)
{
	struct notify_fixture *f = *state;
	int64_t start;

	start = mono_ms();
	notify_status(f->base, "%d contacts waiting", 3);
	assert_dgram(f->fd, "STATUS=3 contacts waiting");
	notify_status(f->base, "a");
	notify_status(f->base, "b\nREADY=1");
	assert_no_dgram(f->fd);
	run_ms(f->base, 500);
	assert_no_dgram(f->fd);
	run_ms(f->base, 700);
	assert_dgram(f->fd, "STATUS=b READY=1");
	assert_no_dgram(f->fd);
	assert_true(mono_ms() - start >= 1000);

	notify_status(f->base, "c");
	notify_stopping();
	assert_dgram(f->fd, "STOPPING=1\nSTATUS=c");
	run_ms(f->base, 1100);
	assert_no_dgram(f->fd);
}

/* Arrival times of the datagrams read from the notify socket. */
struct pings {
	int fd;
	int64_t at[TEST_PINGS_MAX];
	size_t n;
	size_t other;
};

/* Record one datagram's arrival. */
static void
pings_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pings *p = arg;
	char buf[TEST_DGRAM_MAX_BYTES];

	(void)fd;
	(void)what;
	while (recv_dgram(p->fd, buf) == 0) {
		if (strcmp(buf, "WATCHDOG=1") == 0 && p->n < TEST_PINGS_MAX)
			p->at[p->n++] = mono_ms();
		else
			p->other++;
	}
}

/* WATCHDOG_USEC=200000: a WATCHDOG=1 about every 100 ms, until stopped. */
static void
test_watchdog(void **state)
{
	struct notify_fixture *f = *state;
	struct pings p = { .fd = f->fd };
	struct event *ev;
	char pid[32];
	int64_t start, gap;

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	assert_int_equal(setenv("WATCHDOG_USEC", "200000", 1), 0);
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	assert_non_null(ev = event_new(f->base, f->fd, EV_READ | EV_PERSIST,
	                    pings_read_cb, &p));
	assert_int_equal(event_add(ev, NULL), 0);

	start = mono_ms();
	notify_watchdog_start(f->base);
	notify_watchdog_start(f->base);
	run_ms(f->base, 350);
	assert_true(p.n >= 2 && p.n <= 4);
	assert_int_equal(p.other, 0);
	assert_true(p.at[0] - start >= 50 && p.at[0] - start <= 200);
	for (size_t i = 1; i < p.n; i++) {
		gap = p.at[i] - p.at[i - 1];
		assert_true(gap >= 50 && gap <= 200);
	}

	notify_watchdog_stop();
	p.n = 0;
	run_ms(f->base, 250);
	assert_int_equal(p.n, 0);
	event_free(ev);
}

/* A watchdog meant for another process is not ours to feed. */
static void
test_watchdog_other_pid(void **state)
{
	struct notify_fixture *f = *state;
	char pid[32];

	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	assert_int_equal(setenv("WATCHDOG_USEC", "200000", 1), 0);
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	notify_watchdog_start(f->base);
	assert_int_equal(event_base_get_num_events(f->base,
	                     EVENT_BASE_COUNT_ADDED),
	    0);
	run_ms(f->base, 250);
	assert_no_dgram(f->fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
		/* Before any other STATUS= line starts the one-second limit. */
		cmocka_unit_test_setup_teardown(test_status_rate_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ready_reloading_stopping,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_other_pid, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
