#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "db.h"
#include "log.h"
#include "states.h"
#include "util.h"

/*
 * Accepted tokens are remembered for a short while (BROADWAY_AUTH_CACHE_MS,
 * default 1000; 0 turns it off), so a hot read costs one query, not two.
 * Only successes are kept, keyed by course and digest; a revoked token
 * stops working within that time.  Nothing here must survive the process.
 */
#define AUTH_CACHE_SLOTS	64

struct auth_cached {
	unsigned char	 digest[DIGEST_LEN];
	char		 course[ID_MAX + 1];	/* "" for the cluster token */
	int		 kind;
	int64_t		 until_ms;
};

static struct auth_cached	 auth_cache[AUTH_CACHE_SLOTS];
static pthread_mutex_t		 auth_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t			 auth_cache_ms = -1;

static int64_t
auth_cache_ttl(void)
{
	const char	*v;
	int64_t		 ms = 1000;

	if (auth_cache_ms < 0) {
		v = getenv("BROADWAY_AUTH_CACHE_MS");
		if (v != NULL && parse_int64(v, 0, 60000, &ms) == -1)
			ms = 1000;
		auth_cache_ms = ms;
	}
	return auth_cache_ms;
}

static size_t
auth_cache_slot(const unsigned char *digest, const char *course)
{
	size_t	 h = 5381, i;

	for (i = 0; i < 8; i++)
		h = h * 33 + digest[i];
	for (i = 0; course[i] != '\0'; i++)
		h = h * 33 + (unsigned char)course[i];
	return h % AUTH_CACHE_SLOTS;
}

/* The kind of a cached token, or -1. */
static int
auth_cache_get(const unsigned char *digest, const char *course)
{
	struct auth_cached	*e;
	int			 kind = -1;

	if (auth_cache_ttl() == 0)
		return -1;
	pthread_mutex_lock(&auth_cache_mu);
	e = &auth_cache[auth_cache_slot(digest, course)];
	if (e->until_ms > mono_ms() && strcmp(e->course, course) == 0 &&
	    CRYPTO_memcmp(e->digest, digest, DIGEST_LEN) == 0)
		kind = e->kind;
	pthread_mutex_unlock(&auth_cache_mu);
	return kind;
}

static void
auth_cache_put(const unsigned char *digest, const char *course, int kind)
{
	struct auth_cached	*e;

	if (auth_cache_ttl() == 0)
		return;
	pthread_mutex_lock(&auth_cache_mu);
	e = &auth_cache[auth_cache_slot(digest, course)];
	memcpy(e->digest, digest, DIGEST_LEN);
	copy_str(e->course, sizeof(e->course), course);
	e->kind = kind;
	e->until_ms = mono_ms() + auth_cache_ms;
	pthread_mutex_unlock(&auth_cache_mu);
}

enum auth_stmt {
	AUTH_STMT_COURSE_TOKENS,
	AUTH_STMT_CLUSTER_TOKENS,
	AUTH_STMT_IS_COURSE_TOKEN,
	AUTH_STMT__MAX
};

static const char *const auth_sql[AUTH_STMT__MAX] = {
	/* AUTH_STMT_COURSE_TOKENS: no row at all means no such course. */
	"SELECT t.digest, t.kind FROM course c LEFT JOIN api_token t"
	" ON t.course_id = c.id AND t.revoked_at IS NULL WHERE c.id = ?",
	/* AUTH_STMT_CLUSTER_TOKENS */
	"SELECT digest, kind FROM api_token WHERE kind = ? AND revoked_at IS NULL",
	/* AUTH_STMT_IS_COURSE_TOKEN: only to tell 403 from 401 once the
	 * constant-time comparison has already failed. */
	"SELECT 1 FROM api_token WHERE digest = ? AND kind <> ? AND"
	" revoked_at IS NULL LIMIT 1",
};

struct token_row {	/* AUTH_STMT_COURSE_TOKENS, AUTH_STMT_CLUSTER_TOKENS */
	struct db_text	 digest;	/* NULL: a course without tokens */
	int		 kind;
};

