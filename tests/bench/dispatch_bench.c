/*
 * Dispatch benchmark (issue 5): N simulated workers (threads with one
 * libcurl handle each, no containers) claim and complete no-op jobs.
 *
 *   dispatch_bench URL CA CLUSTER_TOKEN ADMIN_TOKEN COURSE [workers] [jobs]
 *
 * Phase 1: a run of `jobs` students is queued, the workers drain it as
 * fast as they can (claim, result, claim ...): jobs per second.
 * Phase 2: the workers sit idle, polling with the protocol's backoff
 * (poll_min_ms doubling to poll_max_ms); one-student runs are queued one
 * at a time and the time from the POST's answer to the claim's answer is
 * recorded: queued-to-claimed latency.
 * With DISPATCH_NUDGE=1 every simulated worker also holds its nudge
 * stream (GET /stream/grader/{id}/work, one thread each, as
 * broadway-worker does) and cuts its backoff nap short on `event: work`.
 * Prints "key value" lines.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "util.h"

#define LAT_SAMPLES	60

static const char	*base, *cafile, *cluster, *admin, *course;
static int		 nworkers = 64, njobs = 10000;
static atomic_int	 done_jobs, phase, stop_all;
static atomic_llong	 queued_at_us;	/* phase 2: when the probe job was queued */
static long long	 lat_us[LAT_SAMPLES];
static atomic_int	 nlat;
static int		 poll_min_ms = 100, poll_max_ms = 2000;
static int		 use_nudge;

/* One simulated worker's nudge state. */
struct nudge {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 nudged;
	int		 id;
	char		 line[64];
	size_t		 len;
	int		 work;
};
static struct nudge	*nudges;

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	return buf_append(arg, p, sz * n) == 0 ? sz * n : 0;
}

/* One request; returns the HTTP status (0 on transport error). */
static long
http(CURL *c, const char *method, const char *path, const char *token,
    const char *body, struct buf *out)
{
	char			 url[512], auth[400];
	struct curl_slist	*h = NULL;
	long			 code = 0;

	buf_reset(out);
	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	return code;
}

static CURL *
handle(void)
{
	CURL	*c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	return c;
}

/* The stream's lines; a blank line after "event: work" is a nudge. */
static size_t
nudge_data(char *p, size_t sz, size_t n, void *arg)
{
	struct nudge	*nu = arg;
	size_t		 i;

	for (i = 0; i < sz * n; i++) {
		if (p[i] != '\n') {
			if (nu->len < sizeof(nu->line))
				nu->line[nu->len++] = p[i];
			continue;
		}
		if (nu->len == 0 && nu->work) {
			pthread_mutex_lock(&nu->mu);
			nu->nudged = 1;
			pthread_cond_signal(&nu->cv);
			pthread_mutex_unlock(&nu->mu);
			nu->work = 0;
		} else if (nu->len == 11 && memcmp(nu->line, "event: work",
		    11) == 0)
			nu->work = 1;
		nu->len = 0;
	}
	return sz * n;
}

static int
nudge_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
    curl_off_t d)
{
	(void)arg; (void)a; (void)b; (void)c; (void)d;
	return stop_all ? 1 : 0;
}

/* Hold the worker's nudge stream until the end, reconnecting. */
static void *
nudge_main(void *arg)
{
	struct nudge		*nu = arg;
	struct curl_slist	*h = NULL;
	char			 url[512], auth[400];
	CURL			*c;

	snprintf(url, sizeof(url), "%s/stream/grader/bench-w%d/work", base,
	    nu->id);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cluster);
	h = curl_slist_append(h, auth);
	while (!stop_all) {
		c = curl_easy_init();
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, nudge_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, nu);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, nudge_progress);
		nu->len = 0;
		nu->work = 0;
		if (curl_easy_perform(c) != CURLE_ABORTED_BY_CALLBACK &&
		    !stop_all) {
			fprintf(stderr, "nudge stream %d dropped\n", nu->id);
			usleep(500000);
		}
		curl_easy_cleanup(c);
	}
	curl_slist_free_all(h);
	return NULL;
}

/* The backoff nap; with the nudge a `work` event ends it early. */
static void
nap_ms(int id, int ms)
{
	struct nudge	*nu;
	struct timespec	 ts;

	if (!use_nudge) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	nu = &nudges[id];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&nu->mu);
	while (!nu->nudged && pthread_cond_timedwait(&nu->cv, &nu->mu,
	    &ts) == 0)
		;
	nu->nudged = 0;
	pthread_mutex_unlock(&nu->mu);
}

