/*
 * worker.c: a small pool of threads for slow jobs, and the way back.
 *
 * Jobs wait on one list; a thread takes the oldest, runs it without any
 * lock held, and moves it to the finished list, then writes a byte to a
 * pipe whose read end the loop watches.  The loop empties the finished
 * list and calls each job's done().  run() must touch nothing the loop
 * touches (it gets its own copies and its own database connection); done()
 * is where results meet the daemon's state.
 */
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "worker.h"

struct worker_job {
	void (*run)(void *);
	void (*done)(void *, bool);
	void *arg;
	bool ran;
	STAILQ_ENTRY(worker_job) entry;
};
STAILQ_HEAD(worker_jobs, worker_job);

struct worker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct worker_jobs todo;
	struct worker_jobs finished;
	size_t queued; /* on todo, or being run */
	bool stopping;
	pthread_t *threads;
	size_t nthreads;
	int wake[2]; /* a thread writes, the loop reads */
	struct event *wake_ev;
};

/* Take the next job, or NULL when stopping; called with the lock held. */
static struct worker_job *
worker_next(struct worker *w)
{
	struct worker_job *j;

	while (!w->stopping && STAILQ_EMPTY(&w->todo))
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->stopping)
		return NULL;
	j = STAILQ_FIRST(&w->todo);
	STAILQ_REMOVE_HEAD(&w->todo, entry);
	return j;
}

/* Tell the loop there is a finished job (a full pipe is awake anyway). */
static void
worker_wake(struct worker *w)
{
	char b = 1;

	while (write(w->wake[1], &b, 1) == -1 && errno == EINTR)
		;
}

/* A thread: run jobs until told to stop. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_job *j;

	pthread_mutex_lock(&w->mu);
	while ((j = worker_next(w)) != NULL) {
		pthread_mutex_unlock(&w->mu);
		j->run(j->arg);
		j->ran = true;
		pthread_mutex_lock(&w->mu);
		STAILQ_INSERT_TAIL(&w->finished, j, entry);
		worker_wake(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Hand finished jobs to their done(), outside the lock. */
static void
worker_finish(struct worker *w)
{
	struct worker_jobs list = STAILQ_HEAD_INITIALIZER(list);
	struct worker_job *j;

	pthread_mutex_lock(&w->mu);
	STAILQ_CONCAT(&list, &w->finished);
	pthread_mutex_unlock(&w->mu);
	while ((j = STAILQ_FIRST(&list)) != NULL) {
		STAILQ_REMOVE_HEAD(&list, entry);
		pthread_mutex_lock(&w->mu);
		w->queued--;
		pthread_mutex_unlock(&w->mu);
		j->done(j->arg, j->ran);
		free(j);
	}
}

/* The loop: a thread finished something. */
static void
worker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	worker_finish(arg);
}

struct worker *
worker_new(struct event_base *base, size_t nthreads)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	STAILQ_INIT(&w->todo);
	STAILQ_INIT(&w->finished);
	if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("worker: pipe");
	w->wake_ev = event_new(base, w->wake[0], EV_READ | EV_PERSIST,
	    worker_wake_cb, w);
	if (w->wake_ev == NULL || event_add(w->wake_ev, NULL) == -1)
		fatalx("worker: event_new");
	w->threads = xcalloc(nthreads, sizeof(*w->threads));
	for (; w->nthreads < nthreads; w->nthreads++) {
		if (pthread_create(&w->threads[w->nthreads], NULL, worker_main,
		        w) != 0)
			fatalx("worker: pthread_create");
	}
	return w;
}

int
worker_submit(struct worker *w, void (*run)(void *), void (*done)(void *, bool),
    void *arg)
{
	struct worker_job *j;

	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->queued >= WORKER_QUEUE_MAX) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->run = run;
	j->done = done;
	j->arg = arg;
	STAILQ_INSERT_TAIL(&w->todo, j, entry);
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* Nothing runs now: the unstarted jobs are finished unrun. */
	STAILQ_CONCAT(&w->finished, &w->todo);
	worker_finish(w);
	event_free(w->wake_ev);
	close(w->wake[0]);
	close(w->wake[1]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
}
