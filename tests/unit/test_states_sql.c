/*
 * The lookup tables made by sql/002_reporting.sql spell every state and
 * kind exactly as common/states.c does: same codes, same names, no extra
 * or missing row.  The DBA views print these names, the API prints the C
 * ones, and the two must never drift apart.  A state added later comes
 * with a later migration inserting its row, so every NNN_*.sql is read
 * and their rows are added up.
 *
 * The migrations are read from $BROADWAY_SQL_DIR (default "sql", as
 * `make unit` runs from the top of the tree).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "states.h"
#include "harness.h"

#define SQL_MAX		((size_t)256 * 1024)
#define FILES_MAX	256
#define ROWS_MAX	64

struct lookup {
	const char	*table;
	const char	*(*name)(int);
	int		 count;
};

static const struct lookup lookups[] = {
	{ "run_state",	run_state_name,		RUN__MAX },
	{ "job_state",	job_state_name,		JOB__MAX },
	{ "job_kind",	job_kind_name,		JOB_KIND__MAX },
	{ "token_kind",	token_kind_name,	TOKEN__MAX },
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every migration's text, in version order, one after the other. */
static char *
read_sql(void)
{
	const char	*dir = getenv("BROADWAY_SQL_DIR");
	char		*names[FILES_MAX], path[1024], *text = NULL;
	size_t		 len = 0, n, nfiles = 0, i;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;

	if (dir == NULL)
		dir = "sql";
	if ((d = opendir(dir)) == NULL) {
		printf("FAIL cannot open %s\n", dir);
		return NULL;
	}
	while ((de = readdir(d)) != NULL && nfiles < FILES_MAX) {
		n = strlen(de->d_name);
		if (n > 8 && de->d_name[3] == '_' &&
		    strspn(de->d_name, "0123456789") == 3 &&
		    strcmp(de->d_name + n - 4, ".sql") == 0)
			names[nfiles++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nfiles, sizeof(names[0]), name_cmp);
	if ((text = malloc(SQL_MAX + 1)) == NULL)
		goto out;
	text[0] = '\0';
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i] ? names[i] : "");
		if (names[i] == NULL || (f = fopen(path, "r")) == NULL) {
			printf("FAIL cannot read %s\n", path);
			free(text);
			text = NULL;
			goto out;
		}
		n = fread(text + len, 1, SQL_MAX - len, f);
		fclose(f);
		len += n;
		text[len] = '\0';
		if (len == SQL_MAX) {
			printf("FAIL the migrations exceed %zu bytes\n", SQL_MAX);
			free(text);
			text = NULL;
			goto out;
		}
	}
out:
	for (i = 0; i < nfiles; i++)
		free(names[i]);
	return text;
}

/* One "(0, 'NAME')"; the text after it, or NULL if it is not one. */
static const char *
parse_row(const char *p, int *code, char *name, size_t size)
{
	const char	*q;
	char		*e;
	long		 v;
	size_t		 len;

	if (*p++ != '(')
		return NULL;
	v = strtol(p, &e, 10);
	if (e == p || v < 0 || v > 255 || strncmp(e, ", '", 3) != 0)
		return NULL;
	p = e + 3;
	if ((q = strchr(p, '\'')) == NULL || q[1] != ')' ||
	    (len = (size_t)(q - p)) == 0 || len >= size)
		return NULL;
	memcpy(name, p, len);
	name[len] = '\0';
	*code = (int)v;
	return q + 2;
}

/*
 * The rows of every "INSERT INTO table (code, name) VALUES (0, 'A'),
 * ...;" in the text.  Returns the number of rows, -1 if there is no such
 * statement or a row does not parse.
 */
static int
parse_rows(const char *text, const char *table, int *codes, char names[][64])
{
	char		 head[128];
	const char	*p, *end;
	int		 n = 0, found = 0;

	snprintf(head, sizeof(head), "INSERT INTO %s (code, name) VALUES",
	    table);
	for (p = text; (p = strstr(p, head)) != NULL; p = end + 1) {
		if ((end = strchr(p, ';')) == NULL)
			return -1;
		found = 1;
		p += strlen(head);
		for (;;) {
			p += strspn(p, " \t\r\n,");
			if (p >= end)
				break;
			if (n == ROWS_MAX || (p = parse_row(p, &codes[n],
			    names[n], sizeof(names[n]))) == NULL)
				return -1;
			n++;
		}
	}
	return found ? n : -1;
}

static void
test_lookup(const char *text, const struct lookup *l)
{
	int	 codes[ROWS_MAX], seen[ROWS_MAX] = { 0 }, n, i;
	char	 names[ROWS_MAX][64];

	n = parse_rows(text, l->table, codes, names);
	T_CHECK_MSG(n == l->count, "%s: %d rows, states.h has %d", l->table,
	    n, l->count);
	for (i = 0; i < n; i++) {
		T_CHECK_MSG(codes[i] >= 0 && codes[i] < l->count,
		    "%s: code %d out of range", l->table, codes[i]);
		if (codes[i] < 0 || codes[i] >= l->count)
			continue;
		T_CHECK_MSG(seen[codes[i]]++ == 0, "%s: code %d twice",
		    l->table, codes[i]);
		T_CHECK_MSG(strcmp(names[i], l->name(codes[i])) == 0,
		    "%s: code %d is '%s' in SQL, '%s' in states.c", l->table,
		    codes[i], names[i], l->name(codes[i]));
	}
}

/* The parser itself refuses what it cannot read, so a typo in the
 * migration cannot pass as "no rows". */
static void
test_parser(void)
{
	int	 codes[ROWS_MAX] = { 0 };
	char	 names[ROWS_MAX][64] = { { 0 } };

	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES\n\t(0, 'A'),\n"
	    "\t(1, 'B');", "t", codes, names) == 2);
	T_CHECK(codes[1] == 1 && strcmp(names[1], "B") == 0);
	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES (0, A);", "t",
	    codes, names) == -1);
	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES (x, 'A');", "t",
	    codes, names) == -1);
	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES (0, '');", "t",
	    codes, names) == -1);
	T_CHECK(parse_rows("INSERT INTO u (code, name) VALUES (0, 'A');", "t",
	    codes, names) == -1);
	/* Two statements (a later migration's row) add up. */
	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES (0, 'A');\n"
	    "INSERT INTO t (code, name) VALUES (1, 'B');", "t", codes,
	    names) == 2);
	T_CHECK(codes[1] == 1 && strcmp(names[1], "B") == 0);
}

int
main(void)
{
	char	*text;
	size_t	 i;

	test_parser();
	if ((text = read_sql()) == NULL) {
		t_failed++;
		return T_DONE();
	}
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
		test_lookup(text, &lookups[i]);
	free(text);
	return T_DONE();
}
