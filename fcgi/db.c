#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysqld_error.h>
#include <errmsg.h>

#include "db.h"
#include "log.h"

#define DB_STMT_CACHE	128
#define DB_MAX_PARAMS	32
#define DB_MAX_COLS	32
#define DB_TXN_TRIES	4

struct db_cached {
	const char	*sql;
	MYSQL_STMT	*stmt;
};

struct db {
	MYSQL		*my;
	int		 in_txn;
	unsigned	 last_errno;
	struct db_cached cache[DB_STMT_CACHE];
	size_t		 ncache;
};

struct db_res {
	MYSQL_STMT	*stmt;
	MYSQL_RES	*meta;
	unsigned	 ncols;
	MYSQL_BIND	 bind[DB_MAX_COLS];
	unsigned long	 len[DB_MAX_COLS];
	my_bool		 isnull[DB_MAX_COLS];
	int64_t		 ival[DB_MAX_COLS];
	char		*sval[DB_MAX_COLS];
	int		 isint[DB_MAX_COLS];
};

static const char *
env_or(const char *name, const char *dflt)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : dflt;
}

static void
db_cache_clear(struct db *db)
{
	size_t	 i;

	for (i = 0; i < db->ncache; i++)
		mysql_stmt_close(db->cache[i].stmt);
	db->ncache = 0;
}

static int
db_connect(struct db *db)
{
	const char	*sock = getenv("BROADWAY_DB_SOCKET");
	const char	*host = env_or("BROADWAY_DB_HOST", "127.0.0.1");
	unsigned	 port = (unsigned)atoi(env_or("BROADWAY_DB_PORT", "3306"));
	unsigned	 timeout = 5, rwtimeout = 30;
	my_bool		 off = 0;

	if (db->my != NULL) {
		db_cache_clear(db);
		mysql_close(db->my);
	}
	if ((db->my = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &rwtimeout);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &rwtimeout);
	mysql_options(db->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(db->my, sock != NULL ? "localhost" : host,
	    env_or("BROADWAY_DB_USER", "broadway"),
	    env_or("BROADWAY_DB_PASSWORD", ""),
	    env_or("BROADWAY_DB_NAME", "broadway"),
	    port, sock, 0) == NULL) {
		db->last_errno = mysql_errno(db->my);
		log_warnx("db connect: %s", mysql_error(db->my));
		mysql_close(db->my);
		db->my = NULL;
		return -1;
	}
	/* READ COMMITTED: claims and counts see committed rows, and fewer
	 * gap locks means fewer deadlocks between concurrent writers. */
	if (mysql_query(db->my, "SET SESSION tx_isolation = 'READ-COMMITTED', "
	    "time_zone = '+00:00'") != 0) {
		log_warnx("db session setup: %s", mysql_error(db->my));
		mysql_close(db->my);
		db->my = NULL;
		return -1;
	}
	return 0;
}

struct db *
db_open_env(void)
{
	struct db	*db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	if (db_connect(db) == -1) {
		free(db);
		return NULL;
	}
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_cache_clear(db);
	if (db->my != NULL)
		mysql_close(db->my);
	free(db);
}

MYSQL *
db_handle(struct db *db)
{
	return db->my;
}

unsigned
db_errno(struct db *db)
{
	return db->last_errno;
}

int
db_err_retryable(unsigned e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT ||
	    e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == ER_CONNECTION_KILLED || e == CR_COMMANDS_OUT_OF_SYNC ||
	    e == ER_SERVER_SHUTDOWN;
}

static int
db_conn_lost(unsigned e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
	    e == CR_COMMANDS_OUT_OF_SYNC;
}

int
db_unavailable(struct db *db)
{
	return db == NULL || db->my == NULL || db_conn_lost(db->last_errno) ||
	    db->last_errno == ER_CON_COUNT_ERROR ||
	    db->last_errno == ER_TOO_MANY_USER_CONNECTIONS;
}

int
db_ping(struct db *db)
{
	if (db->my != NULL && mysql_ping(db->my) == 0)
		return 0;
	return db_connect(db);
}

