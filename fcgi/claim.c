/*
 * Claim scheduling: which job a worker with a free slot gets.  Courses
 * take turns (round robin over the courses with queued work, in id
 * order, after the one served last); within a course jobs go first in,
 * first out.  A claim never waits: a job another claim has just locked
 * is skipped, and with nothing to give the worker polls again.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "env.h"
#include "log.h"
#include "states.h"
#include "util.h"

#define HELD_MAX	64	/* a worker's slots at most */

enum claim_stmt {
	CL_SEEN,
	CL_WORKER_LOCK,
	CL_HELD_JOBS,
	CL_NEXT_COURSE,
	CL_HEAD_OF_COURSE,
	CL_RUN_OF_JOB,
	CL_JOB_START,
	CL_RR_SET,
	CL__MAX
};

static const char *const claim_sql[CL__MAX] = {
	/* CL_SEEN */
	"UPDATE worker SET last_seen = CURRENT_TIMESTAMP(6), alive = 1 WHERE id = ?",
	/* CL_WORKER_LOCK: serialises the claims of one worker (its slots). */
	"SELECT w.slots, (SELECT COUNT(*) FROM grading_job j WHERE"
	" j.worker_id = w.id AND j.state = ?) FROM worker w WHERE w.id = ?"
	" FOR UPDATE",
	/* CL_HELD_JOBS: newest lease first. */
	"SELECT id, public_id, started_at < CURRENT_TIMESTAMP(6) - INTERVAL ?"
	" MICROSECOND FROM grading_job WHERE worker_id = ? AND state = ?"
	" ORDER BY started_at DESC, id DESC",
	/* CL_NEXT_COURSE: the first course with queued work after the one
	 * served last, in id order, wrapping around.  The cursor is read
	 * without a lock; it is written last in the claim, so its row is
	 * locked only for the commit, not for the whole claim. */
	"SELECT COALESCE((SELECT q.course_id FROM grading_job q WHERE"
	" q.state = ? AND q.course_id > s.rr_course ORDER BY q.course_id"
	" LIMIT 1), (SELECT q.course_id FROM grading_job q WHERE q.state = ?"
	" ORDER BY q.course_id LIMIT 1)) FROM scheduler s WHERE s.id = 1",
	/* CL_HEAD_OF_COURSE: FIFO within the course; a job another claim
	 * has just locked is skipped rather than waited for. */
	"SELECT id, public_id, kind, run_env, attempt, run_id FROM grading_job"
	" WHERE state = ? AND course_id = ? ORDER BY id LIMIT 1"
	" FOR UPDATE SKIP LOCKED",
	/* CL_RUN_OF_JOB: read apart from the locking read above, which
	 * would otherwise lock the run row too and make every other claim
	 * of the run skip its jobs (and results wait). */
	"SELECT public_id, config FROM grading_run WHERE id = ?",
	/* CL_JOB_START */
	"UPDATE grading_job SET state = ?, worker_id = ?, attempt = attempt + 1,"
	" started_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND state = ?",
	/* CL_RR_SET */
	"UPDATE scheduler SET rr_course = ? WHERE id = 1",
};

struct worker_row {		/* CL_WORKER_LOCK: slots, and leases held */
	int64_t		 slots, held;
};

static const struct db_col worker_cols[] = {
	DB_INT(struct worker_row, slots), DB_INT(struct worker_row, held),
};

struct held_row {		/* CL_HELD_JOBS */
	int64_t		 id;
	char		 pid[PUBLIC_ID_LEN + 1];
	int64_t		 stale;	/* older than the allowance */
};

static const struct db_col held_cols[] = {
	DB_INT(struct held_row, id), DB_STR(struct held_row, pid),
	DB_INT(struct held_row, stale),
};

struct course_row {		/* CL_NEXT_COURSE: "" if nothing is queued */
	char		 id[ID_MAX + 1];
};

static const struct db_col course_cols[] = {
	DB_STR_OPT(struct course_row, id),
};

struct head_row {		/* CL_HEAD_OF_COURSE */
	int64_t		 id;
	char		 pid[PUBLIC_ID_LEN + 1];
	int		 kind;
	json_t		*run_env;
	int64_t		 attempt;	/* claims so far */
	int64_t		 run_id;
};

static const struct db_col head_cols[] = {
	DB_INT(struct head_row, id), DB_STR(struct head_row, pid),
	DB_INT(struct head_row, kind), DB_JSON(struct head_row, run_env),
	DB_INT(struct head_row, attempt), DB_INT(struct head_row, run_id),
};

struct run_row {		/* CL_RUN_OF_JOB */
	char		 pid[PUBLIC_ID_LEN + 1];
	json_t		*config;
};

static const struct db_col run_cols[] = {
	DB_STR(struct run_row, pid), DB_JSON(struct run_row, config),
};

int
engine_worker_seen(struct db *db, const char *worker, uint64_t *affected)
{
	return db_exec(db, claim_sql[CL_SEEN], affected, "s", worker);
}

static int
listed(const json_t *list, const char *pid)
{
	const json_t	*v;
	size_t		 i;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), pid) == 0)
			return 1;
	return 0;
}

/*
 * A claim means "I have a free slot".  Leases the worker no longer knows
 * of (the answer to an earlier claim was lost: a killed FastCGI child, a
 * dropped connection) would otherwise pin its slots forever while it
 * heartbeats.  With the "running" list the lost ones are exactly those
 * not in it; without it, a worker at its slot count must have lost at
 * least one: the newest leases beyond slots - 1 are given back once
 * they are older than the allowance (so a client that simply claims too
 * often still gets nothing).  Either way they go back to the queue
 * (engine_job_lost) and the held count is updated.
 */
