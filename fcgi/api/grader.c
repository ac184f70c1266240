/*
 * The worker protocol (worker/PROTOCOL.md): register, heartbeat, claim,
 * result.  Claims never wait, so no FastCGI process is pinned by an idle
 * worker; workers poll with backoff.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonx.h"
#include "log.h"
#include "states.h"
#include "util.h"

#define POLL_MIN_MS	100
#define POLL_MAX_MS	2000
#define SLOTS_MAX	64
#define HOSTNAME_MAX	255

enum grader_stmt {
	GR_REGISTER,
	GR_SEEN,
	GR_WORKER_LOCK,
	GR_NEXT_COURSE,
	GR_HEAD_OF_COURSE,
	GR_RUN_OF_JOB,
	GR_JOB_START,
	GR_RR_SET,
	GR_RESULT_LOCK,
	GR_JOB_END,
	GR_WORKER_DONE,
	GR_HELD_JOBS,
	GR__MAX
};

static const char *const grader_sql[GR__MAX] = {
	/* GR_REGISTER */
	"INSERT INTO worker (id, hostname, slots, alive, last_seen)"
	" VALUES (?, ?, ?, 1, CURRENT_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
	" hostname = VALUES(hostname), slots = VALUES(slots), alive = 1,"
	" last_seen = CURRENT_TIMESTAMP(6)",
	/* GR_SEEN */
	"UPDATE worker SET last_seen = CURRENT_TIMESTAMP(6), alive = 1 WHERE id = ?",
	/* GR_WORKER_LOCK: serialises the claims of one worker (its slots). */
	"SELECT w.slots, (SELECT COUNT(*) FROM grading_job j WHERE"
	" j.worker_id = w.id AND j.state = 1) FROM worker w WHERE w.id = ?"
	" FOR UPDATE",
	/* GR_NEXT_COURSE: the first course with queued work after the one
	 * served last, in id order, wrapping around.  The cursor is read
	 * without a lock; it is written last in the claim, so its row is
	 * locked only for the commit, not for the whole claim. */
	"SELECT COALESCE((SELECT q.course_id FROM grading_job q WHERE"
	" q.state = 0 AND q.course_id > s.rr_course ORDER BY q.course_id"
	" LIMIT 1), (SELECT q.course_id FROM grading_job q WHERE q.state = 0"
	" ORDER BY q.course_id LIMIT 1)) FROM scheduler s WHERE s.id = 1",
	/* GR_HEAD_OF_COURSE: FIFO within the course; a job another claim
	 * has just locked is skipped rather than waited for. */
	"SELECT id, public_id, kind, run_env, attempt, run_id FROM grading_job"
	" WHERE state = 0 AND course_id = ? ORDER BY id LIMIT 1"
	" FOR UPDATE SKIP LOCKED",
	/* GR_RUN_OF_JOB: read apart from the locking read above, which
	 * would otherwise lock the run row too and make every other claim
	 * of the run skip its jobs (and results wait). */
	"SELECT public_id, config FROM grading_run WHERE id = ?",
	/* GR_JOB_START */
	"UPDATE grading_job SET state = 1, worker_id = ?, attempt = attempt + 1,"
	" started_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND state = 0",
	/* GR_RR_SET */
	"UPDATE scheduler SET rr_course = ? WHERE id = 1",
	/* GR_RESULT_LOCK */
	"SELECT id, run_id, kind, course_id, state, worker_id, attempt,"
	" infra_failure FROM grading_job WHERE public_id = ? FOR UPDATE",
	/* GR_JOB_END */
	"UPDATE grading_job SET state = ?, success = ?, results = ?,"
	" finished_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
	/* GR_WORKER_DONE */
	"UPDATE worker SET jobs_processed = jobs_processed + 1,"
	" last_seen = CURRENT_TIMESTAMP(6), alive = 1 WHERE id = ?",
	/* GR_HELD_JOBS: newest lease first. */
	"SELECT id, public_id, started_at < CURRENT_TIMESTAMP(6) - INTERVAL ?"
	" MICROSECOND FROM grading_job WHERE worker_id = ? AND state = 1"
	" ORDER BY started_at DESC, id DESC",
};

