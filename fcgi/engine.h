#ifndef BW_ENGINE_H
#define BW_ENGINE_H

/*
 * The run engine: the run state machine, leases, claim scheduling
 * (claim.c) and the dead-worker sweep.  Shared by broadway-fcgi (on
 * every state change) and broadway-sse (which sweeps once a second, so
 * a dead worker's jobs are requeued even when no other worker calls in).
 */

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct db;

/* Settings from the environment (engine_conf_load). */
struct engine_conf {
	int64_t		 heartbeat_s;	/* BROADWAY_HEARTBEAT, default 10 */
	int64_t		 allowance_s;	/* BROADWAY_ALLOWANCE, default 3 x heartbeat */
	int64_t		 max_attempts;	/* BROADWAY_MAX_ATTEMPTS, default 3 */
};
extern struct engine_conf engine_conf;

void	 engine_conf_load(void);	/* fatal on a malformed value */

/* The functions below run inside a db_txn: 0, or -1 on a DB error. */

/* Create the first jobs of a new run (the pre job, or every student
 * job) and set its state. */
int	 engine_run_begin(struct db *, uint64_t run_id, const char *course,
	    const json_t *config, const json_t *students, const json_t *pre_env);
/* A job of the run ended; advance the run. */
int	 engine_job_ended(struct db *, uint64_t run_id, int kind, int success);
/* Give a lost STARTED job back to the queue, or fail it for good after
 * max_attempts lost leases. */
int	 engine_job_lost(struct db *, uint64_t job_id);
/* Requeue every job a worker holds (it died or started afresh). */
int	 engine_worker_lost(struct db *, const char *worker_id);
/* A job_event row for the SSE process.  job_id 0 with JOB_QUEUED
 * (written by the engine once per batch of new jobs) means "work was
 * queued in this course". */
int	 engine_event(struct db *, uint64_t job_id, const char *course, int state);

/* The worker called in (alive, last seen now); *affected 0: unknown. */
int	 engine_worker_seen(struct db *, const char *worker, uint64_t *affected);

/* claim.c: a worker with a free slot asks for a job. */
enum claim_outcome {
	CLAIM_NONE = 0,		/* nothing queued, or every slot is busy */
	CLAIM_LEASED,		/* job holds the lease */
	CLAIM_UNKNOWN_WORKER,	/* not registered */
	CLAIM__MAX
};

struct claim {
	const char	*worker;
	const json_t	*running;	/* job ids the worker says it runs,
					 * or NULL */
	enum claim_outcome outcome;
	json_t		*job;		/* CLAIM_LEASED: the caller's */
};

/* Its own transaction: 0 with cl->outcome, or -1 (database error). */
int	 engine_claim(struct db *, struct claim *cl);

/* The logs of a job, replacing any stored before. */
int	 engine_log_put(struct db *, uint64_t job_id, const char *out,
	    size_t out_len, const char *err, size_t err_len);

/* Its own transaction; at most once a second across all processes.
 * It also prunes job_event rows older than an hour (broadway-sse runs
 * it every second, so the event log stays short with no API traffic). */
void	 engine_sweep(struct db *);

#endif
