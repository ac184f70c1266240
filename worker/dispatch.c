#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * Claiming and running.  The dispatcher claims a job whenever a slot
 * is free and backs off while the API has none (a nudge cuts the nap
 * short); it parses each claim answer into a struct job and queues it.
 * Each slot thread takes a job from the queue, runs it, spools its
 * result and sends it until the API answers.
 */

/* While the nudge stream is up a queued job wakes the dispatcher at
 * once, so idle polling only covers a lost event: it may back off to
 * this (or the API's poll_max_ms, if larger). */
#define NUDGE_POLL_MAX_MS	10000

/* Called with w->mu held. */
static void
running_remove(struct worker *w, const char *job_id)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(w->running, i, v)
		if (strcmp(json_string_value(v), job_id) == 0) {
			json_array_remove(w->running, i);
			return;
		}
}

/* The claim body: the jobs this worker runs, so the API can give back a
 * lease whose claim answer never arrived.  Called with w->mu held. */
static char *
claim_body(struct worker *w)
{
	json_t	*b = json_pack("{s:O}", "running", w->running);
	char	*s = b ? jsonx_dump(b) : NULL;

	json_decref(b);
	return s;
}

/* A result waits for the API through a drain; only an abort gives up. */
static int
slot_wait(void *arg, int64_t ms)
{
	struct worker	*w = arg;

	if (worker_stopping(w, 1))
		return 1;
	worker_nap(w, ms, 1);
	return worker_stopping(w, 1);
}

/* Run one job and report it. */
static void
slot_run(struct worker *w, struct api *a, const struct job *job)
{
	struct report_wait	 rw = { slot_wait, w };
	json_t			*res;
	char			*body, path[PATH_MAX], what[ID_MAX + 8];
	const char		*spooled = path;
	int			 aborted;

	snprintf(what, sizeof(what), "job=%s", job->id);
	log_info("%s attempt %lld started", what, (long long)job->attempt);
	res = job_run(&w->conf, job, &w->aborting, &aborted);
	body = res ? jsonx_dump(res) : NULL;
	if (aborted)
		log_warnx("%s abandoned: the worker is shutting down", what);
	else if (body == NULL)
		log_warnx("%s cannot be run or reported (out of memory)", what);
	else if (spool_write(&w->conf, job->id, job->attempt, body, path,
	    sizeof(path)) == -1) {
		log_warnx("%s could not spool the result; sending it anyway",
		    what);
		spooled = NULL;
	}
	if (body != NULL) {
		log_info("%s finished: %s", what, json_is_true(json_object_get(
		    res, "success")) ? "success" : "failure");
		(void)report_send(a, spooled, body, strlen(body), what, &rw);
	}
	free(body);
	json_decref(res);
}

void *
slot_main(void *arg)
{
	struct worker	*w = arg;
	struct api	*a;
	struct job	*job;
	size_t		 i;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->qlen == 0 && !worker_stopping(w, 1) &&
		    !(atomic_load(&w->draining) && w->dispatcher_done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->qlen == 0 || worker_stopping(w, 1)) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		job = w->queue[0];
		for (i = 1; i < w->qlen; i++)
			w->queue[i - 1] = w->queue[i];
		w->qlen--;
		pthread_mutex_unlock(&w->mu);

		slot_run(w, a, job);

		pthread_mutex_lock(&w->mu);
		running_remove(w, job->id);
		w->busy--;
		w->jobs_done++;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		job_free(job);
	}
	pthread_mutex_lock(&w->mu);
	w->slots_left--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	api_close(a);
	return NULL;
}

/* A claimed job: parsed, queued for a slot, listed as running. */
static int
enqueue(struct worker *w, json_t *claim)
{
	struct job	*job;
	char		 err[128];

	if ((job = job_parse(claim, err, sizeof(err))) == NULL) {
		log_warnx("claim answered without a runnable job: %s", err);
		return -1;
	}
	pthread_mutex_lock(&w->mu);
	w->queue[w->qlen++] = job;	/* busy < slots: room */
	json_array_append_new(w->running, json_string(job->id));
	w->busy++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void *
dispatcher_main(void *arg)
{
	struct worker	*w = arg;
	struct api	*a;
	json_t		*claim;
	char		*body;
	int64_t		 poll_ms = 0, poll_min, poll_max, err_ms = RETRY_MIN_MS;
	enum api_rc	 rc;
	int		 errors = 0, queued;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->busy >= w->conf.slots && !worker_stopping(w, 0))
			pthread_cond_wait(&w->cv, &w->mu);
		body = claim_body(w);
		/* A nudge from now on is news to this claim. */
		w->nudged = 0;
		/* reg changes when the heartbeat thread registers again. */
		poll_min = w->reg.poll_min_ms;
		poll_max = w->reg.poll_max_ms;
		if (w->nudge_up && poll_max < NUDGE_POLL_MAX_MS)
			poll_max = NUDGE_POLL_MAX_MS;
		pthread_mutex_unlock(&w->mu);
		if (worker_stopping(w, 0)) {
			free(body);
			break;
		}
		if (poll_ms < poll_min)
			poll_ms = poll_min;
		rc = api_claim(a, body ? body : "{}", &claim);
		free(body);
		if (rc == API_OK) {
			queued = enqueue(w, claim) == 0;
			json_decref(claim);
			if (!queued) {
				worker_nap(w, err_ms, 0);
				continue;
			}
			poll_ms = 0;	/* back to poll_min */
			err_ms = RETRY_MIN_MS;
			errors = 0;
			continue;
		}
		if (rc == API_NONE) {
			/* Woken by a nudge: claim now, same backoff (all
			 * idle workers were told; one of them gets it). */
			if (!worker_nap_claim(w, poll_ms))
				poll_ms = backoff_next(poll_ms, poll_max);
			if (poll_ms > poll_max)
				poll_ms = poll_max;
			err_ms = RETRY_MIN_MS;
			errors = 0;
			continue;
		}
		if (rc == API_UNKNOWN_WORKER)
			worker_reregister(w, a);
		else if (errors++ % 10 == 0)
			log_warnx("claim failed: %s", api_error(a));
		worker_nap(w, err_ms, 0);
		err_ms = backoff_next(err_ms, RETRY_MAX_MS);
	}
	pthread_mutex_lock(&w->mu);
	w->dispatcher_done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	api_close(a);
	return NULL;
}
