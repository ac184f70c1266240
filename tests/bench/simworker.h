#ifndef BENCH_SIMWORKER_H
#define BENCH_SIMWORKER_H

/*
 * Simulated workers for the benchmarks: threads that speak the worker
 * protocol (worker/PROTOCOL.md) over HTTPS with one libcurl handle
 * each and no containers: register, claim, post a no-op result, and
 * heartbeat every `heartbeat` seconds of the register answer.  With
 * sw.nudge each also holds its nudge stream, as broadway-worker does.
 * The bench that links this says what to do with each answer through
 * sw_hooks; sw_http is its HTTP client for every other request too.
 */
#include <stdatomic.h>

#include <curl/curl.h>

#include "buf.h"

enum sw_kind {		/* the requests this file makes */
	SW_REGISTER,
	SW_CLAIM,
	SW_RESULT,
	SW_HEARTBEAT,
	SW_NUDGE,	/* a nudge stream that ended or failed */
	SW__KINDS
};

struct sw_conf {
	const char	*base;		/* https://host:port/api/v1 */
	const char	*cafile;
	const char	*cluster;	/* the cluster token */
	const char	*prefix;	/* worker ids: PREFIX-wN */
	int		 poll_min_ms, poll_max_ms;
	int		 nudge;
	int		 job_ms;	/* a claimed job is held this long */
};

struct sw_hooks {
	/* After every request of a simulated worker: HTTP status (0 on a
	 * transport error), libcurl's code, the time it took. */
	void	(*request)(int kind, long code, int curl_rc, long long us,
		    const char *path, const char *answer);
	/* A 200 claim, before the result is sent. */
	void	(*claimed)(int worker, const char *job, long long attempt);
	/* The result's answer; sent_us is when it was sent. */
	void	(*resulted)(int worker, const char *job, long code,
		    long long sent_us);
	/* 1: retry a 204 after 2 ms (draining a queue); 0: back off. */
	int	(*eager)(void);
};

extern struct sw_conf	 sw;
extern struct sw_hooks	 sw_hooks;
extern atomic_int	 sw_stop;	/* set: every thread ends */
extern atomic_int	 sw_paused;	/* set: workers only heartbeat */

CURL	*sw_handle(void);
/* One request; the HTTP status, or 0 on a transport error (then
 * *curl_rc, if given, says which). */
long	 sw_http(CURL *, const char *method, const char *path,
	    const char *token, const char *body, struct buf *out, int *curl_rc);
void	 sw_start_nudges(int nworkers);
void	 sw_start_workers(int nworkers);
void	 sw_join(void);			/* after sw_stop is set */

#endif
