#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "env.h"
#include "jsonx.h"
#include "log.h"
#include "states.h"
#include "util.h"

#define BULK_ROWS	1000	/* student jobs inserted per round trip */
#define SWEEP_MAX	256	/* dead workers handled per sweep */

struct engine_conf engine_conf = { 10, 30, 3 };

enum engine_stmt {
	ENG_JOB_INSERT,
	ENG_RUN_SET_STATE,
	ENG_RUN_FINISH,
	ENG_RUN_LOCK,
	ENG_RUN_LOAD,
	ENG_RUN_STUDENTS,
	ENG_EVENT_INSERT,
	ENG_JOB_LOCK,
	ENG_JOB_REQUEUE,
	ENG_JOB_INFRA_FAIL,
	ENG_LOG_PUT,
	ENG_WORKER_JOBS,
	ENG_SWEEP_GAP,
	ENG_SWEEP_GAP_LOCK,
	ENG_SWEEP_STAMP,
	ENG_SWEEP_GRACE,
	ENG_SWEEP_DEAD,
	ENG_WORKER_KILL,
	ENG_EVENT_PRUNE,
	ENG__MAX
};

static const char *const eng_sql[ENG__MAX] = {
	/* ENG_JOB_INSERT */
	"INSERT INTO grading_job (public_id, run_id, course_id, kind, state,"
	" run_env) VALUES (?, ?, ?, ?, ?, ?)",
	/* ENG_RUN_SET_STATE */
	"UPDATE grading_run SET state = ?, students_left = ? WHERE id = ?",
	/* ENG_RUN_FINISH */
	"UPDATE grading_run SET state = ?, finished_at = CURRENT_TIMESTAMP(6)"
	" WHERE id = ?",
	/* ENG_RUN_LOCK: every job end of a run passes here, one at a time. */
	"SELECT state, students_left FROM grading_run WHERE id = ? FOR UPDATE",
	/* ENG_RUN_LOAD */
	"SELECT config, post_env, course_id FROM grading_run WHERE id = ?",
	/* ENG_RUN_STUDENTS: read apart, only when the student jobs are made. */
	"SELECT students_env FROM grading_run WHERE id = ?",
	/* ENG_EVENT_INSERT */
	"INSERT INTO job_event (job_id, course_id, state) VALUES (?, ?, ?)",
	/* ENG_JOB_LOCK */
	"SELECT run_id, kind, course_id, attempt, state FROM grading_job"
	" WHERE id = ? FOR UPDATE",
	/* ENG_JOB_REQUEUE: the job keeps its id, so its old place in line. */
	"UPDATE grading_job SET state = ?, worker_id = NULL, started_at = NULL"
	" WHERE id = ?",
	/* ENG_JOB_INFRA_FAIL */
	"UPDATE grading_job SET state = ?, success = 0, infra_failure = 1,"
	" finished_at = CURRENT_TIMESTAMP(6), results = ? WHERE id = ?",
	/* ENG_LOG_PUT */
	"INSERT INTO job_log (job_id, stdout, stderr) VALUES (?, ?, ?)"
	" ON DUPLICATE KEY UPDATE stdout = VALUES(stdout), stderr = VALUES(stderr)",
	/* ENG_WORKER_JOBS */
	"SELECT id FROM grading_job WHERE worker_id = ? AND state = ?",
	/* ENG_SWEEP_GAP: microseconds since the last sweep, without a lock. */
	"SELECT TIMESTAMPDIFF(MICROSECOND, last_sweep, CURRENT_TIMESTAMP(6))"
	" FROM scheduler WHERE id = 1",
	/* ENG_SWEEP_GAP_LOCK */
	"SELECT TIMESTAMPDIFF(MICROSECOND, last_sweep, CURRENT_TIMESTAMP(6))"
	" FROM scheduler WHERE id = 1 FOR UPDATE",
	/* ENG_SWEEP_STAMP */
	"UPDATE scheduler SET last_sweep = CURRENT_TIMESTAMP(6) WHERE id = 1",
	/* ENG_SWEEP_GRACE */
	"UPDATE worker SET last_seen = CURRENT_TIMESTAMP(6) WHERE alive = 1",
	/* ENG_SWEEP_DEAD */
	"SELECT id FROM worker WHERE alive = 1 AND last_seen <"
	" CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND LIMIT 256",
	/* ENG_WORKER_KILL */
	"UPDATE worker SET alive = 0 WHERE id = ?",
	/* ENG_EVENT_PRUNE */
	"DELETE FROM job_event WHERE created_at < CURRENT_TIMESTAMP(6) -"
	" INTERVAL 1 HOUR LIMIT 5000",
};

