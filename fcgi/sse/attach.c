/*
 * A stream handed over by an acceptor joins the registry.  A job stream
 * of a job nobody watched yet reads the job's state and newest event id
 * (one read view), is brought up to it (replay or snapshot) and parked;
 * one whose job has already ended gets its last state and is closed.  A
 * worker's nudge stream gets one `work` at once: anything may have been
 * queued while it was away.
 */
#include "db.h"
#include "hub.h"
#include "states.h"

/* A job's state and newest event id in one read view (snapshot_row). */
static const char *const snapshot_sql =
    "SELECT j.course_id, j.state, COALESCE((SELECT MAX(e.id)"
    " FROM job_event e WHERE e.job_id = j.id), 0)"
    " FROM grading_job j WHERE j.id = ?";

struct snapshot_row {
	char		 course[ID_MAX + 1];
	int		 state;
	int64_t		 last_id;	/* newest event of the job, or 0 */
};

static const struct db_col snapshot_cols[] = {
	DB_STR(struct snapshot_row, course),
	DB_INT(struct snapshot_row, state),
	DB_INT(struct snapshot_row, last_id),
};

static void
attach_worker(struct sse_stream *s)
{
	static const char	 work[] = SSE_WORK_EVENT;

	s->parked = 1;
	if (reg_worker_link(s) == -1) {
		sse_stream_end(s, 0);
		return;
	}
	if (sse_stream_send(s, work, sizeof(work) - 1) == -1)
		reg_stream_drop(s, 0);
}

/* The job entry of a stream's job, read from the database if nobody
 * watches it yet; NULL if the stream was ended instead. */
static struct sse_job *
attach_job(struct db *db, struct sse_stream *s)
{
	struct sse_job		*j;
	struct snapshot_row	 snap;
	int			 rc;

	if ((j = reg_job_find(s->job_id)) != NULL)
		return j;
	rc = DB_QUERY_ROW(db, snapshot_sql, snapshot_cols,
	    &snap, "i", s->job_id);
	if (rc != 1) {
		/* Gone, or a database error: the client reconnects (with
		 * Last-Event-ID). */
		sse_stream_end(s, 1);
		return NULL;
	}
	if (sse_state_terminal(snap.state)) {
		(void)sse_stream_sync(db, s, snap.state, snap.last_id);
		sse_stream_end(s, 1);
		return NULL;
	}
	if ((j = reg_job_new(s->job_id, snap.course, snap.state,
	    snap.last_id)) == NULL)
		sse_stream_end(s, 1);
	return j;
}

void
attach(struct db *db, struct sse_stream *s)
{
	struct sse_job	*j;

	if (s->worker) {
		attach_worker(s);
		return;
	}
	s->parked = 1;
	if ((j = attach_job(db, s)) == NULL)
		return;
	if (sse_stream_sync(db, s, j->state, j->last_event_id) == -1 ||
	    reg_stream_link(s, j) == -1) {
		sse_stream_end(s, 0);
		reg_job_gc(j);
		return;
	}
	if (j->state == JOB_QUEUED)
		j->course->dirty = 1;
}
