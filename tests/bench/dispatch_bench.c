/*
 * Dispatch benchmark (issue 5): N simulated workers (simworker.c: threads
 * with one libcurl handle each, no containers) claim and complete no-op
 * jobs.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simworker.h"
#include "util.h"

#define LAT_SAMPLES	60

static const char	*admin, *course;
static int		 nworkers = 64, njobs = 10000;
static atomic_int	 done_jobs, phase;
static atomic_llong	 queued_at_us;	/* phase 2: when the probe job was queued */
static long long	 lat_us[LAT_SAMPLES];
static atomic_int	 nlat;

static void
on_claimed(int worker, const char *job, long long attempt)
{
	long long	 now, q;
	int		 k;

	(void)worker; (void)job; (void)attempt;
	if (phase != 2)
		return;
	now = mono_us();
	q = queued_at_us;
	if ((k = atomic_fetch_add(&nlat, 1)) < LAT_SAMPLES)
		lat_us[k] = now - q;
}

static void
on_resulted(int worker, const char *job, long code, long long sent_us)
{
	(void)worker; (void)job; (void)sent_us;
	if (code == 200)
		atomic_fetch_add(&done_jobs, 1);
}

static int
draining(void)
{
	return phase == 1;
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
	if (sw_http(c, "POST", path, admin, body.data, out, NULL) != 200) {
		fprintf(stderr, "run failed: %s\n", out->data);
		exit(1);
	}
	buf_free(&body);
}

int
main(int argc, char *argv[])
{
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
	sw.base = argv[1]; sw.cafile = argv[2]; sw.cluster = argv[3];
	admin = argv[4]; course = argv[5];
	if (argc > 6)
		nworkers = atoi(argv[6]);
	if (argc > 7)
		njobs = atoi(argv[7]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sw.nudge = (e = getenv("DISPATCH_NUDGE")) != NULL && strcmp(e, "1") == 0;
	sw_hooks.claimed = on_claimed;
	sw_hooks.resulted = on_resulted;
	sw_hooks.eager = draining;
	c = sw_handle();
	buf_init(&out, 1 << 20);
	snprintf(path, sizeof(path), "/grading_config/%s/dispatch", course);
	if (sw_http(c, "POST", path, admin, "{\"student_pipeline\":[{\"image\":"
	    "\"localhost/none:1\"}]}", &out, NULL) != 200) {
		fprintf(stderr, "config failed: %s\n", out.data);
		return 1;
	}
	if (sw.nudge) {
		sw_start_nudges(nworkers);
		/* 64 TLS handshakes: not part of the throughput phase. */
		sleep(2);
	}
	printf("dispatch.nudge %d\n", sw.nudge);

	/* Phase 1: throughput. */
	phase = 1;
	start_run(c, njobs, &out);
	t0 = mono_us();
	sw_start_workers(nworkers);
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
	sw_stop = 1;
	sw_join();
	n = nlat < LAT_SAMPLES ? nlat : LAT_SAMPLES;
	qsort(lat_us, (size_t)n, sizeof(lat_us[0]), cmp_ll);
	printf("dispatch.latency_samples %d\ndispatch.latency_p50_ms %.1f\n"
	    "dispatch.latency_p99_ms %.1f\ndispatch.latency_max_ms %.1f\n", n,
	    lat_us[n / 2] / 1000.0, lat_us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0,
	    lat_us[n - 1] / 1000.0);
	buf_free(&out);
	curl_easy_cleanup(c);
	return 0;
}
