#ifndef BW_DB_H
#define BW_DB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <mysql.h>
#include <jansson.h>

/*
 * One MariaDB connection and its prepared statements.  Not thread-safe:
 * a threaded program opens one per thread.  Statements are prepared on
 * first use and cached by the address of their SQL text, so every module
 * keeps its statements in one static table of its own.
 *
 * Parameter formats (db_exec, db_query), one char per `?`:
 *   's'  const char *		NUL-terminated string, NULL gives SQL NULL
 *   'S'  const char *, size_t	string with length
 *   'b'  const void *, size_t	binary
 *   'i'  int64_t
 *   'n'  (no argument)		SQL NULL
 */

struct db;
struct db_res;

/* Connection settings from the environment:
 *   BROADWAY_DB_SOCKET (unix socket) or BROADWAY_DB_HOST + BROADWAY_DB_PORT,
 *   BROADWAY_DB_USER, BROADWAY_DB_PASSWORD, BROADWAY_DB_NAME. */
struct db	*db_open_env(void);	/* NULL on failure, logged */
void		 db_close(struct db *);
MYSQL		*db_handle(struct db *);

/* 0, or -1 (logged).  *affected may be NULL. */
int		 db_exec(struct db *, const char *sql, uint64_t *affected,
		    const char *fmt, ...);
/* Last AUTO_INCREMENT id of this connection. */
uint64_t	 db_last_id(struct db *);

/* A buffered result; NULL on error.  Every row is fetched up front. */
struct db_res	*db_query(struct db *, const char *sql, const char *fmt, ...);
struct db_res	*db_vquery(struct db *, const char *sql, const char *fmt,
		    va_list);
int		 db_res_next(struct db_res *);	/* 1 row, 0 end, -1 error */
unsigned	 db_res_cols(const struct db_res *);
uint64_t	 db_res_rows(const struct db_res *);
int		 db_res_null(const struct db_res *, unsigned col);
int64_t		 db_res_int(const struct db_res *, unsigned col);	/* NULL -> 0 */
const char	*db_res_str(const struct db_res *, unsigned col, size_t *len); /* NULL if SQL NULL */
void		 db_res_free(struct db_res *);

/*
 * Typed rows.  Each query that returns rows has a struct for one row and
 * a table naming, in the order of the SELECT list, the field each column
 * goes to; db_res_row reads the next row into the struct.  The table's
 * length must match the statement's column count.
 */
enum db_col_type {
	DB_COL_INT,	/* int64_t or int; SQL NULL reads as 0 */
	DB_COL_STR,	/* char[N]; SQL NULL or longer than N - 1 is an error */
	DB_COL_STR_OPT,	/* char[N]; SQL NULL reads as "" */
	DB_COL_TEXT,	/* struct db_text, valid until the next row or free */
	DB_COL_JSON,	/* json_t *, the caller's to decref; SQL NULL reads as
			 * NULL, text that is not JSON is an error */
	DB_COL__MAX
};

struct db_text {
	const char	*s;	/* NULL for SQL NULL */
	size_t		 len;
};

struct db_col {
	enum db_col_type type;
	size_t		 off;
	size_t		 size;
};

#define DB_COL(type, row, field) \
	{ (type), offsetof(row, field), sizeof(((row *)0)->field) }
/* One entry of a column table: DB_INT(struct job_row, id). */
#define DB_INT(row, field)	DB_COL(DB_COL_INT, row, field)
#define DB_STR(row, field)	DB_COL(DB_COL_STR, row, field)
#define DB_STR_OPT(row, field)	DB_COL(DB_COL_STR_OPT, row, field)
#define DB_TEXT(row, field)	DB_COL(DB_COL_TEXT, row, field)
#define DB_JSON(row, field)	DB_COL(DB_COL_JSON, row, field)
#define DB_ROW(res, cols, row) \
	db_res_row((res), (cols), sizeof(cols) / sizeof((cols)[0]), (row))

/* 1 a row read into row, 0 no more rows, -1 error (logged).  On -1 no
 * JSON value of the row is left to free. */
int		 db_res_row(struct db_res *, const struct db_col *, size_t ncols,
		    void *row);
/* The first row of a query into row: 1, 0 no row, -1 as db_res_row. */
int		 db_query_row(struct db *, const char *sql,
		    const struct db_col *, size_t ncols, void *row,
		    const char *fmt, ...);
#define DB_QUERY_ROW(db, sql, cols, row, ...) \
	db_query_row((db), (sql), (cols), sizeof(cols) / sizeof((cols)[0]), \
	    (row), __VA_ARGS__)
/* The first column of the first row as an integer: 1, 0 no row, -1. */
int		 db_query_int(struct db *, const char *sql, int64_t *out,
		    const char *fmt, ...);

/* What a transaction body returns, and db_txn after it. */
enum db_txn_end {
	DB_TXN_FAIL = -1,	/* a database error */
	DB_TXN_COMMIT = 0,
	DB_TXN_ROLLBACK = 1,	/* the body decided against writing */
};

/*
 * Run fn inside one transaction: fn returns an enum db_txn_end (so a
 * body that is a chain of 0/-1 calls can return their result).  Why it
 * rolled back, or what it did, the body records in its own argument as
 * an outcome of its own.  Deadlocks, lock wait timeouts and lost
 * connections are retried (reconnecting first) up to 3 times; after
 * that db_txn returns DB_TXN_FAIL.
 */
int		 db_txn(struct db *, int (*fn)(struct db *, void *), void *arg);

/* Reconnect if the connection was lost (for reads outside db_txn). */
int		 db_ping(struct db *);

/* The last error's MySQL errno (0 if none) and whether it is retryable. */
unsigned	 db_errno(struct db *);
int		 db_err_retryable(unsigned err);
/* 1 if the connection is down: not connected (the server refused or
 * was not there) or the last error was a lost connection, a server
 * shutting down or out of connections.  A client should retry later
 * (HTTP 503), unlike after an error in a statement. */
int		 db_unavailable(struct db *);



/*
 * Execute a one-row INSERT/UPDATE for nrows rows in one round trip
 * (MariaDB array binding).  fmt as above but each argument is an array
 * of nrows values: 's' const char *const *, 'i' const int64_t *.
 */
int		 db_exec_bulk(struct db *, const char *sql, size_t nrows,
		    const char *fmt, ...);
#endif
