#ifndef BW_SSE_HUB_H
#define BW_SSE_HUB_H

/*
 * Private to the publisher thread of broadway-sse, and touched by no
 * other thread:
 *   registry.c   the parked streams, by job and course, and the workers'
 *   tail.c       reading job_event and applying each event to its job
 *   attach.c     a new stream: its job's snapshot, then the registry
 *   positions.c  queue positions of the queued jobs watched
 *   recheck.c    the open streams' tokens, checked again
 *   hub.c        the loop, and the hand-over from the acceptors
 */

#include <stddef.h>
#include <stdint.h>

#include "sse.h"
#include "util.h"

struct db;

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

/*
 * registry.c.  A job entry is freed by reg_job_gc once its last stream
 * is gone; a course entry only by reg_courses_gc at the end of a pass of
 * the loop, so code walking a course's jobs never sees the course freed
 * under it.
 */
void		 reg_init(int epfd);
struct sse_course *reg_courses(void);
struct sse_course *reg_course_find(const char *id);
struct sse_job	*reg_job_find(int64_t id);
struct sse_job	*reg_job_new(int64_t id, const char *course, int state,
		    int64_t last_event_id);
void		 reg_job_gc(struct sse_job *);
void		 reg_courses_gc(void);
size_t		 reg_nstreams(void);	/* job and worker streams */
/* Park a stream on its job (or as a worker's): 0 or -1 (not linked). */
int		 reg_stream_link(struct sse_stream *, struct sse_job *);
int		 reg_worker_link(struct sse_stream *);
/* Unlink and end a stream; for a job's stream the caller runs
 * reg_job_gc on the job. */
void		 reg_stream_drop(struct sse_stream *, int clean);
/* Send to every stream of a job / every worker stream (quiet_only: only
 * those silent for a keep-alive period); one that cannot take it is
 * dropped.  The caller runs reg_job_gc. */
void		 reg_job_send(struct sse_job *, const char *, size_t);
void		 reg_workers_send(const char *, size_t, int64_t now,
		    int quiet_only);
/* A comment to every stream silent for a keep-alive period. */
void		 reg_keepalive(int64_t now);
size_t		 reg_close_all(void);	/* streams closed */
/* End (cleanly) every stream for which keep() says 0; how many. */
size_t		 reg_drop_unless(int (*keep)(const struct sse_stream *, void *),
		    void *arg);

/* tail.c */
int		 tail_poll(struct db *, int64_t now);	/* 0, or -1 (db) */
int		 tail_take_work(void);	/* a QUEUED event since the last call */
void		 tail_forget(void);	/* no one listens: reset the cursor */
int		 tail_cursor_ok(void);

/* attach.c */
void		 attach(struct db *, struct sse_stream *);

/* positions.c: every course with an event since its last count. */
void		 positions(struct db *);

/* recheck.c: end the streams whose token was revoked; how often. */
void		 recheck(struct db *);
int64_t		 recheck_period_ms(void);

#endif
