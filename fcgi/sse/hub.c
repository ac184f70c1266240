/*
 * The hub: one publisher thread owns every parked stream.
 *
 * Wake-up.  While at least one stream is open the publisher asks for
 * MAX(id) of job_event every poll_ms (25 ms), which the optimizer
 * answers from the end of the primary key (about 30 us of server time,
 * a third of a range read); only when it moved, or while an id is
 * missing (below), does it read the new rows.  With no stream open it
 * does not touch the database at all and sleeps in epoll_wait until an
 * acceptor hands it a stream (eventfd), waking once a minute to prune
 * job_event.  Closed clients are seen at once through EPOLLRDHUP on the
 * parked sockets, not at the next write.
 *
 * Missing ids.  AUTO_INCREMENT ids are handed out before commit, so a
 * reader may see id 11 before id 10 commits.  Ids skipped over are kept
 * as gaps and read again (in the same statement as the new rows, so one
 * read view covers both) until they appear or SSE_GAP_WAIT_MS passes
 * (a rollback).  Each job entry remembers the newest event id applied,
 * so reading an event twice is harmless.
 *
 * Positions.  After a batch of events, every course that had an event
 * and has streams on queued jobs gets one query: the ids of its queued
 * jobs in order, up to the last job we watch.  A stream's position is
 * the index of its job in that list; it is sent only if it changed.
 *
 * Workers.  A waiting worker holds a nudge stream (no job).  Any QUEUED
 * event read (a batch of new jobs, job_id 0, or a requeue) makes one
 * `work` event to every worker stream after that poll, however many
 * there were.  A worker stream gets one `work` at once when it is
 * attached, which covers whatever was queued before it was listening;
 * so the events re-read after a cursor reset are not passed on.  Worker
 * streams keep the publisher polling like any other stream.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "db.h"
#include "log.h"
#include "sse.h"
#include "states.h"
#include "util.h"

#define HUB_HASH	16384
#define HUB_BATCH	1000
#define HUB_GAP_SLOTS	16	/* gaps re-read per poll */
#define HUB_PRUNE_MS	60000
#define HUB_EPOLL_MAX	256

enum hub_stmt {
	HUB_STMT_MAX_ID,
	HUB_STMT_EVENTS,
	HUB_STMT_SNAPSHOT,
	HUB_STMT_QUEUED,
	HUB_STMT_PRUNE,
	HUB_STMT__MAX
};

static const char *const hub_sql[HUB_STMT__MAX] = {
	/* HUB_STMT_MAX_ID */
	"SELECT COALESCE(MAX(id), 0) FROM job_event",
	/* HUB_STMT_EVENTS: new rows and the gaps still waited for (0 pads). */
	"SELECT id, job_id, course_id, state FROM job_event WHERE id > ?"
	" OR id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ORDER BY id LIMIT 1000",
	/* HUB_STMT_SNAPSHOT: state and newest event id in one read view. */
	"SELECT j.course_id, j.state, COALESCE((SELECT MAX(e.id)"
	" FROM job_event e WHERE e.job_id = j.id), 0)"
	" FROM grading_job j WHERE j.id = ?",
	/* HUB_STMT_QUEUED: the queue of a course up to a job id. */
	"SELECT id FROM grading_job WHERE state = 0 AND course_id = ?"
	" AND id <= ? ORDER BY id",
	/* HUB_STMT_PRUNE */
	"DELETE FROM job_event WHERE created_at < NOW(6) - INTERVAL 1 HOUR"
	" LIMIT 10000",
};

struct sse_course {
	char			 id[ID_MAX + 1];
	struct sse_job		*jobs;
	int			 dirty;		/* had an event since last count */
	struct sse_course	*next;
};

/* A job with at least one stream. */
struct sse_job {
	int64_t			 id;
	int			 state;
	int64_t			 last_event_id;	/* newest event applied */
	struct sse_course	*course;
	struct sse_stream	*streams;
	struct sse_job		*hnext;
	struct sse_job		*cnext, *cprev;
};

static struct {
	pthread_mutex_t		 mu;
	struct sse_stream	*pending;	/* from the acceptors, under mu */
	int			 stopping;	/* under mu */
	int			 efd, epfd;

