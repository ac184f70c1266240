/*
 * Properties of worker/capture.c against a model written another way:
 * the model keeps every raw byte of a stage and sanitises the whole stage
 * at once (one U+FFFD per maximal ill-formed subpart, Unicode §3.9), so
 * how the bytes were split into writes must not matter.  The capture must
 * then give valid UTF-8 without NUL, no longer than its cap, and equal to
 * the model, or, when the model is longer than head + tail, the model's
 * head and tail cut at character boundaries around a marker that counts
 * exactly the bytes left out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../worker/extern.h"

static const unsigned char fffd[3] = { 0xef, 0xbf, 0xbd };

struct model {
	unsigned char	*out;		/* sanitised, all stages */
	size_t		 len, size;
	unsigned char	*raw;		/* the current stage, as written */
	size_t		 rawlen, rawsize;
};

static void
grow(unsigned char **p, size_t *size, size_t need)
{
	if (need <= *size)
		return;
	while (*size < need)
		*size = *size ? *size * 2 : 4096;
	FUZZ_ASSERT((*p = realloc(*p, *size)) != NULL);
}

static void
put(struct model *m, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	grow(&m->out, &m->size, m->len + n);
	memcpy(m->out + m->len, p, n);
	m->len += n;
}

/* Length of the well-formed sequence at s (<= n bytes), or 0 with *bad
 * set to the length of the ill-formed subpart to replace. */
static size_t
seq_len(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char	 b = s[0], lo = 0x80, hi = 0xbf;
	size_t		 need, k;

	if (b >= 0x01 && b <= 0x7f)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		need = 1;
	else if (b >= 0xe0 && b <= 0xef) {
		need = 2;
		lo = b == 0xe0 ? 0xa0 : 0x80;
		hi = b == 0xed ? 0x9f : 0xbf;
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 3;
		lo = b == 0xf0 ? 0x90 : 0x80;
		hi = b == 0xf4 ? 0x8f : 0xbf;
	} else {
		*bad = 1;	/* NUL, a stray continuation, c0 c1 f5..ff */
		return 0;
	}
	for (k = 1; k <= need; k++) {
		if (k >= n || s[k] < (k == 1 ? lo : 0x80) ||
		    s[k] > (k == 1 ? hi : 0xbf)) {
			*bad = k;
			return 0;
		}
	}
	return need + 1;
}

static void
model_stage_end(struct model *m)
{
	size_t	 i = 0, k, bad;

	while (i < m->rawlen) {
		if ((k = seq_len(m->raw + i, m->rawlen - i, &bad)) > 0) {
			put(m, m->raw + i, k);
			i += k;
		} else {
			put(m, fffd, sizeof(fffd));
			i += bad;
		}
	}
	m->rawlen = 0;
	if (m->len > 0 && m->out[m->len - 1] != '\n')
		put(m, (const unsigned char *)"\n", 1);
}

static void
model_write(struct model *m, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	grow(&m->raw, &m->rawsize, m->rawlen + n);
	memcpy(m->raw + m->rawlen, p, n);
	m->rawlen += n;
}

/* Cut output: head, marker, tail.  1 if out is the model cut that way. */
static int
cut_matches(const struct model *m, const char *out, size_t len, size_t p,
    size_t tail_max)
{
	static const char pre[] = "\n[... ", post[] = " bytes truncated ...]\n";
	const char	*q;
	char		*end;
	unsigned long long cut;
	size_t		 mlen, s;

	if (p > len || memcmp(out, m->out, p) != 0)
		return 0;
	q = out + p;
	if (len - p < sizeof(pre) - 1 || memcmp(q, pre, sizeof(pre) - 1) != 0)
		return 0;
	q += sizeof(pre) - 1;
	if (*q < '0' || *q > '9')
		return 0;
	cut = strtoull(q, &end, 10);
	if ((size_t)(out + len - end) < sizeof(post) - 1 ||
	    memcmp(end, post, sizeof(post) - 1) != 0)
		return 0;
	mlen = (size_t)(end - (out + p)) + sizeof(post) - 1;
	s = len - p - mlen;
	FUZZ_ASSERT(s <= tail_max && s + 3 >= tail_max);
	FUZZ_ASSERT(s <= m->len - p);
	FUZZ_ASSERT(cut == m->len - p - s);
	FUZZ_ASSERT(memcmp(out + p + mlen, m->out + m->len - s, s) == 0);
	return 1;
}

size_t
check_capture(size_t cap, const struct cap_op *ops, size_t nops)
{
	struct capture	 c;
	struct model	 m;
	char		*out, *s;
	size_t		 i, r, len, eff, p, n, replaced = 0;
	int		 found = 0;

	memset(&m, 0, sizeof(m));
	FUZZ_ASSERT(capture_init(&c, cap) == 0);
	for (i = 0; i < nops; i++) {
		switch (ops[i].kind) {
		case CAP_WRITE:
			for (r = 0; r < ops[i].repeat; r++) {
				capture_write(&c, ops[i].p, ops[i].n);
				model_write(&m, ops[i].p, ops[i].n);
			}
			break;
		case CAP_PUTS:
			/* A C string: what a caller passes stops at NUL. */
			FUZZ_ASSERT((s = malloc(ops[i].n + 1)) != NULL);
			memcpy(s, ops[i].p, ops[i].n);
			s[ops[i].n] = '\0';
			capture_puts(&c, s);
			model_write(&m, (unsigned char *)s, strlen(s));
			free(s);
			break;
		case CAP_STAGE_END:
			capture_stage_end(&c);
			model_stage_end(&m);
			break;
		}
	}
	out = capture_finish(&c, &len);
	model_stage_end(&m);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(out[len] == '\0' && strlen(out) == len);
	FUZZ_ASSERT(utf8_valid((unsigned char *)out, len));
	FUZZ_ASSERT(c.total == m.len);
	/* The cap holds head, tail and the marker (at least 256 bytes). */
	eff = cap < 256 ? 256 : cap;
	FUZZ_ASSERT(c.head_max + c.tail_max < eff);
	FUZZ_ASSERT(len <= eff);
	if (m.len <= c.head_max + c.tail_max) {
		FUZZ_ASSERT(len == m.len);
		FUZZ_ASSERT(len == 0 || memcmp(out, m.out, len) == 0);
	} else {
		/* The head is cut back by at most one character's 3 bytes. */
		for (n = 0; n <= 3 && n <= c.head_max && !found; n++) {
			p = c.head_max - n;
			found = cut_matches(&m, out, len, p, c.tail_max);
		}
		FUZZ_ASSERT(found);
	}
	for (i = 0; i + 3 <= len; i++)
		if (memcmp(out + i, fffd, 3) == 0)
			replaced++;
	free(out);
	capture_free(&c);
	free(m.out);
	free(m.raw);
	return replaced;
}
