#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * broadway-worker: main() and the threads.
 *
 *   main        signals (sigwait): 1st SIGTERM/SIGINT drains, 2nd aborts
 *   dispatcher  claims a job whenever a slot is free, backs off on 204
 *   slot x N    runs a job, spools its result, sends it until answered
 *   heartbeat   keeps the leases alive; re-registers if forgotten
 *   nudge       holds the `work` event stream; each event cuts the
 *               dispatcher's backoff nap short (polling stays the fallback)
 *
 * Order at start: lock the work dir, remove what a killed incarnation
 * left (containers by label, job directories), send spooled results,
 * and only then register (registering requeues the id's old jobs).
 */

#define RETRY_MIN_MS	1000
#define RETRY_MAX_MS	30000
/* While the nudge stream is up a queued job wakes the dispatcher at
 * once, so idle polling only covers a lost event: it may back off to
 * this (or the API's poll_max_ms, if larger). */
#define NUDGE_POLL_MAX_MS	10000

struct worker {
	struct wconf	 conf;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct api_reg	 reg;
	json_t		*queue[WORKER_SLOTS_MAX];
	size_t		 qlen;
	int		 busy;		/* claimed, not yet answered */
	json_t		*running;	/* their job ids, sent with each claim */
	/* Set by the main thread (with mu held, to pair with the broadcast),
	 * read anywhere without it: a slot thread looks at `aborting`
	 * between polls of a running stage. */
	atomic_int	 draining;	/* 1st signal: claim no more */
	atomic_int	 aborting;	/* 2nd signal: stop running stages */
	int		 dispatcher_done;
	int		 slots_left;	/* slot threads still running */
	int		 stop_heartbeat;
	int		 nudged;	/* a `work` event since the last claim */
	int		 nudge_up;	/* the nudge stream is delivering */
	int64_t		 jobs_done;
};

static void
usage(void)
{
	fprintf(stderr, "usage: broadway-worker [-dnP] [-f config] [-u api_url]"
	    " [-c ca_file] [-t token_file]\n"
	    "\t[-i worker_id] [-s slots] [-p podman] [-C containers.conf]"
	    " [-S storage.conf]\n"
	    "\t[-w work_dir] [-l log_cap] [-o key=value] [-R job.json]\n");
	exit(2);
}

/* 1 if aborting or, unless abort_only, draining. */
static int
stopping(struct worker *w, int abort_only)
{
	return atomic_load(&w->aborting) ||
	    (!abort_only && atomic_load(&w->draining));
}

/* ms from now on the condition variable's clock. */
static void
deadline(struct timespec *ts, int64_t ms)
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
static void
nap(struct worker *w, int64_t ms, int abort_only)
{
	struct timespec	 ts;

	deadline(&ts, ms);
	pthread_mutex_lock(&w->mu);
	while (!stopping(w, abort_only) &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&w->mu);
}

/*
 * The claim backoff: sleep ms, or less if a nudge comes (or one came
 * since the last claim was sent) or the worker drains.  1 if nudged.
 */
static int
nap_claim(struct worker *w, int64_t ms)
{
	struct timespec	 ts;
	int		 nudged;

	deadline(&ts, ms);
	pthread_mutex_lock(&w->mu);
	while (!stopping(w, 0) && !w->nudged &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	nudged = w->nudged;
	pthread_mutex_unlock(&w->mu);
	return nudged;
}

static void
rename_rejected(const char *path)
{
	char	 bad[PATH_MAX];

	if (snprintf(bad, sizeof(bad), "%s.rejected", path) < (int)sizeof(bad) &&
	    rename(path, bad) == 0)
		log_warnx("kept the refused result as %s", bad);
	else
		spool_remove(path);
}

/* The same result with the logs replaced by a note, for a 400/413. */
static char *
degrade(const char *body, const char *why)
{
	json_t	*r;
	char	 note[400], err[64], *s = NULL;

	if ((r = jsonx_parse_object(body, strlen(body), err, sizeof(err))) == NULL)
		return NULL;
	snprintf(note, sizeof(note), "[broadway-worker] the API refused this"
	    " result (%s); its logs were dropped\n", why);
	if (json_object_set_new(r, "logs", json_pack("{s:s, s:s}", "stdout",
	    "", "stderr", note)) == 0)
		s = jsonx_dump(r);
	json_decref(r);
	return s;
}

/*
 * Send a spooled result until the API answers.  Returns when it was
 * accepted or refused (the spool file is then removed), or on abort
 * (the file stays for the next start).  `wait_abort_only`: during a
 * drain keep trying; only an abort gives up.
 */
static void
send_result(struct worker *w, struct api *a, const char *path, const char *body, size_t len,
    const char *job_id)
{
	int64_t		 backoff = RETRY_MIN_MS;
	char		*alt = NULL;
	enum api_rc	 rc;
	int		 tries = 0;

	for (;;) {
		rc = api_result(a, alt ? alt : body, alt ? strlen(alt) : len);
		switch (rc) {
		case API_OK:
			log_info("job=%s result accepted", job_id);
			spool_remove(path);
			goto out;
		case API_REFUSED:
		case API_UNKNOWN_WORKER:
			log_warnx("job=%s result refused (%s): the lease was"
			    " lost; dropping it", job_id, api_error(a));
			spool_remove(path);
			goto out;
		case API_BAD:
			if (alt == NULL && (alt = degrade(body,
			    api_error(a))) != NULL) {
				log_warnx("job=%s result refused (%s): sending"
				    " it without logs", job_id, api_error(a));
				continue;
			}
			log_warnx("job=%s result refused (%s)", job_id,
			    api_error(a));
			rename_rejected(path);
			goto out;
		default:
			break;
		}
		if (tries++ % 10 == 0)
			log_warnx("job=%s cannot send the result (%s): retrying",
			    job_id, api_error(a));
		if (stopping(w, 1))
			goto out;
		nap(w, backoff, 1);
		if (stopping(w, 1)) {
			log_warnx("job=%s result left in %s", job_id, path);
			goto out;
		}
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
out:
	free(alt);
}

/* Called with w->mu held. */
static void
running_remove(struct worker *w, const char *job_id)
{
	json_t	*v;
	size_t	 i;

	if (job_id == NULL)
		return;
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

static void *
slot_main(void *arg)
{
	struct worker	*w = arg;
	struct api	*a;
	json_t		*job, *res;
	char		*body, path[PATH_MAX];
	const char	*job_id;
	int		 aborted;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->qlen == 0 && !stopping(w, 1) &&
		    !(atomic_load(&w->draining) && w->dispatcher_done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->qlen == 0 || stopping(w, 1)) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		job = w->queue[0];
		memmove(&w->queue[0], &w->queue[1], --w->qlen * sizeof(w->queue[0]));
		pthread_mutex_unlock(&w->mu);

		job_id = json_string_value(json_object_get(job,
		    "grading_job_id"));
		log_info("job=%s attempt %lld started", job_id ? job_id : "?",
		    (long long)json_integer_value(json_object_get(job,
		    "attempt")));
		res = job_run(&w->conf, job, &w->aborting, &aborted);
		body = res ? jsonx_dump(res) : NULL;
		if (aborted)
			log_warnx("job=%s abandoned: the worker is shutting"
			    " down", job_id);
		else if (body == NULL)
			log_warnx("job=%s cannot be run or reported (bad id or"
			    " out of memory)", job_id ? job_id : "?");
		else if (spool_write(&w->conf, job_id, json_integer_value(
		    json_object_get(job, "attempt")), body, path,
		    sizeof(path)) == -1)
			log_warnx("job=%s could not spool the result; sending"
			    " it anyway", job_id);
		if (body != NULL) {
			log_info("job=%s finished: %s", job_id,
			    json_is_true(json_object_get(res, "success")) ?
			    "success" : "failure");
			send_result(w, a, path, body, strlen(body), job_id);
		}
		free(body);
		json_decref(res);
		pthread_mutex_lock(&w->mu);
		running_remove(w, job_id);
		w->busy--;
		w->jobs_done++;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		json_decref(job);
	}
	pthread_mutex_lock(&w->mu);
	w->slots_left--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	api_close(a);
	return NULL;
}

static void
reregister(struct worker *w, struct api *a)
{
	struct api_reg	 reg;

	log_warnx("the API does not know this worker: registering again"
	    " (its running jobs' leases are gone)");
	if (api_register(a, &reg) == API_OK) {
		pthread_mutex_lock(&w->mu);
		w->reg = reg;
		pthread_mutex_unlock(&w->mu);
	} else
		log_warnx("register failed: %s", api_error(a));
}

static void *
dispatcher_main(void *arg)
{
	struct worker	*w = arg;
	struct api	*a;
	json_t		*job;
	char		*body;
	int64_t		 poll_ms = 0, poll_min, poll_max, err_ms = RETRY_MIN_MS;
	enum api_rc	 rc;
	int		 errors = 0;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->busy >= w->conf.slots && !stopping(w, 0))
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
		if (stopping(w, 0)) {
			free(body);
			break;
		}
		if (poll_ms < poll_min)
			poll_ms = poll_min;
		rc = api_claim(a, body ? body : "{}", &job);
		free(body);
		if (rc == API_OK) {
			if (!json_is_string(json_object_get(job,
			    "grading_job_id"))) {
				log_warnx("claim answered without a job id");
				json_decref(job);
				nap(w, err_ms, 0);
				continue;
			}
			pthread_mutex_lock(&w->mu);
			w->queue[w->qlen++] = job;	/* busy < slots: room */
			json_array_append(w->running, json_object_get(job,
			    "grading_job_id"));
			w->busy++;
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->mu);
			poll_ms = 0;	/* back to poll_min */
			err_ms = RETRY_MIN_MS;
			errors = 0;
			continue;
		}
		if (rc == API_NONE) {
			/* Woken by a nudge: claim now, same backoff (all
			 * idle workers were told; one of them gets it). */
			if (!nap_claim(w, poll_ms))
				poll_ms = poll_ms * 2 > poll_max ? poll_max :
				    poll_ms * 2;
			if (poll_ms > poll_max)
				poll_ms = poll_max;
			err_ms = RETRY_MIN_MS;
			errors = 0;
			continue;
		}
		if (rc == API_UNKNOWN_WORKER)
			reregister(w, a);
		else if (errors++ % 10 == 0)
			log_warnx("claim failed: %s", api_error(a));
		nap(w, err_ms, 0);
		err_ms = err_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : err_ms * 2;
	}
	pthread_mutex_lock(&w->mu);
	w->dispatcher_done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	api_close(a);
	return NULL;
}

