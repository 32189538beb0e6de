/*
 * notify.h: the systemd notify protocol.  Only notify.c calls sd_notify.
 * Every function does nothing when NOTIFY_SOCKET is not set.
 */
#ifndef CRISISD_NOTIFY_H
#define CRISISD_NOTIFY_H

#include <event2/event.h>

/* READY=1 with a STATUS= line. */
void notify_ready(const char *status);
/* STATUS=...; rate-limited to one a second, the last one always sent. */
void notify_status(struct event_base *base, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* RELOADING=1 (a READY=1 follows when the reload is done). */
void notify_reloading(void);
/* STOPPING=1. */
void notify_stopping(void);

/*
 * If the unit set WatchdogSec= (WATCHDOG_USEC for this pid), send WATCHDOG=1
 * from the event loop at half that interval, so a stuck loop is noticed.
 */
void notify_watchdog_start(struct event_base *base);
void notify_watchdog_stop(void);

#endif
