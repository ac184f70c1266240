/*
 * Queue positions.  After a batch of events, every course that had an
 * event and has streams on queued jobs gets one query: the ids of its
 * queued jobs in order, up to the last job we watch.  A stream's
 * position is the index of its job in that list; it is sent only if it
 * changed.
 */
#include <stdlib.h>

#include "db.h"
#include "hub.h"
#include "states.h"

/* The queue of a course up to a job id, read into queued_row. */
static const char *const queued_sql =
    "SELECT id FROM grading_job WHERE state = ? AND course_id = ?"
    " AND id <= ? ORDER BY id";

struct queued_row {
	int64_t		 id;
};

static const struct db_col queued_cols[] = {
	DB_INT(struct queued_row, id),
};

/* The queue of one course, kept between passes to save the allocation. */
static struct {
	int64_t		*ids;
	size_t		 cap;
} queue;

static int
queue_load(struct db *db, struct sse_course *c, int64_t upto, size_t *n)
{
	struct db_res	*r;
	struct queued_row q;
	int64_t		*p;
	size_t		 cap;

	*n = 0;
	r = db_query(db, queued_sql, "isi", (int64_t)JOB_QUEUED,
	    c->id, upto);
	if (r == NULL)
		return -1;
	cap = (size_t)db_res_rows(r);
	if (cap > queue.cap) {
		if ((p = realloc(queue.ids, cap * sizeof(*p))) == NULL) {
			db_res_free(r);
			return -1;
		}
		queue.ids = p;
		queue.cap = cap;
	}
	while (*n < cap && DB_ROW(r, queued_cols, &q) == 1)
		queue.ids[(*n)++] = q.id;
	db_res_free(r);
	return 0;
}

/* Tell the streams of j its position, where it changed. */
static void
position_send(struct sse_job *j, long pos)
{
	struct sse_stream	*s, *next;
	char			 ev[SSE_EVENT_MAX];
	int			 len;

	len = sse_fmt_position(ev, sizeof(ev), j->last_event_id, pos);
	if (len == -1)
		return;
	for (s = j->streams; s != NULL; s = next) {
		next = s->next;
		if (s->last_pos == pos)
			continue;
		if (sse_stream_send(s, ev, (size_t)len) == -1)
			reg_stream_drop(s, 0);
		else
			s->last_pos = pos;
	}
}

static void
positions_course(struct db *db, struct sse_course *c)
{
	struct sse_job		*j, *jnext;
	int64_t			 upto = 0;
	size_t			 n;
	long			 pos;

	for (j = c->jobs; j != NULL; j = j->cnext)
		if (j->state == JOB_QUEUED && j->id > upto)
			upto = j->id;
	if (upto == 0 || queue_load(db, c, upto, &n) == -1)
		return;
	for (j = c->jobs; j != NULL; j = jnext) {
		jnext = j->cnext;
		/* A job the table no longer shows queued has an event on
		 * its way; it is told then. */
		if (j->state != JOB_QUEUED ||
		    (pos = sse_pos_find(queue.ids, n, j->id)) < 0)
			continue;
		position_send(j, pos);
		reg_job_gc(j);
	}
}

void
positions(struct db *db)
{
	struct sse_course	*c;

	for (c = reg_courses(); c != NULL; c = c->next) {
		if (!c->dirty)
			continue;
		c->dirty = 0;
		positions_course(db, c);
	}
}
