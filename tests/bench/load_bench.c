/*
 * Combined-load benchmark (issue 10): everything a busy cluster does,
 * at once, for LOAD_SECONDS:
 *   - LOAD_WORKERS simulated workers (simworker.c, with nudge streams)
 *     claiming and completing no-op jobs of a backlog of LOAD_JOBS in
 *     course A, topped up by a new run whenever it falls to half;
 *   - LOAD_STREAMS job streams on course A's queued jobs, each replaced
 *     when its job ends, and one stream on every job of course B
 *     (load_streams.c);
 *   - LOAD_POLLERS threads polling run status and queue positions;
 *   - course B uploading a config and starting a run of
 *     LOAD_RUN_STUDENTS students (and a post-processing job) every second.
 * Before that the same workers drain LOAD_FLOOR_JOBS jobs alone: the
 * floor the throughput under load is compared with.  After it the
 * queues are drained and every run's status read back.
 *
 *   load_bench URL CA CLUSTER A A_ADMIN A_QUERY B B_ADMIN B_QUERY
 *
 * Prints "load.* value" lines; failures (non-2xx answers by request and
 * code, socket errors, jobs ended twice or never, streams that missed
 * an event) are counted, never asserted on time.  Exit status 1 if any.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "load.h"
#include "util.h"

#define MAX_RUNS	4096
#define POLL_BEHIND	500	/* position polls: this far behind the head */

struct run {
	char	 id[25];
	int	 course;
};

static const char	*course[3], *admin[3], *query[3];
static int		 nworkers, njobs, nstreams, npollers, poll_ms,
			 run_students, floor_jobs, seconds, drain_s;
static struct run	 runs[MAX_RUNS];
static int		 nruns, nruns_b;
static pthread_mutex_t	 runs_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int	 load_stop, registered;
static long long	 not_ended, failed_jobs, unfinished_runs;

static void
on_request(int kind, long code, int rc, long long us, const char *path,
    const char *answer)
{
	ls_add(kind, code, rc, us, path, answer);
	if (kind == LK_REGISTER && code == 200)
		registered++;
}

static void
on_claimed(int worker, const char *job, long long attempt)
{
	(void)worker; (void)attempt;
	lj_claimed(job);
}

static void
on_resulted(int worker, const char *job, long code, long long sent_us)
{
	(void)worker; (void)sent_us;
	lj_resulted(job, code);
}

/* One request of the bench's own, counted under kind. */
static long
lreq(CURL *c, int kind, const char *method, const char *path,
    const char *token, const char *body, struct buf *out)
{
	long long	 t0 = mono_us();
	long		 code;
	int		 rc;

	code = sw_http(c, method, path, token, body, out, &rc);
	ls_add(kind, code, rc, mono_us() - t0, path, out->data);
	return code;
}

static void
put_config(CURL *c, int k, const char *assignment, const char *cfg,
    struct buf *out)
{
	char	 path[256];

	snprintf(path, sizeof(path), "/grading_config/%s/%s", course[k],
	    assignment);
	if (lreq(c, LK_CONFIG, "POST", path, admin[k], cfg, out) != 200 &&
	    load_phase == PH_SETUP) {
		fprintf(stderr, "load: config upload failed\n");
		exit(1);
	}
}

static json_t *
get_status(CURL *c, int k, const char *run, const char *token,
    struct buf *out)
{
	char	 path[256];

	snprintf(path, sizeof(path), "/grading_run_status/%s/%s", course[k], run);
	if (lreq(c, LK_STATUS, "GET", path, token, NULL, out) != 200)
		return NULL;
	return json_loads(out->data, JSON_DECODE_ANY, NULL);
}

/* POST grading_run; the run's student jobs go to the job table, course
 * A's to the stream pool (in queue order), course B's get a stream.
 * 0, or -1 if the run did not start. */
static int
start_run(CURL *c, int k, const char *assignment, int students,
    struct buf *out)
{
	struct buf	 body;
	char		 path[256], rid[25];
	const char	*key;
	json_t		*j, *v;
	int		 i, rc = -1;

