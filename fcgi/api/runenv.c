/*
 * GET grading_run_env/{course}/{run}: every job's env, {VAR: [distinct
 * values over the job's stages]}, keyed by job id.
 *
 * The answer grows with the roster times the config's env (a 1 MB env
 * and 200 students is 200 MB), so it is never built in memory: the run,
 * its pre and post jobs and the first page of student jobs are read
 * before anything is sent (so a missing run or a database error still
 * gets its 404/500/503), then the same JSON as a whole answer would be
 * is written job by job, ENV_PAGE student jobs read at a time.  What
 * the process holds is the run's config, one page of job rows and one
 * job's env, whatever the roster (README, Limits).
 *
 * Once the 200 is out a failure can only cut the answer short: the
 * client gets JSON that does not parse (logged here), never a wrong one.
 *
 * Keys: the endpoint page names the maps "pre_processing_env",
 * "post_processing_job" and "student_jobs"; the original server and its
 * front end (broadway-on-demand reads data.student_env) use
 * "post_processing_env" and "student_env".  All five are sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonx.h"
#include "log.h"
#include "states.h"
#include "util.h"

#define ENV_PAGE	100	/* student jobs per read */

enum runenv_stmt {
	RE_RUN,
	RE_EDGE_JOBS,
	RE_STUDENT_PAGE,
	RE__MAX
};

static const char *const runenv_sql[RE__MAX] = {
	/* RE_RUN */
	"SELECT id, config FROM grading_run WHERE public_id = ? AND course_id = ?",
	/* RE_EDGE_JOBS: the pre and post jobs (every kind but ?). */
	"SELECT id, public_id, kind, run_env FROM grading_job"
	" WHERE run_id = ? AND kind <> ? ORDER BY id",
	/* RE_STUDENT_PAGE: the next page after id ?, on the job_run index
	 * (run_id, id). */
	"SELECT id, public_id, kind, run_env FROM grading_job"
	" WHERE run_id = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?",
};

struct run_row {		/* RE_RUN */
	int64_t		 id;
	json_t		*config;
};

static const struct db_col run_cols[] = {
	DB_INT(struct run_row, id), DB_JSON(struct run_row, config),
};

struct env_job_row {		/* RE_EDGE_JOBS, RE_STUDENT_PAGE */
	int64_t		 id;
	char		 pid[PUBLIC_ID_LEN + 1];
	int		 kind;
	json_t		*run_env;
};

static const struct db_col env_job_cols[] = {
	DB_INT(struct env_job_row, id), DB_STR(struct env_job_row, pid),
	DB_INT(struct env_job_row, kind), DB_JSON(struct env_job_row, run_env),
};

struct runenv {
	struct call	*c;
	struct run_row	 run;
	char		*pre;		/* {"pid":{...}} or "null" */
	char		*post;
	struct db_res	*page;		/* the student page being read */
	int64_t		 after;		/* last student job id written */
	int		 failed;	/* the answer was cut short */
};

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

/* One job's env serialised, or NULL (out of memory). */
static char *
job_env_text(struct runenv *re, const struct env_job_row *job)
{
	json_t	*u;
	char	*s;

	u = env_union(re->run.config, job->kind, job->run_env, re->c->id,
	    job->pid);
	s = u != NULL ? jsonx_dump(u) : NULL;
	json_decref(u);
	return s;
}

/* The pre and post maps, {"pid": {...}} or null.  0 or -1. */
static int
edge_jobs(struct runenv *re)
{
	struct db_res		*res;
	struct env_job_row	 job;
	char			*env, **slot;
	size_t			 n;
	int			 rc;

	if ((res = db_query(re->c->db, runenv_sql[RE_EDGE_JOBS], "ii",
	    re->run.id, (int64_t)JOB_KIND_STUDENT)) == NULL)
		return -1;
	while ((rc = DB_ROW(res, env_job_cols, &job)) == 1) {
		env = job_env_text(re, &job);
		json_decref(job.run_env);
		slot = job.kind == JOB_KIND_PRE ? &re->pre : &re->post;
		free(*slot);
		*slot = NULL;
		if (env == NULL) {
			rc = -1;
			break;
		}
		n = strlen(env) + PUBLIC_ID_LEN + 8;
		if ((*slot = malloc(n)) != NULL)
			snprintf(*slot, n, "{\"%s\":%s}", job.pid, env);
		free(env);
		if (*slot == NULL) {
			rc = -1;
			break;
		}
	}
	db_res_free(res);
	return rc == -1 ? -1 : 0;
}

