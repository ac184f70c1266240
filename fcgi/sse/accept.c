/*
 * Acceptor threads: take a request, check the token and the job, and
 * either answer with the JSON envelope (errors, OPTIONS) or start the
 * event stream and hand the connection to the hub.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <mysql.h>

#include "auth.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "sse.h"
#include "states.h"
#include "util.h"

enum accept_stmt {
	ACCEPT_STMT_JOB,
	ACCEPT_STMT__MAX
};

static const char *const accept_sql[ACCEPT_STMT__MAX] = {
	/* ACCEPT_STMT_JOB: the job of this course, its state and its newest
	 * event id, read in one statement so they agree. */
	"SELECT j.id, j.state, COALESCE((SELECT MAX(e.id) FROM job_event e"
	" WHERE e.job_id = j.id), 0) FROM grading_job j"
	" WHERE j.public_id = ? AND j.course_id = ?",
};


struct job_ref {		/* ACCEPT_STMT_JOB */
	int64_t		 id;
	int		 state;
	int64_t		 last_id;
};

static const struct db_col job_ref_cols[] = {
	DB_INT(struct job_ref, id), DB_INT(struct job_ref, state),
	DB_INT(struct job_ref, last_id),
};

/* 1 found, 0 not, -1 database error. */
static int
job_lookup(struct db *db, const char *course, const char *pid,
    struct job_ref *j)
{
	int		 rc;

	rc = DB_QUERY_ROW(db, accept_sql[ACCEPT_STMT_JOB], job_ref_cols, j, "ss",
	    pid, course);
	return rc;
}

/* The request body of a GET is empty; reading it to its end leaves the
 * socket quiet, so anything readable later means the peer went away. */
static void
drain_stdin(FCGX_Request *fx)
{
	char	 buf[4096];
	int	 total = 0, n;

	while ((n = FCGX_GetStr(buf, sizeof(buf), fx->in)) > 0)
		if ((total += n) > 65536)
			break;
}