static MYSQL_STMT *
db_prepare(struct db *db, const char *sql)
{
	MYSQL_STMT	*st;
	size_t		 i;

	if (db->my == NULL && db_connect(db) == -1)
		return NULL;
	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql)
			return db->cache[i].stmt;
	if ((st = mysql_stmt_init(db->my)) == NULL)
		return NULL;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		log_warnx("db prepare: %s: %.80s", mysql_stmt_error(st), sql);
		mysql_stmt_close(st);
		return NULL;
	}
	if (db->ncache < DB_STMT_CACHE) {
		db->cache[db->ncache].sql = sql;
		db->cache[db->ncache].stmt = st;
		db->ncache++;
	} else
		log_warnx("db statement cache full");
	return st;
}

/* Bind parameters described by fmt from ap.  0 or -1. */
static int
db_bind_params(MYSQL_STMT *st, MYSQL_BIND *b, int64_t *ints,
    unsigned long *lens, const char *fmt, va_list ap)
{
	size_t		 n = strlen(fmt), i;
	const char	*s;

	if (n > DB_MAX_PARAMS || n != mysql_stmt_param_count(st)) {
		log_warnx("db bind: %zu params given, %lu wanted", n,
		    mysql_stmt_param_count(st));
		return -1;
	}
	memset(b, 0, sizeof(MYSQL_BIND) * n);
	for (i = 0; i < n; i++) {
		switch (fmt[i]) {
		case 's':
			s = va_arg(ap, const char *);
			if (s == NULL) {
				b[i].buffer_type = MYSQL_TYPE_NULL;
				break;
			}
			lens[i] = strlen(s);
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)s;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
			break;
		case 'S':
		case 'b':
			b[i].buffer = (void *)va_arg(ap, const void *);
			lens[i] = va_arg(ap, size_t);
			b[i].buffer_type = fmt[i] == 'S' ? MYSQL_TYPE_STRING :
			    MYSQL_TYPE_BLOB;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
			break;
		case 'i':
			ints[i] = va_arg(ap, int64_t);
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = &ints[i];
			break;
		case 'n':
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		default:
			log_warnx("db bind: bad format '%c'", fmt[i]);
			return -1;
		}
	}
	if (n > 0 && mysql_stmt_bind_param(st, b) != 0)
		return -1;
	return 0;
}

static int
db_run(struct db *db, MYSQL_STMT *st, const char *sql)
{
	if (mysql_stmt_execute(st) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		if (!db_err_retryable(db->last_errno))
			log_warnx("db execute: %s (%u): %.80s",
			    mysql_stmt_error(st), db->last_errno, sql);
		if (db_conn_lost(db->last_errno)) {
			/* The statement handles are dead with the connection. */
			db_cache_clear(db);
			mysql_close(db->my);
			db->my = NULL;
		}
		return -1;
	}
	return 0;
}

static int
db_vexec(struct db *db, const char *sql, uint64_t *affected,
    const char *fmt, va_list ap)
{
	MYSQL_STMT	*st;
	MYSQL_BIND	 b[DB_MAX_PARAMS];
	int64_t		 ints[DB_MAX_PARAMS];
	unsigned long	 lens[DB_MAX_PARAMS];

	db->last_errno = 0;
	if ((st = db_prepare(db, sql)) == NULL) {
		if (db->last_errno == 0)
			db->last_errno = db->my ? mysql_errno(db->my) :
			    CR_SERVER_GONE_ERROR;
		return -1;
	}
	if (db_bind_params(st, b, ints, lens, fmt, ap) == -1)
		return -1;
	if (db_run(db, st, sql) == -1)
		return -1;
	if (affected != NULL)
		*affected = mysql_stmt_affected_rows(st);
	return 0;
}

int
db_exec(struct db *db, const char *sql, uint64_t *affected, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = db_vexec(db, sql, affected, fmt, ap);
	va_end(ap);
	return rc;
}

uint64_t
db_last_id(struct db *db)
{
	return mysql_insert_id(db->my);
}

void
db_res_free(struct db_res *r)
{
	unsigned	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ncols; i++)
		free(r->sval[i]);
	if (r->meta != NULL)
		mysql_free_result(r->meta);
	if (r->stmt != NULL)
		mysql_stmt_free_result(r->stmt);
	free(r);
}

