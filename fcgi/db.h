#ifndef BW_DB_H
#define BW_DB_H

#include <stddef.h>
#include <stdint.h>
#include <mysql.h>

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
int		 db_res_next(struct db_res *);	/* 1 row, 0 end, -1 error */
uint64_t	 db_res_rows(const struct db_res *);
int		 db_res_null(const struct db_res *, unsigned col);
int64_t		 db_res_int(const struct db_res *, unsigned col);	/* NULL -> 0 */
const char	*db_res_str(const struct db_res *, unsigned col, size_t *len); /* NULL if SQL NULL */
void		 db_res_free(struct db_res *);

/*
 * Run fn inside one transaction.  fn returns 0 to commit, a positive
 * value to roll back and have db_txn return it (e.g. an HTTP status),
 * or -1 for a database error.  Deadlocks, lock wait timeouts and lost
 * connections are retried (reconnecting first) up to 3 times; after
 * that db_txn returns -1.
 */
int		 db_txn(struct db *, int (*fn)(struct db *, void *), void *arg);

/* Reconnect if the connection was lost (for reads outside db_txn). */
int		 db_ping(struct db *);

/* The last error's MySQL errno (0 if none) and whether it is retryable. */
unsigned	 db_errno(struct db *);
int		 db_err_retryable(unsigned err);



/*
 * Execute a one-row INSERT/UPDATE for nrows rows in one round trip
 * (MariaDB array binding).  fmt as above but each argument is an array
 * of nrows values: 's' const char *const *, 'i' const int64_t *.
 */
int		 db_exec_bulk(struct db *, const char *sql, size_t nrows,
		    const char *fmt, ...);
#endif