static void
nudge_work(void *arg)
{
	struct worker	*w = arg;

	pthread_mutex_lock(&w->mu);
	if (!w->nudge_up) {
		w->nudge_up = 1;
		log_info("nudge stream up: queued jobs wake the dispatcher");
	}
	w->nudged = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int
nudge_stop(void *arg)
{
	struct worker	*w = arg;
	int		 v;

	pthread_mutex_lock(&w->mu);
	v = stopping(w, 0) || w->stop_heartbeat;
	pthread_mutex_unlock(&w->mu);
	return v;
}

/*
 * Hold the nudge stream, reconnecting with backoff.  The dispatcher
 * polls whatever happens here; losing the stream only takes it back to
 * the API's poll_max_ms (and wakes it once, as its nap may be long).
 */
static void *
nudge_main(void *arg)
{
	struct worker	*w = arg;
	struct nudge_cb	 cb = { nudge_work, nudge_stop, w };
	char		 err[256];
	int64_t		 backoff = RETRY_MIN_MS;
	int		 up, fails = 0;

	log_set_request(w->conf.worker_id);
	while (!nudge_stop(w)) {
		up = nudge_stream(&w->conf, &cb, err, sizeof(err));
		pthread_mutex_lock(&w->mu);
		if (w->nudge_up) {
			w->nudge_up = 0;
			w->nudged = 1;
			pthread_cond_broadcast(&w->cv);
		}
		pthread_mutex_unlock(&w->mu);
		if (nudge_stop(w))
			break;
		if (up) {
			log_warnx("nudge stream lost (%s): polling until it is"
			    " back", err);
			backoff = RETRY_MIN_MS;
			fails = 0;
		} else if (fails++ % 10 == 0)
			log_warnx("nudge stream unavailable (%s): polling",
			    err);
		nap(w, backoff, 0);
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
	return NULL;
}

static void *
heartbeat_main(void *arg)
{
	struct worker	*w = arg;
	struct timespec	 ts;
	struct api	*a;
	enum api_rc	 rc;
	int64_t		 ms;
	int		 errors = 0;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (;;) {
		pthread_mutex_lock(&w->mu);
		ms = w->reg.heartbeat * 1000;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		while (!w->stop_heartbeat && !stopping(w, 1) &&
		    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
			;
		if (w->stop_heartbeat || stopping(w, 1)) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		pthread_mutex_unlock(&w->mu);
		rc = api_heartbeat(a);
		if (rc == API_UNKNOWN_WORKER)
			reregister(w, a);
		else if (rc != API_OK) {
			if (errors++ % 10 == 0)
				log_warnx("heartbeat failed: %s", api_error(a));
		} else {
			if (errors > 0)
				log_info("heartbeat: the API answers again");
			errors = 0;
		}
	}
	api_close(a);
	return NULL;
}

/* Wait ms for one of the blocked signals; 1 if one came. */
static int
signal_wait(const sigset_t *set, int64_t ms, int *sig)
{
	struct timespec	 ts;
	int		 s;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	s = sigtimedwait(set, NULL, &ts);
	if (s > 0) {
		*sig = s;
		return 1;
	}
	return 0;
}

static void
flush_spool(struct worker *w, const sigset_t *set)
{
	struct api	*a;
	char		**paths = NULL, *body;
	size_t		  n = 0, i, len;
	int64_t		  backoff;
	enum api_rc	  rc;
	int		  sig;

	if (spool_list(&w->conf, &paths, &n) == -1 || n == 0)
		goto out;
	log_info("sending %zu spooled result(s) before registering", n);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	for (i = 0; i < n; i++) {
		if ((body = spool_read(paths[i], &len)) == NULL) {
			rename_rejected(paths[i]);
			continue;
		}
		backoff = RETRY_MIN_MS;
		for (;;) {
			rc = api_result(a, body, len);
			if (rc == API_OK || rc == API_REFUSED) {
				log_info("spooled %s: %s", paths[i], rc == API_OK ?
				    "accepted" : "refused (lease gone), dropped");
				spool_remove(paths[i]);
				break;
			}
			if (rc == API_BAD) {
				log_warnx("spooled %s refused: %s", paths[i],
				    api_error(a));
				rename_rejected(paths[i]);
				break;
			}
			log_warnx("cannot send spooled %s: %s", paths[i],
			    api_error(a));
			if (signal_wait(set, backoff, &sig)) {
				log_info("signal %d: exiting; results stay"
				    " spooled", sig);
				exit(0);
			}
			backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
			    backoff * 2;
		}
		free(body);
	}
	api_close(a);
out:
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static void
register_first(struct worker *w, const sigset_t *set)
{
	struct api	*a;
	int64_t		 backoff = RETRY_MIN_MS;
	int		 sig;
	enum api_rc	 rc;

	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	while ((rc = api_register(a, &w->reg)) != API_OK) {
		log_warnx("register failed: %s", api_error(a));
		if (rc == API_BAD)
			fatalx("the API refuses this worker's registration");
		if (signal_wait(set, backoff, &sig)) {
			log_info("signal %d before registering: exiting", sig);
			exit(0);
		}
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
	log_info("registered as %s (%s, %d slots); heartbeat %lld s, poll"
	    " %lld..%lld ms", w->conf.worker_id, w->conf.hostname, w->conf.slots,
	    (long long)w->reg.heartbeat, (long long)w->reg.poll_min_ms,
	    (long long)w->reg.poll_max_ms);
	api_close(a);
}

static int
lock_work_dir(const struct wconf *c)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/lock", c->work_dir) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("%s is in use by another broadway-worker: each worker"
		    " needs its own work_dir", c->work_dir);
		close(fd);
		return -1;
	}
	return fd;	/* kept open for the life of the process */
}

static int
job_dirs_init(const struct wconf *c)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/jobs", c->work_dir) >=
	    (int)sizeof(path) || (mkdir(path, 0700) == -1 && errno != EEXIST))
		return -1;
	return 0;
}

