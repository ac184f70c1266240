#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"

struct reason {
	int		 code;
	const char	*text;
};

static const struct reason reasons[] = {
	{ 200, "OK" }, { 204, "No Content" }, { 400, "Bad Request" },
	{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" },
	{ 411, "Length Required" }, { 413, "Payload Too Large" },
	{ 500, "Internal Server Error" }, { 503, "Service Unavailable" },
};

const char *
http_reason(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "Unknown";
}

int
http_req_init(struct req *r, FCGX_Request *fx)
{
	const char	*uri, *rid;
	char		*p, *q;
	size_t		 n;

	memset(r, 0, sizeof(*r));
	r->fx = fx;
	r->method = FCGX_GetParam("REQUEST_METHOD", fx->envp);
	if (r->method == NULL)
		r->method = "GET";
	r->authz = FCGX_GetParam("HTTP_AUTHORIZATION", fx->envp);
	r->last_event_id = FCGX_GetParam("HTTP_LAST_EVENT_ID", fx->envp);
	rid = FCGX_GetParam("REQUEST_ID", fx->envp);
	if (rid == NULL || copy_str(r->reqid, sizeof(r->reqid), rid) == -1) {
		char hex[PUBLIC_ID_LEN + 1];
		public_id_new(hex);
		copy_str(r->reqid, sizeof(r->reqid), hex);
	}
	log_set_request(r->reqid);

	/*
	 * DOCUMENT_URI is nginx's $uri: already percent-decoded and
	 * normalised, the path nginx chose the location by.  It is not
	 * decoded again: a second pass would turn %2541 into A, a path
	 * nginx never saw.  A '%' left in a segment is refused by the id
	 * checks like any other character outside [A-Za-z0-9_.-].
	 */
	uri = FCGX_GetParam("DOCUMENT_URI", fx->envp);
	if (uri == NULL || copy_str(r->path, sizeof(r->path), uri) == -1)
		return 404;
	if (strncmp(r->path, "/api/v1/", 8) != 0)
		return 404;
	p = r->path + 8;
	for (n = 0; n < PATH_SEGS_MAX; n++) {
		r->seg[n] = p;
		if ((q = strchr(p, '/')) == NULL) {
			n++;
			break;
		}
		*q = '\0';
		p = q + 1;
	}
	if (q != NULL)
		return 404;
	r->nseg = n;
	return 0;
}

void
http_req_free(struct req *r)
{
	free(r->body);
	r->body = NULL;
	log_set_request(NULL);
}

int
http_read_body(struct req *r)
{
	const char	*cl = FCGX_GetParam("CONTENT_LENGTH", r->fx->envp);
	int64_t		 want = 0;
	int		 got;

	if (cl != NULL && *cl != '\0' &&
	    parse_int64(cl, 0, INT64_MAX, &want) == -1)
		return 400;
	if (want > BODY_MAX)
		return 413;
	if ((r->body = malloc((size_t)want + 1)) == NULL)
		return 500;
	got = want > 0 ? FCGX_GetStr(r->body, (int)want, r->fx->in) : 0;
	if (got != want)
		return 400;
	r->body[want] = '\0';
	r->body_len = (size_t)want;
	return 0;
}

static void
http_headers(struct req *r, int status, const char *ctype)
{
	/* A 503 is an outage the client should wait out and retry. */
	if (status == 503)
		FCGX_FPrintF(r->fx->out, "Retry-After: %d\r\n",
		    HTTP_RETRY_AFTER_S);
	FCGX_FPrintF(r->fx->out,
	    "Status: %d %s\r\n"
	    "Access-Control-Allow-Origin: *\r\n"
	    "Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n"
	    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: %s\r\n",
	    status, http_reason(status), r->reqid);
	if (ctype != NULL)
		FCGX_FPrintF(r->fx->out, "Content-Type: %s\r\n", ctype);
	FCGX_PutS("\r\n", r->fx->out);
	r->responded = 1;
}

static void
http_send_envelope(struct req *r, int status, const char *st, json_t *data)
{
	json_t	*env;
	char	*s;

	env = json_pack("{s:s, s:o}", "status", st, "data",
	    data != NULL ? data : json_null());
	s = env != NULL ? jsonx_dump(env) : NULL;
	json_decref(env);
	if (s == NULL) {
		http_headers(r, 500, "application/json; charset=UTF-8");
		FCGX_PutS("{\"status\":\"error\",\"data\":{\"message\":"
		    "\"internal error\"}}", r->fx->out);
		return;
	}
	http_headers(r, status, "application/json; charset=UTF-8");
	FCGX_PutStr(s, (int)strlen(s), r->fx->out);
	free(s);
}

void
http_send_data(struct req *r, int status, json_t *data)
{
	http_send_envelope(r, status, "success", data);
}

void
http_send_fail(struct req *r, int status, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A handler's 500 that came from the database being down or gone
	 * is no bug: the request will work again once it is back. */
	if (status == 500 && r->db != NULL && db_unavailable(r->db)) {
		status = 503;
		snprintf(msg, sizeof(msg), "database unavailable, retry later");
	}
	if (status >= 500)
		log_warnx("answering %d: %s", status, msg);
	http_send_envelope(r, status, status >= 500 ? "error" : "fail",
	    json_pack("{s:s}", "message", msg));
}

void
http_send_empty(struct req *r, int status)
{
	http_headers(r, status, NULL);
}

void
http_send_head(struct req *r, int status, const char *ctype)
{
	http_headers(r, status, ctype);
}