void
engine_conf_load(void)
{
	engine_conf.heartbeat_s = env_int64("BROADWAY_HEARTBEAT", 10, 1, 3600);
	engine_conf.allowance_s = env_int64("BROADWAY_ALLOWANCE",
	    3 * engine_conf.heartbeat_s, 1, 3 * 3600);
	engine_conf.max_attempts = env_int64("BROADWAY_MAX_ATTEMPTS", 3, 1, 100);
}

int
engine_event(struct db *db, uint64_t job_id, const char *course, int state)
{
	return db_exec(db, eng_sql[ENG_EVENT_INSERT], NULL, "isi",
	    (int64_t)job_id, course, (int64_t)state);
}

int
engine_log_put(struct db *db, uint64_t job_id, const char *out, size_t out_len,
    const char *err, size_t err_len)
{
	return db_exec(db, eng_sql[ENG_LOG_PUT], NULL, "iSS", (int64_t)job_id,
	    out, out_len, err, err_len);
}

/*
 * Jobs of `course` were just queued: one job_event row with job_id 0
 * (no job has id 0) for the whole batch, which broadway-sse turns into
 * a `work` event for every waiting worker.  Written last in the
 * transaction, so its id is taken just before the commit and the SSE
 * hub never waits long on it as a missing id.  A requeue needs none:
 * its own QUEUED event serves.
 */
static int
engine_queued(struct db *db, const char *course)
{
	return engine_event(db, 0, course, JOB_QUEUED);
}

/* One pre or post job. */
static int
job_insert_one(struct db *db, uint64_t run_id, const char *course, int kind,
    const json_t *run_env)
{
	char	 pid[PUBLIC_ID_LEN + 1], *env;
	int	 rc;

	if (public_id_new(pid) == -1)
		return -1;
	env = run_env != NULL && json_is_object(run_env) ?
	    jsonx_dump(run_env) : strdup("{}");
	if (env == NULL)
		return -1;
	rc = db_exec(db, eng_sql[ENG_JOB_INSERT], NULL, "sisiis", pid,
	    (int64_t)run_id, course, (int64_t)kind, (int64_t)JOB_QUEUED, env);
	free(env);
	return rc;
}

/* Every student job of a run, BULK_ROWS per round trip, roster order. */
static int
job_insert_students(struct db *db, uint64_t run_id, const char *course,
    const json_t *students)
{
	size_t		 n = json_array_size(students), base, k, cnt;
	char		(*pids)[PUBLIC_ID_LEN + 1] = NULL;
	const char	**pidp = NULL, **coursep = NULL;
	char		**envs = NULL;
	int64_t		*runs = NULL, *kinds = NULL, *states = NULL;
	int		 rc = -1;

	pids = calloc(BULK_ROWS, sizeof(*pids));
	pidp = calloc(BULK_ROWS, sizeof(*pidp));
	coursep = calloc(BULK_ROWS, sizeof(*coursep));
	envs = calloc(BULK_ROWS, sizeof(*envs));
	runs = calloc(BULK_ROWS, sizeof(*runs));
	kinds = calloc(BULK_ROWS, sizeof(*kinds));
	states = calloc(BULK_ROWS, sizeof(*states));
	if (!pids || !pidp || !coursep || !envs || !runs || !kinds || !states)
		goto out;
	for (base = 0; base < n; base += BULK_ROWS) {
		cnt = n - base < BULK_ROWS ? n - base : BULK_ROWS;
		for (k = 0; k < cnt; k++) {
			if (public_id_new(pids[k]) == -1)
				goto out;
			pidp[k] = pids[k];
			coursep[k] = course;
			runs[k] = (int64_t)run_id;
			kinds[k] = JOB_KIND_STUDENT;
			states[k] = JOB_QUEUED;
			free(envs[k]);
			envs[k] = jsonx_dump(json_array_get(students, base + k));
			if (envs[k] == NULL)
				goto out;
		}
		if (db_exec_bulk(db, eng_sql[ENG_JOB_INSERT], cnt, "sisiis",
		    pidp, runs, coursep, kinds, states,
		    (const char *const *)envs) == -1)
			goto out;
	}
	rc = 0;
out:
	if (envs != NULL)
		for (k = 0; k < BULK_ROWS; k++)
			free(envs[k]);
	free(pids);
	free(pidp);
	free(coursep);
	free(envs);
	free(runs);
	free(kinds);
	free(states);
	return rc;
}

