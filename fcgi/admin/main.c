/*
 * broadway-admin: schema migrations, courses and tokens.  A small
 * command-line tool: every verb is one function in the table below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "db.h"
#include "log.h"

struct verb {
	const char	*name;
	int		 minargs, maxargs;
	int		(*fn)(struct db *, int, char **);
	const char	*usage;
};

/* -1 maxargs: any number (the verb checks its options itself). */
static const struct verb verbs[] = {
	{ "migrate", 1, 1, admin_migrate, "migrate SQLDIR" },
	{ "course-add", 1, 1, admin_course_add, "course-add COURSE" },
	{ "course-list", 0, 0, admin_course_list, "course-list" },
	{ "token-add", 1, -1, admin_token_add,
	    "token-add admin|query COURSE [--token T] [--label L]\n"
	    "       token-add cluster [--worker ID] [--token T] [--label L]" },
	{ "token-list", 0, 1, admin_token_list, "token-list [COURSE]" },
	{ "token-revoke", 1, 1, admin_token_revoke, "token-revoke ID" },
	{ "load-courses", 1, 1, admin_load_courses, "load-courses FILE" },
};

#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

void
admin_err(const char *fmt, ...)
{
	va_list	 ap;

	fputs("broadway-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *
admin_read_file(const char *path, size_t max, size_t *len)
{
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	buf_init(&b, max);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		admin_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			admin_err("%s: %s", path, strerror(errno));
			goto fail;
		}
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			admin_err("%s: larger than %zu bytes", path, max);
			goto fail;
		}
	}
	close(fd);
	if (len != NULL)
		*len = b.len;
	return buf_detach(&b);
fail:
	close(fd);
	buf_free(&b);
	return NULL;
}

static void
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: broadway-admin VERB [ARGS]\n");
	for (i = 0; i < NVERBS; i++)
		fprintf(stderr, "       %s\n", verbs[i].usage);
	fprintf(stderr, "The database comes from BROADWAY_DB_SOCKET (or "
	    "BROADWAY_DB_HOST and BROADWAY_DB_PORT),\nBROADWAY_DB_USER, "
	    "BROADWAY_DB_PASSWORD and BROADWAY_DB_NAME.\n");
}

int
main(int argc, char *argv[])
{
	const struct verb	*v = NULL;
	struct db		*db;
	size_t			 i;
	int			 nargs, rc;

	log_init("broadway-admin");
	if (argc < 2) {
		usage();
		return 1;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage();
		return 0;
	}
	for (i = 0; i < NVERBS; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			v = &verbs[i];
	if (v == NULL) {
		admin_err("unknown verb \"%s\"", argv[1]);
		usage();
		return 1;
	}
	nargs = argc - 2;
	if (nargs < v->minargs || (v->maxargs >= 0 && nargs > v->maxargs)) {
		fprintf(stderr, "usage: broadway-admin %s\n", v->usage);
		return 1;
	}
	if ((db = db_open_env()) == NULL) {
		admin_err("cannot connect to the database (check BROADWAY_DB_*)");
		return 1;
	}
	rc = v->fn(db, nargs, argv + 2);
	db_close(db);
	return rc;
}
