/*
 * The hub: one publisher thread owns every parked stream (the files
 * named in hub.h do its parts); acceptor threads hand streams over
 * through a locked list and an eventfd.
 *
 * With no stream open the publisher does not touch the database at all
 * and sleeps in epoll_wait until an acceptor hands it a stream.  Closed
 * clients are seen at once through EPOLLRDHUP on the parked sockets,
 * not at the next write.  Old job_event rows are pruned by the engine's
 * sweep (sweep.c runs it once a second in this process).
 *
 * Workers.  A waiting worker holds a nudge stream (no job).  Any QUEUED
 * event read (a batch of new jobs, job_id 0, or a requeue) makes one
 * `work` event to every worker stream after that poll, however many
 * there were.  A worker stream gets one `work` at once when it is
 * attached, which covers whatever was queued before it was listening;
 * so the events re-read after a cursor reset are not passed on.  Worker
 * streams keep the publisher polling like any other stream.
 *
 * Tokens.  Every auth cache period the open streams' tokens are checked
 * again (recheck.c): one query for all of them.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "db.h"
#include "hub.h"
#include "log.h"

#define HUB_EPOLL_MAX	256

static struct {
	pthread_mutex_t		 mu;
	struct sse_stream	*pending;	/* from the acceptors, under mu */
	int			 stopping;	/* under mu */
	int			 efd, epfd;

	/* The publisher's own. */
	struct db		*db;
	int64_t			 next_poll, next_ka, next_recheck;
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
	reg_init(hub.epfd);
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

/* The streams handed over so far, oldest first; NULL if none. */
static struct sse_stream *
pending_take(void)
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
	return rev;
}

static int
pending_any(void)
{
	int	 v;

	pthread_mutex_lock(&hub.mu);
	v = hub.pending != NULL;
	pthread_mutex_unlock(&hub.mu);
	return v;
}

/* End every stream handed over and not parked yet: without a
 * database, or when stopping (the clients reconnect).  How many. */
static size_t
pending_end(void)
{
	struct sse_stream	*s, *next;
	size_t			 n = 0;

	for (s = pending_take(); s != NULL; s = next) {
		next = s->next;
		sse_stream_end(s, 1);
		n++;
	}
	return n;
}

static void
attach_pending(void)
{
	struct sse_stream	*s, *next;

	for (s = pending_take(); s != NULL; s = next) {
		next = s->next;
		s->next = NULL;
		attach(hub.db, s);
	}
}

/* A quiet stream waits at most a third more than keepalive_ms. */
static int64_t
ka_tick(void)
{
	return sse_conf.keepalive_ms / 3 < 5000 ? sse_conf.keepalive_ms / 3 :
	    5000;
}

/* Wait for socket events and drop the streams whose client left. */
static void
wait_events(int pending)
{
	struct epoll_event	 evs[HUB_EPOLL_MAX];
	struct sse_stream	*s;
	struct sse_job		*j;
	uint64_t		 cnt;
	int64_t			 timeout;
	int			 i, n;

	if (reg_nstreams() == 0 && !pending)
		timeout = -1;	/* until an acceptor wakes us */
	else if (pending || (timeout = hub.next_poll - mono_ms()) < 0)
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
		j = s->job;
		reg_stream_drop(s, 0);
		if (j != NULL)
			reg_job_gc(j);
	}
}

/* One pass with streams open or waiting: read events, tell the workers,
 * park the new streams, count positions, keep quiet streams alive. */
static void
publish(int64_t now, int pending)
{
	int	 polled = 0;

	if (!tail_cursor_ok() || now >= hub.next_poll) {
		/* A database outage is retried once a second, not 40 times. */
		hub.next_poll = now + (tail_poll(hub.db, now) == -1 ? 1000 :
		    sse_conf.poll_ms);
		polled = 1;
	}
	if (tail_take_work())
		reg_workers_send(SSE_WORK_EVENT, sizeof(SSE_WORK_EVENT) - 1,
		    now, 0);
	if (pending)
		attach_pending();
	/* New streams alone wait for the next poll tick, so a burst of
	 * connects costs one count per course, not one per connect. */
	if (polled || now >= hub.next_poll)
		positions(hub.db);
	if (now >= hub.next_ka) {
		reg_keepalive(now);
		hub.next_ka = now + ka_tick();
	}
	if (now >= hub.next_recheck) {
		recheck(hub.db);
		hub.next_recheck = now + recheck_period_ms();
	}
}

void *
hub_main(void *arg)
{
	int64_t		 now;
	int		 pending;

	(void)arg;
	mysql_thread_init();
	now = mono_ms();
	hub.next_poll = now;
	hub.next_ka = now + ka_tick();
	hub.next_recheck = now + recheck_period_ms();
	for (;;) {
		wait_events(pending_any());
		if (hub_stopping())
			break;
		now = mono_ms();
		pending = pending_any();
		if (hub.db == NULL && (reg_nstreams() > 0 || pending) &&
		    (hub.db = db_open_env()) == NULL) {
			/* Streams wait; new ones are told to retry. */
			hub.next_poll = now + 1000;
			(void)pending_end();
			continue;
		}
		if (reg_nstreams() > 0 || pending)
			publish(now, pending);
		if (reg_nstreams() == 0)
			tail_forget();	/* no one listens: stop reading */
		/* Courses go last, when no walk over them is under way. */
		reg_courses_gc();
	}
	log_info("closed %zu streams", reg_close_all() + pending_end());
	db_close(hub.db);
	hub.db = NULL;
	mysql_thread_end();
	return NULL;
}
