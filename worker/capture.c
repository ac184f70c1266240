#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/*
 * One stream (stdout or stderr) of a job, across all its stages.  Bytes
 * are made valid UTF-8 as they arrive (invalid sequences and NUL become
 * U+FFFD: the API's JSON parser refuses NUL), then kept as a head of
 * head_max bytes and a ring of the last tail_max bytes.  Sanitising
 * first means the cap is in output bytes and the result never grows.
 */

static const unsigned char	 replacement[3] = { 0xef, 0xbf, 0xbd };

#define MARKER_ROOM	64

int
capture_init(struct capture *c, size_t cap)
{
	memset(c, 0, sizeof(*c));
	if (cap < MARKER_ROOM * 4)
		cap = MARKER_ROOM * 4;
	c->head_max = cap / 2;
	c->tail_max = cap - c->head_max - MARKER_ROOM;
	buf_init(&c->head, c->head_max);
	if ((c->tail = malloc(c->tail_max)) == NULL)
		return -1;
	c->last = -1;
	return 0;
}

static void
emit(struct capture *c, const unsigned char *p, size_t n)
{
	size_t	 room, k;

	if (n == 0)
		return;
	c->total += n;
	c->last = p[n - 1];
	room = c->head_max - c->head.len;
	if (room > 0) {
		k = n < room ? n : room;
		if (buf_append(&c->head, p, k) == -1)
			k = 0;	/* out of memory: the bytes count as truncated */
		p += k;
		n -= k;
	}
	while (n > 0) {
		k = c->tail_max - c->tail_pos;
		if (k > n)
			k = n;
		memcpy(c->tail + c->tail_pos, p, k);
		c->tail_pos = (c->tail_pos + k) % c->tail_max;
		if (c->tail_len < c->tail_max)
			c->tail_len = c->tail_len + k > c->tail_max ?
			    c->tail_max : c->tail_len + k;
		p += k;
		n -= k;
	}
}

/* Second-byte ranges that exclude overlongs, surrogates and > U+10FFFF. */
static int
cont_ok(const unsigned char *pend, int npend, unsigned char b)
{
	if ((b & 0xc0) != 0x80)
		return 0;
	if (npend != 1)
		return 1;
	switch (pend[0]) {
	case 0xe0: return b >= 0xa0;
	case 0xed: return b <= 0x9f;
	case 0xf0: return b >= 0x90;
	case 0xf4: return b <= 0x8f;
	default: return 1;
	}
}

void
capture_write(struct capture *c, const void *data, size_t n)
{
	const unsigned char	*p = data;
	size_t			 i, run = 0;
	unsigned char		 b;

	for (i = 0; i < n; i++) {
		b = p[i];
		if (c->npend > 0) {
			if (cont_ok(c->pend, c->npend, b)) {
				c->pend[c->npend++] = b;
				if (c->npend == c->need + 1) {
					emit(c, c->pend, (size_t)c->npend);
					c->npend = 0;
				}
				continue;
			}
			/* One U+FFFD for the broken sequence, then b afresh. */
			emit(c, replacement, sizeof(replacement));
			c->npend = 0;
		}
		if (b >= 0x01 && b < 0x80) {
			/* Pass runs of ASCII through in one piece. */
			for (run = i; run < n && p[run] >= 0x01 && p[run] < 0x80;
			    run++)
				;
			emit(c, p + i, run - i);
			i = run - 1;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			c->need = 1;
		else if (b >= 0xe0 && b <= 0xef)
			c->need = 2;
		else if (b >= 0xf0 && b <= 0xf4)
			c->need = 3;
		else {
			emit(c, replacement, sizeof(replacement));
			continue;
		}
		c->pend[0] = b;
		c->npend = 1;
	}
}

void
capture_puts(struct capture *c, const char *s)
{
	capture_write(c, s, strlen(s));
}

/* A stage's output ended: flush a cut sequence, separate from the next. */
void
capture_stage_end(struct capture *c)
{
	if (c->npend > 0) {
		emit(c, replacement, sizeof(replacement));
		c->npend = 0;
	}
	if (c->last != -1 && c->last != '\n')
		emit(c, (const unsigned char *)"\n", 1);
}

char *
capture_finish(struct capture *c, size_t *lenp)
{
	struct buf	 out;
	size_t		 head_len, skip, start, i;
	uint64_t	 kept;
	unsigned char	 ch;

	capture_stage_end(c);
	buf_init(&out, c->head_max + c->tail_max + MARKER_ROOM + 1);
	head_len = c->head.len;
	kept = head_len + c->tail_len;
	start = c->tail_len < c->tail_max ? 0 : c->tail_pos;
	skip = 0;
	if (kept < c->total) {
		/* Cut at character boundaries on both sides of the marker. */
		for (i = head_len; i > 0 && i + 4 > head_len; i--) {
			ch = (unsigned char)c->head.data[i - 1];
			if ((ch & 0xc0) == 0x80)
				continue;
			if (ch >= 0xc0) {
				size_t want = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
				if (head_len - (i - 1) < want)
					head_len = i - 1;
			}
			break;
		}
		while (skip < c->tail_len && skip < 3 &&
		    ((unsigned char)c->tail[(start + skip) % c->tail_max] &
		    0xc0) == 0x80)
			skip++;
	}
	if (buf_append(&out, c->head.data ? c->head.data : "", head_len) == -1)
		goto fail;
	if (kept < c->total && buf_printf(&out, TRUNC_MARKER_FMT,
	    (unsigned long long)(c->total - head_len - (c->tail_len - skip))) == -1)
		goto fail;
	/* The ring in order: from start+skip to its end, then the wrap. */
	if (c->tail_len > skip) {
		size_t	 from = (start + skip) % c->tail_max;
		size_t	 n = c->tail_len - skip, k = c->tail_max - from;

		if (k > n)
			k = n;
		if (buf_append(&out, c->tail + from, k) == -1 ||
		    buf_append(&out, c->tail, n - k) == -1)
			goto fail;
	}
	if (lenp != NULL)
		*lenp = out.len;
	return buf_detach(&out);
fail:
	buf_free(&out);
	return NULL;
}

void
capture_free(struct capture *c)
{
	if (c == NULL)
		return;
	buf_free(&c->head);
	free(c->tail);
	c->tail = NULL;
}