	buf_init(&body, 64 << 20);
	buf_puts(&body, "{\"students_env\":[");
	for (i = 0; i < students; i++)
		buf_printf(&body, "%s{\"STUDENT_ID\":\"s%d\"}", i ? "," : "", i);
	buf_puts(&body, "]}");
	snprintf(path, sizeof(path), "/grading_run/%s/%s", course[k], assignment);
	if (lreq(c, LK_RUN, "POST", path, admin[k], body.data, out) != 200)
		goto out;
	j = json_loads(out->data, 0, NULL);
	snprintf(rid, sizeof(rid), "%s", json_string_value(json_object_get(
	    json_object_get(j, "data"), "grading_run_id")) ?: "");
	json_decref(j);
	pthread_mutex_lock(&runs_mu);
	if (nruns < MAX_RUNS) {
		snprintf(runs[nruns].id, sizeof(runs[0].id), "%s", rid);
		runs[nruns++].course = k;
		if (k == COURSE_B && strcmp(assignment, "floor") != 0)
			nruns_b++;
	}
	pthread_mutex_unlock(&runs_mu);
	if ((j = get_status(c, k, rid, admin[k], out)) == NULL)
		goto out;
	/* jansson keeps the answer's order: the jobs' id order. */
	json_object_foreach(json_object_get(json_object_get(j, "data"),
	    "student_jobs"), key, v) {
		lj_add(key, k);
		if (k == COURSE_A)
			pool_add(key);
		else if (strcmp(assignment, "floor") != 0)
			streams_watch(key, k);
	}
	json_decref(j);
	rc = 0;
out:
	buf_free(&body);
	return rc;
}

