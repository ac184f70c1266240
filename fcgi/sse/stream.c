/*
 * One event stream on a FastCGI connection that libfcgi has let go of.
 * Records are written with one send() each: an acceptor may block (the
 * socket has SO_SNDTIMEO), the publisher never does (MSG_DONTWAIT), and
 * a stream whose socket buffer is full is treated as gone.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "db.h"
#include "log.h"
#include "sse.h"
#include "states.h"

enum stream_stmt {
	STREAM_STMT_REPLAY,
	STREAM_STMT__MAX
};

static const char *const stream_sql[STREAM_STMT__MAX] = {
	/* STREAM_STMT_REPLAY: the job's events the client has not seen. */
	"SELECT id, state FROM job_event WHERE job_id = ? AND id > ?"
	" AND id <= ? ORDER BY id",
};

struct replay_row {		/* STREAM_STMT_REPLAY */
	int64_t		 id;
	int		 state;
};

static const struct db_col replay_cols[] = {
	DB_INT(struct replay_row, id), DB_INT(struct replay_row, state),
};

struct sse_stream *
sse_stream_new(int fd, unsigned rid, int64_t job_id, int64_t resume_id,
    const char *reqid)
{
	struct sse_stream	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = fd;
	s->rid = rid;
	s->job_id = job_id;
	s->resume_id = resume_id;
	s->last_pos = -1;
	s->last_write_ms = mono_ms();
	if (copy_str(s->reqid, sizeof(s->reqid), reqid) == -1)
		s->reqid[0] = '\0';
	return s;
}

static int
stream_write_all(struct sse_stream *s, const unsigned char *p, size_t n)
{
	int	 flags = MSG_NOSIGNAL | (s->parked ? MSG_DONTWAIT : 0);
	ssize_t	 w;

	while (n > 0) {
		w = send(s->fd, p, n, flags);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		/* Half a record written without blocking cannot be
		 * finished later without a queue; the stream is given up. */
		if (s->parked && (size_t)w != n)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	s->last_write_ms = mono_ms();
	return 0;
}

int
sse_stream_send(struct sse_stream *s, const char *data, size_t len)
{
	unsigned char	 rec[FCGI_HEADER_LEN + 1024];
	size_t		 n;

	if ((n = sse_record(rec, sizeof(rec), FCGI_STDOUT, s->rid, data,
	    len)) == 0)
		return -1;
	return stream_write_all(s, rec, n);
}

int
sse_stream_headers(struct sse_stream *s)
{
	char	 h[512];
	int	 n;

	n = snprintf(h, sizeof(h),
	    "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Access-Control-Allow-Origin: *\r\n"
	    "X-Request-Id: %s\r\n"
	    "\r\n", s->reqid);
	if (n < 0 || (size_t)n >= sizeof(h))
		return -1;
	return sse_stream_send(s, h, (size_t)n);
}

static int
stream_send_state(struct sse_stream *s, int64_t id, const char *word)
{
	char	 ev[SSE_EVENT_MAX];
	int	 n;

	if ((n = sse_fmt_state(ev, sizeof(ev), id, word)) == -1)
		return -1;
	return sse_stream_send(s, ev, (size_t)n);
}

/*
 * Bring a new stream up to (state, last_id), the job's state and its
 * newest event id read together.  With Last-Event-ID the events after it
 * are replayed from job_event; without it, or when they were pruned,
 * the state itself is sent (a QUEUED job gets its position from the
 * publisher instead).
 */
int
sse_stream_sync(struct db *db, struct sse_stream *s, int state,
    int64_t last_id)
{
	struct db_res	*r;
	struct replay_row ev;
	const char	*word;
	int		 known = 0, rc;

	if (s->resume_id >= 0 && s->resume_id >= last_id)
		known = 1;
	else if (s->resume_id >= 0) {
		r = db_query(db, stream_sql[STREAM_STMT_REPLAY], "iii",
		    s->job_id, s->resume_id, last_id);
		if (r == NULL)
			return -1;
		while ((rc = DB_ROW(r, replay_cols, &ev)) == 1) {
			known = 1;
			word = sse_state_word(ev.state);
			if (word != NULL && stream_send_state(s, ev.id,
			    word) == -1) {
				db_res_free(r);
				return -1;
			}
		}
		db_res_free(r);
		if (rc == -1)
			return -1;
	}
	s->last_pos = -1;
	if (!known && (word = sse_state_word(state)) != NULL)
		return stream_send_state(s, last_id, word);
	return 0;
}

void
sse_stream_end(struct sse_stream *s, int clean)
{
	unsigned char	 rec[64];
	size_t		 n;

	if (s == NULL)
		return;
	if (clean) {
		/* Never wait here, not even in an acceptor. */
		s->parked = 1;
		if ((n = sse_record_end(rec, sizeof(rec), s->rid)) > 0)
			(void)stream_write_all(s, rec, n);
	}
	close(s->fd);
	free(s);
}
