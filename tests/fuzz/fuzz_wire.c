/*
 * libFuzzer target: broadway-sse's pure wire code (fcgi/sse/wire.c).  The
 * input is a list of ops, each an op byte and its arguments:
 *   0  sse_record into a buffer of exactly `size` bytes (small, or at
 *      the 64 KiB record limit): the header
 *      decodes back to type, request id and length, nothing is written
 *      past the record, and it is refused exactly when it cannot fit;
 *   1  sse_record_end: the empty FCGI_STDOUT and FCGI_END_REQUEST;
 *   2, 3  sse_fmt_state / sse_fmt_position: one SSE event whose id line
 *      and JSON data line read back to the values, or -1 when `size` is
 *      too small, never a cut event;
 *   4  sse_pos_find against a linear search of ascending ids;
 *   5, 6  the hub's gap bookkeeping as hub.c drives it (an event id seen,
 *      time passing), against a model: a set of missing ids keeping the
 *      SSE_GAP_MAX newest, each given out at most once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>
#include <jansson.h>

#include "check.h"
#include "sse.h"
#include "states.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct rd {
	const uint8_t	*p;
	size_t		 n, i;
};
struct gap_model;
struct wire_state {
	struct rd		 r;
	struct sse_gaps		 g;
	struct gap_model	*m;
};

static uint64_t
rd_bytes(struct rd *r, int k)
{
	uint64_t	 v = 0;

	while (k-- > 0)
		v = v << 8 | (r->i < r->n ? r->p[r->i++] : 0);
	return v;
}

#define CANARY	0x5a

static unsigned char *
canary_buf(size_t size)
{
	unsigned char	*b;

	FUZZ_ASSERT((b = malloc(size ? size : 1)) != NULL);
	memset(b, CANARY, size);
	return b;
}

static void
untouched(const unsigned char *b, size_t from, size_t to)
{
	for (; from < to; from++)
		FUZZ_ASSERT(b[from] == CANARY);
}

static void
header_is(const unsigned char *h, int type, unsigned rid, size_t len)
{
	FUZZ_ASSERT(h[0] == FCGI_VERSION_1);
	FUZZ_ASSERT(h[1] == (unsigned char)type);
	FUZZ_ASSERT(((unsigned)h[2] << 8 | h[3]) == (rid & 0xffff));
	FUZZ_ASSERT(((size_t)h[4] << 8 | h[5]) == len);
	FUZZ_ASSERT(h[6] == 0 && h[7] == 0);
}

static void
op_record(struct wire_state *w)
{
	struct rd	*r = &w->r;
	static unsigned char	 src[FCGI_MAX_LENGTH + 16];
	size_t			 size, len, n, want, i;
	unsigned		 rid;
	int			 type;
	unsigned char		*out;

	/* Small records, or ones at the 64 KiB limit (cheap, then rare). */
	if (rd_bytes(r, 1) & 1) {
		size = FCGI_HEADER_LEN + FCGI_MAX_LENGTH - 16 + rd_bytes(r, 1) % 32;
		len = FCGI_MAX_LENGTH - 16 + rd_bytes(r, 1) % 32;
	} else {
		size = rd_bytes(r, 2) % 1024;
		len = rd_bytes(r, 2) % 1024;
	}
	type = (int)rd_bytes(r, 1);
	rid = (unsigned)rd_bytes(r, 4);
	if (src[1] == 0)	/* once: any bytes but not all alike */
		for (i = 0; i < sizeof(src); i++)
			src[i] = (unsigned char)(i * 131 + 7);
	out = canary_buf(size);
	n = sse_record(out, size, type, rid, src, len);
	want = len <= FCGI_MAX_LENGTH && size >= FCGI_HEADER_LEN + len ?
	    FCGI_HEADER_LEN + len : 0;
	FUZZ_ASSERT(n == want);
	if (n > 0) {
		header_is(out, type, rid, len);
		FUZZ_ASSERT(memcmp(out + FCGI_HEADER_LEN, src, len) == 0);
		untouched(out, n, size);
	}
	free(out);
}

static void
op_record_end(struct wire_state *w)
{
	struct rd	*r = &w->r;
	size_t		 size = rd_bytes(r, 1) % 48, n;
	unsigned	 rid = (unsigned)rd_bytes(r, 2);
	unsigned char	*out = canary_buf(size);

	n = sse_record_end(out, size, rid);
	if (size < 2 * FCGI_HEADER_LEN + 8) {
		FUZZ_ASSERT(n == 0);
	} else {
		FUZZ_ASSERT(n == 2 * FCGI_HEADER_LEN + 8);
		header_is(out, FCGI_STDOUT, rid, 0);
		header_is(out + FCGI_HEADER_LEN, FCGI_END_REQUEST, rid, 8);
		/* appStatus 0, FCGI_REQUEST_COMPLETE, reserved zeros */
		FUZZ_ASSERT(memcmp(out + 2 * FCGI_HEADER_LEN,
		    "\0\0\0\0\0\0\0\0", 4) == 0);
		FUZZ_ASSERT(out[2 * FCGI_HEADER_LEN + 4] == FCGI_REQUEST_COMPLETE);
		FUZZ_ASSERT(memcmp(out + 2 * FCGI_HEADER_LEN + 5, "\0\0\0", 3) == 0);
		untouched(out, n, size);
	}
	free(out);
}

