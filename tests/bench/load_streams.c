/*
 * The load bench's job streams (sse_streams.c on one thread): about
 * lsc.streams streams on course A's queued jobs, each replaced by a
 * stream on a job further back when its job ends, plus one on every
 * job of course B's runs.  Each must see its job's terminal state, and
 * STARTED too if it began with the job queued.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "sse_streams.h"

#define WAVE		100	/* new streams per turn: handshakes spread */
#define BEHIND		1000	/* how far behind the queue's head a new
				 * stream's job is, so it waits a while */

struct jstream {
	struct sse_conn	 c;
	struct jstream	*next;
	char		 id[25];
	int		 course;
	long long	 opened_us;
	int		 events;
	int		 queued;	/* the first event was a position */
	int		 started, terminal;
};

struct ls_conf		 lsc;
atomic_int		 streams_refill = 1;

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static char		(*pool)[25];
static long long	 npool, cappool;
static struct { char id[25]; int course; } *pend;
static size_t		 npend, cappend;

static pthread_t	 thr;
static struct jstream	*all;
static struct curl_slist *hdr[3];
static atomic_int	 connected, stopping;
static int64_t		 deadline;
static long long	 cursor, stride = 1;
static int		 open_a, open_b, min_open = -1, max_open;
static long long	 opened[3], missed_end, missed_started, still_open,
			 failed, events;

void
pool_add(const char *id)
{
	pthread_mutex_lock(&mu);
	if (npool == cappool) {
		cappool = cappool ? cappool * 2 : 16384;
		if ((pool = realloc(pool, (size_t)cappool * sizeof(*pool))) == NULL) {
			fprintf(stderr, "load: out of memory\n");
			exit(1);
		}
	}
	snprintf(pool[npool++], sizeof(pool[0]), "%s", id);
	pthread_mutex_unlock(&mu);
}

long long
pool_len(void)
{
	long long	 n;

	pthread_mutex_lock(&mu);
	n = npool;
	pthread_mutex_unlock(&mu);
	return n;
}

/* The pool only grows, and an entry never changes once written. */
const char *
pool_at(long long i)
{
	const char	*p = NULL;

	pthread_mutex_lock(&mu);
	if (i >= 0 && i < npool)
		p = pool[i];
	pthread_mutex_unlock(&mu);
	return p;
}

void
streams_watch(const char *id, int course)
{
	pthread_mutex_lock(&mu);
	if (npend == cappend) {
		cappend = cappend ? cappend * 2 : 1024;
		if ((pend = realloc(pend, cappend * sizeof(*pend))) == NULL) {
			fprintf(stderr, "load: out of memory\n");
			exit(1);
		}
	}
	snprintf(pend[npend].id, sizeof(pend[0].id), "%s", id);
	pend[npend++].course = course;
	pthread_mutex_unlock(&mu);
}

int
streams_connected(void)
{
	return connected;
}

static void
open_one(const char *id, int course)
{
	struct jstream	*s;
	char		 url[512];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		fprintf(stderr, "load: out of memory\n");
		exit(1);
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->course = course;
	s->c.arg = s;
	s->next = all;
	all = s;
	snprintf(url, sizeof(url), "%s/stream/%s/%s", lsc.url,
	    lsc.course[course], id);
	sse_conn_setup(&s->c, url, hdr[course], lsc.cafile);
	s->opened_us = sse_now_us();
	sse_conn_add(&s->c);
	opened[course]++;
	if (course == COURSE_A)
		open_a++;
	else
		open_b++;
}

static void
on_event(struct sse_conn *c)
{
	struct jstream	*s = c->arg;
	long long	 t;

	events++;
	if (s->events++ == 0) {
		connected++;
		ls_add(LK_STREAM, 200, 0, sse_now_us() - s->opened_us, s->id, "");
		s->queued = strstr(c->data, "\"type\": \"position\"") != NULL;
	}
	if (strstr(c->data, "\"type\": \"state\"") == NULL)
		return;
	if (strstr(c->data, "\"STARTED\"") != NULL)
		s->started = 1;
	else if (strstr(c->data, "\"FINISHED\"") != NULL ||
	    strstr(c->data, "\"FAILED\"") != NULL) {
		s->terminal = 1;
		if ((t = lj_claimed_us(s->id)) > 0)
			ls_add(LK_EVENT, 200, 0, sse_now_us() - t, s->id, "");
	}
}

