#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "states.h"
#include "util.h"

enum status_stmt {
	ST_JOB,
	ST_JOB_LOG,
	ST_WORKERS,
	ST_QUEUE_LENGTH,
	ST_POSITION,
	ST_STATUS,
	ST__MAX
};

static const char *const status_sql[ST__MAX] = {
	/* ST_JOB */
	"SELECT id, state FROM grading_job WHERE public_id = ? AND course_id = ?",
	/* ST_JOB_LOG */
	"SELECT stdout, stderr FROM job_log WHERE job_id = ?",
	/* ST_WORKERS */
	"SELECT w.hostname, w.jobs_processed, w.alive, w.slots,"
	" (SELECT COUNT(*) FROM grading_job j WHERE j.worker_id = w.id"
	" AND j.state = ?) FROM worker w ORDER BY w.id",
	/* ST_QUEUE_LENGTH */
	"SELECT COUNT(*) FROM grading_job WHERE state = ? AND course_id = ?",
	/* ST_POSITION: the job and the queued jobs of its course ahead of
	 * it, in one round trip. */
	"SELECT j.state, (SELECT COUNT(*) FROM grading_job q WHERE q.state = ?"
	" AND q.course_id = j.course_id AND q.id < j.id) FROM grading_job j"
	" WHERE j.public_id = ? AND j.course_id = ?",
	/* ST_STATUS: the run and its jobs in one round trip (a run has at
	 * least one job from the transaction that creates it).  The fixed
	 * join order and ORDER BY on the job_run index avoid a filesort. */
	"SELECT r.state, j.public_id, j.kind, j.state FROM grading_run r"
	" STRAIGHT_JOIN grading_job j ON j.run_id = r.id"
	" WHERE r.public_id = ? AND r.course_id = ? ORDER BY j.run_id, j.id",
};

struct status_row {		/* ST_STATUS */
	int		 run_state;
	char		 job_pid[PUBLIC_ID_LEN + 1];
	int		 job_kind;
	int		 job_state;
};

static const struct db_col status_cols[] = {
	DB_INT(struct status_row, run_state),
	DB_STR(struct status_row, job_pid),
	DB_INT(struct status_row, job_kind),
	DB_INT(struct status_row, job_state),
};

struct job_row {		/* ST_JOB */
	int64_t		 id;
	int		 state;
};

static const struct db_col job_cols[] = {
	DB_INT(struct job_row, id), DB_INT(struct job_row, state),
};

struct position_row {		/* ST_POSITION */
	int		 state;
	int64_t		 ahead;	/* queued jobs of the course before it */
};

static const struct db_col position_cols[] = {
	DB_INT(struct position_row, state), DB_INT(struct position_row, ahead),
};

struct log_row {		/* ST_JOB_LOG */
	struct db_text	 out;
	struct db_text	 err;
};

static const struct db_col log_cols[] = {
	DB_TEXT(struct log_row, out), DB_TEXT(struct log_row, err),
};

struct worker_row {		/* ST_WORKERS */
	char		 hostname[256];
	int64_t		 jobs_processed;
	int		 alive;
	int64_t		 slots;
	int64_t		 running;
};

static const struct db_col worker_cols[] = {
	DB_STR(struct worker_row, hostname),
	DB_INT(struct worker_row, jobs_processed),
	DB_INT(struct worker_row, alive), DB_INT(struct worker_row, slots),
	DB_INT(struct worker_row, running),
};

/* The job of the path within the course: 1, 0 (answered 404), -1
 * (answered 500). */
static int
job_find(struct call *c, struct job_row *job)
{
	int		 rc;

	rc = DB_QUERY_ROW(c->db, status_sql[ST_JOB], job_cols, job, "ss", c->id,
	    c->course);
	if (rc == 0)
		http_send_fail(c->r, 404, "grading job not found");
	else if (rc == -1)
		http_send_fail(c->r, 500, "could not read the grading job");
	return rc;
}

