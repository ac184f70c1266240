/*
 * SSE benchmark client (issue 3): N concurrent event streams through
 * nginx, each on its own HTTPS/1.1 connection (sse_streams.c: libcurl
 * multi + epoll, one thread), and the commits that make the events, done here too so
 * commit and receipt are stamped on one clock.
 *
 *   sse_bench JOBS_FILE N CLAIMS
 *
 * JOBS_FILE: "internal_id public_id course" per line, all QUEUED, in id
 * order, spread over K courses round robin (line j: course j % K, place
 * j / K in that course's queue).  A stream is opened on each of the
 * first N jobs.  Then:
 *   connect  all N streams, until each has its snapshot (position);
 *   idle     IDLE_S seconds with no events (CPU and RSS of the watched
 *            processes are sampled);
 *   events   for c in 0..CLAIMS-1: commit STARTED for job c, the head
 *            of its course's queue (every other stream of that course
 *            gets a new position: about N/K - 1 position events), wait
 *            GAP_MS, commit SUCCEEDED for it (its stream ends), wait.
 * Latency = receipt - return of COMMIT, per event.
 *
 * Environment: BROADWAY_URL, BROADWAY_CA, SSE_BENCH_TOKEN (valid for
 * every course), SSE_BENCH_COURSES [1] (K),
 * BROADWAY_DB_SOCKET/USER/PASSWORD/NAME, SSE_BENCH_PIDS
 * ("name:pid name:pid ..." to sample), SSE_BENCH_IDLE_S [10],
 * SSE_BENCH_GAP_MS [200], SSE_BENCH_WAVE [250] (streams opened at a time).
 * Prints a report and "key value" lines (prefix sse_) on stdout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mysql.h>

#include "sse_streams.h"

#define MAX_STREAMS	20000
#define MAX_WATCH	16

struct stream {
	struct sse_conn	 c;
	int		 idx;
	int		 first;		/* snapshot seen */
};

struct watch {
	char		 name[32];
	int		 pid[8];
	int		 npid;
	long long	 t0;
};

static struct stream	*st;
static int		 nst, nfirst, ndone, nbad;
static int64_t		*claim_at, *finish_at;	/* commit times, us */
static int		 nclaims, ncourses = 1;
static double		*lat_pos, *lat_state;
static size_t		 nlat_pos, nlat_state, cap_pos, cap_state;
static size_t		 unexpected;
static struct watch	 watches[MAX_WATCH];
static int		 nwatch;

static void
die(const char *msg)
{
	fprintf(stderr, "sse_bench: %s\n", msg);
	exit(1);
}

static void
lat_add(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		if ((*v = realloc(*v, *cap * sizeof(**v))) == NULL)
			die("out of memory");
	}
	(*v)[(*n)++] = x;
}

/* One complete event for stream s: find the commit that caused it. */
static void
dispatch(struct sse_conn *c)
{
	struct stream	*s = c->arg;
	int64_t	 t = sse_now_us(), at = 0;
	long	 pos, k;
	char	*p;

	if (!s->first) {
		s->first = 1;
		nfirst++;
		return;
	}
	if (strstr(c->data, "\"type\": \"position\"") != NULL &&
	    (p = strstr(c->data, "\"data\": ")) != NULL) {
		pos = strtol(p + 8, NULL, 10);
		/* The (rank - pos)-th claim of this stream's course. */
		k = (s->idx / ncourses - pos - 1) * ncourses +
		    s->idx % ncourses;
		if (k >= 0 && k < nclaims && claim_at[k] != 0) {
			lat_add(&lat_pos, &nlat_pos, &cap_pos,
			    (t - claim_at[k]) / 1000.0);
			return;
		}
	} else if (strstr(c->data, "\"STARTED\"") != NULL &&
	    s->idx < nclaims)
		at = claim_at[s->idx];
	else if (strstr(c->data, "\"FINISHED\"") != NULL &&
	    s->idx < nclaims)
		at = finish_at[s->idx];
	if (at == 0) {
		unexpected++;
		return;
	}
	lat_add(&lat_state, &nlat_state, &cap_state, (t - at) / 1000.0);
}

static void
reaped(struct sse_conn *c)
{
	struct stream	*s = c->arg;

	ndone++;
	if (c->rc != CURLE_OK) {
		nbad++;
		if (nbad <= 5)
			fprintf(stderr, "stream %d: %s\n", s->idx,
			    curl_easy_strerror((CURLcode)c->rc));
	}
}

static int	 nadded;

static int
added_first(void)
{
	return nfirst + nbad >= nadded;
}

static int
all_first(void)
{
	return nfirst + nbad >= nst;
}

static int
all_done(void)
{
	return ndone >= nst;
}

/* --- watched processes ---------------------------------------------- */

