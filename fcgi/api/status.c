#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "states.h"
#include "util.h"

enum status_stmt {
	ST_RUN_ENV,
	ST_RUN_JOB_ENVS,
	ST_JOB,
	ST_JOB_LOG,
	ST_WORKERS,
	ST_QUEUE_LENGTH,
	ST_POSITION,
	ST_STATUS,
	ST__MAX
};

static const char *const status_sql[ST__MAX] = {
	/* ST_RUN_ENV */
	"SELECT id, config FROM grading_run WHERE public_id = ? AND course_id = ?",
	/* ST_RUN_JOB_ENVS */
	"SELECT public_id, kind, run_env FROM grading_job WHERE run_id = ? ORDER BY id",
	/* ST_JOB */
	"SELECT id, state FROM grading_job WHERE public_id = ? AND course_id = ?",
	/* ST_JOB_LOG */
	"SELECT stdout, stderr FROM job_log WHERE job_id = ?",
	/* ST_WORKERS */
	"SELECT w.hostname, w.jobs_processed, w.alive, w.slots,"
	" (SELECT COUNT(*) FROM grading_job j WHERE j.worker_id = w.id"
	" AND j.state = 1) FROM worker w ORDER BY w.id",
	/* ST_QUEUE_LENGTH */
	"SELECT COUNT(*) FROM grading_job WHERE state = 0 AND course_id = ?",
	/* ST_POSITION: the job and the queued jobs of its course ahead of
	 * it, in one round trip. */
	"SELECT j.state, (SELECT COUNT(*) FROM grading_job q WHERE q.state = 0"
	" AND q.course_id = j.course_id AND q.id < j.id) FROM grading_job j"
	" WHERE j.public_id = ? AND j.course_id = ?",
	/* ST_STATUS: the run and its jobs in one round trip (a run has at
	 * least one job from the transaction that creates it).  The fixed
	 * join order and ORDER BY on the job_run index avoid a filesort. */
	"SELECT r.state, j.public_id, j.kind, j.state FROM grading_run r"
	" STRAIGHT_JOIN grading_job j ON j.run_id = r.id"
	" WHERE r.public_id = ? AND r.course_id = ? ORDER BY j.run_id, j.id",
};

/* Look up a run or job by public id within the course: 1, 0 (404), -1. */
static int
find_scoped(struct call *c, enum status_stmt which, int64_t *id, int64_t *state)
{
	struct db_res	*res;
	int		 rc;

	if ((res = db_query(c->db, status_sql[which], "ss", c->id, c->course)) == NULL)
		return -1;
	rc = db_res_next(res);
	if (rc == 1) {
		*id = db_res_int(res, 0);
		if (state != NULL)
			*state = db_res_int(res, 1);
	}
	db_res_free(res);
	return rc;
}

static int
find_or_answer(struct call *c, enum status_stmt which, const char *what,
    int64_t *id, int64_t *state)
{
	int	 rc = find_scoped(c, which, id, state);

	if (rc == 0)
		http_send_fail(c->r, 404, "%s not found", what);
	else if (rc == -1)
		http_send_fail(c->r, 500, "could not read the %s", what);
	return rc;
}

void
h_run_status(struct call *c)
{
	struct db_res	*res;
	json_t		*students, *one, *pre = json_null(), *post = json_null();
	int64_t		 state = -1;
	const char	*pid;

	if ((res = db_query(c->db, status_sql[ST_STATUS], "ss", c->id,
	    c->course)) == NULL) {
		http_send_fail(c->r, 500, "could not read the grading run");
		return;
	}
	students = json_object();
	while (db_res_next(res) == 1) {
		state = db_res_int(res, 0);
		if ((pid = db_res_str(res, 1, NULL)) == NULL)
			continue;
		json_t *st = json_string(job_state_name((int)db_res_int(res, 3)));
		switch (db_res_int(res, 2)) {
		case JOB_KIND_PRE:
		case JOB_KIND_POST:
			one = json_object();
			json_object_set_new(one, pid, st);
			if (db_res_int(res, 2) == JOB_KIND_PRE) {
				json_decref(pre);
				pre = one;
			} else {
				json_decref(post);
				post = one;
			}
			break;
		default:
			json_object_set_new(students, pid, st);
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
	    run_state_name((int)state), "pre_processing_job", pre,
	    "post_processing_job", post, "student_jobs", students));
}

/* {VAR: [distinct values over the job's stages]} */
static json_t *
env_union(const json_t *config, int kind, const json_t *run_env,
    const char *run_pid, const char *job_pid)
{
	json_t		*stages, *st, *out, *list, *v, *have;
	const char	*k;
	size_t		 i, j;
	int		 dup;

	if ((stages = env_job_stages(config, kind, run_env, run_pid, job_pid)) == NULL)
		return json_object();
	out = json_object();
	json_array_foreach(stages, i, st) {
		json_object_foreach(json_object_get(st, "env"), k, v) {
			if ((list = json_object_get(out, k)) == NULL) {
				list = json_array();
				json_object_set_new(out, k, list);
			}
			dup = 0;
			json_array_foreach(list, j, have)
				if (json_equal(have, v))
					dup = 1;
			if (!dup)
				json_array_append(list, v);
		}
	}
	json_decref(stages);
	return out;
}