	/* The publisher's own. */
	struct db		*db;
	struct sse_job		*hash[HUB_HASH];
	struct sse_course	*courses;
	size_t			 nstreams;	/* job and worker streams */
	struct sse_stream	*workers;	/* worker streams */
	size_t			 nworkers;
	int			 work;		/* a QUEUED event since the last
						 * `work` sent */
	int			 cursor_ok;
	int64_t			 hi;		/* highest event id read */
	struct sse_gaps		 gaps;
	int64_t			*ids;		/* queue of one course */
	size_t			 idcap;
	int64_t			 next_poll, next_ka, next_prune;
} hub = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.efd = -1,
	.epfd = -1,
};

int
hub_init(void)
{
	struct epoll_event	 ev;

	if ((hub.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if ((hub.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	return epoll_ctl(hub.epfd, EPOLL_CTL_ADD, hub.efd, &ev);
}

static void
hub_wake(void)
{
	uint64_t	 one = 1;

	if (write(hub.efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("eventfd write");
}

int
hub_stopping(void)
{
	int	 v;

	pthread_mutex_lock(&hub.mu);
	v = hub.stopping;
	pthread_mutex_unlock(&hub.mu);
	return v;
}

void
hub_stop(void)
{
	pthread_mutex_lock(&hub.mu);
	hub.stopping = 1;
	pthread_mutex_unlock(&hub.mu);
	hub_wake();
}

void
hub_submit(struct sse_stream *s)
{
	pthread_mutex_lock(&hub.mu);
	if (hub.stopping) {
		pthread_mutex_unlock(&hub.mu);
		sse_stream_end(s, 1);
		return;
	}
	s->next = hub.pending;
	hub.pending = s;
	pthread_mutex_unlock(&hub.mu);
	hub_wake();
}

/* --- courses and jobs ------------------------------------------------ */

static struct sse_course *
course_find(const char *id)
{
	struct sse_course	*c;

	for (c = hub.courses; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct sse_course *
course_get(const char *id)
{
	struct sse_course	*c;

	if ((c = course_find(id)) != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (copy_str(c->id, sizeof(c->id), id) == -1) {
		free(c);
		return NULL;
	}
	c->next = hub.courses;
	hub.courses = c;
	return c;
}

static void
course_gc(struct sse_course *c)
{
	struct sse_course	**pp;

	if (c->jobs != NULL)
		return;
	for (pp = &hub.courses; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
}

static struct sse_job *
job_find(int64_t id)
{
	struct sse_job	*j;

	for (j = hub.hash[(uint64_t)id % HUB_HASH]; j != NULL; j = j->hnext)
		if (j->id == id)
			return j;
	return NULL;
}

static struct sse_job *
job_new(int64_t id, const char *course, int state, int64_t last_event_id)
{
	struct sse_job		*j;
	struct sse_course	*c;
	size_t			 h = (uint64_t)id % HUB_HASH;

	if ((c = course_get(course)) == NULL)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		course_gc(c);
		return NULL;
	}
	j->id = id;
	j->state = state;
	j->last_event_id = last_event_id;
	j->course = c;
	j->hnext = hub.hash[h];
	hub.hash[h] = j;
	j->cnext = c->jobs;
	if (c->jobs != NULL)
		c->jobs->cprev = j;
	c->jobs = j;
	return j;
}

/* Free a job entry once its last stream is gone. */
static void
job_gc(struct sse_job *j)
{
	struct sse_job	**pp;
	struct sse_course *c = j->course;

	if (j->streams != NULL)
		return;
	for (pp = &hub.hash[(uint64_t)j->id % HUB_HASH]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == j) {
			*pp = j->hnext;
			break;
		}
	if (j->cprev != NULL)
		j->cprev->cnext = j->cnext;
	else
		c->jobs = j->cnext;
	if (j->cnext != NULL)
		j->cnext->cprev = j->cprev;
	free(j);
	course_gc(c);
}

/* --- streams --------------------------------------------------------- */

static int
stream_link(struct sse_stream *s, struct sse_job *j)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	/* The request was read to its end: readable now means EOF or an
	 * abort record, i.e. the client is gone. */
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = s;
	if (epoll_ctl(hub.epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		log_warn("epoll_ctl add");
		return -1;
	}
	s->job = j;
	s->prev = NULL;
	s->next = j->streams;
	if (j->streams != NULL)
		j->streams->prev = s;
	j->streams = s;
	hub.nstreams++;
	return 0;
}

/* Unlink and end a stream; the caller runs job_gc on its job. */
static void
stream_drop(struct sse_stream *s, int clean)
{
	struct sse_job	*j = s->job;

	(void)epoll_ctl(hub.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		j->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	hub.nstreams--;
	sse_stream_end(s, clean);
}

/* --- worker streams ------------------------------------------------- */

static void
worker_drop(struct sse_stream *s, int clean)
{
	(void)epoll_ctl(hub.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		hub.workers = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	hub.nstreams--;
	hub.nworkers--;
	sse_stream_end(s, clean);
}

static void
worker_attach(struct sse_stream *s)
{
	static const char	 work[] = SSE_WORK_EVENT;
	struct epoll_event	 ev;

	s->parked = 1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = s;
	if (epoll_ctl(hub.epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		log_warn("epoll_ctl add");
		sse_stream_end(s, 0);
		return;
	}
	s->job = NULL;
	s->prev = NULL;
	s->next = hub.workers;
	if (hub.workers != NULL)
		hub.workers->prev = s;
	hub.workers = s;
	hub.nstreams++;
	hub.nworkers++;
	if (sse_stream_send(s, work, sizeof(work) - 1) == -1)
		worker_drop(s, 0);
}

/* `text` to every worker stream; one that cannot take it is dropped. */
static void
workers_send(const char *text, size_t n, int64_t now, int quiet_only)
{
	struct sse_stream	*s, *next;

	for (s = hub.workers; s != NULL; s = next) {
		next = s->next;
		if (quiet_only && now - s->last_write_ms < sse_conf.keepalive_ms)
			continue;
		if (sse_stream_send(s, text, n) == -1)
			worker_drop(s, 0);
	}
}

/* Send to every stream of j; a stream that cannot take it is dropped.
 * The caller runs job_gc. */
static void
job_send(struct sse_job *j, const char *ev, size_t n)
{
	struct sse_stream	*s, *next;

	for (s = j->streams; s != NULL; s = next) {
		next = s->next;
		if (sse_stream_send(s, ev, n) == -1)
			stream_drop(s, 0);
	}
}

/* --- events ---------------------------------------------------------- */

static void
apply_event(int64_t id, int64_t job_id, const char *course, int state)
{
	struct sse_course	*c;
	struct sse_job		*j;
	struct sse_stream	*s, *next;
	const char		*word;
	char			 ev[SSE_EVENT_MAX];
	int			 n;

	if (state == JOB_QUEUED)
		hub.work = 1;
	if (course != NULL && (c = course_find(course)) != NULL)
		c->dirty = 1;
	/* job_id 0 (new jobs queued) matches no job: ids start at 1. */
	if ((j = job_find(job_id)) == NULL || id <= j->last_event_id)
		return;
	j->last_event_id = id;
	j->state = state;
	if ((word = sse_state_word(state)) == NULL) {
		/* Requeued: the position that follows says so. */
		for (s = j->streams; s != NULL; s = s->next)
			s->last_pos = -1;
		return;
	}
	if ((n = sse_fmt_state(ev, sizeof(ev), id, word)) == -1)
		return;
	job_send(j, ev, (size_t)n);
	if (sse_state_terminal(state))
		for (s = j->streams; s != NULL; s = next) {
			next = s->next;
			stream_drop(s, 1);
		}
	job_gc(j);
}

/* The newest committed event id (an index lookup), or -1. */
static int64_t
max_id(void)
{
	struct db_res	*r;
	int64_t		 max = -1;

	if ((r = db_query(hub.db, hub_sql[HUB_STMT_MAX_ID], "")) == NULL)
		return -1;
	if (db_res_next(r) == 1)
		max = db_res_int(r, 0);
	db_res_free(r);
	return max;
}

/* Start reading from just before the newest event: ids a little below
 * it may still be uncommitted and are caught as gaps. */
static int
cursor_reset(void)
{
	int64_t		 max;

	if ((max = max_id()) == -1)
		return -1;
	hub.hi = max > 64 ? max - 64 : 0;
	hub.gaps.n = 0;
	hub.cursor_ok = 1;
	return 0;
}

/* 0, or -1 if the database could not be read. */
static int
poll_events(int64_t now)
{
	struct db_res	*r;
	int64_t		 g[HUB_GAP_SLOTS], id, max;
	size_t		 i, rows;
	int		 round, reset = 0;

	if (!hub.cursor_ok) {
		if (cursor_reset() == -1)
			return -1;
		reset = 1;
	} else if (hub.gaps.n == 0) {
		if ((max = max_id()) == -1)
			return -1;
		if (max == hub.hi)
			return 0;	/* the common case: nothing new */
	}
	for (round = 0; round < 10; round++) {
		sse_gaps_expire(&hub.gaps, now, SSE_GAP_WAIT_MS);
		for (i = 0; i < HUB_GAP_SLOTS; i++)
			g[i] = i < hub.gaps.n ? hub.gaps.id[i] : 0;
		r = db_query(hub.db, hub_sql[HUB_STMT_EVENTS],
		    "iiiiiiiiiiiiiiiii", hub.hi, g[0], g[1], g[2], g[3], g[4],
		    g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13],
		    g[14], g[15]);
		if (r == NULL)
			return -1;
		rows = 0;
		while (db_res_next(r) == 1) {
			rows++;
			id = db_res_int(r, 0);
			if (id <= hub.hi) {
				if (!sse_gaps_take(&hub.gaps, id))
					continue;
			} else {
				if (id > hub.hi + 1)
					sse_gaps_add(&hub.gaps, hub.hi + 1,
					    id - 1, now);
				hub.hi = id;
			}
			apply_event(id, db_res_int(r, 1), db_res_str(r, 2, NULL),
			    (int)db_res_int(r, 3));
		}
		db_res_free(r);
		if (rows < HUB_BATCH)
			break;
	}
	/* Old events, read again; new worker streams get `work` anyway. */
	if (reset)
		hub.work = 0;
	return 0;
}

/* --- new streams ----------------------------------------------------- */

static void
attach(struct sse_stream *s)
{
	struct sse_job	*j;
	struct db_res	*r;
	char		 course[ID_MAX + 1];
	int64_t		 last_id = 0;
	int		 state = 0, rc;

	if (s->worker) {
		worker_attach(s);
		return;
	}
	s->parked = 1;
	if ((j = job_find(s->job_id)) == NULL) {
		r = db_query(hub.db, hub_sql[HUB_STMT_SNAPSHOT], "i", s->job_id);
		if (r == NULL) {
			/* The client reconnects (with Last-Event-ID). */
			sse_stream_end(s, 1);
			return;
		}
		rc = db_res_next(r);
		if (rc == 1) {
			if (copy_str(course, sizeof(course),
			    db_res_str(r, 0, NULL)) == -1)
				rc = -1;
			state = (int)db_res_int(r, 1);
			last_id = db_res_int(r, 2);
		}
		db_res_free(r);
		if (rc != 1) {
			sse_stream_end(s, 1);
			return;
		}
		if (sse_state_terminal(state)) {
			(void)sse_stream_sync(hub.db, s, state, last_id);
			sse_stream_end(s, 1);
			return;
		}
		if ((j = job_new(s->job_id, course, state, last_id)) == NULL) {
			sse_stream_end(s, 1);
			return;
		}
	}
	if (sse_stream_sync(hub.db, s, j->state, j->last_event_id) == -1 ||
	    stream_link(s, j) == -1) {
		sse_stream_end(s, 0);
		job_gc(j);
		return;
	}
	if (j->state == JOB_QUEUED)
		j->course->dirty = 1;
}

static void
attach_pending(void)
{
	struct sse_stream	*list, *rev = NULL, *s;

	pthread_mutex_lock(&hub.mu);
	list = hub.pending;
	hub.pending = NULL;
	pthread_mutex_unlock(&hub.mu);
	while (list != NULL) {		/* first come, first served */
		s = list;
		list = s->next;
		s->next = rev;
		rev = s;
	}
	while (rev != NULL) {
		s = rev;
		rev = s->next;
		s->next = NULL;
		attach(s);
	}
}

/* --- positions ------------------------------------------------------- */

static int
queue_load(struct sse_course *c, int64_t upto, size_t *n)
{
	struct db_res	*r;
	int64_t		*p;
	size_t		 cap;

	*n = 0;
	r = db_query(hub.db, hub_sql[HUB_STMT_QUEUED], "si", c->id, upto);
	if (r == NULL)
		return -1;
	cap = (size_t)db_res_rows(r);
	if (cap > hub.idcap) {
		if ((p = realloc(hub.ids, cap * sizeof(*p))) == NULL) {
			db_res_free(r);
			return -1;
		}
		hub.ids = p;
		hub.idcap = cap;
	}
	while (*n < cap && db_res_next(r) == 1)
		hub.ids[(*n)++] = db_res_int(r, 0);
	db_res_free(r);
	return 0;
}

static void
positions_course(struct sse_course *c)
{
	struct sse_job		*j, *jnext;
	struct sse_stream	*s, *next;
	char			 ev[SSE_EVENT_MAX];
	int64_t			 upto = 0;
	size_t			 n;
	long			 pos;
	int			 len;

	for (j = c->jobs; j != NULL; j = j->cnext)
		if (j->state == JOB_QUEUED && j->id > upto)
			upto = j->id;
	if (upto == 0 || queue_load(c, upto, &n) == -1)
		return;
	for (j = c->jobs; j != NULL; j = jnext) {
		jnext = j->cnext;
		/* A job the table no longer shows queued has an event on
		 * its way; it is told then. */
		if (j->state != JOB_QUEUED ||
		    (pos = sse_pos_find(hub.ids, n, j->id)) < 0)
			continue;
		len = sse_fmt_position(ev, sizeof(ev), j->last_event_id, pos);
		if (len == -1)
			continue;
		for (s = j->streams; s != NULL; s = next) {
			next = s->next;
			if (s->last_pos == pos)
				continue;
			if (sse_stream_send(s, ev, (size_t)len) == -1)
				stream_drop(s, 0);
			else
				s->last_pos = pos;
		}
		/* Freeing the last job frees c: stop looking at it. */
		if (jnext == NULL) {
			job_gc(j);
			return;
		}
		job_gc(j);
	}
}

static void
positions(void)
{
	struct sse_course	*c, *next;

	for (c = hub.courses; c != NULL; c = next) {
		next = c->next;
		if (!c->dirty)
			continue;
		c->dirty = 0;
		positions_course(c);
	}
}

/* --- timers ---------------------------------------------------------- */

/* One pass over all streams every few seconds; only the quiet ones get
 * a comment, so nginx's read timeout never fires. */
static void
keepalive(int64_t now)
{
	static const char	 ka[] = ": keepalive\n\n";
	struct sse_course	*c, *cnext;
	struct sse_job		*j, *jnext;
	struct sse_stream	*s, *next;

	workers_send(ka, sizeof(ka) - 1, now, 1);
	for (c = hub.courses; c != NULL; c = cnext) {
		cnext = c->next;
		for (j = c->jobs; j != NULL; j = jnext) {
			jnext = j->cnext;
			for (s = j->streams; s != NULL; s = next) {
				next = s->next;
				if (now - s->last_write_ms < sse_conf.keepalive_ms)
					continue;
				if (sse_stream_send(s, ka, sizeof(ka) - 1) == -1)
					stream_drop(s, 0);
			}
			if (jnext == NULL) {
				job_gc(j);	/* may free c */
				break;
			}
			job_gc(j);
		}
	}
}

static void
prune(void)
{
	uint64_t	 n = 0;

	if (db_exec(hub.db, hub_sql[HUB_STMT_PRUNE], &n, "") == 0 && n > 0)
		log_info("pruned %llu job events older than an hour",
		    (unsigned long long)n);
}

static void
close_all(void)
{
	struct sse_course	*c;
	struct sse_stream	*s;
	size_t			 n = hub.nstreams;

	while ((s = hub.workers) != NULL)
		worker_drop(s, 1);
	while ((c = hub.courses) != NULL) {
		struct sse_job *j = c->jobs;
		while ((s = j->streams) != NULL)
			stream_drop(s, 1);
		job_gc(j);
	}
	pthread_mutex_lock(&hub.mu);
	while ((s = hub.pending) != NULL) {
		hub.pending = s->next;
		sse_stream_end(s, 1);
		n++;
	}
	pthread_mutex_unlock(&hub.mu);
	log_info("closed %zu streams", n);
}

/* --- the loop -------------------------------------------------------- */

/* A quiet stream waits at most a third more than keepalive_ms. */
static int64_t
ka_tick(void)
{
	return sse_conf.keepalive_ms / 3 < 5000 ? sse_conf.keepalive_ms / 3 :
	    5000;
}

void *
hub_main(void *arg)
{
	struct epoll_event	 evs[HUB_EPOLL_MAX];
	struct sse_stream	*s;
	struct sse_job		*j;
	uint64_t		 cnt;
	int64_t			 now, timeout;
	int			 i, n, active, pending, polled;

	(void)arg;
	mysql_thread_init();
	now = mono_ms();
	hub.next_poll = now;
	hub.next_ka = now + ka_tick();
	hub.next_prune = now + 5000;
	for (;;) {
		now = mono_ms();
		pthread_mutex_lock(&hub.mu);
		pending = hub.pending != NULL;
		pthread_mutex_unlock(&hub.mu);
		active = hub.nstreams > 0;
		if (pending)
			timeout = 0;
		else if (active)
			timeout = hub.next_poll - now;
		else
			timeout = hub.next_prune - now;
		if (timeout < 0)
			timeout = 0;
		n = epoll_wait(hub.epfd, evs, HUB_EPOLL_MAX, (int)timeout);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			if ((s = evs[i].data.ptr) == NULL) {
				while (read(hub.efd, &cnt, sizeof(cnt)) > 0)
					;
				continue;
			}
			if (s->worker) {
				worker_drop(s, 0);
				continue;
			}
			j = s->job;
			stream_drop(s, 0);
			job_gc(j);
		}
		if (hub_stopping())
			break;

		now = mono_ms();
		if (hub.db == NULL && (hub.nstreams > 0 || pending ||
		    now >= hub.next_prune)) {
			if ((hub.db = db_open_env()) == NULL) {
				/* Streams wait; new ones are told to retry. */
				hub.next_poll = now + 1000;
				hub.next_prune = now + 1000;
				if (pending) {
					pthread_mutex_lock(&hub.mu);
					while ((s = hub.pending) != NULL) {
						hub.pending = s->next;
						sse_stream_end(s, 1);
					}
					pthread_mutex_unlock(&hub.mu);
				}
				continue;
			}
		}
		if (hub.nstreams > 0 || pending) {
			polled = 0;
			if (!hub.cursor_ok || now >= hub.next_poll) {
				/* A database outage is retried once a second,
				 * not 40 times. */
				hub.next_poll = now + (poll_events(now) == -1 ?
				    1000 : sse_conf.poll_ms);
				polled = 1;
			}
			if (hub.work) {
				hub.work = 0;
				workers_send(SSE_WORK_EVENT,
				    sizeof(SSE_WORK_EVENT) - 1, now, 0);
			}
			if (pending)
				attach_pending();
			/* New streams alone wait for the next poll tick, so a
			 * burst of connects costs one count per course, not
			 * one per connect. */
			if (polled || now >= hub.next_poll)
				positions();
			if (now >= hub.next_ka) {
				keepalive(now);
				hub.next_ka = now + ka_tick();
			}
		}
		if (hub.nstreams == 0)
			hub.cursor_ok = 0;	/* no one listens: stop reading */
		if (now >= hub.next_prune) {
			prune();
			hub.next_prune = now + HUB_PRUNE_MS;
		}
	}
	close_all();
	db_close(hub.db);
	hub.db = NULL;
	mysql_thread_end();
	return NULL;
}