static long long
proc_ticks(int pid)
{
	char	 path[64], buf[1024], *p;
	long long utime = 0, stime = 0;
	FILE	*f;
	int	 i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields after the name: state is field 3, utime 14, stime 15 */
	for (i = 3, p += 2; i < 14 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%lld %lld", &utime, &stime) != 2)
		return 0;
	return utime + stime;
}

static long
proc_rss_kb(int pid)
{
	char	 path[64], line[256];
	long	 kb = 0;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void
watch_parse(const char *spec)
{
	char	*dup, *tok, *save = NULL, *colon;
	int	 i;

	if (spec == NULL || (dup = strdup(spec)) == NULL)
		return;
	for (tok = strtok_r(dup, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if ((colon = strchr(tok, ':')) == NULL)
			continue;
		*colon = '\0';
		for (i = 0; i < nwatch; i++)
			if (strcmp(watches[i].name, tok) == 0)
				break;
		if (i == nwatch) {
			if (nwatch == MAX_WATCH)
				continue;
			snprintf(watches[nwatch++].name, sizeof(watches[0].name),
			    "%s", tok);
		}
		if (watches[i].npid < 8)
			watches[i].pid[watches[i].npid++] = atoi(colon + 1);
	}
	free(dup);
}

static long long
watch_ticks(struct watch *w)
{
	long long	 t = 0;
	int		 i;

	for (i = 0; i < w->npid; i++)
		t += proc_ticks(w->pid[i]);
	return t;
}

static long
watch_rss(struct watch *w)
{
	long	 kb = 0;
	int	 i;

	for (i = 0; i < w->npid; i++)
		kb += proc_rss_kb(w->pid[i]);
	return kb;
}

static void
watch_start(void)
{
	int	 i;

	for (i = 0; i < nwatch; i++)
		watches[i].t0 = watch_ticks(&watches[i]);
}

/* CPU % of one core over `secs`, per watched name. */
static void
watch_report(const char *phase, double secs)
{
	double	 hz = (double)sysconf(_SC_CLK_TCK), pct;
	int	 i;

	for (i = 0; i < nwatch; i++) {
		pct = 100.0 * (double)(watch_ticks(&watches[i]) -
		    watches[i].t0) / hz / secs;
		printf("  %-8s %5.2f%% CPU (%s, %.0f s), RSS %.1f MB\n",
		    watches[i].name, pct, phase, secs,
		    watch_rss(&watches[i]) / 1024.0);
		printf("sse_%s_cpu_%s_pct %.2f\n", phase, watches[i].name, pct);
		printf("sse_%s_rss_%s_mb %.1f\n", phase, watches[i].name,
		    watch_rss(&watches[i]) / 1024.0);
	}
}

/* --- statistics ------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	size_t	 i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i];
}

static void
report(const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("  %-9s n=%-7zu p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n",
	    name, n, pct(v, n, 50), pct(v, n, 99), n ? v[n - 1] : 0);
	printf("sse_lat_%s_n %zu\nsse_lat_%s_p50_ms %.1f\n"
	    "sse_lat_%s_p99_ms %.1f\nsse_lat_%s_max_ms %.1f\n", name, n,
	    name, pct(v, n, 50), name, pct(v, n, 99), name, n ? v[n - 1] : 0);
}

/* --- database -------------------------------------------------------- */

static void
commit_state(MYSQL *my, const char *course, long long job, int state)
{
	char	 q[512];

	snprintf(q, sizeof(q), "UPDATE grading_job SET state = %d WHERE id = %lld",
	    state, job);
	if (mysql_query(my, q) != 0)
		die(mysql_error(my));
	snprintf(q, sizeof(q), "INSERT INTO job_event (job_id, course_id, state)"
	    " VALUES (%lld, '%s', %d)", job, course, state);
	if (mysql_query(my, q) != 0 || mysql_commit(my) != 0)
		die(mysql_error(my));
}

static const char *
env(const char *k)
{
	const char	*v = getenv(k);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "sse_bench: %s is not set\n", k);
		exit(1);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct curl_slist *hdr = NULL;
	MYSQL		*my;
	FILE		*f;
	long long	*jid;
	char		 url[1024], auth[512], pub[64], *base, (*course)[128];
	const char	*v;
	int64_t		 t0;
	double		 secs;
	int		 n, i, idle_s, gap_ms, wave;
	long long	 id;

	if (argc != 4)
		die("usage: sse_bench JOBS_FILE N CLAIMS");
	nst = atoi(argv[2]);
	nclaims = atoi(argv[3]);
	if (nst < 1 || nst > MAX_STREAMS || nclaims < 0 || nclaims > nst)
		die("bad N or CLAIMS");
	if ((v = getenv("SSE_BENCH_COURSES")) != NULL)
		ncourses = atoi(v);
	if (ncourses < 1 || ncourses > nst)
		die("bad SSE_BENCH_COURSES");
	idle_s = getenv("SSE_BENCH_IDLE_S") ? atoi(getenv("SSE_BENCH_IDLE_S")) : 10;
	gap_ms = getenv("SSE_BENCH_GAP_MS") ? atoi(getenv("SSE_BENCH_GAP_MS")) : 200;
	wave = getenv("SSE_BENCH_WAVE") ? atoi(getenv("SSE_BENCH_WAVE")) : 250;
	if (wave < 1)
		wave = nst;
	watch_parse(getenv("SSE_BENCH_PIDS"));
	{
		char	 self[64];

		snprintf(self, sizeof(self), "client:%d", (int)getpid());
		watch_parse(self);
	}

	st = calloc((size_t)nst, sizeof(*st));
	jid = calloc((size_t)nst, sizeof(*jid));
	course = calloc((size_t)nst, sizeof(*course));
	claim_at = calloc((size_t)nclaims + 1, sizeof(*claim_at));
	finish_at = calloc((size_t)nclaims + 1, sizeof(*finish_at));
	if (st == NULL || jid == NULL || course == NULL || claim_at == NULL || finish_at == NULL)
		die("out of memory");

	my = mysql_init(NULL);
	if (mysql_real_connect(my, "localhost", env("BROADWAY_DB_USER"),
	    getenv("BROADWAY_DB_PASSWORD"), env("BROADWAY_DB_NAME"), 0,
	    env("BROADWAY_DB_SOCKET"), 0) == NULL)
		die(mysql_error(my));
	mysql_autocommit(my, 0);

	if ((f = fopen(argv[1], "r")) == NULL)
		die("cannot open the jobs file");
	base = strdup(env("BROADWAY_URL"));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    env("SSE_BENCH_TOKEN"));
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Accept: text/event-stream");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sse_init();
	sse_hooks.event = dispatch;
	sse_hooks.done = reaped;

	for (n = 0; n < nst && fscanf(f, "%lld %63s %127s", &id, pub,
	    course[n]) == 3; n++) {
		struct stream *s = &st[n];

		for (v = course[n]; *v; v++)
			if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' &&
			    *v <= '9') || *v == '-' || *v == '_'))
				die("course ids: [a-z0-9_-] only");
		jid[n] = id;
		s->idx = n;
		s->c.arg = s;
		snprintf(url, sizeof(url), "%s/stream/%s/%s", base, course[n],
		    pub);
		sse_conn_setup(&s->c, url, hdr, env("BROADWAY_CA"));
	}
	fclose(f);
	if (n < nst)
		die("fewer jobs in the file than streams");

	printf("SSE benchmark: %d streams on %d course(s), %d claims\n", nst,
	    ncourses, nclaims);
	watch_start();
	t0 = sse_now_us();
	/* Clients arrive in waves: all at once, one thread's 5000 TLS
	 * handshakes starve its own reads and the number says little. */
	for (i = 0; i < nst; i += wave) {
		for (n = i; n < nst && n < i + wave; n++)
			sse_conn_add(&st[n].c);
		nadded = n;
		sse_pump(60000, added_first);
	}
	sse_pump(180000, all_first);
	secs = (sse_now_us() - t0) / 1e6;
	watch_report("connect", secs);
	printf("  connect: %d/%d streams had their snapshot after %.2f s"
	    " (%d failed)\n", nfirst, nst, secs, nbad);
	printf("sse_streams %d\nsse_connect_s %.2f\nsse_connect_failed %d\n",
	    nfirst, secs, nbad);
	if (nfirst < nst)
		die("not every stream started");

	sse_pump(1000, NULL);
	watch_start();
	t0 = sse_now_us();
	sse_pump((int64_t)idle_s * 1000, NULL);
	watch_report("idle", (sse_now_us() - t0) / 1e6);

	watch_start();
	t0 = sse_now_us();
	for (i = 0; i < nclaims; i++) {
		commit_state(my, course[i], jid[i], 1);
		claim_at[i] = sse_now_us();
		sse_pump(gap_ms, NULL);
		commit_state(my, course[i], jid[i], 3);
		finish_at[i] = sse_now_us();
		sse_pump(gap_ms, NULL);
	}
	sse_pump(2000, NULL);
	watch_report("events", (sse_now_us() - t0) / 1e6);
	printf("  commit -> receipt (%d claims, each moving about %d"
	    " positions):\n", nclaims, nst / ncourses - 1);
	report("position", lat_pos, nlat_pos);
	report("state", lat_state, nlat_state);
	{
		double	*all = malloc((nlat_pos + nlat_state + 1) * sizeof(*all));

		if (all == NULL)
			die("out of memory");
		memcpy(all, lat_pos, nlat_pos * sizeof(*all));
		memcpy(all + nlat_pos, lat_state, nlat_state * sizeof(*all));
		report("all", all, nlat_pos + nlat_state);
		free(all);
	}
	printf("  streams ended: %d (expected %d), failed %d, unexpected events %zu\n",
	    ndone, nclaims, nbad, unexpected);
	printf("sse_ended %d\nsse_failed %d\nsse_unexpected %zu\n", ndone, nbad,
	    unexpected);

	/* Leave the other streams to the process exit: the server sees
	 * the clients go. */
	(void)all_done;
	mysql_close(my);
	return nbad > 0 || ndone != nclaims ? 1 : 0;
}
