#ifndef BW_ADMIN_H
#define BW_ADMIN_H

/*
 * broadway-admin: verbs run against the database named by the
 * BROADWAY_DB_* environment.  Each returns the process exit status
 * (0 or 1) and writes its errors to stderr.
 */

struct db;

int	 admin_migrate(struct db *, int argc, char **argv);
int	 admin_course_add(struct db *, int argc, char **argv);
int	 admin_course_list(struct db *, int argc, char **argv);
int	 admin_token_add(struct db *, int argc, char **argv);
int	 admin_token_list(struct db *, int argc, char **argv);
int	 admin_token_revoke(struct db *, int argc, char **argv);
int	 admin_load_courses(struct db *, int argc, char **argv);

/* Error message on stderr, prefixed with the program name. */
void	 admin_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read a whole file (at most max bytes) into a NUL-terminated string
 * the caller frees.  NULL with a message on stderr. */
char	*admin_read_file(const char *path, size_t max, size_t *len);

#endif