/* An event as the spec shows it: the event line, the id line, one data
 * line of JSON, a blank line.  Returns the parsed data. */
static json_t *
event_parse(const char *ev, size_t n, int64_t id)
{
	static const char	 head[] = "event: status_update\nid: ";
	const char		*p, *nl;
	char			*end;
	json_t			*data;

	FUZZ_ASSERT(strlen(ev) == n);
	FUZZ_ASSERT(n > 2 && ev[n - 1] == '\n' && ev[n - 2] == '\n');
	FUZZ_ASSERT(strncmp(ev, head, sizeof(head) - 1) == 0);
	p = ev + sizeof(head) - 1;
	FUZZ_ASSERT(strtoll(p, &end, 10) == id && *end == '\n');
	p = end + 1;
	FUZZ_ASSERT(strncmp(p, "data: ", 6) == 0);
	p += 6;
	nl = strchr(p, '\n');
	FUZZ_ASSERT(nl == ev + n - 2);	/* one data line, then the end */
	data = json_loadb(p, (size_t)(nl - p), 0, NULL);
	FUZZ_ASSERT(json_is_object(data) && json_object_size(data) == 2);
	return data;
}

/* The same call into an exact-size buffer: the whole event or -1. */
static void
fmt_small(int (*fmt)(char *, size_t, int64_t, const void *), size_t size,
    int64_t id, const void *arg, const char *full, int fulln)
{
	unsigned char	*b = canary_buf(size);
	int		 n;

	n = fmt((char *)b, size, id, arg);
	if ((size_t)fulln < size) {
		FUZZ_ASSERT(n == fulln && memcmp(b, full, (size_t)n + 1) == 0);
	} else
		FUZZ_ASSERT(n == -1);
	free(b);
}

static int
fmt_state(char *b, size_t size, int64_t id, const void *word)
{
	return sse_fmt_state(b, size, id, word);
}

static int
fmt_position(char *b, size_t size, int64_t id, const void *pos)
{
	return sse_fmt_position(b, size, id, *(const int64_t *)pos);
}

static void
op_fmt(struct rd *r, int position)
{
	char		 full[SSE_EVENT_MAX];
	size_t		 size = rd_bytes(r, 1) + 1;
	int64_t		 id = (int64_t)rd_bytes(r, 8), pos = 0;
	int		 st = (int)rd_bytes(r, 1) % (JOB__MAX + 2) - 1, n;
	const char	*word = NULL;
	json_t		*data;

	if (position) {
		pos = (int64_t)rd_bytes(r, 8);
		n = sse_fmt_position(full, sizeof(full), id, pos);
	} else {
		word = sse_state_word(st);
		FUZZ_ASSERT((word == NULL) == (st < 0 || st >= JOB__MAX ||
		    st == JOB_QUEUED));
		FUZZ_ASSERT(sse_state_terminal(st) ==
		    (st == JOB_FAILED || st == JOB_SUCCEEDED));
		if (word == NULL)	/* hub.c tells QUEUED as a position */
			return;
		n = sse_fmt_state(full, sizeof(full), id, word);
	}
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(full));
	data = event_parse(full, (size_t)n, id);
	if (position) {
		FUZZ_ASSERT(strcmp(json_string_value(json_object_get(data,
		    "type")), "position") == 0);
		FUZZ_ASSERT(json_integer_value(json_object_get(data, "data")) ==
		    pos);
		fmt_small(fmt_position, size, id, &pos, full, n);
	} else {
		FUZZ_ASSERT(strcmp(json_string_value(json_object_get(data,
		    "type")), "state") == 0);
		FUZZ_ASSERT(strcmp(json_string_value(json_object_get(data,
		    "data")), word) == 0);
		fmt_small(fmt_state, size, id, word, full, n);
	}
	json_decref(data);
}

static void
op_pos_find(struct wire_state *w)
{
	struct rd	*r = &w->r;
	int64_t		 ids[256], id;
	size_t		 n = rd_bytes(r, 1), i;
	long		 got, want = -1;

	ids[0] = (int64_t)rd_bytes(r, 4) - (1 << 30);
	for (i = 1; i < n; i++)
		ids[i] = ids[i - 1] + 1 + (int64_t)rd_bytes(r, 1);
	id = n > 0 && (rd_bytes(r, 1) & 1) ? ids[rd_bytes(r, 1) % n] :
	    (int64_t)rd_bytes(r, 4) - (1 << 30);
	for (i = 0; i < n; i++)
		if (ids[i] == id)
			want = (long)i;
	got = sse_pos_find(ids, n, id);
	FUZZ_ASSERT(got == want);
}