int
engine_run_begin(struct db *db, uint64_t run_id, const char *course,
    const json_t *config, const json_t *students, const json_t *pre_env)
{
	size_t	 n = json_array_size(students);

	if (env_pipeline(config, JOB_KIND_PRE) != NULL) {
		if (job_insert_one(db, run_id, course, JOB_KIND_PRE, pre_env) == -1 ||
		    db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL, "iii",
		    (int64_t)RUN_PRE_PROCESSING_STAGE, (int64_t)n,
		    (int64_t)run_id) == -1)
			return -1;
		return engine_queued(db, course);
	}
	if (job_insert_students(db, run_id, course, students) == -1 ||
	    db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL, "iii",
	    (int64_t)RUN_STUDENTS_STAGE, (int64_t)n, (int64_t)run_id) == -1)
		return -1;
	return engine_queued(db, course);
}

/* ENG_RUN_LOAD: what a transition needs from the run row, parsed. */
struct run_row {
	json_t		*config;
	json_t		*post_env;
	char		 course[ID_MAX + 1];
	json_t		*students;	/* ENG_RUN_STUDENTS, if asked for */
};

static const struct db_col run_row_cols[] = {
	DB_JSON(struct run_row, config), DB_JSON(struct run_row, post_env),
	DB_STR(struct run_row, course),
};

static const struct db_col run_students_cols[] = {
	DB_JSON(struct run_row, students),
};

static void
run_row_free(struct run_row *rr)
{
	json_decref(rr->config);
	json_decref(rr->students);
	json_decref(rr->post_env);
}

/* 0, or -1 with nothing to free. */
static int
run_row_load(struct db *db, uint64_t run_id, struct run_row *rr,
    int want_students)
{
	int		 rc;

	memset(rr, 0, sizeof(*rr));
	rc = DB_QUERY_ROW(db, eng_sql[ENG_RUN_LOAD], run_row_cols, rr, "i",
	    (int64_t)run_id);
	if (rc == 1 && rr->config != NULL && want_students &&
	    (rc = DB_QUERY_ROW(db, eng_sql[ENG_RUN_STUDENTS], run_students_cols,
	    rr, "i", (int64_t)run_id)) == 1 && rr->students == NULL)
		rc = -1;
	if (rc == 1 && rr->config != NULL)
		return 0;
	run_row_free(rr);
	return -1;
}

static int
run_finish(struct db *db, uint64_t run_id, int state)
{
	return db_exec(db, eng_sql[ENG_RUN_FINISH], NULL, "ii",
	    (int64_t)state, (int64_t)run_id);
}

/* The last student job ended: post-processing, or the end of the run. */
static int
run_students_done(struct db *db, uint64_t run_id)
{
	struct run_row	 rr;
	int		 rc;

	if (run_row_load(db, run_id, &rr, 0) == -1)
		return -1;
	if (env_pipeline(rr.config, JOB_KIND_POST) != NULL) {
		rc = job_insert_one(db, run_id, rr.course, JOB_KIND_POST,
		    rr.post_env);
		if (rc == 0)
			rc = db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL, "iii",
			    (int64_t)RUN_POST_PROCESSING_STAGE, (int64_t)0,
			    (int64_t)run_id);
		if (rc == 0)
			rc = engine_queued(db, rr.course);
	} else
		rc = db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL, "iii",
		    (int64_t)RUN_FINISHED, (int64_t)0, (int64_t)run_id) == 0 &&
		    run_finish(db, run_id, RUN_FINISHED) == 0 ? 0 : -1;
	run_row_free(&rr);
	return rc;
}