static void
on_done(struct sse_conn *c)
{
	struct jstream	*s = c->arg;

	if (s->course == COURSE_A)
		open_a--;
	else
		open_b--;
	if (s->events > 0)
		connected--;
	if (c->rc != 0 || c->http < 200 || c->http > 299) {
		failed++;
		ls_add(LK_STREAM, c->http, c->rc, -1, s->id, c->data);
	}
	if (!s->terminal) {
		missed_end++;
		if (missed_end <= 10)
			fprintf(stderr, "load: stream on %s ended without its"
			    " job's end (%d events, last %s, HTTP %ld, %s)\n",
			    s->id, s->events, c->data, c->http,
			    curl_easy_strerror((CURLcode)c->rc));
	} else if (s->queued && !s->started) {
		missed_started++;
		if (missed_started <= 10)
			fprintf(stderr, "load: stream on %s saw no STARTED\n",
			    s->id);
	}
}

/* Keep course A's streams at lsc.streams, on jobs BEHIND the head. */
static void
top_up(void)
{
	long long	 head = lj_claims_a + BEHIND;
	const char	*id;
	int		 n = 0;

	if (cursor < head)
		cursor = head;
	while (open_a < lsc.streams && n++ < WAVE &&
	    (id = pool_at(cursor)) != NULL) {
		open_one(id, COURSE_A);
		cursor += stride;
	}
	if (cursor >= pool_len())
		stride = 1;	/* the first spread is done */
}

static void
take_pending(void)
{
	size_t	 i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < npend; i++)
		open_one(pend[i].id, pend[i].course);
	npend = 0;
	pthread_mutex_unlock(&mu);
}

static void *
streams_main(void *arg)
{
	int	 open;

	(void)arg;
	while (!stopping || ((open_a + open_b > 0) && sse_now_us() < deadline)) {
		sse_pump(20, NULL);
		if (!stopping) {
			take_pending();
			if (streams_refill)
				top_up();
		}
		open = open_a + open_b;
		if (load_phase == PH_LOAD) {
			if (min_open < 0 || open < min_open)
				min_open = open;
			if (open > max_open)
				max_open = open;
		}
	}
	still_open = open_a + open_b;
	return NULL;
}

void
streams_start(void)
{
	char	 auth[512];
	int	 k;

	sse_init();
	sse_hooks.event = on_event;
	sse_hooks.done = on_done;
	for (k = COURSE_A; k <= COURSE_B; k++) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    lsc.query[k]);
		hdr[k] = curl_slist_append(NULL, auth);
		hdr[k] = curl_slist_append(hdr[k], "Accept: text/event-stream");
	}
	/* The first streams spread over the whole backlog. */
	stride = (pool_len() - BEHIND) / (lsc.streams > 0 ? lsc.streams : 1);
	if (stride < 1)
		stride = 1;
	pthread_create(&thr, NULL, streams_main, NULL);
}

void
streams_stop(int64_t deadline_us)
{
	deadline = deadline_us;
	stopping = 1;
	pthread_join(thr, NULL);
}

void
streams_print(void)
{
	struct jstream	*s, *n;

	for (s = all; s != NULL; s = n) {
		n = s->next;
		if (s->c.e != NULL && !s->terminal && still_open <= 10)
			fprintf(stderr, "load: stream on %s still open (%d events,"
			    " last %s)\n", s->id, s->events, s->c.data);
		if (s->c.e != NULL)
			curl_easy_cleanup(s->c.e);	/* never ended */
		free(s);
	}
	all = NULL;
	sse_cleanup();
	curl_slist_free_all(hdr[COURSE_A]);
	curl_slist_free_all(hdr[COURSE_B]);
	free(pool);
	free(pend);
	printf("load.streams.opened %lld\nload.streams.opened_a %lld\n"
	    "load.streams.opened_b %lld\nload.streams.open_min %d\n"
	    "load.streams.open_max %d\nload.streams.events %lld\n"
	    "load.streams.failed %lld\nload.streams.missed_end %lld\n"
	    "load.streams.missed_started %lld\nload.streams.still_open %lld\n",
	    opened[COURSE_A] + opened[COURSE_B], opened[COURSE_A],
	    opened[COURSE_B], min_open < 0 ? 0 : min_open, max_open, events,
	    failed, missed_end, missed_started, still_open);
}
