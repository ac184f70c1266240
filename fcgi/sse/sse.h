#ifndef BW_SSE_H
#define BW_SSE_H

/*
 * Private to broadway-sse, the server-sent events process.
 *
 * Acceptor threads (accept.c) take FastCGI requests, answer errors
 * with the usual JSON envelope, send the event-stream headers and hand
 * the bare connection (fd + FastCGI request id) to the hub.  From then
 * on only the publisher thread (hub.c, its parts in hub.h) writes to it:
 * it tails
 * job_event, sends state and position events, keep-alive comments, and
 * ends the stream after a terminal state; to workers' nudge streams it
 * sends `work` whenever jobs were queued.  wire.c holds the pure
 * parts (record framing, event text, gap tracking) the unit test uses.
 */

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "util.h"

struct db;

#define SSE_EVENT_MAX		256	/* one formatted event */
#define SSE_GAP_MAX		256	/* event ids waited for */
#define SSE_GAP_WAIT_MS		5000	/* how long a missing id is waited for */
/* To every worker stream when jobs were queued (at most once per poll),
 * and once on connect: anything may have been queued while it was away. */
#define SSE_WORK_EVENT		"event: work\ndata: {}\n\n"

/* Settings read once from the environment (main.c). */
struct sse_conf {
	int		 acceptors;	/* BROADWAY_SSE_ACCEPTORS, default 8 */
	int		 poll_ms;	/* BROADWAY_SSE_POLL_MS, default 25 */
	int		 keepalive_ms;	/* BROADWAY_SSE_KEEPALIVE_MS, default 15000 */
	int		 sndtimeo_ms;	/* blocking writes of the acceptors */
};
extern struct sse_conf sse_conf;

struct sse_job;

/* Who opened a stream: its token is checked again while it is open
 * (recheck.c), so a revoked token does not keep it. */
struct sse_auth {
	unsigned char	 digest[DIGEST_LEN];
	char		 scope[ID_MAX + 1];	/* the course, or the worker id */
	int		 need;			/* enum auth_need */
};

/* One stream: the FastCGI connection, detached from libfcgi. */
struct sse_stream {
	int		 fd;
	unsigned	 rid;		/* FastCGI request id */
	int		 parked;	/* owned by the publisher: never block */
	int		 worker;	/* a worker's nudge stream: no job */
	int64_t		 job_id;	/* grading_job.id */
	int64_t		 resume_id;	/* Last-Event-ID, or -1 */
	int64_t		 last_pos;	/* last position sent, or -1 */
	int64_t		 last_write_ms;
	struct sse_job	*job;		/* NULL for a worker stream */
	struct sse_auth	 auth;
	struct sse_stream *next, *prev;	/* the job's streams, the workers',
					 * or pending */
	char		 reqid[40];
};

/* wire.c: FastCGI framing and event text, no I/O. */
size_t		 sse_record(unsigned char *out, size_t size, int type,
		    unsigned rid, const void *data, size_t len);
size_t		 sse_record_end(unsigned char *out, size_t size, unsigned rid);
const char	*sse_state_word(int job_state);	/* NULL for QUEUED */
int		 sse_state_terminal(int job_state);
int		 sse_fmt_state(char *buf, size_t size, int64_t id,
		    const char *word);	/* length, or -1 */
int		 sse_fmt_position(char *buf, size_t size, int64_t id,
		    int64_t pos);	/* length, or -1 */
long		 sse_pos_find(const int64_t *ids, size_t n, int64_t id);

/* Event ids seen missing (allocated, not yet committed, or rolled back). */
struct sse_gaps {
	int64_t		 id[SSE_GAP_MAX];	/* ascending */
	int64_t		 since[SSE_GAP_MAX];
	size_t		 n;
};
void		 sse_gaps_add(struct sse_gaps *, int64_t from, int64_t to,
		    int64_t now);
int		 sse_gaps_take(struct sse_gaps *, int64_t id);	/* 1 if it was one */
void		 sse_gaps_expire(struct sse_gaps *, int64_t now, int64_t wait);

/* stream.c */
struct sse_stream *sse_stream_new(int fd, unsigned rid, int64_t job_id,
		    int64_t resume_id, const char *reqid);
int		 sse_stream_send(struct sse_stream *, const char *, size_t);
int		 sse_stream_headers(struct sse_stream *);
/* Replay after Last-Event-ID and the state snapshot.  0 or -1. */
int		 sse_stream_sync(struct db *, struct sse_stream *, int state,
		    int64_t last_id);
/* End the response (if clean), close and free. */
void		 sse_stream_end(struct sse_stream *, int clean);

/* hub.c */
int		 hub_init(void);
void		 hub_submit(struct sse_stream *);
void		*hub_main(void *);
void		*sweep_main(void *);	/* sweep.c */
void		 hub_stop(void);
int		 hub_stopping(void);

/* accept.c */
void		*acceptor_main(void *);

#endif
