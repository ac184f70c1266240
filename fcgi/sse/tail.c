/*
 * The event tail: the publisher's cursor over job_event.
 *
 * Wake-up.  While at least one stream is open the publisher asks for
 * MAX(id) of job_event every poll_ms (25 ms), which the optimizer
 * answers from the end of the primary key (about 30 us of server time,
 * a third of a range read); only when it moved, or while an id is
 * missing (below), does it read the new rows.
 *
 * Missing ids.  AUTO_INCREMENT ids are handed out before commit, so a
 * reader may see id 11 before id 10 commits.  Ids skipped over are kept
 * as gaps and read again (in the same statement as the new rows, so one
 * read view covers both) until they appear or SSE_GAP_WAIT_MS passes
 * (a rollback).  Each job entry remembers the newest event id applied,
 * so reading an event twice is harmless.
 */
#include <stdlib.h>

#include "db.h"
#include "hub.h"
#include "states.h"

#define TAIL_BATCH	1000
#define TAIL_GAP_SLOTS	16	/* gaps re-read per poll */
#define TAIL_ROUNDS	10	/* batches read per poll at most */

enum tail_stmt {
	TAIL_STMT_MAX_ID,
	TAIL_STMT_EVENTS,
	TAIL_STMT__MAX
};

static const char *const tail_sql[TAIL_STMT__MAX] = {
	/* TAIL_STMT_MAX_ID */
	"SELECT COALESCE(MAX(id), 0) FROM job_event",
	/* TAIL_STMT_EVENTS: new rows and the gaps still waited for (0 pads). */
	"SELECT id, job_id, course_id, state FROM job_event WHERE id > ?"
	" OR id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ORDER BY id LIMIT 1000",
};

struct event_row {		/* TAIL_STMT_EVENTS */
	int64_t		 id;
	int64_t		 job_id;
	char		 course[ID_MAX + 1];
	int		 state;
};

static const struct db_col event_cols[] = {
	DB_INT(struct event_row, id), DB_INT(struct event_row, job_id),
	DB_STR(struct event_row, course), DB_INT(struct event_row, state),
};

static struct {
	int		 cursor_ok;
	int64_t		 hi;		/* highest event id read */
	struct sse_gaps	 gaps;
	int		 work;		/* a QUEUED event since the last
					 * tail_take_work */
} tail;

int
tail_take_work(void)
{
	int	 w = tail.work;

	tail.work = 0;
	return w;
}

void
tail_forget(void)
{
	tail.cursor_ok = 0;
}

int
tail_cursor_ok(void)
{
	return tail.cursor_ok;
}

static void
apply_event(int64_t id, int64_t job_id, const char *course, int state)
{
	struct sse_course	*c;
	struct sse_job		*j;
	struct sse_stream	*s, *next;
	const char		*word;
	char			 ev[SSE_EVENT_MAX];
	int			 n;

	if (state == JOB_QUEUED)
		tail.work = 1;
	if ((c = reg_course_find(course)) != NULL)
		c->dirty = 1;
	/* job_id 0 (new jobs queued) matches no job: ids start at 1. */
	if ((j = reg_job_find(job_id)) == NULL || id <= j->last_event_id)
		return;
	j->last_event_id = id;
	j->state = state;
	if ((word = sse_state_word(state)) == NULL) {
		/* Requeued: the position that follows says so. */
		for (s = j->streams; s != NULL; s = s->next)
			s->last_pos = -1;
		return;
	}
	if ((n = sse_fmt_state(ev, sizeof(ev), id, word)) == -1)
		return;
	reg_job_send(j, ev, (size_t)n);
	if (sse_state_terminal(state))
		for (s = j->streams; s != NULL; s = next) {
			next = s->next;
			reg_stream_drop(s, 1);
		}
	reg_job_gc(j);
}

/* The newest committed event id (an index lookup), or -1. */
static int64_t
max_id(struct db *db)
{
	int64_t		 max = -1;

	if (db_query_int(db, tail_sql[TAIL_STMT_MAX_ID], &max, "") != 1)
		return -1;
	return max;
}

/* Start reading from just before the newest event: ids a little below
 * it may still be uncommitted and are caught as gaps. */
static int
cursor_reset(struct db *db)
{
	int64_t		 max;

	if ((max = max_id(db)) == -1)
		return -1;
	tail.hi = max > 64 ? max - 64 : 0;
	tail.gaps.n = 0;
	tail.cursor_ok = 1;
	return 0;
}

/* One batch of new rows and gaps: the rows read, or -1. */
static int64_t
read_batch(struct db *db, int64_t now)
{
	struct db_res	*r;
	struct event_row ev;
	int64_t		 g[TAIL_GAP_SLOTS], rows = 0;
	size_t		 i;

	sse_gaps_expire(&tail.gaps, now, SSE_GAP_WAIT_MS);
	for (i = 0; i < TAIL_GAP_SLOTS; i++)
		g[i] = i < tail.gaps.n ? tail.gaps.id[i] : 0;
	r = db_query(db, tail_sql[TAIL_STMT_EVENTS], "iiiiiiiiiiiiiiiii",
	    tail.hi, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8],
	    g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
	if (r == NULL)
		return -1;
	while (DB_ROW(r, event_cols, &ev) == 1) {
		rows++;
		if (ev.id <= tail.hi) {
			if (!sse_gaps_take(&tail.gaps, ev.id))
				continue;
		} else {
			if (ev.id > tail.hi + 1)
				sse_gaps_add(&tail.gaps, tail.hi + 1, ev.id - 1,
				    now);
			tail.hi = ev.id;
		}
		apply_event(ev.id, ev.job_id, ev.course, ev.state);
	}
	db_res_free(r);
	return rows;
}

int
tail_poll(struct db *db, int64_t now)
{
	int64_t		 max, rows;
	int		 round, reset = 0;

	if (!tail.cursor_ok) {
		if (cursor_reset(db) == -1)
			return -1;
		reset = 1;
	} else if (tail.gaps.n == 0) {
		if ((max = max_id(db)) == -1)
			return -1;
		if (max == tail.hi)
			return 0;	/* the common case: nothing new */
	}
	for (round = 0; round < TAIL_ROUNDS; round++) {
		if ((rows = read_batch(db, now)) == -1)
			return -1;
		if (rows < TAIL_BATCH)
			break;
	}
	/* Old events, read again; new worker streams get `work` anyway. */
	if (reset)
		tail.work = 0;
	return 0;
}
