/*
 * Request counts of the load bench: per kind, the answers by HTTP
 * status, the transport errors, and the latencies per phase.  The
 * first failures are printed with their path and answer, so a run that
 * fails says where.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define CODES		600
#define LOG_FIRST	20

struct kind {
	pthread_mutex_t	 mu;
	double		*lat[PH__MAX];
	size_t		 nlat[PH__MAX], cap[PH__MAX];
	long long	 n[PH__MAX];
	long long	 codes[CODES];
	long long	 sockerr;
};

static const char *const names[LK__MAX] = {
	[LK_REGISTER] = "register", [LK_CLAIM] = "claim",
	[LK_RESULT] = "result", [LK_HEARTBEAT] = "heartbeat",
	[LK_NUDGE] = "nudge_drop", [LK_STATUS] = "status",
	[LK_POSITION] = "position", [LK_LENGTH] = "length",
	[LK_CONFIG] = "config", [LK_RUN] = "run", [LK_STREAM] = "stream",
	[LK_EVENT] = "event",
};
static const char *const phases[PH__MAX] = {
	[PH_SETUP] = "setup", [PH_FLOOR] = "floor", [PH_LOAD] = "load",
	[PH_DRAIN] = "drain",
};

static struct kind	 kinds[LK__MAX];
static atomic_int	 logged;
atomic_int		 load_phase;

void
ls_init(void)
{
	int	 i;

	for (i = 0; i < LK__MAX; i++)
		pthread_mutex_init(&kinds[i].mu, NULL);
}

static void
sample(struct kind *k, int ph, double ms)
{
	double	*v;

	if (k->nlat[ph] == k->cap[ph]) {
		k->cap[ph] = k->cap[ph] ? k->cap[ph] * 2 : 4096;
		if ((v = realloc(k->lat[ph], k->cap[ph] * sizeof(*v))) == NULL) {
			fprintf(stderr, "load: out of memory\n");
			exit(1);
		}
		k->lat[ph] = v;
	}
	k->lat[ph][k->nlat[ph]++] = ms;
}

/* A nudge record is always a failure: the stream should never end. */
static int
failed(int kind, long code, int curl_rc)
{
	return kind == LK_NUDGE || curl_rc != 0 || code < 200 || code > 299;
}

void
ls_add(int kind, long code, int curl_rc, long long us, const char *what,
    const char *answer)
{
	struct kind	*k = &kinds[kind];
	int		 ph = load_phase;

	pthread_mutex_lock(&k->mu);
	k->n[ph]++;
	if (curl_rc != 0 || code == 0)
		k->sockerr++;
	else if (code > 0 && code < CODES)
		k->codes[code]++;
	if (us >= 0 && (ph == PH_FLOOR || ph == PH_LOAD))
		sample(k, ph, us / 1000.0);
	pthread_mutex_unlock(&k->mu);
	if (failed(kind, code, curl_rc) && atomic_fetch_add(&logged, 1) <
	    LOG_FIRST)
		fprintf(stderr, "load: FAILED %s %s in %s: HTTP %ld, %s: %.200s\n",
		    names[kind], what, phases[ph], code, curl_rc ?
		    curl_easy_strerror((CURLcode)curl_rc) : "no socket error",
		    answer ? answer : "");
}

long long
ls_requests(int ph)
{
	long long	 n = 0;
	int		 i;

	for (i = 0; i < LK__MAX; i++) {
		if (i == LK_EVENT || i == LK_NUDGE)
			continue;
		pthread_mutex_lock(&kinds[i].mu);
		n += kinds[i].n[ph];
		pthread_mutex_unlock(&kinds[i].mu);
	}
	return n;
}

void
ls_mark(int ph)
{
	load_phase = ph;
}

static long long
non2xx(const struct kind *k)
{
	long long	 n = 0;
	int		 c;

	for (c = 0; c < CODES; c++)
		if (c < 200 || c > 299)
			n += k->codes[c];
	return n;
}

long long
ls_failures(void)
{
	long long	 n = 0;
	int		 i;

	for (i = 0; i < LK__MAX; i++) {
		pthread_mutex_lock(&kinds[i].mu);
		n += non2xx(&kinds[i]) + kinds[i].sockerr;
		if (i == LK_NUDGE)	/* a clean end is a drop too */
			n += kinds[i].codes[200];
		pthread_mutex_unlock(&kinds[i].mu);
	}
	return n;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	return n ? v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)] : 0;
}

void
ls_print(void)
{
	struct kind	*k;
	long long	 all2xx = 0, allsock = 0;
	int		 i, ph, c;

	for (i = 0; i < LK__MAX; i++) {
		k = &kinds[i];
		pthread_mutex_lock(&k->mu);
		for (ph = PH_FLOOR; ph <= PH_LOAD; ph++) {
			if (k->nlat[ph] == 0)
				continue;
			qsort(k->lat[ph], k->nlat[ph], sizeof(double), cmp_double);
			printf("load.lat.%s.%s.n %zu\nload.lat.%s.%s.p50_ms %.1f\n"
			    "load.lat.%s.%s.p99_ms %.1f\nload.lat.%s.%s.max_ms %.1f\n",
			    names[i], phases[ph], k->nlat[ph], names[i], phases[ph],
			    pct(k->lat[ph], k->nlat[ph], 50), names[i], phases[ph],
			    pct(k->lat[ph], k->nlat[ph], 99), names[i], phases[ph],
			    k->lat[ph][k->nlat[ph] - 1]);
		}
		for (ph = 0; ph < PH__MAX; ph++)
			if (k->n[ph] > 0 && i != LK_EVENT)
				printf("load.req.%s.%s %lld\n", names[i], phases[ph],
				    k->n[ph]);
		for (c = 0; c < CODES; c++)
			if (k->codes[c] > 0 && (c < 200 || c > 299 ||
			    i == LK_NUDGE))
				printf("load.fail.%s.http_%d %lld\n", names[i], c,
				    k->codes[c]);
		if (k->sockerr > 0)
			printf("load.fail.%s.socket %lld\n", names[i], k->sockerr);
		for (ph = 0; ph < PH__MAX; ph++)
			free(k->lat[ph]);
		all2xx += non2xx(k);
		allsock += k->sockerr;
		pthread_mutex_unlock(&k->mu);
	}
	/* Every nudge record is a drop, whatever its code. */
	printf("load.failures.non2xx %lld\nload.failures.socket %lld\n"
	    "load.failures.nudge_drops %lld\n", all2xx, allsock,
	    kinds[LK_NUDGE].n[PH_SETUP] + kinds[LK_NUDGE].n[PH_FLOOR] +
	    kinds[LK_NUDGE].n[PH_LOAD] + kinds[LK_NUDGE].n[PH_DRAIN]);
}
