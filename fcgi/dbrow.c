/*
 * Typed rows (db.h): a result row read into a struct through a table of
 * columns, so a field is named where the query is and nowhere is a
 * column known by its number alone.
 */
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "db.h"
#include "log.h"

/* One column into its field: 0, or -1 if it does not fit. */
static int
col_read(const struct db_res *r, unsigned i, const struct db_col *c, char *row)
{
	void		*dst = row + c->off;
	struct db_text	*t;
	const char	*s;
	size_t		 len = 0;
	int64_t		 v;

	switch (c->type) {
	case DB_COL_INT:
		v = db_res_int(r, i);
		if (c->size == sizeof(int64_t)) {
			memcpy(dst, &v, sizeof(v));
			return 0;
		}
		if (c->size != sizeof(int) || v < INT_MIN || v > INT_MAX)
			return -1;
		*(int *)dst = (int)v;
		return 0;
	case DB_COL_STR:
	case DB_COL_STR_OPT:
		s = db_res_str(r, i, &len);
		if (s == NULL && (c->type == DB_COL_STR || !db_res_null(r, i)))
			return -1;
		if (s == NULL)
			s = "";
		if (len >= c->size)
			return -1;
		memcpy(dst, s, len + 1);
		return 0;
	case DB_COL_TEXT:
		t = dst;
		t->s = db_res_str(r, i, &t->len);
		return t->s == NULL && !db_res_null(r, i) ? -1 : 0;
	case DB_COL_JSON:
		s = db_res_str(r, i, &len);
		*(json_t **)dst = s == NULL ? NULL : json_loadb(s, len, 0, NULL);
		return *(json_t **)dst == NULL && s != NULL ? -1 : 0;
	default:
		return -1;
	}
}

int
db_res_row(struct db_res *r, const struct db_col *cols, size_t ncols, void *row)
{
	unsigned	 i, k;
	int		 rc;

	if (ncols != db_res_cols(r)) {
		log_warnx("db row: %zu fields for %u columns", ncols,
		    db_res_cols(r));
		return -1;
	}
	if ((rc = db_res_next(r)) != 1)
		return rc;
	for (i = 0; i < db_res_cols(r); i++) {
		if (col_read(r, i, &cols[i], row) == 0)
			continue;
		log_warnx("db row: column %u does not fit its field", i);
		for (k = 0; k < i; k++)
			if (cols[k].type == DB_COL_JSON) {
				json_decref(*(json_t **)((char *)row +
				    cols[k].off));
				*(json_t **)((char *)row + cols[k].off) = NULL;
			}
		return -1;
	}
	return 1;
}

static int
db_vquery_row(struct db *db, const char *sql, const struct db_col *cols,
    size_t ncols, void *row, const char *fmt, va_list ap)
{
	struct db_res	*r;
	int		 rc;

	if ((r = db_vquery(db, sql, fmt, ap)) == NULL)
		return -1;
	rc = db_res_row(r, cols, ncols, row);
	db_res_free(r);
	return rc;
}

int
db_query_row(struct db *db, const char *sql, const struct db_col *cols,
    size_t ncols, void *row, const char *fmt, ...)
{
	va_list		 ap;
	int		 rc;

	va_start(ap, fmt);
	rc = db_vquery_row(db, sql, cols, ncols, row, fmt, ap);
	va_end(ap);
	return rc;
}

struct int_row {
	int64_t		 v;
};

static const struct db_col int_cols[] = { DB_INT(struct int_row, v) };

int
db_query_int(struct db *db, const char *sql, int64_t *out, const char *fmt, ...)
{
	struct int_row	 row;
	va_list		 ap;
	int		 rc;

	va_start(ap, fmt);
	rc = db_vquery_row(db, sql, int_cols, 1, &row, fmt, ap);
	va_end(ap);
	if (rc == 1)
		*out = row.v;
	return rc;
}
