/*
 * notify.c: the systemd notify protocol, the only user of sd_notify.
 *
 * Every function returns at once when NOTIFY_SOCKET is unset, so the daemon
 * calls them unconditionally.  Status lines are rate-limited: the first goes
 * out at once, later ones within NOTIFY_STATUS_INTERVAL_MS of the last send
 * wait on a timer that sends only the newest text, so a burst costs one
 * datagram a second and the final status is never lost.
 *
 * The timers live on the caller's event base: call notify_watchdog_stop()
 * and notify_stopping() before freeing that base.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "util.h"

#define NOTIFY_STATUS_INTERVAL_MS 1000
#define NOTIFY_STATUS_MAX_BYTES 256

static struct event *notify_status_ev;
static char notify_status_text[NOTIFY_STATUS_MAX_BYTES];
static bool notify_status_pending;
static bool notify_status_sent;
static int64_t notify_status_last_ms;

static struct event *notify_watchdog_ev;

/* Does the service manager listen? */
static bool
notify_enabled(void)
{
	const char *path = getenv("NOTIFY_SOCKET");

	return path != NULL && path[0] != '\0';
}

/* A newline would start a new assignment in the datagram: flatten it. */
static void
notify_flatten(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r')
			*s = ' ';
	}
}

/* Forget a status that is waiting for its turn. */
static void
notify_status_cancel(void)
{
	if (notify_status_ev != NULL)
		evtimer_del(notify_status_ev);
	notify_status_pending = false;
}

/* Record that a STATUS= line went out now. */
static void
notify_status_mark_sent(void)
{
	notify_status_cancel();
	notify_status_sent = true;
	notify_status_last_ms = util_monotonic_ms();
}

/* Send the newest status text. */
static void
notify_status_send(void)
{
	(void)sd_notifyf(0, "STATUS=%s", notify_status_text);
	notify_status_mark_sent();
}

/* The rate limit let the waiting status through. */
static void
notify_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (notify_status_pending)
		notify_status_send();
}

/* READY=1, with a status line when one is given. */
void
notify_ready(const char *status)
{
	if (!notify_enabled())
		return;
	if (status == NULL) {
		(void)sd_notify(0, "READY=1");
		return;
	}
	snprintf(notify_status_text, sizeof notify_status_text, "%s", status);
	notify_flatten(notify_status_text);
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", notify_status_text);
	notify_status_mark_sent();
}

/* STATUS=..., at most one a second; the newest text always goes out. */
void
notify_status(struct event_base *base, const char *fmt, ...)
{
	va_list ap;
	int64_t since;
	struct timeval tv;

	if (!notify_enabled())
		return;
	va_start(ap, fmt);
	vsnprintf(notify_status_text, sizeof notify_status_text, fmt, ap);
	va_end(ap);
	notify_flatten(notify_status_text);
	notify_status_pending = true;

	since = util_monotonic_ms() - notify_status_last_ms;
	if (base == NULL || !notify_status_sent ||
	    since >= NOTIFY_STATUS_INTERVAL_MS) {
		notify_status_send();
		return;
	}
	if (notify_status_ev == NULL &&
	    (notify_status_ev = evtimer_new(base, notify_status_cb, NULL)) ==
	        NULL)
		fatalx("notify_status: out of memory");
	if (!evtimer_pending(notify_status_ev, NULL)) {
		since = NOTIFY_STATUS_INTERVAL_MS - since;
		tv.tv_sec = (time_t)(since / 1000);
		tv.tv_usec = (suseconds_t)(since % 1000) * 1000;
		evtimer_add(notify_status_ev, &tv);
	}
}

/* RELOADING=1, stamped as Type=notify-reload wants. */
void
notify_reloading(void)
{
	struct timespec ts;

	if (!notify_enabled())
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	        (unsigned long long)ts.tv_nsec / 1000);
}

/* STOPPING=1 with any waiting status; the status timer is freed. */
void
notify_stopping(void)
{
	if (notify_enabled() && notify_status_pending)
		(void)sd_notifyf(0, "STOPPING=1\nSTATUS=%s",
		    notify_status_text);
	else if (notify_enabled())
		(void)sd_notify(0, "STOPPING=1");
	notify_status_cancel();
	if (notify_status_ev != NULL) {
		event_free(notify_status_ev);
		notify_status_ev = NULL;
	}
}

/* Tell systemd the loop still turns. */
static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)sd_notify(0, "WATCHDOG=1");
}

/* Ping the watchdog at half its interval if the unit asked for one. */
void
notify_watchdog_start(struct event_base *base)
{
	uint64_t usec;
	struct timeval tv;
	int rc;

	if (!notify_enabled() || notify_watchdog_ev != NULL)
		return;
	if ((rc = sd_watchdog_enabled(0, &usec)) < 0) {
		log_warnx("WATCHDOG_USEC: %s", strerror(-rc));
		return;
	}
	if (rc == 0 || usec == 0)
		return;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	if ((notify_watchdog_ev = event_new(base, -1, EV_PERSIST,
	         notify_watchdog_cb, NULL)) == NULL)
		fatalx("notify_watchdog_start: out of memory");
	event_add(notify_watchdog_ev, &tv);
	log_info("watchdog: pinging every %llu ms",
	    (unsigned long long)(usec / 1000));
}

/* No more watchdog pings. */
void
notify_watchdog_stop(void)
{
	if (notify_watchdog_ev != NULL) {
		event_free(notify_watchdog_ev);
		notify_watchdog_ev = NULL;
	}
}