static json_t *
body_object(struct call *c, const char *const *keys, int empty_ok)
{
	json_t	*j;
	char	 err[256];

	if (c->r->body_len == 0 && empty_ok)
		return json_object();
	if ((j = jsonx_parse_object(c->r->body, c->r->body_len, err,
	    sizeof(err))) == NULL ||
	    jsonx_keys_allowed(j, keys, "the request", err, sizeof(err)) == -1) {
		json_decref(j);
		http_send_fail(c->r, 400, "%s", err);
		return NULL;
	}
	return j;
}

/* ---- register ---- */

struct reg {
	const char	*worker;
	const char	*hostname;
	int64_t		 slots;
};

static int
register_txn(struct db *db, void *arg)
{
	struct reg	*g = arg;

	if (db_exec(db, grader_sql[GR_REGISTER], NULL, "ssi", g->worker,
	    g->hostname, g->slots) == -1)
		return -1;
	/* A new incarnation holds nothing: what the old one held goes back. */
	return engine_worker_lost(db, g->worker);
}

void
h_grader_register(struct call *c)
{
	static const char *const keys[] = { "hostname", "slots", NULL };
	struct reg	 g;
	json_t		*j, *h, *s;

	if ((j = body_object(c, keys, 0)) == NULL)
		return;
	h = json_object_get(j, "hostname");
	s = json_object_get(j, "slots");
	if (!json_is_string(h) || json_string_length(h) == 0 ||
	    json_string_length(h) > HOSTNAME_MAX ||
	    strlen(json_string_value(h)) != json_string_length(h)) {
		http_send_fail(c->r, 400, "\"hostname\" must be a string of"
		    " 1..%d bytes", HOSTNAME_MAX);
		goto out;
	}
	if (s != NULL && (!json_is_integer(s) || json_integer_value(s) < 1 ||
	    json_integer_value(s) > SLOTS_MAX)) {
		http_send_fail(c->r, 400, "\"slots\" must be an integer in"
		    " 1..%d", SLOTS_MAX);
		goto out;
	}
	g.worker = c->id;
	g.hostname = json_string_value(h);
	g.slots = s != NULL ? json_integer_value(s) : 1;
	if (db_txn(c->db, register_txn, &g) != 0) {
		http_send_fail(c->r, 500, "could not register the worker");
		goto out;
	}
	log_info("worker %s registered: host %s, %lld slots", c->id, g.hostname,
	    (long long)g.slots);
	http_send_data(c->r, 200, json_pack("{s:I, s:I, s:i, s:i}",
	    "heartbeat", (json_int_t)engine_conf.heartbeat_s,
	    "allowance", (json_int_t)engine_conf.allowance_s,
	    "poll_min_ms", POLL_MIN_MS, "poll_max_ms", POLL_MAX_MS));
out:
	json_decref(j);
}

/* ---- heartbeat ---- */

void
h_grader_heartbeat(struct call *c)
{
	static const char *const keys[] = { NULL };
	uint64_t	 n = 0;
	json_t		*j;

	if ((j = body_object(c, keys, 1)) == NULL)
		return;
	json_decref(j);
	engine_sweep(c->db);
	if (db_exec(c->db, grader_sql[GR_SEEN], &n, "s", c->id) == -1) {
		http_send_fail(c->r, 500, "could not record the heartbeat");
		return;
	}
	if (n == 0) {
		http_send_fail(c->r, 404, "worker %s is not registered", c->id);
		return;
	}
	http_send_data(c->r, 200, json_pack("{s:b}", "alive", 1));
}

/* ---- claim ---- */

struct claim {
	const char	*worker;
	const json_t	*running;	/* job ids the worker says it runs, or NULL */
	int		 status;	/* 200, 204 or 404 */
	json_t		*job;		/* the answer for 200 */
};

/* One string column into a bounded buffer; -1 if NULL or too long. */
static int
col_copy(struct db_res *res, unsigned col, char *dst, size_t size)
{
	const char	*s = db_res_str(res, col, NULL);

	return s == NULL ? -1 : copy_str(dst, size, s);
}

/* 1 with the course to serve next, 0 if nothing is queued, -1 error. */
static int
next_course(struct db *db, char *course, size_t size)
{
	struct db_res	*res;
	int		 rc;

	if ((res = db_query(db, grader_sql[GR_NEXT_COURSE], "")) == NULL)
		return -1;
	rc = db_res_next(res);
	if (rc == 1)
		rc = db_res_null(res, 0) ? 0 :
		    col_copy(res, 0, course, size) == 0 ? 1 : -1;
	db_res_free(res);
	return rc;
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
 * often still gets 204).  Either way they go back to the queue
 * (engine_job_lost) and the held count is updated.
 */
