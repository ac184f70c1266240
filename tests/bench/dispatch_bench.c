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
			usleep((useconds_t)backoff * 1000);
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
	pthread_t	*t;
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
	c = handle();
	buf_init(&out, 1 << 20);
	snprintf(path, sizeof(path), "/grading_config/%s/dispatch", course);
	if (http(c, "POST", path, admin, "{\"student_pipeline\":[{\"image\":"
	    "\"localhost/none:1\"}]}", &out) != 200) {
		fprintf(stderr, "config failed: %s\n", out.data);
		return 1;
	}
	t = calloc((size_t)nworkers, sizeof(*t));

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
	n = nlat < LAT_SAMPLES ? nlat : LAT_SAMPLES;
	qsort(lat_us, (size_t)n, sizeof(lat_us[0]), cmp_ll);
	printf("dispatch.latency_samples %d\ndispatch.latency_p50_ms %.1f\n"
	    "dispatch.latency_p99_ms %.1f\ndispatch.latency_max_ms %.1f\n", n,
	    lat_us[n / 2] / 1000.0, lat_us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0,
	    lat_us[n - 1] / 1000.0);
	buf_free(&out);
	curl_easy_cleanup(c);
	free(t);
	return 0;
}
