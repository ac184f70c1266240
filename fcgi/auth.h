#ifndef BW_AUTH_H
#define BW_AUTH_H

#include <stddef.h>

struct db;

#define TOKEN_MAX	256
#define DIGEST_LEN	32

enum auth_need {
	AUTH_ADMIN = 0,		/* a course admin token */
	AUTH_VIEW,		/* a course admin or query token */
	AUTH_CLUSTER,		/* the cluster token (workers) */
	AUTH__MAX
};

/*
 * Check the Authorization header (may be NULL) for `need` on course_id
 * (ignored for AUTH_CLUSTER).  Returns 0 when allowed, else the HTTP
 * status to answer with (401 no/bad token, 403 wrong kind of token,
 * 404 unknown course, 500 database) and a message in err.
 * Digests are compared in constant time.
 */
int	 auth_check(struct db *, const char *header, const char *course_id,
	    enum auth_need need, char *err, size_t errlen);

/* "Bearer <token>" -> token.  0, or -1 if the format is wrong. */
int	 auth_parse_header(const char *header, char *tok, size_t toksize);

/* SHA-256 of a token. */
void	 token_digest(const char *tok, unsigned char out[DIGEST_LEN]);

/* A token may be 1..256 printable ASCII characters without spaces. */
int	 token_valid(const char *tok);

#endif
