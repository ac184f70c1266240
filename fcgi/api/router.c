#include <string.h>

#include "api.h"
#include "log.h"
#include "util.h"

/*
 * Routes below /api/v1/.  In a pattern ":c" is the course id and ":i"
 * the other id (assignment, run, job, worker or scope); anything else is
 * literal.  The stream route is served by broadway-sse.
 */
struct route {
	const char	*method;
	const char	*pattern;
	enum auth_need	 need;
	int		 has_body;
	handler_fn	 fn;
};

static const struct route routes[] = {
	{ "GET",  "grading_config/:c/:i",	AUTH_ADMIN,   0, h_config_get },
	{ "POST", "grading_config/:c/:i",	AUTH_ADMIN,   1, h_config_post },
	{ "POST", "grading_run/:c/:i",		AUTH_ADMIN,   1, h_run_start },
	{ "GET",  "grading_run_status/:c/:i",	AUTH_VIEW,    0, h_run_status },
	{ "GET",  "grading_run_env/:c/:i",	AUTH_ADMIN,   0, h_run_env },
	{ "GET",  "grading_job_log/:c/:i",	AUTH_ADMIN,   0, h_job_log },
	{ "GET",  "worker/:c/:i",		AUTH_ADMIN,   0, h_workers },
	{ "GET",  "queue/:c/length",		AUTH_ADMIN,   0, h_queue_length },
	{ "GET",  "queue/:c/:i/position",	AUTH_VIEW,    0, h_queue_position },
	{ "POST", "grader/:i/register",		AUTH_CLUSTER, 1, h_grader_register },
	{ "POST", "grader/:i/heartbeat",	AUTH_CLUSTER, 1, h_grader_heartbeat },
	{ "POST", "grader/:i/claim",		AUTH_CLUSTER, 1, h_grader_claim },
	{ "POST", "grader/:i/result",		AUTH_CLUSTER, 1, h_grader_result },
};

/* 1 if the path segments fit the pattern; the ids are stored in c. */
static int
route_match(const char *pattern, const struct req *r, struct call *c)
{
	char		 pat[64], *p, *save = NULL;
	size_t		 n = 0;

	copy_str(pat, sizeof(pat), pattern);
	c->course = c->id = NULL;
	for (p = strtok_r(pat, "/", &save); p != NULL;
	    p = strtok_r(NULL, "/", &save), n++) {
		if (n >= r->nseg)
			return 0;
		if (strcmp(p, ":c") == 0)
			c->course = r->seg[n];
		else if (strcmp(p, ":i") == 0)
			c->id = r->seg[n];
		else if (strcmp(p, r->seg[n]) != 0)
			return 0;
	}
	return n == r->nseg;
}

void
route_dispatch(struct db *db, struct req *r)
{
	const struct route	*rt = NULL;
	struct call		 c;
	char			 err[256];
	size_t			 i;
	int			 path_known = 0, st;

	memset(&c, 0, sizeof(c));
	r->db = db;
	c.r = r;
	c.db = db;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].pattern, r, &c))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, r->method) == 0) {
			rt = &routes[i];
			break;
		}
	}
	/* Browsers send a preflight without credentials. */
	if (path_known && strcmp(r->method, "OPTIONS") == 0) {
		http_send_empty(r, 204);
		return;
	}
	if (rt == NULL) {
		if (path_known)
			http_send_fail(r, 405, "method %.16s not allowed here",
			    r->method);
		else
			http_send_fail(r, 404, "no such endpoint");
		return;
	}
	if ((c.course != NULL && !id_valid(c.course)) ||
	    (c.id != NULL && !id_valid(c.id))) {
		http_send_fail(r, 400, "invalid id: ids are 1..128 characters"
		    " of [A-Za-z0-9_.-]");
		return;
	}
	/* A worker route's scope is its worker id: a per-worker token
	 * opens only its own. */
	if ((st = auth_check(db, r->authz, rt->need == AUTH_CLUSTER ? c.id :
	    c.course, rt->need, NULL, err, sizeof(err))) != 0) {
		http_send_fail(r, st, "%s", err);
		return;
	}
	if (rt->has_body && (st = http_read_body(r)) != 0) {
		http_send_fail(r, st, st == 413 ? "request body larger than"
		    " %d bytes" : "could not read the request body", BODY_MAX);
		return;
	}
	rt->fn(&c);
	if (!r->responded)
		http_send_fail(r, 500, "internal error");
}
