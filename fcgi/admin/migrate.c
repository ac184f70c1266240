/*
 * `migrate SQLDIR`: apply every NNN_name.sql not yet recorded in
 * schema_migration, in version order.  The migration files are part of
 * the source tree and trusted, so they are split into statements on a
 * `;` that ends a line and sent as plain queries; everything else in
 * the program uses prepared statements.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define MIG_MAX		256		/* files per directory */
#define MIG_FILE_MAX	(4 * 1024 * 1024)
#define MIG_NAME_MAX	255

enum mig_stmt {
	MIG_APPLIED,
	MIG_RECORD,
	MIG__MAX
};

static const char *const mig_sql[MIG__MAX] = {
	/* MIG_APPLIED */
	"SELECT name FROM schema_migration WHERE version = ?",
	/* MIG_RECORD */
	"INSERT INTO schema_migration (version, name, applied_at)"
	" VALUES (?, ?, UTC_TIMESTAMP(6))",
};

static const char mig_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migration ("
	" version INT PRIMARY KEY,"
	" name VARCHAR(255) NOT NULL,"
	" applied_at DATETIME(6) NOT NULL"
	") ENGINE=InnoDB";

struct mig {
	int	 version;
	char	 name[MIG_NAME_MAX + 1];
};

/* "001_init.sql" -> 1; -1 if the name is not a migration. */
static int
mig_version(const char *name)
{
	size_t	 n = strlen(name), i;
	int64_t	 v;
	char	 num[4];

	if (n < 9 || n > MIG_NAME_MAX || name[3] != '_' ||
	    strcmp(name + n - 4, ".sql") != 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (name[i] < '0' || name[i] > '9')
			return -1;
	memcpy(num, name, 3);
	num[3] = '\0';
	if (parse_int64(num, 0, 999, &v) == -1)
		return -1;
	return (int)v;
}

static int
mig_cmp(const void *a, const void *b)
{
	return ((const struct mig *)a)->version -
	    ((const struct mig *)b)->version;
}

/* Run one statement, discarding any result set.  0 or -1. */
static int
mig_query(MYSQL *my, const char *file, const char *sql, size_t len)
{
	MYSQL_RES	*res;

	if (mysql_real_query(my, sql, len) != 0) {
		admin_err("%s: %s (statement: %.120s)", file, mysql_error(my),
		    sql);
		return -1;
	}
	if ((res = mysql_store_result(my)) != NULL)
		mysql_free_result(res);
	else if (mysql_field_count(my) != 0) {
		admin_err("%s: %s", file, mysql_error(my));
		return -1;
	}
	return 0;
}

/*
 * Whole-line `--` comments are dropped (they may hold a `;`); a
 * statement ends at a line whose last non-blank character is `;`.
 */
static int
mig_apply_text(MYSQL *my, const char *file, char *text)
{
	char	*line, *next, *stmt = NULL, *p;
	size_t	 slen = 0, cap = 0, n;
	int	 rc = -1;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (strncmp(p, "--", 2) == 0)
			continue;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
		    line[n - 1] == '\r'))
			line[--n] = '\0';
		if (slen + n + 2 > cap) {
			char *ns;
			cap = (slen + n + 2) * 2;
			if ((ns = realloc(stmt, cap)) == NULL) {
				admin_err("out of memory");
				goto out;
			}
			stmt = ns;
		}
		memcpy(stmt + slen, line, n);
		slen += n;
		stmt[slen++] = '\n';
		stmt[slen] = '\0';
		if (n > 0 && line[n - 1] == ';') {
			/* Drop the newline and the `;`. */
			slen -= 2;
			if (mig_query(my, file, stmt, slen) == -1)
				goto out;
			slen = 0;
		}
	}
	/* A last statement without `;`. */
	if (stmt != NULL && strspn(stmt, " \t\r\n") < slen &&
	    mig_query(my, file, stmt, slen) == -1)
		goto out;
	rc = 0;
out:
	free(stmt);
	return rc;
}

static int
mig_scan(const char *dir, struct mig *out, size_t *count)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0, i;
	int		 v;

	if ((d = opendir(dir)) == NULL) {
		admin_err("%s: cannot open directory", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if ((v = mig_version(de->d_name)) == -1)
			continue;
		if (n == MIG_MAX) {
			admin_err("%s: more than %d migrations", dir, MIG_MAX);
			closedir(d);
			return -1;
		}
		out[n].version = v;
		copy_str(out[n].name, sizeof(out[n].name), de->d_name);
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(out[0]), mig_cmp);
	for (i = 1; i < n; i++)
		if (out[i].version == out[i - 1].version) {
			admin_err("%s: %s and %s have the same version", dir,
			    out[i - 1].name, out[i].name);
			return -1;
		}
	*count = n;
	return 0;
}

/* 1 applied, 0 not, -1 error. */
static int
mig_is_applied(struct db *db, const struct mig *m)
{
	struct db_res	*r;
	int		 rc;

	if ((r = db_query(db, mig_sql[MIG_APPLIED], "i",
	    (int64_t)m->version)) == NULL)
		return -1;
	rc = db_res_next(r);
	db_res_free(r);
	return rc;
}

int
admin_migrate(struct db *db, int argc, char **argv)
{
	static struct mig	 migs[MIG_MAX];
	const char		*dir = argv[0];
	char			 path[4096], *text;
	size_t			 n = 0, i, applied = 0;
	int			 st;

	(void)argc;
	if (mig_scan(dir, migs, &n) == -1)
		return 1;
	if (n == 0) {
		admin_err("%s: no NNN_name.sql files", dir);
		return 1;
	}
	if (mig_query(db_handle(db), "schema_migration", mig_table,
	    strlen(mig_table)) == -1)
		return 1;
	for (i = 0; i < n; i++) {
		if ((st = mig_is_applied(db, &migs[i])) == -1) {
			admin_err("cannot read schema_migration");
			return 1;
		}
		if (st == 1)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, migs[i].name) >=
		    (int)sizeof(path)) {
			admin_err("%s: path too long", dir);
			return 1;
		}
		if ((text = admin_read_file(path, MIG_FILE_MAX, NULL)) == NULL)
			return 1;
		/* DDL commits implicitly in MariaDB, so a failed migration
		 * is not rolled back: it is reported and not recorded. */
		st = mig_apply_text(db_handle(db), migs[i].name, text);
		free(text);
		if (st == -1)
			return 1;
		if (db_exec(db, mig_sql[MIG_RECORD], NULL, "is",
		    (int64_t)migs[i].version, migs[i].name) == -1) {
			admin_err("%s applied but not recorded", migs[i].name);
			return 1;
		}
		printf("applied %s\n", migs[i].name);
		applied++;
	}
	if (applied == 0)
		printf("schema up to date (%zu migrations)\n", n);
	return 0;
}
