/*
 * worker.h: slow work off the event loop.  A job's run() goes on a worker
 * thread (hashing a password, a review query over a year of contacts);
 * its done() then runs on the loop, where the answer is sent.  The loop
 * never waits for a job, and the queue is bounded: past it, a submit is
 * refused and the caller answers "overloaded".
 */
#ifndef CRISISD_WORKER_H
#define CRISISD_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct worker;

/* Jobs waiting or running at most; a submit past it is refused. */
#define WORKER_QUEUE_MAX 64

/* nthreads threads whose finished jobs come back on base's loop. */
struct worker *worker_new(struct event_base *base, size_t nthreads);

/*
 * Queue run(arg) for a thread, then done(arg, true) on the loop.  -1 if
 * the queue is full (nothing runs; arg stays the caller's).
 */
int worker_submit(struct worker *w, void (*run)(void *),
    void (*done)(void *, bool), void *arg);

/*
 * Stop: the threads finish the job in hand and are joined; every job's
 * done() still runs, here, with ran false for those never started, so each
 * arg is freed once.
 */
void worker_free(struct worker *w);

#endif
