/*
 * Courses and tokens.  Only SHA-256 digests of tokens are stored, so a
 * token is shown once, when it is created, and never again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin.h"
#include "auth.h"
#include "db.h"
#include "jsonx.h"
#include "states.h"
#include "util.h"

#define TOKEN_GEN_BYTES		32
#define LABEL_MAX		128
#define COURSES_FILE_MAX	(16 * 1024 * 1024)

enum tok_stmt {
	TOK_COURSE_ADD,
	TOK_COURSE_UPSERT,
	TOK_COURSE_EXISTS,
	TOK_COURSE_LIST,
	TOK_FIND,
	TOK_INSERT,
	TOK_LIST_ALL,
	TOK_LIST_COURSE,
	TOK_REVOKE,
	TOK_GET,
	TOK_COURSE_ACTIVE,
	TOK__MAX
};

static const char *const tok_sql[TOK__MAX] = {
	/* TOK_COURSE_ADD */
	"INSERT INTO course (id) VALUES (?)",
	/* TOK_COURSE_UPSERT */
	"INSERT INTO course (id) VALUES (?) ON DUPLICATE KEY UPDATE id = id",
	/* TOK_COURSE_EXISTS */
	"SELECT 1 FROM course WHERE id = ?",
	/* TOK_COURSE_LIST */
	"SELECT c.id,"
	" SUM(t.kind = ? AND t.revoked_at IS NULL),"
	" SUM(t.kind = ? AND t.revoked_at IS NULL)"
	" FROM course c LEFT JOIN api_token t ON t.course_id = c.id"
	" GROUP BY c.id ORDER BY c.id",
	/* TOK_FIND: an active token of this kind, course and worker
	 * (NULL-safe). */
	"SELECT id FROM api_token WHERE digest = ? AND kind = ?"
	" AND course_id <=> ? AND worker_id <=> ? AND revoked_at IS NULL",
	/* TOK_INSERT */
	"INSERT INTO api_token (digest, kind, course_id, worker_id, label)"
	" VALUES (?, ?, ?, ?, ?)",
	/* TOK_LIST_ALL */
	"SELECT id, kind, course_id, worker_id, label, HEX(LEFT(digest, 4)),"
	" DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s'),"
	" DATE_FORMAT(revoked_at, '%Y-%m-%dT%H:%i:%s')"
	" FROM api_token ORDER BY id",
	/* TOK_LIST_COURSE */
	"SELECT id, kind, course_id, worker_id, label, HEX(LEFT(digest, 4)),"
	" DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s'),"
	" DATE_FORMAT(revoked_at, '%Y-%m-%dT%H:%i:%s')"
	" FROM api_token WHERE course_id = ? ORDER BY id",
	/* TOK_REVOKE */
	"UPDATE api_token SET revoked_at = UTC_TIMESTAMP(6)"
	" WHERE id = ? AND revoked_at IS NULL",
	/* TOK_GET */
	"SELECT revoked_at IS NOT NULL FROM api_token WHERE id = ?",
	/* TOK_COURSE_ACTIVE: a course's active admin and query tokens. */
	"SELECT id, digest, kind FROM api_token WHERE course_id = ?"
	" AND kind IN (?, ?) AND revoked_at IS NULL",
};

struct course_row {		/* TOK_COURSE_LIST */
	char		 id[ID_MAX + 1];
	int64_t		 admin_tokens;
	int64_t		 query_tokens;
};

static const struct db_col course_cols[] = {
	DB_STR(struct course_row, id), DB_INT(struct course_row, admin_tokens),
	DB_INT(struct course_row, query_tokens),
};

struct token_row {		/* TOK_LIST_ALL, TOK_LIST_COURSE */
	int64_t		 id;
	int		 kind;
	char		 course[ID_MAX + 1];	/* "" for a cluster token */
	char		 worker[ID_MAX + 1];	/* "" unless bound to one */
	char		 label[4 * LABEL_MAX + 1];	/* utf8mb4 */
	char		 digest_hex[9];
	char		 created[32];
	char		 revoked[32];		/* "" if active */
};