/* The model of the missing ids: ascending, like the table. */
struct gap_model {
	int64_t		 id[SSE_GAP_MAX], since[SSE_GAP_MAX];
	size_t		 n;
	int64_t		 hi, now;
};

static void
model_drop(struct gap_model *m, size_t i)
{
	for (; i + 1 < m->n; i++) {
		m->id[i] = m->id[i + 1];
		m->since[i] = m->since[i + 1];
	}
	m->n--;
}

/* from..to (at most SSE_GAP_MAX ids, above all held), then only the
 * SSE_GAP_MAX newest are kept. */
static void
model_add(struct gap_model *m, int64_t from, int64_t to)
{
	int64_t		 id[2 * SSE_GAP_MAX], since[2 * SSE_GAP_MAX];
	size_t		 n = 0, i, skip;

	for (i = 0; i < m->n; i++, n++) {
		id[n] = m->id[i];
		since[n] = m->since[i];
	}
	for (; from <= to; from++, n++) {
		id[n] = from;
		since[n] = m->now;
	}
	skip = n > SSE_GAP_MAX ? n - SSE_GAP_MAX : 0;
	m->n = n - skip;
	memcpy(m->id, id + skip, m->n * sizeof(id[0]));
	memcpy(m->since, since + skip, m->n * sizeof(since[0]));
}

static void
gaps_same(const struct sse_gaps *g, const struct gap_model *m)
{
	size_t	 i;

	FUZZ_ASSERT(g->n == m->n && g->n <= SSE_GAP_MAX);
	for (i = 0; i < g->n; i++) {
		FUZZ_ASSERT(g->id[i] == m->id[i] && g->since[i] == m->since[i]);
		FUZZ_ASSERT(i == 0 || g->id[i - 1] < g->id[i]);
		FUZZ_ASSERT(g->id[i] <= m->hi);
	}
}

/* An event id read from the database, as hub.c handles it. */
static void
op_gap_seen(struct wire_state *w)
{
	struct rd	*r = &w->r;
	struct sse_gaps	*g = &w->g;
	struct gap_model *m = w->m;
	int64_t		 id, x;
	size_t		 i;
	int		 took = 0, want = 0;

	if (rd_bytes(r, 1) & 1)	/* an old id: maybe a gap filled */
		id = m->hi - (int64_t)rd_bytes(r, 2);
	else
		id = m->hi + 1 + (int64_t)(rd_bytes(r, 5) >> (rd_bytes(r, 1) % 40));
	if (id <= m->hi) {
		took = sse_gaps_take(g, id);
		for (i = 0; i < m->n; i++)
			if (m->id[i] == id) {
				model_drop(m, i);
				want = 1;
				break;
			}
		FUZZ_ASSERT(took == want);
	} else {
		if (id > m->hi + 1) {
			sse_gaps_add(g, m->hi + 1, id - 1, m->now);
			x = id - 1 - (m->hi + 1) >= SSE_GAP_MAX ?
			    id - SSE_GAP_MAX : m->hi + 1;
			model_add(m, x, id - 1);
		}
		m->hi = id;
	}
	gaps_same(g, m);
}

static void
op_gap_time(struct wire_state *w)
{
	struct rd	*r = &w->r;
	struct sse_gaps	*g = &w->g;
	struct gap_model *m = w->m;
	int64_t		 wait;
	size_t		 i;

	m->now += (int64_t)rd_bytes(r, 2);
	wait = rd_bytes(r, 1) & 1 ? SSE_GAP_WAIT_MS : (int64_t)rd_bytes(r, 2);
	sse_gaps_expire(g, m->now, wait);
	for (i = 0; i < m->n;)
		if (m->now - m->since[i] >= wait)
			model_drop(m, i);
		else
			i++;
	gaps_same(g, m);
}

static void
op_state(struct wire_state *w)
{
	op_fmt(&w->r, 0);
}

static void
op_position(struct wire_state *w)
{
	op_fmt(&w->r, 1);
}

static void (*const wire_ops[])(struct wire_state *) = {
	op_record, op_record_end, op_state, op_position, op_pos_find,
	op_gap_seen, op_gap_time,
};
#define WIRE_OPS	(sizeof(wire_ops) / sizeof(wire_ops[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_state w;
	static struct gap_model	 m;
	int			 ops = 0;

	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	w.r.p = data;
	w.r.n = size;
	w.m = &m;
	m.hi = (int64_t)rd_bytes(&w.r, 4);
	while (w.r.i < w.r.n && ops++ < 128)
		wire_ops[rd_bytes(&w.r, 1) % WIRE_OPS](&w);
	return 0;
}