void
h_run_status(struct call *c)
{
	struct db_res	*res;
	struct status_row row;
	json_t		*students, *one, *st, *pre = json_null(), *post = json_null();
	int		 state = -1;

	if ((res = db_query(c->db, status_sql[ST_STATUS], "ss", c->id,
	    c->course)) == NULL) {
		http_send_fail(c->r, 500, "could not read the grading run");
		return;
	}
	students = json_object();
	while (DB_ROW(res, status_cols, &row) == 1) {
		state = row.run_state;
		st = json_string(job_state_name(row.job_state));
		switch (row.job_kind) {
		case JOB_KIND_PRE:
		case JOB_KIND_POST:
			one = json_object();
			json_object_set_new(one, row.job_pid, st);
			if (row.job_kind == JOB_KIND_PRE) {
				json_decref(pre);
				pre = one;
			} else {
				json_decref(post);
				post = one;
			}
			break;
		default:
			json_object_set_new(students, row.job_pid, st);
			break;
		}
	}
	db_res_free(res);
	if (state == -1) {
		json_decref(students);
		json_decref(pre);
		json_decref(post);
		http_send_fail(c->r, 404, "grading run not found");
		return;
	}
	http_send_data(c->r, 200, json_pack("{s:s, s:o, s:o, s:o}", "state",
	    run_state_name(state), "pre_processing_job", pre,
	    "post_processing_job", post, "student_jobs", students));
}

void
h_job_log(struct call *c)
{
	struct db_res	*res;
	struct job_row	 job;
	struct log_row	 log;

	if (job_find(c, &job) != 1)
		return;
	if (job.state == JOB_QUEUED || job.state == JOB_STARTED) {
		http_send_fail(c->r, 409, "grading job has not finished (%s)",
		    job_state_name(job.state));
		return;
	}
	if ((res = db_query(c->db, status_sql[ST_JOB_LOG], "i", job.id)) == NULL) {
		http_send_fail(c->r, 500, "could not read the log");
		return;
	}
	if (DB_ROW(res, log_cols, &log) == 1)
		http_send_data(c->r, 200, json_pack("{s:s, s:s}", "stdout",
		    log.out.s ? log.out.s : "", "stderr",
		    log.err.s ? log.err.s : ""));
	else
		http_send_data(c->r, 200, json_pack("{s:s, s:s}", "stdout", "",
		    "stderr", ""));
	db_res_free(res);
}

void
h_workers(struct call *c)
{
	struct db_res	*res;
	struct worker_row w;
	json_t		*list;

	if (strcmp(c->id, "all") != 0) {
		http_send_fail(c->r, 404, "scope %s has not been implemented",
		    c->id);
		return;
	}
	if ((res = db_query(c->db, status_sql[ST_WORKERS], "i",
	    (int64_t)JOB_STARTED)) == NULL) {
		http_send_fail(c->r, 500, "could not read the workers");
		return;
	}
	list = json_array();
	while (DB_ROW(res, worker_cols, &w) == 1)
		json_array_append_new(list, json_pack("{s:s, s:I, s:b, s:b, s:I, s:I}",
		    "hostname", w.hostname,
		    "jobs_processed", (json_int_t)w.jobs_processed,
		    "busy", w.running > 0,
		    "alive", w.alive != 0,
		    "slots", (json_int_t)w.slots,
		    "running", (json_int_t)w.running));
	db_res_free(res);
	http_send_data(c->r, 200, json_pack("{s:o}", "worker_nodes", list));
}

void
h_queue_length(struct call *c)
{
	int64_t		 n = 0;

	if (db_query_int(c->db, status_sql[ST_QUEUE_LENGTH], &n, "is",
	    (int64_t)JOB_QUEUED, c->course) != 1) {
		http_send_fail(c->r, 500, "could not count the queue");
		return;
	}
	http_send_data(c->r, 200, json_pack("{s:I}", "length", (json_int_t)n));
}

void
h_queue_position(struct call *c)
{
	struct position_row pos;
	int		 rc;

	rc = DB_QUERY_ROW(c->db, status_sql[ST_POSITION], position_cols, &pos,
	    "iss", (int64_t)JOB_QUEUED, c->id, c->course);
	if (rc == -1)
		http_send_fail(c->r, 500, "could not count the queue");
	else if (rc == 0)
		http_send_fail(c->r, 404, "grading job not found");
	else if (pos.state != JOB_QUEUED)
		http_send_fail(c->r, 409, "grading job is not queued (%s)",
		    job_state_name(pos.state));
	else
		http_send_data(c->r, 200, json_pack("{s:I}", "position",
		    (json_int_t)pos.ahead));
}