static const struct db_col token_cols[] = {
	DB_INT(struct token_row, id), DB_INT(struct token_row, kind),
	DB_STR_OPT(struct token_row, course), DB_STR_OPT(struct token_row, worker),
	DB_STR(struct token_row, label),
	DB_STR(struct token_row, digest_hex),
	DB_STR(struct token_row, created),
	DB_STR_OPT(struct token_row, revoked),
};

struct active_row {		/* TOK_COURSE_ACTIVE */
	int64_t		 id;
	struct db_text	 digest;
	int		 kind;
};

static const struct db_col active_cols[] = {
	DB_INT(struct active_row, id), DB_TEXT(struct active_row, digest),
	DB_INT(struct active_row, kind),
};

/* 1 exists, 0 not, -1 error. */
static int
course_exists(struct db *db, const char *course)
{
	int64_t		 one;

	return db_query_int(db, tok_sql[TOK_COURSE_EXISTS], &one, "s", course);
}

int
admin_course_add(struct db *db, int argc, char **argv)
{
	const char	*course = argv[0];
	int		 st;

	(void)argc;
	if (!id_valid(course)) {
		admin_err("invalid course id \"%s\" (want [A-Za-z0-9_.-]{1,%d})",
		    course, ID_MAX);
		return 1;
	}
	if ((st = course_exists(db, course)) == -1)
		return 1;
	if (st == 1) {
		admin_err("course %s already exists", course);
		return 1;
	}
	if (db_exec(db, tok_sql[TOK_COURSE_ADD], NULL, "s", course) == -1) {
		admin_err("cannot add course %s", course);
		return 1;
	}
	printf("%s\n", course);
	return 0;
}

int
admin_course_list(struct db *db, int argc, char **argv)
{
	struct db_res	*r;
	struct course_row c;
	int		 st;

	(void)argc;
	(void)argv;
	if ((r = db_query(db, tok_sql[TOK_COURSE_LIST], "ii",
	    (int64_t)TOKEN_ADMIN, (int64_t)TOKEN_QUERY)) == NULL) {
		admin_err("cannot list courses");
		return 1;
	}
	printf("COURSE\tADMIN_TOKENS\tQUERY_TOKENS\n");
	while ((st = DB_ROW(r, course_cols, &c)) == 1)
		printf("%s\t%lld\t%lld\n", c.id, (long long)c.admin_tokens,
		    (long long)c.query_tokens);
	db_res_free(r);
	return st == 0 ? 0 : 1;
}

static int
token_generate(char out[2 * TOKEN_GEN_BYTES + 1])
{
	return random_hex(out, TOKEN_GEN_BYTES);
}

/* Insert an active token unless the same one is already there.
 * 1 inserted, 0 already present, -1 error. */
static int
token_put(struct db *db, const char *tok, int kind, const char *course,
    const char *worker, const char *label)
{
	unsigned char	 dg[DIGEST_LEN];
	int64_t		 id;
	int		 st;

	token_digest(tok, dg);
	st = db_query_int(db, tok_sql[TOK_FIND], &id, "biss", dg, sizeof(dg),
	    (int64_t)kind, course, worker);
	if (st != 0)
		return st == 1 ? 0 : -1;
	if (db_exec(db, tok_sql[TOK_INSERT], NULL, "bisss", dg, sizeof(dg),
	    (int64_t)kind, course, worker, label) == -1)
		return -1;
	return 1;
}

