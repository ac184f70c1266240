/*
 * The registry of parked streams: a hash of the jobs watched, each with
 * its streams, grouped by course (for positions), and the list of
 * workers' nudge streams.  Every parked socket is in the publisher's
 * epoll set, so a client going away is seen at once.
 */
#include <sys/epoll.h>

#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"

#define REG_HASH	16384

static struct {
	int			 epfd;
	struct sse_job		*hash[REG_HASH];
	struct sse_course	*courses;
	struct sse_stream	*workers;
	size_t			 nstreams;	/* job and worker streams */
} reg = { .epfd = -1 };

void
reg_init(int epfd)
{
	reg.epfd = epfd;
}

struct sse_course *
reg_courses(void)
{
	return reg.courses;
}

size_t
reg_nstreams(void)
{
	return reg.nstreams;
}

/* --- courses and jobs ------------------------------------------------ */

struct sse_course *
reg_course_find(const char *id)
{
	struct sse_course	*c;

	for (c = reg.courses; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct sse_course *
course_get(const char *id)
{
	struct sse_course	*c;

	if ((c = reg_course_find(id)) != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (copy_str(c->id, sizeof(c->id), id) == -1) {
		free(c);
		return NULL;
	}
	c->next = reg.courses;
	reg.courses = c;
	return c;
}

void
reg_courses_gc(void)
{
	struct sse_course	**pp, *c;

	for (pp = &reg.courses; (c = *pp) != NULL; ) {
		if (c->jobs != NULL) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		free(c);
	}
}

struct sse_job *
reg_job_find(int64_t id)
{
	struct sse_job	*j;

	for (j = reg.hash[(uint64_t)id % REG_HASH]; j != NULL; j = j->hnext)
		if (j->id == id)
			return j;
	return NULL;
}

struct sse_job *
reg_job_new(int64_t id, const char *course, int state, int64_t last_event_id)
{
	struct sse_job		*j;
	struct sse_course	*c;
	size_t			 h = (uint64_t)id % REG_HASH;

	/* An empty course left behind on failure goes at the pass's end. */
	if ((c = course_get(course)) == NULL ||
	    (j = malloc(sizeof(*j))) == NULL)
		return NULL;
	*j = (struct sse_job){ .id = id, .state = state,
	    .last_event_id = last_event_id, .course = c };
	j->hnext = reg.hash[h];
	reg.hash[h] = j;
	j->cnext = c->jobs;
	if (c->jobs != NULL)
		c->jobs->cprev = j;
	c->jobs = j;
	return j;
}

void
reg_job_gc(struct sse_job *j)
{
	struct sse_job	**pp;

	if (j->streams != NULL)
		return;
	for (pp = &reg.hash[(uint64_t)j->id % REG_HASH]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == j) {
			*pp = j->hnext;
			break;
		}
	if (j->cprev != NULL)
		j->cprev->cnext = j->cnext;
	else
		j->course->jobs = j->cnext;
	if (j->cnext != NULL)
		j->cnext->cprev = j->cprev;
	free(j);
}

/* --- streams --------------------------------------------------------- */

static int
stream_watch(struct sse_stream *s)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	/* The request was read to its end: readable now means EOF or an
	 * abort record, i.e. the client is gone. */
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = s;
	if (epoll_ctl(reg.epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		log_warn("epoll_ctl add");
		return -1;
	}
	return 0;
}

static void
stream_push(struct sse_stream **head, struct sse_stream *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head != NULL)
		(*head)->prev = s;
	*head = s;
	reg.nstreams++;
}

int
reg_stream_link(struct sse_stream *s, struct sse_job *j)
{
	if (stream_watch(s) == -1)
		return -1;
	s->job = j;
	stream_push(&j->streams, s);
	return 0;
}

int
reg_worker_link(struct sse_stream *s)
{
	if (stream_watch(s) == -1)
		return -1;
	s->job = NULL;
	stream_push(&reg.workers, s);
	return 0;
}

void
reg_stream_drop(struct sse_stream *s, int clean)
{
	struct sse_stream	**head = s->job != NULL ? &s->job->streams :
				    &reg.workers;

	(void)epoll_ctl(reg.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	reg.nstreams--;
	sse_stream_end(s, clean);
}

/* `text` to every stream of a list, or to its quiet ones only. */
static void
list_send(struct sse_stream *list, const char *text, size_t n, int64_t now,
    int quiet_only)
{
	struct sse_stream	*s, *next;

	for (s = list; s != NULL; s = next) {
		next = s->next;
		if (quiet_only && now - s->last_write_ms < sse_conf.keepalive_ms)
			continue;
		if (sse_stream_send(s, text, n) == -1)
			reg_stream_drop(s, 0);
	}
}

void
reg_job_send(struct sse_job *j, const char *text, size_t n)
{
	list_send(j->streams, text, n, 0, 0);
}

void
reg_workers_send(const char *text, size_t n, int64_t now, int quiet_only)
{
	list_send(reg.workers, text, n, now, quiet_only);
}

/* Only the quiet streams get a comment, so nginx's read timeout never
 * fires. */
void
reg_keepalive(int64_t now)
{
	static const char	 ka[] = ": keepalive\n\n";
	struct sse_course	*c;
	struct sse_job		*j, *jnext;

	list_send(reg.workers, ka, sizeof(ka) - 1, now, 1);
	for (c = reg.courses; c != NULL; c = c->next)
		for (j = c->jobs; j != NULL; j = jnext) {
			jnext = j->cnext;
			list_send(j->streams, ka, sizeof(ka) - 1, now, 1);
			reg_job_gc(j);
		}
}

static size_t
list_drop_unless(struct sse_stream *list,
    int (*keep)(const struct sse_stream *, void *), void *arg)
{
	struct sse_stream	*s, *next;
	size_t			 n = 0;

	for (s = list; s != NULL; s = next) {
		next = s->next;
		if (!keep(s, arg)) {
			reg_stream_drop(s, 1);
			n++;
		}
	}
	return n;
}

size_t
reg_drop_unless(int (*keep)(const struct sse_stream *, void *), void *arg)
{
	struct sse_course	*c;
	struct sse_job		*j, *jnext;
	size_t			 n;

	n = list_drop_unless(reg.workers, keep, arg);
	for (c = reg.courses; c != NULL; c = c->next)
		for (j = c->jobs; j != NULL; j = jnext) {
			jnext = j->cnext;
			n += list_drop_unless(j->streams, keep, arg);
			reg_job_gc(j);
		}
	return n;
}

size_t
reg_close_all(void)
{
	struct sse_course	*c;
	struct sse_job		*j;
	size_t			 n = reg.nstreams;

	while (reg.workers != NULL)
		reg_stream_drop(reg.workers, 1);
	for (c = reg.courses; c != NULL; c = c->next)
		while ((j = c->jobs) != NULL) {
			while (j->streams != NULL)
				reg_stream_drop(j->streams, 1);
			reg_job_gc(j);
		}
	reg_courses_gc();
	return n;
}