/* -R: run one job file here, print the result; no API involved. */
static int
run_local(struct wconf *c, const char *file)
{
	static atomic_int never;	/* a signal just ends the process */
	json_t		*job, *res;
	char		 err[200], *s;
	size_t		 len;
	int		 aborted;

	if ((s = spool_read(file, &len)) == NULL)
		return 1;
	job = jsonx_parse_object(s, len, err, sizeof(err));
	free(s);
	if (job == NULL) {
		log_warnx("%s: %s", file, err);
		return 1;
	}
	if (json_object_get(job, "grading_job_id") == NULL)
		json_object_set_new(job, "grading_job_id", json_string("local"));
	if (json_object_get(job, "attempt") == NULL)
		json_object_set_new(job, "attempt", json_integer(1));
	if (spool_init(c) == -1 || job_dirs_init(c) == -1)
		return 1;
	res = job_run(c, job, &never, &aborted);
	json_decref(job);
	if (res == NULL || (s = json_dumps(res, JSON_INDENT(1) |
	    JSON_SORT_KEYS)) == NULL) {
		log_warnx("the job could not be run");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	json_decref(res);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct { int ch; const char *key; } flagkeys[] = {
		{ 'u', "api_url" }, { 'c', "ca_file" }, { 't', "token_file" },
		{ 'i', "worker_id" }, { 's', "slots" }, { 'p', "podman" },
		{ 'C', "containers_conf" }, { 'S', "storage_conf" },
		{ 'w', "work_dir" }, { 'l', "log_cap" }, { 0, NULL }
	};
	/* Static: the threads use it until exit, also after an abort. */
	static struct worker W;
	struct worker	*w = &W;
	struct { const char *key; char *val; } flags[64];
	pthread_t	 hb, disp, nudge, slot[WORKER_SLOTS_MAX];
	pthread_condattr_t ca;
	sigset_t	 set;
	const char	*conffile = NULL, *local = NULL;
	char		 err[512], *eq;
	size_t		 nflags = 0, i;
	int		 ch, sig, j;

	log_init("broadway-worker");
	conf_defaults(&w->conf);
	while ((ch = getopt(argc, argv, "dnPf:u:c:t:i:s:p:C:S:w:l:o:R:")) != -1) {
		if (nflags >= sizeof(flags) / sizeof(flags[0]))
			usage();
		switch (ch) {
		case 'd':
			w->conf.foreground = 1;
			continue;
		case 'n':
			flags[nflags].key = "allow_network";
			flags[nflags++].val = (char *)"yes";
			continue;
		case 'P':
			flags[nflags].key = "allow_privileged";
			flags[nflags++].val = (char *)"yes";
			continue;
		case 'f':
			conffile = optarg;
			continue;
		case 'R':
			local = optarg;
			continue;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL)
				usage();
			*eq = '\0';
			flags[nflags].key = optarg;
			flags[nflags++].val = eq + 1;
			continue;
		default:
			break;
		}
		for (i = 0; flagkeys[i].key != NULL; i++)
			if (flagkeys[i].ch == ch)
				break;
		if (flagkeys[i].key == NULL)
			usage();
		flags[nflags].key = flagkeys[i].key;
		flags[nflags++].val = optarg;
	}
	if (optind != argc)
		usage();
	if (conffile != NULL && conf_load(&w->conf, conffile, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	for (i = 0; i < nflags; i++)
		if (conf_set(&w->conf, flags[i].key, flags[i].val, err,
		    sizeof(err)) == -1)
			fatalx("%s", err);
	if (local != NULL && w->conf.worker_id[0] == '\0')
		copy_str(w->conf.worker_id, sizeof(w->conf.worker_id), "local");
	if (conf_finish(&w->conf, local == NULL, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_set_request(w->conf.worker_id);
	signal(SIGPIPE, SIG_IGN);
	if (local != NULL)
		return run_local(&w->conf, local);

	if (!w->conf.foreground && daemon(1, 1) == -1)
		fatal("daemon");
	/* Threads inherit the mask: only sigwait here sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");
	if (spool_init(&w->conf) == -1 || lock_work_dir(&w->conf) == -1)
		exit(1);
	if (api_global_init() == -1)
		fatalx("curl_global_init failed");
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&w->cv, &ca) != 0 ||
	    pthread_mutex_init(&w->mu, NULL) != 0)
		fatalx("pthread init");
	if ((w->running = json_array()) == NULL)
		fatalx("out of memory");

	log_info("starting: api %s, %d slots, work_dir %s, network %s,"
	    " privileged %s", w->conf.api_url, w->conf.slots, w->conf.work_dir,
	    w->conf.allow_network ? w->conf.network_mode : "never",
	    w->conf.allow_privileged ? "allowed" : "refused");
	if ((j = podman_cleanup_worker(&w->conf)) > 0)
		log_info("removed %d leftover container(s)", j);
	if (job_dirs_clean(&w->conf) == -1)
		fatalx("cannot clean %s/jobs", w->conf.work_dir);
	flush_spool(w, &set);
	register_first(w, &set);

	w->slots_left = w->conf.slots;
	if (pthread_create(&hb, NULL, heartbeat_main, w) != 0 ||
	    pthread_create(&disp, NULL, dispatcher_main, w) != 0 ||
	    (w->conf.nudge && pthread_create(&nudge, NULL, nudge_main,
	    w) != 0))
		fatalx("pthread_create");
	for (j = 0; j < w->conf.slots; j++)
		if (pthread_create(&slot[j], NULL, slot_main, w) != 0)
			fatalx("pthread_create");

	for (;;) {
		pthread_mutex_lock(&w->mu);
		j = w->slots_left == 0 && w->dispatcher_done;
		pthread_mutex_unlock(&w->mu);
		if (j)
			break;
		if (!signal_wait(&set, 250, &sig))
			continue;
		if (sig == SIGHUP)
			continue;
		pthread_mutex_lock(&w->mu);
		if (!atomic_load(&w->draining)) {
			atomic_store(&w->draining, 1);
			log_info("signal %d: draining (%d job(s) running; send"
			    " it again to stop them now)", sig, w->busy);
		} else if (!atomic_load(&w->aborting)) {
			atomic_store(&w->aborting, 1);
			log_info("signal %d: stopping running jobs now", sig);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		if (atomic_load(&w->aborting))
			break;
	}
	if (atomic_load(&w->aborting)) {
		/* The slot threads remove their containers; wait for them.
		 * The others may be inside a request: not waited for. */
		for (j = 0; j < w->conf.slots; j++)
			pthread_join(slot[j], NULL);
		pthread_detach(hb);
		pthread_detach(disp);
		if (w->conf.nudge)
			pthread_detach(nudge);
		(void)job_dirs_clean(&w->conf);
		log_info("stopped; unanswered results stay in %s/spool",
		    w->conf.work_dir);
		exit(1);
	}
	pthread_mutex_lock(&w->mu);
	w->stop_heartbeat = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(hb, NULL);
	pthread_join(disp, NULL);
	if (w->conf.nudge)
		pthread_join(nudge, NULL);
	for (j = 0; j < w->conf.slots; j++)
		pthread_join(slot[j], NULL);
	log_info("drained: %lld job(s) done; exiting", (long long)w->jobs_done);
	api_global_cleanup();
	return 0;
}
