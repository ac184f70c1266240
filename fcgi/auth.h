#ifndef BW_AUTH_H
#define BW_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct db;

#define TOKEN_MAX	256
#define DIGEST_LEN	32

enum auth_need {
	AUTH_ADMIN = 0,		/* a course admin token */
	AUTH_VIEW,		/* a course admin or query token */
	AUTH_CLUSTER,		/* a cluster token (workers) */
	AUTH__MAX
};

/*
 * One live api_token row of a token: what it opens.  course is set for
 * admin and query tokens; worker is the worker id a cluster token is
 * bound to, NULL for a plain cluster token (any worker id).
 */
struct auth_grant {
	int		 kind;		/* enum token_kind */
	const char	*course;
	const char	*worker;
};

/*
 * What the rows of one token allow for `need` on `scope` (the course
 * id of the path, or for AUTH_CLUSTER the worker id of the path): 0, or
 * 401 (the token opens nothing here, whether or not the course exists)
 * or 403 (right place, wrong kind: a query token on an admin route, a
 * course token on a worker route, a cluster token bound to another
 * worker), with a message in err.  Pure: the SSE process re-checks its
 * open streams with it.
 */
int	 auth_decide(const struct auth_grant *, size_t n, enum auth_need need,
	    const char *scope, char *err, size_t errlen);

/*
 * Check the Authorization header (may be NULL) for `need` on scope (as
 * above).  Returns 0 when allowed, else the HTTP status to answer with
 * (401, 403, 500 database) and a message in err.  On 0 the token's
 * digest is left in digest (may be NULL) for callers that re-check it.
 */
int	 auth_check(struct db *, const char *header, const char *scope,
	    enum auth_need need, unsigned char *digest, char *err,
	    size_t errlen);

/* Forget every cached acceptance of this digest (a token found revoked). */
void	 auth_forget(const unsigned char digest[DIGEST_LEN]);

/* How long an accepted token is believed without asking the database
 * (BROADWAY_AUTH_CACHE_MS, default 1000, 0 = always ask). */
int64_t	 auth_ttl_ms(void);

/* "Bearer <token>" -> token.  0, or -1 if the format is wrong. */
int	 auth_parse_header(const char *header, char *tok, size_t toksize);

/* SHA-256 of a token. */
void	 token_digest(const char *tok, unsigned char out[DIGEST_LEN]);

/* A token may be 1..256 printable ASCII characters without spaces. */
int	 token_valid(const char *tok);

#endif
