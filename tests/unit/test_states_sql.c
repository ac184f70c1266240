/*
 * The lookup tables of sql/002_reporting.sql spell every state and kind
 * exactly as common/states.c does: same codes, same names, no extra or
 * missing row.  The DBA views print these names, the API prints the C
 * ones, and the two must never drift apart.
 *
 * The migration is read from $BROADWAY_SQL_DIR (default "sql", as `make
 * unit` runs from the top of the tree).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "states.h"
#include "harness.h"

#define SQL_FILE	"002_reporting.sql"
#define SQL_MAX		(256 * 1024)
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

static char *
read_sql(void)
{
	const char	*dir = getenv("BROADWAY_SQL_DIR");
	char		 path[1024], *text = NULL;
	size_t		 n;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "sql", SQL_FILE);
	if ((f = fopen(path, "r")) == NULL) {
		printf("FAIL cannot open %s\n", path);
		return NULL;
	}
	if ((text = malloc(SQL_MAX + 1)) != NULL) {
		n = fread(text, 1, SQL_MAX, f);
		text[n] = '\0';
		if (n == SQL_MAX) {
			printf("FAIL %s is larger than %d bytes\n", path, SQL_MAX);
			free(text);
			text = NULL;
		}
	}
	fclose(f);
	return text;
}

/*
 * The rows of "INSERT INTO table (code, name) VALUES (0, 'A'), ...;".
 * Returns the number of rows, -1 if the statement is missing or a row
 * does not parse.
 */
static int
parse_rows(const char *text, const char *table, int *codes, char names[][64])
{
	char		 head[128];
	const char	*p, *end;
	int		 n = 0, used;

	snprintf(head, sizeof(head), "INSERT INTO %s (code, name) VALUES",
	    table);
	if ((p = strstr(text, head)) == NULL || (end = strchr(p, ';')) == NULL)
		return -1;
	p += strlen(head);
	for (;;) {
		p += strspn(p, " \t\r\n,");
		if (p >= end)
			return n;
		if (n == ROWS_MAX || sscanf(p, "(%d, '%63[^']')%n", &codes[n],
		    names[n], &used) != 2)
			return -1;
		p += used;
		n++;
	}
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
	int	 codes[ROWS_MAX];
	char	 names[ROWS_MAX][64];

	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES\n\t(0, 'A'),\n"
	    "\t(1, 'B');", "t", codes, names) == 2);
	T_CHECK(codes[1] == 1 && strcmp(names[1], "B") == 0);
	T_CHECK(parse_rows("INSERT INTO t (code, name) VALUES (0, A);", "t",
	    codes, names) == -1);
	T_CHECK(parse_rows("INSERT INTO u (code, name) VALUES (0, 'A');", "t",
	    codes, names) == -1);
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