static int
release_lost(struct db *db, const struct claim *cl, struct worker_row *w)
{
	struct db_res	*res;
	struct held_row	 h;
	int64_t		 lost[HELD_MAX];
	size_t		 n = 0, i;
	int64_t		 seen = 0, keep = w->slots - 1;

	if (cl->running == NULL && w->held < w->slots)
		return 0;
	if ((res = db_query(db, claim_sql[CL_HELD_JOBS], "isi",
	    engine_conf.allowance_s * 1000000, cl->worker,
	    (int64_t)JOB_STARTED)) == NULL)
		return -1;
	while (n < HELD_MAX && DB_ROW(res, held_cols, &h) == 1)
		if (cl->running != NULL ? !listed(cl->running, h.pid) :
		    (w->held - seen++ > keep && h.stale != 0))
			lost[n++] = h.id;
	db_res_free(res);
	for (i = 0; i < n; i++) {
		log_info("worker %s no longer runs job %lld: lease released",
		    cl->worker, (long long)lost[i]);
		if (engine_job_lost(db, (uint64_t)lost[i]) == -1)
			return -1;
	}
	w->held -= (int64_t)n;
	return 0;
}

/* 1 with the course to serve next, 0 if nothing is queued, -1 error. */
static int
next_course(struct db *db, struct course_row *c)
{
	int		 rc;

	rc = DB_QUERY_ROW(db, claim_sql[CL_NEXT_COURSE], course_cols, c, "ii",
	    (int64_t)JOB_QUEUED, (int64_t)JOB_QUEUED);
	return rc == 1 && c->id[0] == '\0' ? 0 : rc;
}

/* The course's first queued job, locked: 1, 0 (none free), -1. */
static int
head_of_course(struct db *db, const char *course, struct head_row *h)
{
	int		 rc;

	memset(h, 0, sizeof(*h));
	rc = DB_QUERY_ROW(db, claim_sql[CL_HEAD_OF_COURSE], head_cols, h, "is",
	    (int64_t)JOB_QUEUED, course);
	if (rc == 1 && h->run_env == NULL)
		return -1;
	return rc;
}

/* The lease a worker receives: the job and its stages.  NULL on error. */
static json_t *
lease_new(struct db *db, const char *course, const struct head_row *h)
{
	struct run_row	 run = { "", NULL };
	json_t		*stages, *job = NULL;
	int		 rc;

	rc = DB_QUERY_ROW(db, claim_sql[CL_RUN_OF_JOB], run_cols, &run, "i",
	    h->run_id);
	if (rc != 1 || run.config == NULL)
		goto out;
	stages = env_job_stages(run.config, h->kind, h->run_env, run.pid, h->pid);
	if (stages == NULL)
		goto out;
	job = json_pack("{s:s, s:I, s:s, s:s, s:O}", "grading_job_id", h->pid,
	    "attempt", (json_int_t)(h->attempt + 1), "kind",
	    job_kind_name(h->kind), "course", course, "stages", stages);
	json_decref(stages);
out:
	json_decref(run.config);
	return job;
}

static int
claim_txn(struct db *db, void *arg)
{
	struct claim		*cl = arg;
	struct worker_row	 w;
	struct course_row	 course;
	struct head_row		 h;
	int			 rc;

	json_decref(cl->job);
	cl->job = NULL;
	cl->outcome = CLAIM_NONE;
	rc = DB_QUERY_ROW(db, claim_sql[CL_WORKER_LOCK], worker_cols, &w, "is",
	    (int64_t)JOB_STARTED, cl->worker);
	if (rc != 1) {
		cl->outcome = CLAIM_UNKNOWN_WORKER;
		return rc == 0 ? DB_TXN_ROLLBACK : DB_TXN_FAIL;
	}
	/* From here on "nothing for you" commits: the worker was seen and
	 * its lost leases were given back. */
	if (engine_worker_seen(db, cl->worker, NULL) == -1 ||
	    release_lost(db, cl, &w) == -1)
		return DB_TXN_FAIL;
	if (w.held >= w.slots)
		return DB_TXN_COMMIT;
	if ((rc = next_course(db, &course)) != 1)
		return rc == 0 ? DB_TXN_COMMIT : DB_TXN_FAIL;
	if ((rc = head_of_course(db, course.id, &h)) != 1)
		return rc == 0 ? DB_TXN_COMMIT : DB_TXN_FAIL;
	rc = DB_TXN_FAIL;
	if ((cl->job = lease_new(db, course.id, &h)) == NULL)
		goto out;
	if (db_exec(db, claim_sql[CL_JOB_START], NULL, "isii",
	    (int64_t)JOB_STARTED, cl->worker, h.id, (int64_t)JOB_QUEUED) == -1 ||
	    engine_event(db, (uint64_t)h.id, course.id, JOB_STARTED) == -1 ||
	    db_exec(db, claim_sql[CL_RR_SET], NULL, "s", course.id) == -1)
		goto out;
	cl->outcome = CLAIM_LEASED;
	rc = DB_TXN_COMMIT;
out:
	json_decref(h.run_env);
	return rc;
}

int
engine_claim(struct db *db, struct claim *cl)
{
	cl->job = NULL;
	if (db_txn(db, claim_txn, cl) == DB_TXN_FAIL) {
		json_decref(cl->job);
		cl->job = NULL;
		return -1;
	}
	if (cl->outcome != CLAIM_LEASED) {
		json_decref(cl->job);
		cl->job = NULL;
	}
	return 0;
}
