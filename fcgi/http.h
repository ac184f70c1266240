#ifndef BW_HTTP_H
#define BW_HTTP_H

#include <stddef.h>
#include <fcgiapp.h>
#include <jansson.h>

#define BODY_MAX	(16 * 1024 * 1024)	/* agrees with nginx client_max_body_size 16m */
#define PATH_SEGS_MAX	8
#define HTTP_RETRY_AFTER_S	2	/* Retry-After of every 503 */

struct db;

/* One request as the handlers see it. */
struct req {
	FCGX_Request	*fx;
	const char	*method;
	const char	*authz;		/* Authorization header or NULL */
	const char	*last_event_id;	/* Last-Event-ID header or NULL */
	char		 reqid[40];
	char		 path[1024];	/* copy of the path, split in place */
	char		*seg[PATH_SEGS_MAX];
	size_t		 nseg;		/* segments after /api/v1/ */
	char		*body;		/* NUL-terminated, NULL until read */
	size_t		 body_len;
	int		 responded;
	struct db	*db;		/* set by the caller once it has one:
					 * a 500 with the database down is
					 * sent as 503 */
};

/* Parse the FastCGI params.  0, or an HTTP status (400/404) on a bad path. */
int	 http_req_init(struct req *, FCGX_Request *);
void	 http_req_free(struct req *);

/* Read the body, at most BODY_MAX bytes.  0, or 413, or 400. */
int	 http_read_body(struct req *);

/* {"status":"success","data":data}; takes the reference to data (NULL -> null). */
void	 http_send_data(struct req *, int status, json_t *data);
/* {"status":"fail"|"error","data":{"message":msg}}; "error" for >= 500.
 * 500 becomes 503 + Retry-After when r->db says the database is down. */
void	 http_send_fail(struct req *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* A status with no body (204, OPTIONS). */
void	 http_send_empty(struct req *, int status);
/* The headers of an answer whose body the caller writes itself to
 * r->fx->out (an answer too large to build in memory). */
void	 http_send_head(struct req *, int status, const char *ctype);

const char *http_reason(int status);

#endif
