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
 * Only successes are kept, keyed by digest, what was asked and where (the
 * course, or the worker id); a revoked token stops working within that
 * time.  Nothing here must survive the process.
 */
#define AUTH_CACHE_SLOTS	64

struct auth_cached {
	unsigned char	 digest[DIGEST_LEN];
	char		 scope[ID_MAX + 1];	/* course or worker id */
	int		 need;
	int64_t		 until_ms;
};

static struct auth_cached	 auth_cache[AUTH_CACHE_SLOTS];
static pthread_mutex_t		 auth_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t			 auth_cache_ms = -1;

int64_t
auth_ttl_ms(void)
{
	const char	*v;
	int64_t		 ms = 1000;

	pthread_mutex_lock(&auth_cache_mu);
	if (auth_cache_ms < 0) {
		v = getenv("BROADWAY_AUTH_CACHE_MS");
		if (v != NULL && parse_int64(v, 0, 60000, &ms) == -1)
			ms = 1000;
		auth_cache_ms = ms;
	}
	ms = auth_cache_ms;
	pthread_mutex_unlock(&auth_cache_mu);
	return ms;
}

static size_t
auth_cache_slot(const unsigned char *digest, int need, const char *scope)
{
	size_t	 h = 5381 + (size_t)need, i;

	for (i = 0; i < 8; i++)
		h = h * 33 + digest[i];
	for (i = 0; scope[i] != '\0'; i++)
		h = h * 33 + (unsigned char)scope[i];
	return h % AUTH_CACHE_SLOTS;
}

/* 1 if this token was accepted for need on scope a moment ago. */
static int
auth_cache_get(const unsigned char *digest, int need, const char *scope)
{
	struct auth_cached	*e;
	int			 hit;

	if (auth_ttl_ms() == 0)
		return 0;
	pthread_mutex_lock(&auth_cache_mu);
	e = &auth_cache[auth_cache_slot(digest, need, scope)];
	hit = e->until_ms > mono_ms() && e->need == need &&
	    strcmp(e->scope, scope) == 0 &&
	    CRYPTO_memcmp(e->digest, digest, DIGEST_LEN) == 0;
	pthread_mutex_unlock(&auth_cache_mu);
	return hit;
}

static void
auth_cache_put(const unsigned char *digest, int need, const char *scope)
{
	struct auth_cached	*e;
	int64_t			 ttl = auth_ttl_ms();

	if (ttl == 0)
		return;
	pthread_mutex_lock(&auth_cache_mu);
	e = &auth_cache[auth_cache_slot(digest, need, scope)];
	memcpy(e->digest, digest, DIGEST_LEN);
	copy_str(e->scope, sizeof(e->scope), scope);
	e->need = need;
	e->until_ms = mono_ms() + ttl;
	pthread_mutex_unlock(&auth_cache_mu);
}

void
auth_forget(const unsigned char digest[DIGEST_LEN])
{
	size_t	 i;

	pthread_mutex_lock(&auth_cache_mu);
	for (i = 0; i < AUTH_CACHE_SLOTS; i++)
		if (CRYPTO_memcmp(auth_cache[i].digest, digest, DIGEST_LEN) == 0)
			auth_cache[i].until_ms = 0;
	pthread_mutex_unlock(&auth_cache_mu);
}

enum auth_stmt {
	AUTH_STMT_GRANTS,
	AUTH_STMT__MAX
};

static const char *const auth_sql[AUTH_STMT__MAX] = {
	/* AUTH_STMT_GRANTS: every live row of one token, by its digest
	 * (indexed).  Looking the token up rather than the course means
	 * the course in the path plays no part in the query: an unknown
	 * course and a known one answer alike. */
	"SELECT kind, course_id, worker_id FROM api_token"
	" WHERE digest = ? AND revoked_at IS NULL",
};

struct grant_row {		/* AUTH_STMT_GRANTS */
	int		 kind;
	char		 course[ID_MAX + 1];	/* "" for a cluster token */
	char		 worker[ID_MAX + 1];	/* "" unless bound */
};

static const struct db_col grant_cols[] = {
	DB_INT(struct grant_row, kind), DB_STR_OPT(struct grant_row, course),
	DB_STR_OPT(struct grant_row, worker),
};

/* One grant: 0 allowed, 403 (why in err), or 401. */
static int
auth_decide_one(const struct auth_grant *g, enum auth_need need,
    const char *scope, char *err, size_t errlen)
{
	if (need == AUTH_CLUSTER && g->kind == TOKEN_CLUSTER) {
		if (g->worker == NULL || strcmp(g->worker, scope) == 0)
			return 0;
		snprintf(err, errlen, "this cluster token is bound to another"
		    " worker id");
		return 403;
	}
	if (need == AUTH_CLUSTER) {
		snprintf(err, errlen, "a course token may not use the worker"
		    " endpoints");
		return 403;
	}
	if (g->kind == TOKEN_CLUSTER || g->course == NULL ||
	    strcmp(g->course, scope) != 0)
		return 401;
	if (g->kind == TOKEN_ADMIN || need == AUTH_VIEW)
		return 0;
	snprintf(err, errlen, "a query token may not use this endpoint");
	return 403;
}

int
auth_decide(const struct auth_grant *g, size_t n, enum auth_need need,
    const char *scope, char *err, size_t errlen)
{
	char	 why[128];
	size_t	 i;
	int	 best = 401, rc;

	snprintf(err, errlen, "invalid token");
	if (scope == NULL)
		return 401;
	for (i = 0; i < n; i++) {
		if ((rc = auth_decide_one(&g[i], need, scope, why,
		    sizeof(why))) == 0)
			return 0;
		if (rc == 403 && best == 401) {
			best = 403;
			snprintf(err, errlen, "%s", why);
		}
	}
	return best;
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
auth_check(struct db *db, const char *header, const char *scope,
    enum auth_need need, unsigned char *digest, char *err, size_t errlen)
{
	struct db_res	*r;
	struct grant_row row;
	struct auth_grant g;
	unsigned char	 want[DIGEST_LEN];
	char		 tok[TOKEN_MAX + 1], why[128];
	int		 rc, st, best = 401;

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
	snprintf(err, errlen, "invalid token");
	if (scope == NULL || strlen(scope) > ID_MAX)
		return 401;
	if (digest != NULL)
		memcpy(digest, want, DIGEST_LEN);
	if (auth_cache_get(want, need, scope))
		return 0;

	if ((r = db_query(db, auth_sql[AUTH_STMT_GRANTS], "b", want,
	    (size_t)DIGEST_LEN)) == NULL) {
		snprintf(err, errlen, "could not check the token");
		return 500;
	}
	/* Grants combine: one that allows wins, then a 403's reason. */
	while ((rc = DB_ROW(r, grant_cols, &row)) == 1) {
		g.kind = row.kind;
		g.course = row.course[0] != '\0' ? row.course : NULL;
		g.worker = row.worker[0] != '\0' ? row.worker : NULL;
		st = auth_decide(&g, 1, need, scope, why, sizeof(why));
		if (st == 0 || (st == 403 && best == 401)) {
			best = st;
			snprintf(err, errlen, "%s", why);
		}
	}
	db_res_free(r);
	if (rc == -1) {
		snprintf(err, errlen, "could not check the token");
		return 500;
	}
	if (best == 0)
		auth_cache_put(want, need, scope);
	return best;
}