int
admin_token_add(struct db *db, int argc, char **argv)
{
	char		 gen[2 * TOKEN_GEN_BYTES + 1];
	const char	*tok = NULL, *label = "", *course = NULL, *worker = NULL;
	int		 kind, i, st;

	kind = token_kind_parse(argv[0]);
	if (kind == -1) {
		admin_err("unknown token kind \"%s\" (admin, query or cluster)",
		    argv[0]);
		return 1;
	}
	i = 1;
	if (kind != TOKEN_CLUSTER) {
		if (argc < 2 || strncmp(argv[1], "--", 2) == 0) {
			admin_err("token-add %s needs a COURSE", argv[0]);
			return 1;
		}
		course = argv[1];
		i = 2;
	}
	for (; i < argc; i += 2) {
		if (i + 1 >= argc) {
			admin_err("%s needs a value", argv[i]);
			return 1;
		}
		if (strcmp(argv[i], "--token") == 0)
			tok = argv[i + 1];
		else if (strcmp(argv[i], "--label") == 0)
			label = argv[i + 1];
		else if (strcmp(argv[i], "--worker") == 0 &&
		    kind == TOKEN_CLUSTER)
			worker = argv[i + 1];
		else {
			admin_err("unknown option \"%s\"", argv[i]);
			return 1;
		}
	}
	if (tok != NULL && !token_valid(tok)) {
		admin_err("invalid token (1..%d printable ASCII characters,"
		    " no spaces)", TOKEN_MAX);
		return 1;
	}
	if (worker != NULL && !id_valid(worker)) {
		admin_err("invalid worker id \"%s\" (want [A-Za-z0-9_.-]{1,%d})",
		    worker, ID_MAX);
		return 1;
	}
	if (strlen(label) > LABEL_MAX) {
		admin_err("label longer than %d bytes", LABEL_MAX);
		return 1;
	}
	if (course != NULL) {
		if (!id_valid(course)) {
			admin_err("invalid course id \"%s\"", course);
			return 1;
		}
		if ((st = course_exists(db, course)) != 1) {
			if (st == 0)
				admin_err("no course %s (add it with course-add)",
				    course);
			return 1;
		}
	}
	if (tok == NULL) {
		if (token_generate(gen) == -1) {
			admin_err("no random bytes");
			return 1;
		}
		tok = gen;
	}
	if ((st = token_put(db, tok, kind, course, worker, label)) == -1) {
		admin_err("cannot store the token");
		return 1;
	}
	if (st == 0)
		fprintf(stderr, "broadway-admin: token already present\n");
	printf("%s\n", tok);
	return 0;
}

int
admin_token_list(struct db *db, int argc, char **argv)
{
	struct db_res	*r;
	struct token_row t;
	int		 st;

	if (argc == 1) {
		if (!id_valid(argv[0])) {
			admin_err("invalid course id \"%s\"", argv[0]);
			return 1;
		}
		r = db_query(db, tok_sql[TOK_LIST_COURSE], "s", argv[0]);
	} else
		r = db_query(db, tok_sql[TOK_LIST_ALL], "");
	if (r == NULL) {
		admin_err("cannot list tokens");
		return 1;
	}
	printf("ID\tKIND\tCOURSE\tWORKER\tDIGEST\tCREATED\tREVOKED\tLABEL\n");
	while ((st = DB_ROW(r, token_cols, &t)) == 1)
		printf("%lld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", (long long)t.id,
		    token_kind_name(t.kind), t.course[0] ? t.course : "-",
		    t.worker[0] ? t.worker : "-", t.digest_hex, t.created, t.revoked[0] ? t.revoked : "-",
		    t.label);
	db_res_free(r);
	return st == 0 ? 0 : 1;
}

int
admin_token_revoke(struct db *db, int argc, char **argv)
{
	uint64_t	 n = 0;
	int64_t		 id, revoked = 0;
	int		 st;

	(void)argc;
	if (parse_int64(argv[0], 1, INT64_MAX, &id) == -1) {
		admin_err("invalid token id \"%s\" (see token-list)", argv[0]);
		return 1;
	}
	if (db_exec(db, tok_sql[TOK_REVOKE], &n, "i", id) == -1) {
		admin_err("cannot revoke token %lld", (long long)id);
		return 1;
	}
	if (n == 1) {
		printf("revoked %lld\n", (long long)id);
		return 0;
	}
	if ((st = db_query_int(db, tok_sql[TOK_GET], &revoked, "i", id)) == -1)
		return 1;
	if (st != 1) {
		admin_err("no token with id %lld", (long long)id);
		return 1;
	}
	if (revoked)
		printf("token %lld was already revoked\n", (long long)id);
	return 0;
}