static int
claim_release_lost(struct db *db, struct claim *cl, int64_t slots, int64_t *held)
{
	struct db_res	*res;
	int64_t		 lost[64];
	size_t		 n = 0, i;
	int64_t		 seen = 0, keep = slots - 1;

	if (cl->running == NULL && *held < slots)
		return 0;
	if ((res = db_query(db, grader_sql[GR_HELD_JOBS], "is",
	    engine_conf.allowance_s * 1000000, cl->worker)) == NULL)
		return -1;
	while (db_res_next(res) == 1 && n < 64) {
		const char *pid = db_res_str(res, 1, NULL);
		if (cl->running != NULL ? !listed(cl->running, pid) :
		    (*held - seen++ > keep && db_res_int(res, 2) != 0))
			lost[n++] = db_res_int(res, 0);
	}
	db_res_free(res);
	for (i = 0; i < n; i++) {
		log_info("worker %s no longer runs job %lld: lease released",
		    cl->worker, (long long)lost[i]);
		if (engine_job_lost(db, (uint64_t)lost[i]) == -1)
			return -1;
	}
	*held -= (int64_t)n;
	return 0;
}

static int
claim_txn(struct db *db, void *arg)
{
	struct claim	*cl = arg;
	struct db_res	*res;
	char		 course[ID_MAX + 1], job_pid[PUBLIC_ID_LEN + 1];
	char		 run_pid[PUBLIC_ID_LEN + 1];
	json_t		*config = NULL, *run_env = NULL, *stages = NULL;
	const char	*s;
	size_t		 len;
	int64_t		 slots, held, job_id, kind, attempt, run_id;
	int		 rc;

	json_decref(cl->job);
	cl->job = NULL;
	cl->status = 204;
	if ((res = db_query(db, grader_sql[GR_WORKER_LOCK], "s", cl->worker)) == NULL)
		return -1;
	rc = db_res_next(res);
	slots = db_res_int(res, 0);
	held = db_res_int(res, 1);
	db_res_free(res);
	if (rc != 1) {
		cl->status = 404;
		return rc == 0 ? 404 : -1;
	}
	if (db_exec(db, grader_sql[GR_SEEN], NULL, "s", cl->worker) == -1)
		return -1;
	if (claim_release_lost(db, cl, slots, &held) == -1)
		return -1;
	if (held >= slots)
		return 0;
	if ((rc = next_course(db, course, sizeof(course))) != 1)
		return rc;
	if ((res = db_query(db, grader_sql[GR_HEAD_OF_COURSE], "s", course)) == NULL)
		return -1;
	if ((rc = db_res_next(res)) != 1) {
		db_res_free(res);
		return rc;
	}
	job_id = db_res_int(res, 0);
	kind = db_res_int(res, 2);
	attempt = db_res_int(res, 4) + 1;
	run_id = db_res_int(res, 5);
	rc = -1;
	if (col_copy(res, 1, job_pid, sizeof(job_pid)) == -1 ||
	    (s = db_res_str(res, 3, &len)) == NULL ||
	    (run_env = json_loadb(s, len, 0, NULL)) == NULL) {
		db_res_free(res);
		goto out;
	}
	db_res_free(res);
	if ((res = db_query(db, grader_sql[GR_RUN_OF_JOB], "i", run_id)) == NULL)
		goto out;
	if (db_res_next(res) != 1 ||
	    col_copy(res, 0, run_pid, sizeof(run_pid)) == -1 ||
	    (s = db_res_str(res, 1, &len)) == NULL ||
	    (config = json_loadb(s, len, 0, NULL)) == NULL) {
		db_res_free(res);
		goto out;
	}
	db_res_free(res);
	stages = env_job_stages(config, (int)kind, run_env, run_pid, job_pid);
	if (stages == NULL)
		goto out;
	if (db_exec(db, grader_sql[GR_JOB_START], NULL, "si", cl->worker,
	    job_id) == -1 ||
	    engine_event(db, (uint64_t)job_id, course, JOB_STARTED) == -1 ||
	    db_exec(db, grader_sql[GR_RR_SET], NULL, "s", course) == -1)
		goto out;
	cl->job = json_pack("{s:s, s:I, s:s, s:s, s:O}", "grading_job_id", job_pid,
	    "attempt", (json_int_t)attempt, "kind", job_kind_name((int)kind),
	    "course", course, "stages", stages);
	if (cl->job == NULL)
		goto out;
	cl->status = 200;
	rc = 0;
out:
	json_decref(stages);
	json_decref(config);
	json_decref(run_env);
	return rc;
}