static const struct db_col token_cols[] = {
	DB_TEXT(struct token_row, digest), DB_INT(struct token_row, kind),
};

/* 1 if the digest is a live course token, else 0. */
static int
auth_is_course_token(struct db *db, const unsigned char digest[DIGEST_LEN])
{
	struct db_res	*r;
	int		 found;

	if ((r = db_query(db, auth_sql[AUTH_STMT_IS_COURSE_TOKEN], "bi", digest,
	    (size_t)DIGEST_LEN, (int64_t)TOKEN_CLUSTER)) == NULL)
		return 0;
	found = db_res_next(r) == 1;
	db_res_free(r);
	return found;
}

int
token_valid(const char *tok)
{
	size_t	 i;

	for (i = 0; tok[i] != '\0'; i++)
		if (i >= TOKEN_MAX || tok[i] <= 0x20 || tok[i] >= 0x7f)
			return 0;
	return i > 0;
}

int
auth_parse_header(const char *h, char *tok, size_t toksize)
{
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	if (!token_valid(h) || snprintf(tok, toksize, "%s", h) >= (int)toksize)
		return -1;
	return 0;
}

void
token_digest(const char *tok, unsigned char out[DIGEST_LEN])
{
	SHA256((const unsigned char *)tok, strlen(tok), out);
}

int
auth_check(struct db *db, const char *header, const char *course_id,
    enum auth_need need, char *err, size_t errlen)
{
	struct db_res	*r;
	struct token_row t;
	unsigned char	 want[DIGEST_LEN];
	char		 tok[TOKEN_MAX + 1];
	int		 rows = 0, kind = -1, rc;

	if (header == NULL) {
		snprintf(err, errlen, "missing Authorization header");
		return 401;
	}
	if (auth_parse_header(header, tok, sizeof(tok)) == -1) {
		snprintf(err, errlen, "invalid token format (want \"Bearer <token>\")");
		return 401;
	}
	token_digest(tok, want);
	explicit_bzero(tok, sizeof(tok));
	if (strlen(need == AUTH_CLUSTER ? "" : course_id) > ID_MAX) {
		snprintf(err, errlen, "course not found");
		return 404;
	}
	if ((kind = auth_cache_get(want, need == AUTH_CLUSTER ? "" :
	    course_id)) != -1)
		goto decide;

	if (need == AUTH_CLUSTER)
		r = db_query(db, auth_sql[AUTH_STMT_CLUSTER_TOKENS], "i",
		    (int64_t)TOKEN_CLUSTER);
	else
		r = db_query(db, auth_sql[AUTH_STMT_COURSE_TOKENS], "s", course_id);
	if (r == NULL) {
		snprintf(err, errlen, "internal error");
		return 500;
	}
	/* Look at every row so the time taken does not depend on which
	 * token matched. */
	while ((rc = DB_ROW(r, token_cols, &t)) == 1) {
		rows++;
		if (t.digest.s == NULL || t.digest.len != DIGEST_LEN)
			continue;
		if (CRYPTO_memcmp(t.digest.s, want, DIGEST_LEN) == 0)
			kind = t.kind;
	}
	db_res_free(r);
	if (rc == -1) {
		snprintf(err, errlen, "internal error");
		return 500;
	}
	if (need != AUTH_CLUSTER && rows == 0) {
		snprintf(err, errlen, "course not found");
		return 404;
	}
	if (kind != -1)
		auth_cache_put(want, need == AUTH_CLUSTER ? "" : course_id, kind);
decide:
	if (kind == -1 && need == AUTH_CLUSTER && auth_is_course_token(db, want)) {
		snprintf(err, errlen, "a course token may not use the worker endpoints");
		return 403;
	}
	if (kind == -1) {
		snprintf(err, errlen, "invalid token");
		return 401;
	}
	if (need == AUTH_ADMIN && kind != TOKEN_ADMIN) {
		snprintf(err, errlen, "a query token may not use this endpoint");
		return 403;
	}
	return 0;
}