static void
set_sndtimeo(int fd)
{
	struct timeval	 tv;

	tv.tv_sec = sse_conf.sndtimeo_ms / 1000;
	tv.tv_usec = (sse_conf.sndtimeo_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		log_warn("setsockopt SO_SNDTIMEO");
}

/*
 * Take the connection away from libfcgi: from here on the stream is
 * written with our own records and never touches fx again.  Frees r.
 * The stream, or NULL (out of memory: the caller finishes fx).
 */
static struct sse_stream *
take_over(FCGX_Request *fx, struct req *r, int64_t job_id, int64_t resume,
    const struct sse_auth *who)
{
	struct sse_stream	*s;
	char			 reqid[40];

	drain_stdin(fx);
	(void)copy_str(reqid, sizeof(reqid), r->reqid);
	http_req_free(r);
	if ((s = sse_stream_new(fx->ipcFd, (unsigned)fx->requestId, job_id,
	    resume, reqid)) == NULL) {
		log_warnx("out of memory for a stream");
		return NULL;
	}
	s->auth = *who;
	FCGX_Free(fx, 0);
	set_sndtimeo(s->fd);
	return s;
}

/*
 * GET /api/v1/stream/grader/{worker_id}/work: a waiting worker's nudge
 * stream (worker/PROTOCOL.md, "Nudge").  Four segments, so it can never
 * be taken for a job stream /stream/{course}/{job}, whatever the course
 * is called.  The cluster token only; the worker need not be
 * registered (the stream tells nothing about any job).
 */
static int
handle_worker(struct db **dbp, FCGX_Request *fx, struct req *r)
{
	struct sse_stream	*s;
	struct sse_auth		 who;
	char			 err[256];
	int			 rc;

	if (strcmp(r->method, "GET") != 0) {
		http_send_fail(r, 405, "method not allowed");
		goto done;
	}
	if (!id_valid(r->seg[2])) {
		http_send_fail(r, 400, "invalid id: ids are 1..128 characters"
		    " of [A-Za-z0-9_.-]");
		goto done;
	}
	if (*dbp == NULL && (*dbp = db_open_env()) == NULL) {
		http_send_fail(r, 503, "database unavailable");
		goto done;
	}
	r->db = *dbp;
	/* The worker id is the scope: a per-worker token opens only its
	 * own stream. */
	if ((rc = auth_check(*dbp, r->authz, r->seg[2], AUTH_CLUSTER,
	    who.digest, err, sizeof(err))) != 0) {
		http_send_fail(r, rc, "%s", err);
		goto done;
	}
	who.need = AUTH_CLUSTER;
	(void)copy_str(who.scope, sizeof(who.scope), r->seg[2]);
	if ((s = take_over(fx, r, 0, -1, &who)) == NULL)
		return 0;
	s->worker = 1;
	if (sse_stream_headers(s) == -1) {
		sse_stream_end(s, 0);
		return 1;
	}
	hub_submit(s);
	return 1;
done:
	http_req_free(r);
	return 0;
}

/*
 * Handle one request.  Returns 1 when the connection was taken over
 * (fx is then freed without closing it), 0 when the caller must finish
 * the request normally.
 */
static int
handle(struct db **dbp, FCGX_Request *fx)
{
	struct req		 r;
	struct job_ref		 j = { 0, 0, 0 };
	struct sse_stream	*s;
	struct sse_auth		 who;
	char			 err[256];
	const char		*course, *pid;
	int64_t			 resume = -1;
	int			 rc;

	if ((rc = http_req_init(&r, fx)) != 0) {
		http_send_fail(&r, rc, "no such endpoint");
		goto done;
	}
	if (strcmp(r.method, "OPTIONS") == 0) {
		http_send_empty(&r, 204);
		goto done;
	}
	if (r.nseg == 4 && strcmp(r.seg[0], "stream") == 0 &&
	    strcmp(r.seg[1], "grader") == 0 && strcmp(r.seg[3], "work") == 0)
		return handle_worker(dbp, fx, &r);
	if (r.nseg != 3 || strcmp(r.seg[0], "stream") != 0) {
		http_send_fail(&r, 404, "no such endpoint");
		goto done;
	}
	if (strcmp(r.method, "GET") != 0) {
		http_send_fail(&r, 405, "method not allowed");
		goto done;
	}
	course = r.seg[1];
	pid = r.seg[2];
	if (!id_valid(course) || !id_valid(pid)) {
		http_send_fail(&r, 404, "job not found");
		goto done;
	}
	if (*dbp == NULL && (*dbp = db_open_env()) == NULL) {
		http_send_fail(&r, 503, "database unavailable");
		goto done;
	}
	r.db = *dbp;
	if ((rc = auth_check(*dbp, r.authz, course, AUTH_VIEW, who.digest,
	    err, sizeof(err))) != 0) {
		http_send_fail(&r, rc, "%s", err);
		goto done;
	}
	if ((rc = job_lookup(*dbp, course, pid, &j)) == -1) {
		http_send_fail(&r, 500, "internal error");
		goto done;
	} else if (rc == 0) {
		http_send_fail(&r, 404, "job not found");
		goto done;
	}
	/* A malformed Last-Event-ID is ignored: the client gets a snapshot. */
	if (r.last_event_id != NULL && parse_int64(r.last_event_id, 0,
	    INT64_MAX, &resume) == -1)
		resume = -1;

	who.need = AUTH_VIEW;
	(void)copy_str(who.scope, sizeof(who.scope), course);
	if ((s = take_over(fx, &r, j.id, resume, &who)) == NULL)
		return 0;
	if (sse_stream_headers(s) == -1) {
		sse_stream_end(s, 0);
		return 1;
	}
	if (sse_state_terminal(j.state)) {
		/* Nothing can change any more: answer here and end. */
		(void)sse_stream_sync(*dbp, s, j.state, j.last_id);
		sse_stream_end(s, 1);
		return 1;
	}
	hub_submit(s);
	return 1;
done:
	http_req_free(&r);
	return 0;
}

void *
acceptor_main(void *arg)
{
	FCGX_Request	*fx;
	struct db	*db = NULL;
	int		 rc;

	(void)arg;
	mysql_thread_init();
	while (!hub_stopping()) {
		if ((fx = calloc(1, sizeof(*fx))) == NULL) {
			usleep(100000);
			continue;
		}
		if (FCGX_InitRequest(fx, 0, 0) != 0) {
			free(fx);
			usleep(100000);
			continue;
		}
		/*
		 * No mutex around accept, unlike libfcgi's threaded example:
		 * FCGX_Accept_r is thread-safe and accept() on Linux needs no
		 * serialising.  A mutex held here also covers the wait for
		 * nginx to send the request's params, which made a burst of
		 * 2000 connects take 4-5 s instead of 2-3 s.
		 */
		rc = FCGX_Accept_r(fx);
		if (rc < 0) {
			/* EMFILE and the like: do not spin. */
			FCGX_Free(fx, 1);
			free(fx);
			usleep(10000);
			continue;
		}
		if (!handle(&db, fx))
			FCGX_Finish_r(fx);
		free(fx);
	}
	db_close(db);
	mysql_thread_end();
	return NULL;
}