static int
field_is_int(enum enum_field_types t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT ||
	    t == MYSQL_TYPE_LONG || t == MYSQL_TYPE_LONGLONG ||
	    t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_YEAR;
}

static struct db_res *
db_vquery_once(struct db *db, const char *sql, const char *fmt, va_list ap)
{
	struct db_res	*r = NULL;
	MYSQL_STMT	*st;
	MYSQL_FIELD	*f;
	MYSQL_BIND	 b[DB_MAX_PARAMS];
	int64_t		 ints[DB_MAX_PARAMS];
	unsigned long	 lens[DB_MAX_PARAMS];
	my_bool		 one = 1;
	unsigned	 i;

	db->last_errno = 0;
	if ((st = db_prepare(db, sql)) == NULL) {
		if (db->last_errno == 0)
			db->last_errno = CR_SERVER_GONE_ERROR;
		return NULL;
	}
	if (db_bind_params(st, b, ints, lens, fmt, ap) == -1)
		return NULL;
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one);
	if (db_run(db, st, sql) == -1)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	r->stmt = st;
	if (mysql_stmt_store_result(st) != 0) {
		db->last_errno = mysql_stmt_errno(st);
		log_warnx("db store: %s", mysql_stmt_error(st));
		goto fail;
	}
	if ((r->meta = mysql_stmt_result_metadata(st)) == NULL)
		goto fail;
	r->ncols = mysql_num_fields(r->meta);
	if (r->ncols > DB_MAX_COLS)
		goto fail;
	f = mysql_fetch_fields(r->meta);
	for (i = 0; i < r->ncols; i++) {
		r->bind[i].is_null = &r->isnull[i];
		r->bind[i].length = &r->len[i];
		if (field_is_int(f[i].type)) {
			r->isint[i] = 1;
			r->bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			r->bind[i].buffer = &r->ival[i];
			r->bind[i].is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
			continue;
		}
		/* max_length is exact thanks to UPDATE_MAX_LENGTH; +1 for
		 * the NUL we add ourselves. */
		if ((r->sval[i] = malloc(f[i].max_length + 1)) == NULL)
			goto fail;
		r->bind[i].buffer_type = MYSQL_TYPE_STRING;
		r->bind[i].buffer = r->sval[i];
		r->bind[i].buffer_length = f[i].max_length + 1;
	}
	if (r->ncols > 0 && mysql_stmt_bind_result(st, r->bind) != 0)
		goto fail;
	return r;
fail:
	if (r == NULL)
		mysql_stmt_free_result(st);
	db_res_free(r);
	if (db->last_errno == 0)
		db->last_errno = CR_OUT_OF_MEMORY;
	return NULL;
}

/* A read outside a transaction is safe to repeat once after the
 * connection was lost (server restart, idle timeout). */
struct db_res *
db_vquery(struct db *db, const char *sql, const char *fmt, va_list ap)
{
	struct db_res	*r;
	va_list		 again;

	va_copy(again, ap);
	r = db_vquery_once(db, sql, fmt, ap);
	if (r == NULL && !db->in_txn && db_conn_lost(db->last_errno) &&
	    db_connect(db) == 0)
		r = db_vquery_once(db, sql, fmt, again);
	va_end(again);
	return r;
}

struct db_res *
db_query(struct db *db, const char *sql, const char *fmt, ...)
{
	struct db_res	*r;
	va_list		 ap;

	va_start(ap, fmt);
	r = db_vquery(db, sql, fmt, ap);
	va_end(ap);
	return r;
}

int
db_res_next(struct db_res *r)
{
	unsigned	 i;
	int		 rc;

	rc = mysql_stmt_fetch(r->stmt);
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
		return -1;
	for (i = 0; i < r->ncols; i++)
		if (!r->isint[i] && !r->isnull[i])
			r->sval[i][r->len[i]] = '\0';
	return 1;
}

unsigned
db_res_cols(const struct db_res *r)
{
	return r->ncols;
}