static void *
worker(void *arg)
{
	int		 id = (int)(intptr_t)arg, backoff = poll_min_ms;
	char		 path[256], body[256], job[64];
	struct buf	 out;
	json_t		*j;
	CURL		*c = handle();
	long		 code;
	long long	 attempt;

	buf_init(&out, 1 << 20);
	snprintf(path, sizeof(path), "/grader/bench-w%d/register", id);
	if (http(c, "POST", path, cluster, "{\"hostname\":\"bench\",\"slots\":1}",
	    &out) != 200) {
		fprintf(stderr, "register failed: %s\n", out.data);
		exit(1);
	}
	snprintf(path, sizeof(path), "/grader/bench-w%d/claim", id);
	while (!stop_all) {
		code = http(c, "POST", path, cluster, "{}", &out);
		if (code == 204) {
			if (phase == 1) {
				usleep(2000);
				continue;
			}
			nap_ms(id, backoff);
			backoff = backoff * 2 > poll_max_ms ? poll_max_ms : backoff * 2;
			continue;
		}
		if (code != 200) {
			usleep(10000);
			continue;
		}
		if (phase == 2) {
			long long now = mono_us(), q = queued_at_us;
			int k = atomic_fetch_add(&nlat, 1);
			if (k < LAT_SAMPLES)
				lat_us[k] = now - q;
		}
		backoff = poll_min_ms;
		j = json_loads(out.data, 0, NULL);
		snprintf(job, sizeof(job), "%s", json_string_value(json_object_get(
		    json_object_get(j, "data"), "grading_job_id")));
		attempt = json_integer_value(json_object_get(json_object_get(j,
		    "data"), "attempt"));
		json_decref(j);
		snprintf(body, sizeof(body), "{\"grading_job_id\":\"%s\",\"attempt\":"
		    "%lld,\"success\":true,\"results\":[],\"logs\":{\"stdout\":"
		    "\"ok\",\"stderr\":\"\"}}", job, attempt);
		snprintf(path, sizeof(path), "/grader/bench-w%d/result", id);
		if (http(c, "POST", path, cluster, body, &out) == 200)
			atomic_fetch_add(&done_jobs, 1);
		snprintf(path, sizeof(path), "/grader/bench-w%d/claim", id);
	}
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void
start_run(CURL *c, int students, struct buf *out)
{
	struct buf	 body;
	char		 path[256];
	int		 i;

	buf_init(&body, 64 << 20);
	buf_puts(&body, "{\"students_env\":[");
	for (i = 0; i < students; i++)
		buf_printf(&body, "%s{\"STUDENT_ID\":\"s%d\"}", i ? "," : "", i);
	buf_puts(&body, "]}");
	snprintf(path, sizeof(path), "/grading_run/%s/dispatch", course);
	if (http(c, "POST", path, admin, body.data, out) != 200) {
		fprintf(stderr, "run failed: %s\n", out->data);
		exit(1);
	}
	buf_free(&body);
}

int
main(int argc, char *argv[])
{
	pthread_t	*t, *nt = NULL;
	pthread_condattr_t ca;
	const char	*e;
	struct buf	 out;
	CURL		*c;
	char		 path[256];
	long long	 t0, t1;
	int		 i, n;

	if (argc < 6) {
		fprintf(stderr, "usage: dispatch_bench URL CA CLUSTER ADMIN COURSE"
		    " [workers] [jobs]\n");
		return 2;
	}
	base = argv[1]; cafile = argv[2]; cluster = argv[3]; admin = argv[4];
	course = argv[5];
	if (argc > 6)
		nworkers = atoi(argv[6]);
	if (argc > 7)
		njobs = atoi(argv[7]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	use_nudge = (e = getenv("DISPATCH_NUDGE")) != NULL && strcmp(e, "1") == 0;
	c = handle();
	buf_init(&out, 1 << 20);
	snprintf(path, sizeof(path), "/grading_config/%s/dispatch", course);
	if (http(c, "POST", path, admin, "{\"student_pipeline\":[{\"image\":"
	    "\"localhost/none:1\"}]}", &out) != 200) {
		fprintf(stderr, "config failed: %s\n", out.data);
		return 1;
	}
	t = calloc((size_t)nworkers, sizeof(*t));
	if (use_nudge) {
		nudges = calloc((size_t)nworkers, sizeof(*nudges));
		nt = calloc((size_t)nworkers, sizeof(*nt));
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		for (i = 0; i < nworkers; i++) {
			nudges[i].id = i;
			pthread_mutex_init(&nudges[i].mu, NULL);
			pthread_cond_init(&nudges[i].cv, &ca);
			pthread_create(&nt[i], NULL, nudge_main, &nudges[i]);
		}
		/* 64 TLS handshakes: not part of the throughput phase. */
		sleep(2);
	}
	printf("dispatch.nudge %d\n", use_nudge);

	/* Phase 1: throughput. */
	phase = 1;
	start_run(c, njobs, &out);
	t0 = mono_us();
	for (i = 0; i < nworkers; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	while (done_jobs < njobs)
		usleep(1000);
	t1 = mono_us();
	printf("dispatch.workers %d\ndispatch.jobs %d\ndispatch.seconds %.2f\n"
	    "dispatch.jobs_per_s %.0f\n", nworkers, njobs, (t1 - t0) / 1e6,
	    njobs / ((t1 - t0) / 1e6));
	fflush(stdout);

	/* Phase 2: latency to an idle pool; let every worker back off first. */
	phase = 2;
	sleep(3);
	for (i = 0; i < LAT_SAMPLES; i++) {
		int before = nlat;
		queued_at_us = mono_us();
		start_run(c, 1, &out);
		while (nlat == before)
			usleep(500);
		usleep((useconds_t)(200000 + (rand() % 800) * 1000));
	}
	stop_all = 1;
	for (i = 0; i < nworkers; i++)
		pthread_join(t[i], NULL);
	for (i = 0; use_nudge && i < nworkers; i++)
		pthread_join(nt[i], NULL);
	n = nlat < LAT_SAMPLES ? nlat : LAT_SAMPLES;
	qsort(lat_us, (size_t)n, sizeof(lat_us[0]), cmp_ll);
	printf("dispatch.latency_samples %d\ndispatch.latency_p50_ms %.1f\n"
	    "dispatch.latency_p99_ms %.1f\ndispatch.latency_max_ms %.1f\n", n,
	    lat_us[n / 2] / 1000.0, lat_us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0,
	    lat_us[n - 1] / 1000.0);
	buf_free(&out);
	curl_easy_cleanup(c);
	free(t);
	free(nt);
	free(nudges);
	return 0;
}