static int
run_pre_done(struct db *db, uint64_t run_id, int success)
{
	struct run_row	 rr;
	int		 rc;

	if (!success)
		return run_finish(db, run_id, RUN_FAILED);
	if (run_row_load(db, run_id, &rr, 1) == -1)
		return -1;
	rc = job_insert_students(db, run_id, rr.course, rr.students);
	if (rc == 0)
		rc = db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL, "iii",
		    (int64_t)RUN_STUDENTS_STAGE,
		    (int64_t)json_array_size(rr.students), (int64_t)run_id);
	if (rc == 0)
		rc = engine_queued(db, rr.course);
	run_row_free(&rr);
	return rc;
}

/*
 * The run row is locked first, so two results ending the last two
 * student jobs at once are serialised here: only the one that takes
 * students_left to zero starts post-processing.
 */
struct run_lock_row {
	int64_t		 state;
	int64_t		 left;
};

static const struct db_col run_lock_cols[] = {	/* ENG_RUN_LOCK */
	DB_INT(struct run_lock_row, state), DB_INT(struct run_lock_row, left),
};

int
engine_job_ended(struct db *db, uint64_t run_id, int kind, int success)
{
	struct run_lock_row	 run;
	int			 rc;

	rc = DB_QUERY_ROW(db, eng_sql[ENG_RUN_LOCK], run_lock_cols, &run, "i",
	    (int64_t)run_id);
	if (rc != 1)
		return -1;
	if (run.state == RUN_FINISHED || run.state == RUN_FAILED)
		return 0;
	switch (kind) {
	case JOB_KIND_PRE:
		return run_pre_done(db, run_id, success);
	case JOB_KIND_STUDENT:
		if (run.left > 1)
			return db_exec(db, eng_sql[ENG_RUN_SET_STATE], NULL,
			    "iii", run.state, run.left - 1, (int64_t)run_id);
		return run_students_done(db, run_id);
	case JOB_KIND_POST:
		return run_finish(db, run_id, success ? RUN_FINISHED : RUN_FAILED);
	default:
		return -1;
	}
}

struct job_lock_row {
	int64_t		 run_id;
	int		 kind;
	char		 course[ID_MAX + 1];
	int64_t		 attempt;
	int		 state;
};

static const struct db_col job_lock_cols[] = {	/* ENG_JOB_LOCK */
	DB_INT(struct job_lock_row, run_id), DB_INT(struct job_lock_row, kind),
	DB_STR(struct job_lock_row, course),
	DB_INT(struct job_lock_row, attempt),
	DB_INT(struct job_lock_row, state),
};

int
engine_job_lost(struct db *db, uint64_t job_id)
{
	struct job_lock_row	 job;
	char			 results[512], msg[256];
	int			 rc;

	rc = DB_QUERY_ROW(db, eng_sql[ENG_JOB_LOCK], job_lock_cols, &job, "i",
	    (int64_t)job_id);
	if (rc != 1)
		return rc;
	if (job.state != JOB_STARTED)
		return 0;
	if (job.attempt < engine_conf.max_attempts) {
		log_info("job %llu requeued after attempt %lld",
		    (unsigned long long)job_id, (long long)job.attempt);
		if (db_exec(db, eng_sql[ENG_JOB_REQUEUE], NULL, "ii",
		    (int64_t)JOB_QUEUED, (int64_t)job_id) == -1)
			return -1;
		return engine_event(db, job_id, job.course, JOB_QUEUED);
	}
	snprintf(msg, sizeof(msg), "infrastructure failure: the worker running"
	    " this job was lost %lld times; the submission was not at fault",
	    (long long)job.attempt);
	snprintf(results, sizeof(results), "[{\"result\":\"%s\","
	    "\"infrastructure_failure\":true}]", msg);
	log_info("job %llu failed: %s", (unsigned long long)job_id, msg);
	if (db_exec(db, eng_sql[ENG_JOB_INFRA_FAIL], NULL, "isi",
	    (int64_t)JOB_FAILED, results, (int64_t)job_id) == -1 ||
	    engine_log_put(db, job_id, "", 0, msg, strlen(msg)) == -1 ||
	    engine_event(db, job_id, job.course, JOB_FAILED) == -1 ||
	    engine_job_ended(db, (uint64_t)job.run_id, job.kind, 0) == -1)
		return -1;
	return 0;
}