/* Read the student page after re->after into re->page.  0 or -1. */
static int
page_read(struct runenv *re)
{
	db_res_free(re->page);
	re->page = db_query(re->c->db, runenv_sql[RE_STUDENT_PAGE], "iiii",
	    re->run.id, (int64_t)JOB_KIND_STUDENT, re->after, (int64_t)ENV_PAGE);
	return re->page != NULL ? 0 : -1;
}

static int
put(struct runenv *re, const char *s, size_t n)
{
	if (re->failed)
		return -1;
	if (n > 0 && FCGX_PutStr(s, (int)n, re->c->r->fx->out) != (int)n) {
		re->failed = 1;
		return -1;
	}
	return 0;
}

static int
put_str(struct runenv *re, const char *s)
{
	return put(re, s, strlen(s));
}

/* One pass over the student jobs, "pid":{...},..., from the first:
 * the page in re->page if fresh, else read again.  0 or -1. */
static int
student_map(struct runenv *re, int reread)
{
	struct env_job_row	 job;
	char			 key[PUBLIC_ID_LEN + 8], *env;
	int			 first = 1, rows, rc;

	re->after = 0;
	if (reread && page_read(re) == -1)
		return -1;
	for (;;) {
		rows = 0;
		while ((rc = DB_ROW(re->page, env_job_cols, &job)) == 1) {
			rows++;
			re->after = job.id;
			env = job_env_text(re, &job);
			json_decref(job.run_env);
			snprintf(key, sizeof(key), "%s\"%s\":", first ? "" : ",",
			    job.pid);
			first = 0;
			rc = env == NULL || put_str(re, key) == -1 ||
			    put_str(re, env) == -1 ? -1 : 1;
			free(env);
			if (rc == -1)
				return -1;
		}
		if (rc == -1)
			return -1;
		if (rows < ENV_PAGE)
			return 0;
		if (page_read(re) == -1)
			return -1;
	}
}

/* Everything after the headers.  0, or -1: the answer is cut short. */
static int
write_answer(struct runenv *re)
{
	const char	*pre = re->pre != NULL ? re->pre : "null";
	const char	*post = re->post != NULL ? re->post : "null";

	if (put_str(re, "{\"status\":\"success\",\"data\":{") == -1 ||
	    put_str(re, "\"pre_processing_env\":") == -1 ||
	    put_str(re, pre) == -1 ||
	    put_str(re, ",\"post_processing_env\":") == -1 ||
	    put_str(re, post) == -1 ||
	    put_str(re, ",\"post_processing_job\":") == -1 ||
	    put_str(re, post) == -1 ||
	    put_str(re, ",\"student_env\":{") == -1 ||
	    student_map(re, 0) == -1 ||
	    put_str(re, "},\"student_jobs\":{") == -1 ||
	    student_map(re, 1) == -1 ||
	    put_str(re, "}}}") == -1)
		return -1;
	return 0;
}

static void
runenv_free(struct runenv *re)
{
	db_res_free(re->page);
	json_decref(re->run.config);
	free(re->pre);
	free(re->post);
}

void
h_run_env(struct call *c)
{
	struct runenv	 re;
	int		 rc;

	memset(&re, 0, sizeof(re));
	re.c = c;
	rc = DB_QUERY_ROW(c->db, runenv_sql[RE_RUN], run_cols, &re.run, "ss",
	    c->id, c->course);
	if (rc != 1 || re.run.config == NULL) {
		http_send_fail(c->r, rc == 0 ? 404 : 500, rc == 0 ?
		    "grading run not found" : "could not read the grading run");
		goto out;
	}
	if (edge_jobs(&re) == -1 || page_read(&re) == -1) {
		http_send_fail(c->r, 500, "could not read the jobs");
		goto out;
	}
	http_send_head(c->r, 200, "application/json; charset=UTF-8");
	if (write_answer(&re) == -1)
		log_warnx("grading_run_env %s: answer cut short after job id"
		    " %lld (client gone or database error)", c->id,
		    (long long)re.after);
out:
	runenv_free(&re);
}
