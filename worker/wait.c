#include <pthread.h>
#include <time.h>

#include "extern.h"

/*
 * Waiting.  Every thread sleeps on the worker's condition variable, so
 * a signal's broadcast (drain, abort) or a nudge cuts any nap short;
 * every retry doubles its wait up to a cap.
 */

/* 1 if aborting or, unless abort_only, draining. */
int
worker_stopping(struct worker *w, int abort_only)
{
	return atomic_load(&w->aborting) ||
	    (!abort_only && atomic_load(&w->draining));
}

/* ms from now on the condition variable's clock. */
void
worker_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Sleep ms, waking early when draining (or, if abort_only, aborting). */
void
worker_nap(struct worker *w, int64_t ms, int abort_only)
{
	struct timespec	 ts;

	worker_deadline(&ts, ms);
	pthread_mutex_lock(&w->mu);
	while (!worker_stopping(w, abort_only) &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&w->mu);
}

/*
 * The claim backoff: sleep ms, or less if a nudge comes (or one came
 * since the last claim was sent) or the worker drains.  1 if nudged.
 */
int
worker_nap_claim(struct worker *w, int64_t ms)
{
	struct timespec	 ts;
	int		 nudged;

	worker_deadline(&ts, ms);
	pthread_mutex_lock(&w->mu);
	while (!worker_stopping(w, 0) && !w->nudged &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	nudged = w->nudged;
	pthread_mutex_unlock(&w->mu);
	return nudged;
}

/* The wait after ms: twice as long, at most max. */
int64_t
backoff_next(int64_t ms, int64_t max)
{
	return ms > max / 2 ? max : ms * 2;
}