/*
 * load-courses FILE: {"cs241": {"tokens": [...], "query_tokens": [...]}}.
 * The file is authoritative for the courses it names: their admin and
 * query tokens become exactly the file's (others are revoked, missing
 * ones added).  Courses it does not name are left alone, and nothing
 * is ever deleted, so loading the same file twice changes nothing.
 */

struct want_tok {
	unsigned char	 dg[DIGEST_LEN];
	int		 kind;
	int		 present;
};

struct load_ctx {
	json_t		*root;
	int		 added, revoked, courses;
};

static int
load_check_list(const char *course, const json_t *list, const char *key,
    char *err, size_t errlen)
{
	size_t	 i;
	json_t	*t;

	if (!json_is_array(list)) {
		snprintf(err, errlen, "course %s: \"%s\" must be an array of"
		    " strings", course, key);
		return -1;
	}
	json_array_foreach(list, i, t) {
		if (!json_is_string(t) || !token_valid(json_string_value(t)) ||
		    strlen(json_string_value(t)) != json_string_length(t)) {
			snprintf(err, errlen, "course %s: %s[%zu] is not a valid"
			    " token (a string of 1..%d printable ASCII characters,"
			    " no spaces)", course, key, i, TOKEN_MAX);
			return -1;
		}
	}
	return 0;
}

static int
load_in_list(const json_t *list, const char *tok)
{
	size_t	 i;
	json_t	*t;

	json_array_foreach(list, i, t)
		if (strcmp(json_string_value(t), tok) == 0)
			return 1;
	return 0;
}

static int
load_validate(const json_t *root, char *err, size_t errlen)
{
	static const char *const keys[] = { "tokens", "query_tokens", NULL };
	const char	*course;
	json_t		*c, *adm, *qry, *t;
	size_t		 i;
	char		 where[ID_MAX + 16];

	if (json_object_size(root) == 0) {
		snprintf(err, errlen, "no courses in the file");
		return -1;
	}
	json_object_foreach((json_t *)root, course, c) {
		if (!id_valid(course)) {
			snprintf(err, errlen, "invalid course id \"%.64s\" (want"
			    " [A-Za-z0-9_.-]{1,%d})", course, ID_MAX);
			return -1;
		}
		if (!json_is_object(c)) {
			snprintf(err, errlen, "course %s: must be an object with"
			    " \"tokens\" and optional \"query_tokens\"", course);
			return -1;
		}
		snprintf(where, sizeof(where), "course %s", course);
		if (jsonx_keys_allowed(c, keys, where, err, errlen) == -1)
			return -1;
		if ((adm = json_object_get(c, "tokens")) == NULL) {
			snprintf(err, errlen, "course %s: \"tokens\" is missing",
			    course);
			return -1;
		}
		if (load_check_list(course, adm, "tokens", err, errlen) == -1)
			return -1;
		qry = json_object_get(c, "query_tokens");
		if (qry != NULL && load_check_list(course, qry, "query_tokens",
		    err, errlen) == -1)
			return -1;
		/* Both kinds at once would make the token's rights depend
		 * on row order. */
		if (qry != NULL)
			json_array_foreach(qry, i, t)
				if (load_in_list(adm, json_string_value(t))) {
					snprintf(err, errlen, "course %s: query_tokens[%zu]"
					    " is also an admin token", course, i);
					return -1;
				}
	}
	return 0;
}