void
h_grader_claim(struct call *c)
{
	static const char *const keys[] = { "running", NULL };
	struct claim	 cl;
	json_t		*j, *v;
	size_t		 i;
	int		 rc;

	if ((j = body_object(c, keys, 1)) == NULL)
		return;
	memset(&cl, 0, sizeof(cl));
	cl.worker = c->id;
	if ((cl.running = json_object_get(j, "running")) != NULL) {
		if (!json_is_array(cl.running) ||
		    json_array_size(cl.running) > SLOTS_MAX) {
			http_send_fail(c->r, 400, "\"running\" must be an array"
			    " of at most %d job ids", SLOTS_MAX);
			json_decref(j);
			return;
		}
		json_array_foreach(cl.running, i, v) {
			if (!json_is_string(v)) {
				http_send_fail(c->r, 400, "\"running\" must"
				    " hold job id strings");
				json_decref(j);
				return;
			}
		}
	}
	engine_sweep(c->db);
	rc = db_txn(c->db, claim_txn, &cl);
	if (rc == 404)
		http_send_fail(c->r, 404, "worker %s is not registered", c->id);
	else if (rc != 0)
		http_send_fail(c->r, 500, "could not claim a job");
	else if (cl.status == 200) {
		log_info("job %s attempt %lld leased to worker %s",
		    json_string_value(json_object_get(cl.job, "grading_job_id")),
		    (long long)json_integer_value(json_object_get(cl.job, "attempt")),
		    c->id);
		http_send_data(c->r, 200, cl.job);
		cl.job = NULL;
	} else
		http_send_empty(c->r, 204);
	json_decref(cl.job);
	json_decref(j);
}

/* ---- result ---- */

struct result {
	const char	*worker;
	const char	*job_pid;
	int64_t		 attempt;
	int		 success;
	char		*results;
	const char	*out;
	size_t		 out_len;
	const char	*err;
	size_t		 err_len;
	char		 why[160];
};

static int
result_txn(struct db *db, void *arg)
{
	struct result	*rs = arg;
	struct db_res	*res;
	char		 course[ID_MAX + 1], holder[ID_MAX + 1] = "";
	int64_t		 job_id, run_id, kind, state, attempt, infra;
	int		 rc;

	if ((res = db_query(db, grader_sql[GR_RESULT_LOCK], "s", rs->job_pid)) == NULL)
		return -1;
	if ((rc = db_res_next(res)) != 1) {
		db_res_free(res);
		snprintf(rs->why, sizeof(rs->why), "grading job not found");
		return rc == 0 ? 404 : -1;
	}
	job_id = db_res_int(res, 0);
	run_id = db_res_int(res, 1);
	kind = db_res_int(res, 2);
	col_copy(res, 3, course, sizeof(course));
	state = db_res_int(res, 4);
	if (!db_res_null(res, 5))
		col_copy(res, 5, holder, sizeof(holder));
	attempt = db_res_int(res, 6);
	infra = db_res_int(res, 7);
	db_res_free(res);

	if (strcmp(holder, rs->worker) != 0 || attempt != rs->attempt) {
		snprintf(rs->why, sizeof(rs->why), "job is not leased to this"
		    " worker at attempt %lld", (long long)rs->attempt);
		return 409;
	}
	if (state == JOB_FAILED || state == JOB_SUCCEEDED) {
		if (infra) {
			snprintf(rs->why, sizeof(rs->why), "job was failed by"
			    " the infrastructure");
			return 409;
		}
		return 200;	/* a repeat of the accepted result */
	}
	if (state != JOB_STARTED) {
		snprintf(rs->why, sizeof(rs->why), "job is not running");
		return 409;
	}
	state = rs->success ? JOB_SUCCEEDED : JOB_FAILED;
	if (db_exec(db, grader_sql[GR_JOB_END], NULL, "iisi", state,
	    (int64_t)rs->success, rs->results, job_id) == -1 ||
	    engine_log_put(db, (uint64_t)job_id, rs->out, rs->out_len, rs->err,
	    rs->err_len) == -1 ||
	    db_exec(db, grader_sql[GR_WORKER_DONE], NULL, "s", rs->worker) == -1 ||
	    engine_event(db, (uint64_t)job_id, course, (int)state) == -1 ||
	    engine_job_ended(db, (uint64_t)run_id, (int)kind, rs->success) == -1)
		return -1;
	return 0;
}

