/*
 * The worker protocol (worker/PROTOCOL.md): register, heartbeat, claim,
 * result: the requests checked and answered here, the scheduling of a
 * claim in the engine (fcgi/claim.c).  Claims never wait, so no FastCGI
 * process is pinned by an idle worker; workers poll with backoff.
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
	GR_RESULT_LOCK,
	GR_JOB_END,
	GR_WORKER_DONE,
	GR__MAX
};

static const char *const grader_sql[GR__MAX] = {
	/* GR_REGISTER */
	"INSERT INTO worker (id, hostname, slots, alive, last_seen)"
	" VALUES (?, ?, ?, 1, CURRENT_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
	" hostname = VALUES(hostname), slots = VALUES(slots), alive = 1,"
	" last_seen = CURRENT_TIMESTAMP(6)",
	/* GR_RESULT_LOCK */
	"SELECT id, run_id, kind, course_id, state, worker_id, attempt,"
	" infra_failure FROM grading_job WHERE public_id = ? FOR UPDATE",
	/* GR_JOB_END */
	"UPDATE grading_job SET state = ?, success = ?, results = ?,"
	" finished_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
	/* GR_WORKER_DONE */
	"UPDATE worker SET jobs_processed = jobs_processed + 1,"
	" last_seen = CURRENT_TIMESTAMP(6), alive = 1 WHERE id = ?",
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
	if (engine_worker_seen(c->db, c->id, &n) == -1) {
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

void
h_grader_claim(struct call *c)
{
	static const char *const keys[] = { "running", NULL };
	struct claim	 cl;
	json_t		*j, *v;
	size_t		 i;

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
	if (engine_claim(c->db, &cl) == -1)
		http_send_fail(c->r, 500, "could not claim a job");
	else if (cl.outcome == CLAIM_UNKNOWN_WORKER)
		http_send_fail(c->r, 404, "worker %s is not registered", c->id);
	else if (cl.outcome == CLAIM_LEASED) {
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

/* What became of a result; each has its answer in result_answers. */
enum result_outcome {
	RESULT_STORED,
	RESULT_REPEAT,		/* the accepted result again: nothing to do */
	RESULT_NO_JOB,
	RESULT_NOT_LEASED,	/* to another worker, or at another attempt */
	RESULT_INFRA_FAILED,	/* the engine failed the job meanwhile */
	RESULT_NOT_RUNNING,
	RESULT__MAX
};

struct result_answer {
	int		 status;
	const char	*why;	/* RESULT_NOT_LEASED: the attempt follows */
};

static const struct result_answer result_answers[RESULT__MAX] = {
	[RESULT_STORED] =	{ 200, NULL },
	[RESULT_REPEAT] =	{ 200, NULL },
	[RESULT_NO_JOB] =	{ 404, "grading job not found" },
	[RESULT_NOT_LEASED] =	{ 409, "job is not leased to this worker at"
				    " attempt" },
	[RESULT_INFRA_FAILED] =	{ 409, "job was failed by the infrastructure" },
	[RESULT_NOT_RUNNING] =	{ 409, "job is not running" },
};

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
	enum result_outcome outcome;
};

struct result_row {		/* GR_RESULT_LOCK */
	int64_t		 id;
	int64_t		 run_id;
	int		 kind;
	char		 course[ID_MAX + 1];
	int		 state;
	char		 holder[ID_MAX + 1];	/* "" if none */
	int64_t		 attempt;
	int		 infra;
};

static const struct db_col result_cols[] = {
	DB_INT(struct result_row, id), DB_INT(struct result_row, run_id),
	DB_INT(struct result_row, kind), DB_STR(struct result_row, course),
	DB_INT(struct result_row, state),
	DB_STR_OPT(struct result_row, holder),
	DB_INT(struct result_row, attempt), DB_INT(struct result_row, infra),
};

/* Why a result for this job row cannot be stored, or RESULT_STORED. */
static enum result_outcome
result_check(const struct result *rs, const struct result_row *job)
{
	if (strcmp(job->holder, rs->worker) != 0 || job->attempt != rs->attempt)
		return RESULT_NOT_LEASED;
	if (job->state == JOB_FAILED || job->state == JOB_SUCCEEDED)
		return job->infra ? RESULT_INFRA_FAILED : RESULT_REPEAT;
	if (job->state != JOB_STARTED)
		return RESULT_NOT_RUNNING;
	return RESULT_STORED;
}

static int
result_txn(struct db *db, void *arg)
{
	struct result		*rs = arg;
	struct result_row	 job;
	int			 state, rc;

	rc = DB_QUERY_ROW(db, grader_sql[GR_RESULT_LOCK], result_cols, &job, "s",
	    rs->job_pid);
	if (rc != 1) {
		rs->outcome = RESULT_NO_JOB;
		return rc == 0 ? DB_TXN_ROLLBACK : DB_TXN_FAIL;
	}
	if ((rs->outcome = result_check(rs, &job)) != RESULT_STORED)
		return DB_TXN_ROLLBACK;
	state = rs->success ? JOB_SUCCEEDED : JOB_FAILED;
	if (db_exec(db, grader_sql[GR_JOB_END], NULL, "iisi", (int64_t)state,
	    (int64_t)rs->success, rs->results, job.id) == -1 ||
	    engine_log_put(db, (uint64_t)job.id, rs->out, rs->out_len, rs->err,
	    rs->err_len) == -1 ||
	    db_exec(db, grader_sql[GR_WORKER_DONE], NULL, "s", rs->worker) == -1 ||
	    engine_event(db, (uint64_t)job.id, job.course, state) == -1 ||
	    engine_job_ended(db, (uint64_t)job.run_id, job.kind,
	    rs->success) == -1)
		return DB_TXN_FAIL;
	return DB_TXN_COMMIT;
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
	const struct result_answer *answer;

	memset(&rs, 0, sizeof(rs));
	if ((j = body_object(c, keys, 0)) == NULL)
		return;
	if (result_parse(c, j, &rs, err, sizeof(err)) == -1) {
		http_send_fail(c->r, 400, "%s", err);
		goto out;
	}
	if (db_txn(c->db, result_txn, &rs) == DB_TXN_FAIL) {
		http_send_fail(c->r, 500, "could not store the result");
		goto out;
	}
	answer = &result_answers[rs.outcome];
	if (answer->status == 200) {
		log_info("job %s attempt %lld: result %s from worker %s%s",
		    rs.job_pid, (long long)rs.attempt,
		    rs.success ? "success" : "failure", c->id,
		    rs.outcome == RESULT_REPEAT ? " (repeat, ignored)" : "");
		http_send_data(c->r, 200, json_pack("{s:b}", "accepted", 1));
	} else if (rs.outcome == RESULT_NOT_LEASED)
		http_send_fail(c->r, answer->status, "%s %lld", answer->why,
		    (long long)rs.attempt);
	else
		http_send_fail(c->r, answer->status, "%s", answer->why);
out:
	free(rs.results);
	json_decref(j);
}
