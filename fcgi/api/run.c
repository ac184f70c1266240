#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jobsize.h"
#include "jsonx.h"
#include "log.h"
#include "states.h"
#include "util.h"

static const char *const run_keys[] = {
	"students_env", "pre_processing_env", "post_processing_env", NULL
};

static const char *const run_insert_sql =
    "INSERT INTO grading_run (public_id, course_id, assignment_id, state,"
    " config, pre_env, post_env, students_env, students_total, students_left)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

struct run_start {
	const char	*course;
	const char	*assignment;
	json_t		*config;
	json_t		*students;
	json_t		*pre_env;
	json_t		*post_env;
	char		*config_text;
	char		*students_text;
	char		*pre_text;
	char		*post_text;
	char		 pid[PUBLIC_ID_LEN + 1];
};

/* 0, or -1 with err: the body of POST grading_run, checked against the
 * assignment's config before anything is written. */
static int
run_body_valid(struct run_start *rs, const json_t *body, char *err, size_t errlen)
{
	const json_t	*s;
	size_t		 i, n;
	char		 where[64];

	if (jsonx_keys_allowed(body, run_keys, "the run request", err, errlen) == -1)
		return -1;
	rs->students = json_object_get(body, "students_env");
	if (!json_is_array(rs->students)) {
		snprintf(err, errlen, "\"students_env\" is required and must be"
		    " an array of objects");
		return -1;
	}
	n = json_array_size(rs->students);
	if (n == 0 || n > ROSTER_MAX) {
		snprintf(err, errlen, "\"students_env\" must hold 1..%d students"
		    " (an empty roster would never finish)", ROSTER_MAX);
		return -1;
	}
	json_array_foreach(rs->students, i, s) {
		snprintf(where, sizeof(where), "students_env[%zu]", i);
		if (jsonx_env_valid(s, where, err, errlen) == -1)
			return -1;
	}
	rs->pre_env = json_object_get(body, "pre_processing_env");
	rs->post_env = json_object_get(body, "post_processing_env");
	if (rs->pre_env != NULL && jsonx_env_valid(rs->pre_env,
	    "pre_processing_env", err, errlen) == -1)
		return -1;
	if (rs->post_env != NULL && jsonx_env_valid(rs->post_env,
	    "post_processing_env", err, errlen) == -1)
		return -1;
	if (rs->pre_env != NULL && env_pipeline(rs->config, JOB_KIND_PRE) == NULL) {
		snprintf(err, errlen, "pre_processing_env provided, but the"
		    " assignment has no pre-processing pipeline");
		return -1;
	}
	if (rs->post_env != NULL && env_pipeline(rs->config, JOB_KIND_POST) == NULL) {
		snprintf(err, errlen, "post_processing_env provided, but the"
		    " assignment has no post-processing pipeline");
		return -1;
	}
	return 0;
}

static int
run_start_txn(struct db *db, void *arg)
{
	struct run_start	*rs = arg;
	int64_t			 n = (int64_t)json_array_size(rs->students);

	if (public_id_new(rs->pid) == -1)
		return -1;
	if (db_exec(db, run_insert_sql, NULL, "sssissssii", rs->pid, rs->course,
	    rs->assignment, (int64_t)RUN_READY, rs->config_text, rs->pre_text,
	    rs->post_text, rs->students_text, n, n) == -1)
		return -1;
	return engine_run_begin(db, db_last_id(db), rs->course, rs->config,
	    rs->students, rs->pre_env);
}

void
h_run_start(struct call *c)
{
	struct run_start	 rs;
	json_t			*body = NULL;
	char			 err[256];
	int			 rc;

	memset(&rs, 0, sizeof(rs));
	rs.course = c->course;
	rs.assignment = c->id;
	if ((body = jsonx_parse_object(c->r->body, c->r->body_len, err,
	    sizeof(err))) == NULL) {
		http_send_fail(c->r, 400, "%s", err);
		return;
	}
	rc = config_load(c->db, c->course, c->id, &rs.config);
	if (rc == 0) {
		http_send_fail(c->r, 404, "assignment configuration not found");
		goto out;
	} else if (rc == -1) {
		http_send_fail(c->r, 500, "could not read the configuration");
		goto out;
	}
	if (run_body_valid(&rs, body, err, sizeof(err)) == -1) {
		http_send_fail(c->r, 400, "%s", err);
		goto out;
	}
	/* Names, the stored config and every job's size as the worker gets it. */
	if ((rc = run_envs_valid(rs.config, rs.students, rs.pre_env,
	    rs.post_env, err, sizeof(err))) != 0) {
		http_send_fail(c->r, rc == -1 ? 400 : 500, "%s", err);
		goto out;
	}
	rs.config_text = jsonx_dump(rs.config);
	rs.students_text = jsonx_dump(rs.students);
	rs.pre_text = rs.pre_env ? jsonx_dump(rs.pre_env) : NULL;
	rs.post_text = rs.post_env ? jsonx_dump(rs.post_env) : NULL;
	if (rs.config_text == NULL || rs.students_text == NULL ||
	    (rs.pre_env && rs.pre_text == NULL) ||
	    (rs.post_env && rs.post_text == NULL)) {
		http_send_fail(c->r, 500, "out of memory");
		goto out;
	}
	if (db_txn(c->db, run_start_txn, &rs) != 0) {
		http_send_fail(c->r, 500, "failed to start the grading run");
		goto out;
	}
	log_info("run %s started: course %s assignment %s, %zu students",
	    rs.pid, c->course, c->id, json_array_size(rs.students));
	http_send_data(c->r, 200, json_pack("{s:s}", "grading_run_id", rs.pid));
out:
	free(rs.config_text);
	free(rs.students_text);
	free(rs.pre_text);
	free(rs.post_text);
	json_decref(rs.config);
	json_decref(body);
}