struct id_row {
	int64_t		 id;
};

static const struct db_col id_cols[] = {	/* ENG_WORKER_JOBS */
	DB_INT(struct id_row, id),
};

int
engine_worker_lost(struct db *db, const char *worker_id)
{
	struct db_res	*res;
	struct id_row	 ids[64];
	size_t		 n = 0, i;
	int		 more;

	/* A worker holds at most its slots (<= 64) jobs. */
	do {
		if ((res = db_query(db, eng_sql[ENG_WORKER_JOBS], "si",
		    worker_id, (int64_t)JOB_STARTED)) == NULL)
			return -1;
		n = 0;
		while (n < 64 && DB_ROW(res, id_cols, &ids[n]) == 1)
			n++;
		more = db_res_rows(res) > n;
		db_res_free(res);
		for (i = 0; i < n; i++)
			if (engine_job_lost(db, (uint64_t)ids[i].id) == -1)
				return -1;
	} while (more);
	return 0;
}

struct worker_id_row {
	char		 id[ID_MAX + 1];
};

static const struct db_col worker_id_cols[] = {	/* ENG_SWEEP_DEAD */
	DB_STR(struct worker_id_row, id),
};

static int
sweep_txn(struct db *db, void *arg)
{
	struct db_res		*res;
	struct worker_id_row	 ids[SWEEP_MAX];
	int64_t			 gap = 0;
	size_t			 n = 0, i;

	(void)arg;
	if (db_query_int(db, eng_sql[ENG_SWEEP_GAP_LOCK], &gap, "") == -1)
		return -1;
	if (gap < 1000000)
		return 0;
	if (db_exec(db, eng_sql[ENG_SWEEP_STAMP], NULL, "") == -1)
		return -1;
	/*
	 * Nobody swept for longer than the allowance: the API (or its
	 * database) was down, so silence says nothing about the workers.
	 * Give every live one a fresh allowance instead of killing them all.
	 */
	if (gap > engine_conf.allowance_s * 1000000) {
		log_info("no sweep for %lld ms: fresh allowance for every worker",
		    (long long)(gap / 1000));
		return db_exec(db, eng_sql[ENG_SWEEP_GRACE], NULL, "");
	}
	if ((res = db_query(db, eng_sql[ENG_SWEEP_DEAD], "i",
	    engine_conf.allowance_s * 1000000)) == NULL)
		return -1;
	while (n < SWEEP_MAX && DB_ROW(res, worker_id_cols, &ids[n]) == 1)
		n++;
	db_res_free(res);
	for (i = 0; i < n; i++) {
		log_info("worker %s silent past %llds: marked dead", ids[i].id,
		    (long long)engine_conf.allowance_s);
		if (db_exec(db, eng_sql[ENG_WORKER_KILL], NULL, "s",
		    ids[i].id) == -1 ||
		    engine_worker_lost(db, ids[i].id) == -1)
			return -1;
	}
	return db_exec(db, eng_sql[ENG_EVENT_PRUNE], NULL, "");
}

void
engine_sweep(struct db *db)
{
	int64_t		 gap = 0;

	/* The cheap unlocked look keeps the common case to one PK read. */
	if (db_query_int(db, eng_sql[ENG_SWEEP_GAP], &gap, "") == -1)
		return;
	if (gap < 1000000)
		return;
	if (db_txn(db, sweep_txn, NULL) == -1)
		log_warnx("sweep failed");
}