static int
result_parse(struct call *c, json_t *j, struct result *rs, char *err, size_t errlen)
{
	json_t		*id, *att, *ok, *results, *logs, *o, *e;
	static const char *const log_keys[] = { "stdout", "stderr", NULL };

	id = json_object_get(j, "grading_job_id");
	att = json_object_get(j, "attempt");
	ok = json_object_get(j, "success");
	results = json_object_get(j, "results");
	logs = json_object_get(j, "logs");
	if (!json_is_string(id) || strlen(json_string_value(id)) != PUBLIC_ID_LEN ||
	    !id_valid(json_string_value(id))) {
		snprintf(err, errlen, "\"grading_job_id\" must be a job id");
		return -1;
	}
	if (!json_is_integer(att) || json_integer_value(att) < 1) {
		snprintf(err, errlen, "\"attempt\" must be the attempt number"
		    " the claim gave");
		return -1;
	}
	if (!json_is_boolean(ok)) {
		snprintf(err, errlen, "\"success\" must be true or false");
		return -1;
	}
	if (!json_is_array(results) || json_array_size(results) > RESULTS_MAX_ITEMS) {
		snprintf(err, errlen, "\"results\" must be an array of at most"
		    " %d items", RESULTS_MAX_ITEMS);
		return -1;
	}
	if (!json_is_object(logs) || jsonx_keys_allowed(logs, log_keys,
	    "logs", err, errlen) == -1) {
		if (!json_is_object(logs))
			snprintf(err, errlen, "\"logs\" must be an object with"
			    " stdout and stderr");
		return -1;
	}
	o = json_object_get(logs, "stdout");
	e = json_object_get(logs, "stderr");
	if ((o != NULL && !json_is_string(o)) || (e != NULL && !json_is_string(e)) ||
	    json_string_length(o) > LOG_MAX_BYTES ||
	    json_string_length(e) > LOG_MAX_BYTES) {
		snprintf(err, errlen, "logs.stdout and logs.stderr must be"
		    " strings of at most %d bytes", LOG_MAX_BYTES);
		return -1;
	}
	if ((rs->results = jsonx_dump(results)) == NULL ||
	    strlen(rs->results) > RESULTS_MAX_BYTES) {
		snprintf(err, errlen, "\"results\" is larger than %d bytes",
		    RESULTS_MAX_BYTES);
		return -1;
	}
	rs->worker = c->id;
	rs->job_pid = json_string_value(id);
	rs->attempt = json_integer_value(att);
	rs->success = json_is_true(ok);
	rs->out = o ? json_string_value(o) : "";
	rs->out_len = o ? json_string_length(o) : 0;
	rs->err = e ? json_string_value(e) : "";
	rs->err_len = e ? json_string_length(e) : 0;
	return 0;
}

void
h_grader_result(struct call *c)
{
	static const char *const keys[] = {
		"grading_job_id", "attempt", "success", "results", "logs", NULL
	};
	struct result	 rs;
	json_t		*j;
	char		 err[256];
	int		 rc;

	memset(&rs, 0, sizeof(rs));
	if ((j = body_object(c, keys, 0)) == NULL)
		return;
	if (result_parse(c, j, &rs, err, sizeof(err)) == -1) {
		http_send_fail(c->r, 400, "%s", err);
		goto out;
	}
	rc = db_txn(c->db, result_txn, &rs);
	if (rc == 0 || rc == 200) {
		log_info("job %s attempt %lld: result %s from worker %s%s",
		    rs.job_pid, (long long)rs.attempt,
		    rs.success ? "success" : "failure", c->id,
		    rc == 200 ? " (repeat, ignored)" : "");
		http_send_data(c->r, 200, json_pack("{s:b}", "accepted", 1));
	} else if (rc == 404 || rc == 409)
		http_send_fail(c->r, rc, "%s", rs.why);
	else
		http_send_fail(c->r, 500, "could not store the result");
out:
	free(rs.results);
	json_decref(j);
}