/* Course B: a config and a run every second, on a fixed beat. */
static void *
course_main(void *arg)
{
	char		 cfg[512], asg[32];
	struct buf	 out;
	long long	 beat = mono_us();
	CURL		*c = sw_handle();
	int		 k;

	(void)arg;
	buf_init(&out, 64 << 20);
	for (k = 0; !load_stop; k++) {
		snprintf(asg, sizeof(asg), "hw%d", k % 5);
		snprintf(cfg, sizeof(cfg), "{\"student_pipeline\":[{\"image\":"
		    "\"localhost/none:1\",\"env\":{\"ROUND\":\"%d\"}}],"
		    "\"post_processing_pipeline\":[{\"image\":"
		    "\"localhost/none:1\"}]}", k);
		put_config(c, COURSE_B, asg, cfg, &out);
		start_run(c, COURSE_B, asg, run_students, &out);
		beat += 1000000;
		while (!load_stop && mono_us() < beat)
			usleep(10000);
	}
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

static long long
queue_length(CURL *c, int k, struct buf *out)
{
	char	 path[256];
	json_t	*j;
	long long n = -1;

	snprintf(path, sizeof(path), "/queue/%s/length", course[k]);
	if (lreq(c, LK_LENGTH, "GET", path, admin[k], NULL, out) != 200)
		return -1;
	if ((j = json_loads(out->data, 0, NULL)) != NULL)
		n = json_integer_value(json_object_get(json_object_get(j,
		    "data"), "length"));
	json_decref(j);
	return n;
}

/* Course A: keep LOAD_JOBS/2 .. LOAD_JOBS jobs queued. */
static void *
backlog_main(void *arg)
{
	struct buf	 out;
	CURL		*c = sw_handle();
	long long	 n;

	(void)arg;
	buf_init(&out, 64 << 20);
	while (!load_stop) {
		n = queue_length(c, COURSE_A, &out);
		if (n >= 0 && n < njobs / 2)
			start_run(c, COURSE_A, "backlog", (int)(njobs - n), &out);
		sleep(1);
	}
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

/* Students and staff polling: positions of jobs well back in course
 * A's queue, the status of course B's recent runs, now and then the
 * status of the latest backlog run (thousands of jobs). */
static void *
poller_main(void *arg)
{
	struct buf	 out;
	char		 path[256], rid[25];
	const char	*id;
	unsigned	 seed = (unsigned)(uintptr_t)arg;
	CURL		*c = sw_handle();
	json_t		*j;
	int		 i, k, n;

	buf_init(&out, 64 << 20);
	for (n = 0; !load_stop; n++) {
		usleep((useconds_t)poll_ms * 1000);
		if (n % 2 == 0 && (id = pool_at(lj_claims_a + POLL_BEHIND +
		    rand_r(&seed) % 2000)) != NULL) {
			snprintf(path, sizeof(path), "/queue/%s/%s/position",
			    course[COURSE_A], id);
			lreq(c, LK_POSITION, "GET", path, query[COURSE_A], NULL,
			    &out);
			continue;
		}
		rid[0] = '\0';
		k = n % 50 == 1 ? COURSE_A : COURSE_B;
		pthread_mutex_lock(&runs_mu);
		for (i = nruns - 1 - (k == COURSE_B ? (int)(rand_r(&seed) % 10) :
		    0); i >= 0; i--)
			if (runs[i].course == k) {
				memcpy(rid, runs[i].id, sizeof(rid));
				break;
			}
		pthread_mutex_unlock(&runs_mu);
		if (rid[0] != '\0' && (j = get_status(c, k, rid, query[k],
		    &out)) != NULL)
			json_decref(j);
	}
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

/* Every run's status at the end: all FINISHED, every job ended. */
static void
check_runs(CURL *c, struct buf *out)
{
	const char	*key, *st;
	json_t		*j, *d, *v, *post;
	int		 i;

	for (i = 0; i < nruns; i++) {
		if ((j = get_status(c, runs[i].course, runs[i].id,
		    admin[runs[i].course], out)) == NULL) {
			unfinished_runs++;
			continue;
		}
		d = json_object_get(j, "data");
		if (strcmp(json_string_value(json_object_get(d, "state")) ?: "",
		    "FINISHED") != 0) {
			unfinished_runs++;
			fprintf(stderr, "load: run %s is %s\n", runs[i].id,
			    json_string_value(json_object_get(d, "state")));
		}
		post = json_object_get(d, "post_processing_job");
		json_object_foreach(json_object_get(d, "student_jobs"), key, v) {
			st = json_string_value(v) ?: "";
			if (strcmp(st, "FAILED") == 0)
				failed_jobs++;
			else if (strcmp(st, "SUCCEEDED") != 0)
				not_ended++;
		}
		json_object_foreach(post, key, v) {
			st = json_string_value(v) ?: "";
			if (strcmp(st, "FAILED") == 0)
				failed_jobs++;
			else if (strcmp(st, "SUCCEEDED") != 0)
				not_ended++;
		}
		json_decref(j);
	}
}

/* Until nothing is queued or held, twice in a row; 0, or -1 on timeout. */
static int
drain(CURL *c, struct buf *out)
{
	long long	 end = mono_us() + (long long)drain_s * 1000000;
	int		 quiet = 0;

	while (mono_us() < end) {
		if (queue_length(c, COURSE_A, out) == 0 && queue_length(c,
		    COURSE_B, out) == 0 && lj_claims == lj_results)
			quiet++;
		else
			quiet = 0;
		if (quiet == 2)
			return 0;
		usleep(500000);
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	pthread_t	*pt, ct, bt;
	struct buf	 out;
	CURL		*c;
	long long	 t0, t1, r0, r1, c0, c1, fails;
	double		 floor_s, load_s, floor_jps;
	int		 i, k, drained;

	if (argc != 10) {
		fprintf(stderr, "usage: load_bench URL CA CLUSTER A A_ADMIN A_QUERY"
		    " B B_ADMIN B_QUERY\n");
		return 2;
	}
	sw.base = lsc.url = argv[1];
	sw.cafile = lsc.cafile = argv[2];
	sw.cluster = argv[3];
	for (k = COURSE_A; k <= COURSE_B; k++) {
		course[k] = lsc.course[k] = argv[4 + 3 * (k - COURSE_A)];
		admin[k] = argv[5 + 3 * (k - COURSE_A)];
		query[k] = lsc.query[k] = argv[6 + 3 * (k - COURSE_A)];
	}
	seconds = (int)env_int64("LOAD_SECONDS", 60, 1, 86400);
	nworkers = (int)env_int64("LOAD_WORKERS", 64, 1, 1024);
	njobs = (int)env_int64("LOAD_JOBS", 10000, 2, 100000);
	nstreams = lsc.streams = (int)env_int64("LOAD_STREAMS", 2000, 0, 20000);
	npollers = (int)env_int64("LOAD_POLLERS", 4, 0, 256);
	poll_ms = (int)env_int64("LOAD_POLL_MS", 25, 0, 60000);
	run_students = (int)env_int64("LOAD_RUN_STUDENTS", 20, 1, 10000);
	floor_jobs = (int)env_int64("LOAD_FLOOR_JOBS", 3000, 1, 100000);
	drain_s = (int)env_int64("LOAD_DRAIN_S", 600, 1, 86400);
	sw.job_ms = (int)env_int64("LOAD_JOB_MS", 0, 0, 600000);
	sw.prefix = "load";
	sw.nudge = 1;
	sw_hooks.request = on_request;
	sw_hooks.claimed = on_claimed;
	sw_hooks.resulted = on_resulted;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ls_init();
	lj_init();
	c = sw_handle();
	buf_init(&out, 64 << 20);
	printf("load.workers %d\nload.streams_target %d\nload.pollers %d\n"
	    "load.poll_ms %d\nload.run_students %d\nload.backlog %d\n",
	    nworkers, nstreams, npollers, poll_ms, run_students, njobs);

	put_config(c, COURSE_A, "backlog",
	    "{\"student_pipeline\":[{\"image\":\"localhost/none:1\"}]}", &out);
	put_config(c, COURSE_B, "floor",
	    "{\"student_pipeline\":[{\"image\":\"localhost/none:1\"}]}", &out);
	sw_start_nudges(nworkers);
	sleep(2);	/* the nudge streams' handshakes: not the floor's */

	/* The floor: the same workers on a queue, nothing else running. */
	if (start_run(c, COURSE_B, "floor", floor_jobs, &out) == -1)
		return 1;
	/* Registered and connected first: 64 handshakes are not the floor. */
	sw_paused = 1;
	sw_start_workers(nworkers);
	while (registered < nworkers)
		usleep(10000);
	ls_mark(PH_FLOOR);
	t0 = mono_us();
	sw_paused = 0;
	while (lj_results < floor_jobs)
		usleep(1000);
	t1 = mono_us();
	floor_s = (t1 - t0) / 1e6;
	floor_jps = floor_jobs / floor_s;
	printf("load.floor.jobs %d\nload.floor.seconds %.2f\n"
	    "load.floor.jobs_per_s %.0f\nload.floor.rps %.0f\n", floor_jobs,
	    floor_s, floor_jps, ls_requests(PH_FLOOR) / floor_s);
	fflush(stdout);
	sw_paused = 1;
	ls_mark(PH_SETUP);

	/* The backlog and its streams, before any of it is claimed. */
	if (start_run(c, COURSE_A, "backlog", njobs, &out) == -1)
		return 1;
	t0 = mono_us();
	streams_start();
	while (streams_connected() < nstreams && mono_us() - t0 < 180000000LL)
		usleep(10000);
	printf("load.streams_connect_s %.2f\nload.streams_connected %d\n",
	    (mono_us() - t0) / 1e6, streams_connected());
	fflush(stdout);

	/* Everything at once. */
	ls_mark(PH_LOAD);
	r0 = lj_results;
	c0 = lj_claims;
	t0 = mono_us();
	sw_paused = 0;
	pthread_create(&ct, NULL, course_main, NULL);
	pthread_create(&bt, NULL, backlog_main, NULL);
	if ((pt = calloc((size_t)npollers + 1, sizeof(*pt))) == NULL)
		return 1;
	for (i = 0; i < npollers; i++)
		pthread_create(&pt[i], NULL, poller_main, (void *)(uintptr_t)(i + 1));
	while (mono_us() - t0 < (long long)seconds * 1000000)
		usleep(10000);
	t1 = mono_us();
	r1 = lj_results;
	c1 = lj_claims;
	ls_mark(PH_DRAIN);
	load_s = (t1 - t0) / 1e6;
	load_stop = 1;
	streams_refill = 0;
	pthread_join(ct, NULL);
	pthread_join(bt, NULL);
	for (i = 0; i < npollers; i++)
		pthread_join(pt[i], NULL);
	printf("load.seconds %.2f\nload.jobs_per_s %.0f\nload.claims_per_s %.0f\n"
	    "load.rps %.0f\nload.ratio_jobs %.3f\nload.runs_b %d\n", load_s,
	    (r1 - r0) / load_s, (c1 - c0) / load_s,
	    ls_requests(PH_LOAD) / load_s, (r1 - r0) / load_s / floor_jps,
	    nruns_b);
	fflush(stdout);

	/* The rest of the queues, then every stream's end. */
	t0 = mono_us();
	drained = drain(c, &out) == 0;
	printf("load.drain_s %.2f\nload.drained %d\n", (mono_us() - t0) / 1e6,
	    drained);
	streams_stop(mono_us() + 30000000LL);
	sw_stop = 1;
	sw_join();
	check_runs(c, &out);
	printf("load.runs %d\nload.runs.unfinished %lld\nload.jobs.not_ended %lld\n"
	    "load.jobs.failed %lld\n", nruns, unfinished_runs, not_ended,
	    failed_jobs);
	lj_print();
	streams_print();
	ls_print();
	fails = ls_failures();
	buf_free(&out);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	free(pt);
	return fails > 0 || !drained || unfinished_runs > 0 || not_ended > 0 ||
	    failed_jobs > 0 ? 1 : 0;
}
