#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

/*
 * The combined-load benchmark (issue 10): simulated workers, job
 * streams, status and position polling and a course starting runs, all
 * at once.  load_bench.c drives; the other load_*.c keep the counts.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "simworker.h"

enum load_kind {	/* SW_* first, so a worker's kind is its own */
	LK_REGISTER = SW_REGISTER,
	LK_CLAIM = SW_CLAIM,
	LK_RESULT = SW_RESULT,
	LK_HEARTBEAT = SW_HEARTBEAT,
	LK_NUDGE = SW_NUDGE,
	LK_STATUS = SW__KINDS,
	LK_POSITION,
	LK_LENGTH,
	LK_CONFIG,
	LK_RUN,
	LK_STREAM,	/* a job stream: opened -> first event; its end code */
	LK_EVENT,	/* claim answered -> the stream's terminal event */
	LK__MAX
};

enum load_phase {	/* latency samples are kept per phase */
	PH_SETUP,
	PH_FLOOR,	/* the workers alone: the floor */
	PH_LOAD,	/* everything at once */
	PH_DRAIN,
	PH__MAX
};

extern atomic_int	 load_phase;

/* load_stats.c: every request, by kind.  us < 0: no latency sample. */
void	 ls_init(void);
void	 ls_add(int kind, long code, int curl_rc, long long us,
	    const char *what, const char *answer);
void	 ls_mark(int phase);	/* counts at the start of a phase */
long long ls_requests(int phase);	/* requests answered in it */
long long ls_failures(void);	/* non-2xx + socket errors, all kinds */
void	 ls_print(void);

/* load_jobs.c: every job the bench knows of and what happened to it. */
enum { COURSE_UNKNOWN, COURSE_A, COURSE_B };
void	 lj_init(void);
void	 lj_add(const char *id, int course);
int	 lj_claimed(const char *id);	/* its course */
void	 lj_resulted(const char *id, long code);
long long lj_claimed_us(const char *id);	/* 0 if never claimed */
extern atomic_llong	 lj_claims, lj_results, lj_claims_a;
void	 lj_print(void);

/* load_streams.c: the job streams, on one thread. */
struct ls_conf {
	const char	*url, *cafile;
	const char	*course[3], *query[3];	/* by COURSE_* */
	int		 streams;	/* kept open while the load runs */
};
extern struct ls_conf	 lsc;
extern atomic_int	 streams_refill;	/* clear: open no new ones */
void	 pool_add(const char *id);	/* course A's jobs, queue order */
const char *pool_at(long long i);	/* NULL past the end */
long long pool_len(void);
void	 streams_watch(const char *id, int course);	/* any thread */
void	 streams_start(void);
int	 streams_connected(void);	/* open streams that had an event */
void	 streams_stop(int64_t deadline_us);	/* waits for the ends */
void	 streams_print(void);

#endif
