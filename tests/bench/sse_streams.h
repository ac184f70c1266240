#ifndef BENCH_SSE_STREAMS_H
#define BENCH_SSE_STREAMS_H

/*
 * Many server-sent event streams in one thread: each on its own
 * HTTPS/1.1 connection, libcurl multi driven by epoll.  Shared by the
 * SSE and load benches.  Not thread-safe: one thread opens, pumps and
 * reaps.
 */
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct sse_conn {
	CURL		*e;
	void		*arg;		/* the bench's */
	int		 done;
	int		 rc;		/* libcurl's code at the end */
	long		 http;		/* HTTP status at the end */
	size_t		 ll;
	char		 line[512];
	char		 event[64];	/* the current event's name */
	char		 data[256];	/* and its (last) data line */
};

struct sse_hooks {
	void	(*event)(struct sse_conn *);	/* one complete event */
	void	(*done)(struct sse_conn *);	/* the stream ended */
};

extern struct sse_hooks	 sse_hooks;

void	 sse_init(void);		/* raises RLIMIT_NOFILE too */
/* Set up c for url (the handle is created here); not yet started. */
void	 sse_conn_setup(struct sse_conn *c, const char *url,
	    struct curl_slist *headers, const char *cafile);
void	 sse_conn_add(struct sse_conn *c);	/* start it */
/* Run the transfers for ms milliseconds or until cond() holds. */
void	 sse_pump(int64_t ms, int (*cond)(void));
int64_t	 sse_now_us(void);
void	 sse_cleanup(void);		/* after the last stream is done */

#endif
