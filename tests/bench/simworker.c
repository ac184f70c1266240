/*
 * Simulated workers (see simworker.h): the worker protocol's client
 * side, without containers, shared by the dispatch and load benches.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "simworker.h"
#include "util.h"

struct sw_conf		 sw = { .poll_min_ms = 100, .poll_max_ms = 2000,
			    .prefix = "bench" };
struct sw_hooks		 sw_hooks;
atomic_int		 sw_stop;
atomic_int		 sw_paused;

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
static pthread_t	*wt, *nt;
static int		 nw, nn;

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	return buf_append(arg, p, sz * n) == 0 ? sz * n : 0;
}

long
sw_http(CURL *c, const char *method, const char *path, const char *token,
    const char *body, struct buf *out, int *curl_rc)
{
	char			 url[512], auth[400];
	struct curl_slist	*h = NULL;
	long			 code = 0;
	CURLcode		 rc;

	buf_reset(out);
	snprintf(url, sizeof(url), "%s%s", sw.base, path);
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
	if ((rc = curl_easy_perform(c)) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (curl_rc != NULL)
		*curl_rc = (int)rc;
	curl_slist_free_all(h);
	return code;
}

CURL *
sw_handle(void)
{
	CURL	*c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_CAINFO, sw.cafile);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	return c;
}

/* A request of a simulated worker, told to the hook. */
static long
req(CURL *c, int kind, const char *path, const char *body, struct buf *out)
{
	long long	 t0 = mono_us();
	long		 code;
	int		 rc;

	code = sw_http(c, "POST", path, sw.cluster, body, out, &rc);
	if (sw_hooks.request != NULL)
		sw_hooks.request(kind, code, rc, mono_us() - t0, path,
		    out->data);
	return code;
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
	return sw_stop ? 1 : 0;
}