uint64_t
db_res_rows(const struct db_res *r)
{
	return mysql_stmt_num_rows(r->stmt);
}

int
db_res_null(const struct db_res *r, unsigned col)
{
	return col >= r->ncols || r->isnull[col];
}

int64_t
db_res_int(const struct db_res *r, unsigned col)
{
	if (col >= r->ncols || r->isnull[col])
		return 0;
	if (r->isint[col])
		return r->ival[col];
	return strtoll(r->sval[col], NULL, 10);
}

const char *
db_res_str(const struct db_res *r, unsigned col, size_t *len)
{
	if (col >= r->ncols || r->isnull[col] || r->isint[col])
		return NULL;
	if (len != NULL)
		*len = r->len[col];
	return r->sval[col];
}

int
db_txn(struct db *db, int (*fn)(struct db *, void *), void *arg)
{
	int	 tries, rc;

	for (tries = 0; tries < DB_TXN_TRIES; tries++) {
		if (tries > 0)
			usleep(20000U * (unsigned)tries);
		if (db->my == NULL && db_connect(db) == -1)
			continue;
		if (mysql_query(db->my, "START TRANSACTION") != 0) {
			db->last_errno = mysql_errno(db->my);
			if (db_conn_lost(db->last_errno))
				db_connect(db);
			continue;
		}
		db->in_txn = 1;
		rc = fn(db, arg);
		db->in_txn = 0;
		if (rc == DB_TXN_COMMIT) {
			if (mysql_commit(db->my) == 0)
				return DB_TXN_COMMIT;
			db->last_errno = mysql_errno(db->my);
			log_warnx("db commit: %s", mysql_error(db->my));
			/* A commit lost with the connection may have happened;
			 * callers' transactions are written to be idempotent
			 * or checked (leases, attempts) so a retry is safe. */
		} else if (db->my != NULL)
			mysql_rollback(db->my);
		if (rc == DB_TXN_ROLLBACK)
			return DB_TXN_ROLLBACK;
		if (!db_err_retryable(db->last_errno))
			return DB_TXN_FAIL;
		log_info("db transaction retry %d after error %u", tries + 1,
		    db->last_errno);
		if (db->my == NULL || db_conn_lost(db->last_errno))
			db_connect(db);
	}
	return DB_TXN_FAIL;
}

int
db_exec_bulk(struct db *db, const char *sql, size_t nrows, const char *fmt, ...)
{
	MYSQL_STMT	*st;
	MYSQL_BIND	 b[DB_MAX_PARAMS];
	unsigned long	*lens[DB_MAX_PARAMS];
	unsigned int	 size = (unsigned int)nrows;
	size_t		 n = strlen(fmt), i, k;
	va_list		 ap;
	int		 rc = -1;

	memset(lens, 0, sizeof(lens));
	db->last_errno = 0;
	if (nrows == 0)
		return 0;
	if ((st = db_prepare(db, sql)) == NULL) {
		if (db->last_errno == 0)
			db->last_errno = CR_SERVER_GONE_ERROR;
		return -1;
	}
	if (n > DB_MAX_PARAMS || n != mysql_stmt_param_count(st))
		return -1;
	memset(b, 0, sizeof(MYSQL_BIND) * n);
	va_start(ap, fmt);
	for (i = 0; i < n; i++) {
		if (fmt[i] == 's') {
			const char *const *v = va_arg(ap, const char *const *);
			if ((lens[i] = calloc(nrows, sizeof(unsigned long))) == NULL)
				goto out;
			for (k = 0; k < nrows; k++)
				lens[i][k] = strlen(v[k]);
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)v;
			b[i].length = lens[i];
		} else if (fmt[i] == 'i') {
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)va_arg(ap, const int64_t *);
		} else
			goto out;
	}
	if (mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size) != 0 ||
	    mysql_stmt_bind_param(st, b) != 0)
		goto out;
	rc = db_run(db, st, sql);
out:
	va_end(ap);
	size = 0;
	/* The statement is cached: put it back to one row at a time
	 * (unless it died with a lost connection). */
	if (db->my != NULL)
		mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size);
	for (i = 0; i < n; i++)
		free(lens[i]);
	return rc;
}