/* Make a course's active admin and query tokens match the lists. */
static int
load_course(struct db *db, struct load_ctx *ctx, const char *course,
    const json_t *adm, const json_t *qry)
{
	struct want_tok	*w = NULL;
	struct db_res	*r = NULL;
	struct active_row a;
	size_t		 nw = 0, i, k;
	json_t		*t;
	int		 rc = -1, st, found;

	if (db_exec(db, tok_sql[TOK_COURSE_UPSERT], NULL, "s", course) == -1)
		goto out;
	w = calloc(json_array_size(adm) + (qry ? json_array_size(qry) : 0) + 1,
	    sizeof(*w));
	if (w == NULL)
		goto out;
	json_array_foreach(adm, i, t) {
		token_digest(json_string_value(t), w[nw].dg);
		w[nw++].kind = TOKEN_ADMIN;
	}
	if (qry != NULL)
		json_array_foreach(qry, i, t) {
			token_digest(json_string_value(t), w[nw].dg);
			w[nw++].kind = TOKEN_QUERY;
		}
	if ((r = db_query(db, tok_sql[TOK_COURSE_ACTIVE], "sii", course,
	    (int64_t)TOKEN_ADMIN, (int64_t)TOKEN_QUERY)) == NULL)
		goto out;
	while ((st = DB_ROW(r, active_cols, &a)) == 1) {
		found = 0;
		for (k = 0; k < nw; k++)
			if (a.digest.s != NULL && a.digest.len == DIGEST_LEN &&
			    w[k].kind == a.kind &&
			    memcmp(w[k].dg, a.digest.s, DIGEST_LEN) == 0) {
				w[k].present = found = 1;
			}
		if (!found) {
			if (db_exec(db, tok_sql[TOK_REVOKE], NULL, "i",
			    a.id) == -1)
				goto out;
			ctx->revoked++;
		}
	}
	if (st == -1)
		goto out;
	for (k = 0; k < nw; k++) {
		if (w[k].present)
			continue;
		/* A token listed twice is stored once. */
		for (i = k + 1; i < nw; i++)
			if (w[i].kind == w[k].kind &&
			    memcmp(w[i].dg, w[k].dg, DIGEST_LEN) == 0)
				w[i].present = 1;
		if (db_exec(db, tok_sql[TOK_INSERT], NULL, "bisns", w[k].dg,
		    (size_t)DIGEST_LEN, (int64_t)w[k].kind, course,
		    "load-courses") == -1)
			goto out;
		ctx->added++;
	}
	rc = 0;
out:
	db_res_free(r);
	free(w);
	return rc;
}

static int
load_txn(struct db *db, void *arg)
{
	struct load_ctx	*ctx = arg;
	const char	*course;
	json_t		*c;

	ctx->added = ctx->revoked = ctx->courses = 0;
	json_object_foreach(ctx->root, course, c) {
		if (load_course(db, ctx, course, json_object_get(c, "tokens"),
		    json_object_get(c, "query_tokens")) == -1)
			return -1;
		ctx->courses++;
	}
	return 0;
}

int
admin_load_courses(struct db *db, int argc, char **argv)
{
	struct load_ctx	 ctx;
	json_error_t	 je;
	char		 err[512], *text;
	size_t		 len;
	int		 rc = 1;

	(void)argc;
	memset(&ctx, 0, sizeof(ctx));
	if ((text = admin_read_file(argv[0], COURSES_FILE_MAX, &len)) == NULL)
		return 1;
	if ((ctx.root = json_loadb(text, len, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		admin_err("%s: invalid JSON at line %d column %d: %s", argv[0],
		    je.line, je.column, je.text);
		goto out;
	}
	if (!json_is_object(ctx.root)) {
		admin_err("%s: want an object keyed by course id: {\"cs241\":"
		    " {\"tokens\": [...], \"query_tokens\": [...]}}", argv[0]);
		goto out;
	}
	if (load_validate(ctx.root, err, sizeof(err)) == -1) {
		admin_err("%s: %s; nothing changed", argv[0], err);
		goto out;
	}
	if (db_txn(db, load_txn, &ctx) != 0) {
		admin_err("%s: database error; nothing changed", argv[0]);
		goto out;
	}
	printf("%d course(s) loaded: %d token(s) added, %d revoked\n",
	    ctx.courses, ctx.added, ctx.revoked);
	rc = 0;
out:
	json_decref(ctx.root);
	free(text);
	return rc;
}