/* Hold the worker's nudge stream until the end, reconnecting. */
static void *
nudge_main(void *arg)
{
	struct nudge		*nu = arg;
	struct curl_slist	*h = NULL;
	char			 url[512], auth[400], path[256];
	long long		 t0;
	long			 code;
	CURLcode		 rc;
	CURL			*c;

	snprintf(path, sizeof(path), "/stream/grader/%s-w%d/work", sw.prefix,
	    nu->id);
	snprintf(url, sizeof(url), "%s%s", sw.base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", sw.cluster);
	h = curl_slist_append(h, auth);
	while (!sw_stop) {
		c = curl_easy_init();
		curl_easy_setopt(c, CURLOPT_CAINFO, sw.cafile);
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
		t0 = mono_us();
		rc = curl_easy_perform(c);
		if (rc != CURLE_ABORTED_BY_CALLBACK && !sw_stop) {
			code = 0;
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
			fprintf(stderr, "nudge stream %d dropped: %s (HTTP %ld)\n",
			    nu->id, curl_easy_strerror(rc), code);
			if (sw_hooks.request != NULL)
				sw_hooks.request(SW_NUDGE, code, (int)rc,
				    mono_us() - t0, path, "");
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

	if (!sw.nudge) {
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
	while (!nu->nudged && !sw_stop && pthread_cond_timedwait(&nu->cv,
	    &nu->mu, &ts) == 0)
		;
	nu->nudged = 0;
	pthread_mutex_unlock(&nu->mu);
}

static void
post_result(CURL *c, int id, const char *job, long long attempt,
    struct buf *out)
{
	char		 path[256], body[256];
	long long	 sent;
	long		 code;

	if (sw.job_ms > 0)
		usleep((useconds_t)sw.job_ms * 1000);
	snprintf(body, sizeof(body), "{\"grading_job_id\":\"%s\",\"attempt\":"
	    "%lld,\"success\":true,\"results\":[],\"logs\":{\"stdout\":"
	    "\"ok\",\"stderr\":\"\"}}", job, attempt);
	snprintf(path, sizeof(path), "/grader/%s-w%d/result", sw.prefix, id);
	sent = mono_us();
	code = req(c, SW_RESULT, path, body, out);
	if (sw_hooks.resulted != NULL)
		sw_hooks.resulted(id, job, code, sent);
}

static void *
worker_main(void *arg)
{
	int		 id = (int)(intptr_t)arg, backoff = sw.poll_min_ms;
	char		 path[256], job[64];
	struct buf	 out;
	json_t		*j, *d;
	CURL		*c = sw_handle();
	long		 code;
	long long	 attempt, hb_ms = 10000, last_hb;

	buf_init(&out, 1 << 20);
	snprintf(path, sizeof(path), "/grader/%s-w%d/register", sw.prefix, id);
	if (req(c, SW_REGISTER, path, "{\"hostname\":\"bench\",\"slots\":1}",
	    &out) != 200) {
		fprintf(stderr, "register failed: %s\n", out.data);
		exit(1);
	}
	if ((j = json_loads(out.data, 0, NULL)) != NULL &&
	    json_integer_value(json_object_get(json_object_get(j, "data"),
	    "heartbeat")) > 0)
		hb_ms = json_integer_value(json_object_get(json_object_get(j,
		    "data"), "heartbeat")) * 1000;
	json_decref(j);
	last_hb = mono_ms();
	while (!sw_stop) {
		if (mono_ms() - last_hb >= hb_ms) {
			snprintf(path, sizeof(path), "/grader/%s-w%d/heartbeat",
			    sw.prefix, id);
			req(c, SW_HEARTBEAT, path, "{}", &out);
			last_hb = mono_ms();
		}
		if (sw_paused) {
			usleep(50000);
			continue;
		}
		snprintf(path, sizeof(path), "/grader/%s-w%d/claim", sw.prefix, id);
		code = req(c, SW_CLAIM, path, "{}", &out);
		if (code == 204) {
			if (sw_hooks.eager != NULL && sw_hooks.eager()) {
				usleep(2000);
				continue;
			}
			nap_ms(id, backoff);
			backoff = backoff * 2 > sw.poll_max_ms ? sw.poll_max_ms :
			    backoff * 2;
			continue;
		}
		if (code != 200) {
			usleep(10000);
			continue;
		}
		backoff = sw.poll_min_ms;
		j = json_loads(out.data, 0, NULL);
		d = json_object_get(j, "data");
		snprintf(job, sizeof(job), "%s", json_string_value(
		    json_object_get(d, "grading_job_id")) ?: "");
		attempt = json_integer_value(json_object_get(d, "attempt"));
		json_decref(j);
		if (sw_hooks.claimed != NULL)
			sw_hooks.claimed(id, job, attempt);
		post_result(c, id, job, attempt, &out);
	}
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

void
sw_start_nudges(int n)
{
	pthread_condattr_t	 ca;
	int			 i;

	nn = n;
	nudges = calloc((size_t)n, sizeof(*nudges));
	nt = calloc((size_t)n, sizeof(*nt));
	if (nudges == NULL || nt == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		nudges[i].id = i;
		pthread_mutex_init(&nudges[i].mu, NULL);
		pthread_cond_init(&nudges[i].cv, &ca);
		pthread_create(&nt[i], NULL, nudge_main, &nudges[i]);
	}
	pthread_condattr_destroy(&ca);
}

void
sw_start_workers(int n)
{
	int	 i;

	nw = n;
	if ((wt = calloc((size_t)n, sizeof(*wt))) == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (i = 0; i < n; i++)
		pthread_create(&wt[i], NULL, worker_main, (void *)(intptr_t)i);
}

void
sw_join(void)
{
	int	 i;

	/* Wake the napping workers: they see sw_stop. */
	for (i = 0; i < nn; i++) {
		pthread_mutex_lock(&nudges[i].mu);
		pthread_cond_signal(&nudges[i].cv);
		pthread_mutex_unlock(&nudges[i].mu);
	}
	for (i = 0; i < nw; i++)
		pthread_join(wt[i], NULL);
	for (i = 0; i < nn; i++)
		pthread_join(nt[i], NULL);
	free(wt);
	free(nt);
	free(nudges);
	wt = nt = NULL;
	nudges = NULL;
	nw = nn = 0;
}
