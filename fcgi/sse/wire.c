/*
 * The pure parts of broadway-sse: FastCGI record framing, the event
 * text of the spec page, and the bookkeeping of missing event ids.
 */
#include <stdio.h>
#include <string.h>

#include <fastcgi.h>

#include "sse.h"
#include "states.h"

/* QUEUED (a requeue) is told as a position, not as a state. */
static const char *const sse_words[JOB__MAX] = {
	[JOB_QUEUED] = NULL,
	[JOB_STARTED] = "STARTED",
	[JOB_FAILED] = "FAILED",
	[JOB_SUCCEEDED] = "FINISHED",
};

const char *
sse_state_word(int st)
{
	return st >= 0 && st < JOB__MAX ? sse_words[st] : NULL;
}

int
sse_state_terminal(int st)
{
	return st == JOB_FAILED || st == JOB_SUCCEEDED;
}

/* One record of `type` with no padding.  Its length, or 0 if it does
 * not fit. */
size_t
sse_record(unsigned char *out, size_t size, int type, unsigned rid,
    const void *data, size_t len)
{
	if (len > FCGI_MAX_LENGTH || size < FCGI_HEADER_LEN + len)
		return 0;
	out[0] = FCGI_VERSION_1;
	out[1] = (unsigned char)type;
	out[2] = (unsigned char)(rid >> 8);
	out[3] = (unsigned char)rid;
	out[4] = (unsigned char)(len >> 8);
	out[5] = (unsigned char)len;
	out[6] = 0;
	out[7] = 0;
	if (len > 0)
		memcpy(out + FCGI_HEADER_LEN, data, len);
	return FCGI_HEADER_LEN + len;
}

/* The end of a response: an empty FCGI_STDOUT, then FCGI_END_REQUEST
 * with app status 0 and FCGI_REQUEST_COMPLETE. */
size_t
sse_record_end(unsigned char *out, size_t size, unsigned rid)
{
	static const unsigned char body[8] = { 0, 0, 0, 0,
	    FCGI_REQUEST_COMPLETE, 0, 0, 0 };
	size_t	 n;

	if ((n = sse_record(out, size, FCGI_STDOUT, rid, NULL, 0)) == 0)
		return 0;
	if (sse_record(out + n, size - n, FCGI_END_REQUEST, rid, body,
	    sizeof(body)) == 0)
		return 0;
	return n + FCGI_HEADER_LEN + sizeof(body);
}

/* The spec's JSON spacing (Python's default separators) is kept. */
int
sse_fmt_state(char *buf, size_t size, int64_t id, const char *word)
{
	int	 n;

	n = snprintf(buf, size, "event: status_update\nid: %lld\n"
	    "data: {\"type\": \"state\", \"data\": \"%s\"}\n\n",
	    (long long)id, word);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int
sse_fmt_position(char *buf, size_t size, int64_t id, int64_t pos)
{
	int	 n;

	n = snprintf(buf, size, "event: status_update\nid: %lld\n"
	    "data: {\"type\": \"position\", \"data\": %lld}\n\n",
	    (long long)id, (long long)pos);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Index of id in the ascending ids, which is its queue position, or -1. */
long
sse_pos_find(const int64_t *ids, size_t n, int64_t id)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return (long)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
sse_gaps_drop(struct sse_gaps *g, size_t i, size_t k)
{
	memmove(&g->id[i], &g->id[i + k], (g->n - i - k) * sizeof(g->id[0]));
	memmove(&g->since[i], &g->since[i + k],
	    (g->n - i - k) * sizeof(g->since[0]));
	g->n -= k;
}

/*
 * Ids from..to were skipped by a reader that has seen a later id.  They
 * come in ascending order; when the table is full the oldest go, since
 * the newest are the ones most likely still in flight.
 */
void
sse_gaps_add(struct sse_gaps *g, int64_t from, int64_t to, int64_t now)
{
	int64_t	 id;

	if (to - from >= SSE_GAP_MAX)
		from = to - SSE_GAP_MAX + 1;
	for (id = from; id <= to; id++) {
		if (g->n == SSE_GAP_MAX)
			sse_gaps_drop(g, 0, 1);
		g->id[g->n] = id;
		g->since[g->n] = now;
		g->n++;
	}
}

int
sse_gaps_take(struct sse_gaps *g, int64_t id)
{
	long	 i;

	if ((i = sse_pos_find(g->id, g->n, id)) < 0)
		return 0;
	sse_gaps_drop(g, (size_t)i, 1);
	return 1;
}

/* Give up on ids missing for `wait` ms: rolled back, or lost for good. */
void
sse_gaps_expire(struct sse_gaps *g, int64_t now, int64_t wait)
{
	size_t	 i, k = 0;

	for (i = 0; i < g->n; i++)
		if (now - g->since[i] >= wait)
			g->id[i] = -1;
	for (i = 0; i < g->n; i++)
		if (g->id[i] != -1) {
			g->id[k] = g->id[i];
			g->since[k] = g->since[i];
			k++;
		}
	g->n = k;
}
