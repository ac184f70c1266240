/*
 * Open streams keep their token honest: a stream was allowed when it
 * started, but a token revoked since (token-revoke, load-courses) must
 * not keep it open until its job ends, or forever for a worker's nudge
 * stream.  Every auth cache period (auth_ttl_ms, the time a revoked
 * token is still believed by the API) the publisher reads the live
 * token rows once, however many streams are open, and ends every
 * stream whose token no longer opens what it opened.  The client sees
 * the stream end; reconnecting, it gets the API's 401.
 *
 * On a database error nothing is closed: not knowing is no reason to
 * cut everyone off.  The next period tries again.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "hub.h"
#include "log.h"
#include "states.h"

#define RECHECK_MIN_MS	100

static const char *const recheck_sql =
    "SELECT digest, kind, course_id, worker_id FROM api_token"
    " WHERE revoked_at IS NULL";

struct live_row {		/* recheck_sql */
	struct db_text	 digest;
	int		 kind;
	char		 course[ID_MAX + 1];
	char		 worker[ID_MAX + 1];
};

static const struct db_col live_cols[] = {
	DB_TEXT(struct live_row, digest), DB_INT(struct live_row, kind),
	DB_STR_OPT(struct live_row, course), DB_STR_OPT(struct live_row, worker),
};

struct live_tok {
	unsigned char	 digest[DIGEST_LEN];
	struct auth_grant g;
	char		 course[ID_MAX + 1];
	char		 worker[ID_MAX + 1];
};

struct live_set {
	struct live_tok	*t;		/* sorted by digest */
	size_t		 n, cap;
};

static int
live_cmp(const void *a, const void *b)
{
	return memcmp(((const struct live_tok *)a)->digest,
	    ((const struct live_tok *)b)->digest, DIGEST_LEN);
}

/* Every live token row, sorted by digest.  0, or -1 (nothing read). */
static int
live_load(struct db *db, struct live_set *ls)
{
	struct db_res	*r;
	struct live_row	 row;
	struct live_tok	*t, *grown;
	size_t		 i;
	int		 rc;

	if ((r = db_query(db, recheck_sql, "")) == NULL)
		return -1;
	while ((rc = DB_ROW(r, live_cols, &row)) == 1) {
		if (row.digest.s == NULL || row.digest.len != DIGEST_LEN)
			continue;
		if (ls->n == ls->cap) {
			ls->cap = ls->cap ? ls->cap * 2 : 64;
			if ((grown = realloc(ls->t, ls->cap * sizeof(*grown))) == NULL) {
				rc = -1;
				break;
			}
			ls->t = grown;
		}
		t = &ls->t[ls->n++];
		memcpy(t->digest, row.digest.s, DIGEST_LEN);
		t->g.kind = row.kind;
		memcpy(t->course, row.course, sizeof(t->course));
		memcpy(t->worker, row.worker, sizeof(t->worker));
	}
	db_res_free(r);
	if (rc == -1)
		return -1;
	if (ls->n > 0)
		qsort(ls->t, ls->n, sizeof(*ls->t), live_cmp);
	/* Pointers into the entries only now that they no longer move. */
	for (i = 0; i < ls->n; i++) {
		t = &ls->t[i];
		t->g.course = t->course[0] != '\0' ? t->course : NULL;
		t->g.worker = t->worker[0] != '\0' ? t->worker : NULL;
	}
	return 0;
}

/* 1 if the stream's token still opens what it opened. */
static int
allowed(const struct sse_stream *s, const struct live_set *ls)
{
	struct auth_grant	 g[16];
	char			 err[128];
	size_t			 lo = 0, hi = ls->n, mid, n = 0;

	while (lo < hi) {	/* the first row of this digest */
		mid = lo + (hi - lo) / 2;
		if (memcmp(ls->t[mid].digest, s->auth.digest, DIGEST_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ls->n && memcmp(ls->t[lo].digest, s->auth.digest,
	    DIGEST_LEN) == 0; lo++) {
		g[n++] = ls->t[lo].g;
		if (n == sizeof(g) / sizeof(g[0])) {
			if (auth_decide(g, n, s->auth.need, s->auth.scope, err,
			    sizeof(err)) == 0)
				return 1;
			n = 0;
		}
	}
	return n > 0 && auth_decide(g, n, s->auth.need, s->auth.scope, err,
	    sizeof(err)) == 0;
}

/* allowed(), and a stream that is not takes its token out of this
 * process's auth cache: reconnecting is refused at once, not only once
 * the cached acceptance runs out. */
static int
still_allowed(const struct sse_stream *s, void *arg)
{
	if (allowed(s, arg))
		return 1;
	auth_forget(s->auth.digest);
	return 0;
}

int64_t
recheck_period_ms(void)
{
	int64_t	 ttl = auth_ttl_ms();

	return ttl < RECHECK_MIN_MS ? RECHECK_MIN_MS : ttl;
}

void
recheck(struct db *db)
{
	struct live_set	 ls = { NULL, 0, 0 };
	size_t		 closed;

	if (live_load(db, &ls) == 0 &&
	    (closed = reg_drop_unless(still_allowed, &ls)) > 0)
		log_info("closed %zu streams whose token was revoked", closed);
	free(ls.t);
}