void
h_run_env(struct call *c)
{
	struct db_res	*res;
	json_t		*config = NULL, *students, *pre = json_null(), *post = json_null();
	json_t		*run_env, *one, *out;
	const char	*s;
	size_t		 len;
	int64_t		 run_id = 0;
	int		 rc;

	if ((res = db_query(c->db, status_sql[ST_RUN_ENV], "ss", c->id,
	    c->course)) == NULL) {
		http_send_fail(c->r, 500, "could not read the grading run");
		return;
	}
	if ((rc = db_res_next(res)) == 1) {
		run_id = db_res_int(res, 0);
		s = db_res_str(res, 1, &len);
		config = s ? json_loadb(s, len, 0, NULL) : NULL;
	}
	db_res_free(res);
	if (rc != 1 || config == NULL) {
		http_send_fail(c->r, rc == 0 ? 404 : 500, "grading run not found");
		json_decref(config);
		return;
	}
	if ((res = db_query(c->db, status_sql[ST_RUN_JOB_ENVS], "i", run_id)) == NULL) {
		json_decref(config);
		http_send_fail(c->r, 500, "could not read the jobs");
		return;
	}
	students = json_object();
	while (db_res_next(res) == 1) {
		const char *pid = db_res_str(res, 0, NULL);
		int kind = (int)db_res_int(res, 1);
		s = db_res_str(res, 2, &len);
		run_env = s ? json_loadb(s, len, 0, NULL) : NULL;
		one = env_union(config, kind, run_env, c->id, pid);
		json_decref(run_env);
		if (kind == JOB_KIND_STUDENT) {
			json_object_set_new(students, pid, one);
			continue;
		}
		if (kind == JOB_KIND_PRE) {
			json_decref(pre);
			pre = json_pack("{s:o}", pid, one);
		} else {
			json_decref(post);
			post = json_pack("{s:o}", pid, one);
		}
	}
	db_res_free(res);
	json_decref(config);
	/* The wiki names the post key "post_processing_job"; the original
	 * code used "post_processing_env".  Both are sent. */
	out = json_pack("{s:o, s:O, s:o, s:o}", "pre_processing_env", pre,
	    "post_processing_env", post, "post_processing_job", post,
	    "student_jobs", students);
	http_send_data(c->r, 200, out);
}

void
h_job_log(struct call *c)
{
	struct db_res	*res;
	const char	*out, *err;
	int64_t		 job_id = 0, state = 0;

	if (find_or_answer(c, ST_JOB, "grading job", &job_id, &state) != 1)
		return;
	if (state == JOB_QUEUED || state == JOB_STARTED) {
		http_send_fail(c->r, 409, "grading job has not finished (%s)",
		    job_state_name((int)state));
		return;
	}
	if ((res = db_query(c->db, status_sql[ST_JOB_LOG], "i", job_id)) == NULL) {
		http_send_fail(c->r, 500, "could not read the log");
		return;
	}
	if (db_res_next(res) == 1) {
		out = db_res_str(res, 0, NULL);
		err = db_res_str(res, 1, NULL);
		http_send_data(c->r, 200, json_pack("{s:s, s:s}", "stdout",
		    out ? out : "", "stderr", err ? err : ""));
	} else
		http_send_data(c->r, 200, json_pack("{s:s, s:s}", "stdout", "",
		    "stderr", ""));
	db_res_free(res);
}

void
h_workers(struct call *c)
{
	struct db_res	*res;
	json_t		*list;
	int64_t		 running;

	if (strcmp(c->id, "all") != 0) {
		http_send_fail(c->r, 404, "scope %s has not been implemented",
		    c->id);
		return;
	}
	if ((res = db_query(c->db, status_sql[ST_WORKERS], "")) == NULL) {
		http_send_fail(c->r, 500, "could not read the workers");
		return;
	}
	list = json_array();
	while (db_res_next(res) == 1) {
		running = db_res_int(res, 4);
		json_array_append_new(list, json_pack("{s:s, s:I, s:b, s:b, s:I, s:I}",
		    "hostname", db_res_str(res, 0, NULL),
		    "jobs_processed", (json_int_t)db_res_int(res, 1),
		    "busy", running > 0,
		    "alive", db_res_int(res, 2) != 0,
		    "slots", (json_int_t)db_res_int(res, 3),
		    "running", (json_int_t)running));
	}
	db_res_free(res);
	http_send_data(c->r, 200, json_pack("{s:o}", "worker_nodes", list));
}

void
h_queue_length(struct call *c)
{
	struct db_res	*res;
	int64_t		 n;

	if ((res = db_query(c->db, status_sql[ST_QUEUE_LENGTH], "s",
	    c->course)) == NULL || db_res_next(res) != 1) {
		db_res_free(res);
		http_send_fail(c->r, 500, "could not count the queue");
		return;
	}
	n = db_res_int(res, 0);
	db_res_free(res);
	http_send_data(c->r, 200, json_pack("{s:I}", "length", (json_int_t)n));
}

void
h_queue_position(struct call *c)
{
	struct db_res	*res;
	int64_t		 state, n;
	int		 rc;

	if ((res = db_query(c->db, status_sql[ST_POSITION], "ss", c->id,
	    c->course)) == NULL) {
		http_send_fail(c->r, 500, "could not count the queue");
		return;
	}
	rc = db_res_next(res);
	state = db_res_int(res, 0);
	n = db_res_int(res, 1);
	db_res_free(res);
	if (rc != 1)
		http_send_fail(c->r, rc == 0 ? 404 : 500, "grading job not found");
	else if (state != JOB_QUEUED)
		http_send_fail(c->r, 409, "grading job is not queued (%s)",
		    job_state_name((int)state));
	else
		http_send_data(c->r, 200, json_pack("{s:I}", "position",
		    (json_int_t)n));
}
