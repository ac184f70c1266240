#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	abort();
}

/* Written from the table in RFC 3629 §4, not from worker/capture.c, so
 * the two cannot share a mistake. */
int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		 i = 0, k, need;
	unsigned char	 b, lo, hi;

	while (i < n) {
		b = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf)
			need = 1;
		else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			if (b == 0xe0)
				lo = 0xa0;
			else if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			if (b == 0xf0)
				lo = 0x90;
			else if (b == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

void
check_refusal(const char *err, size_t errlen)
{
	size_t	 n;

	FUZZ_ASSERT(memchr(err, '\0', errlen) != NULL);
	n = strlen(err);
	FUZZ_ASSERT(n > 0);
	FUZZ_ASSERT(utf8_valid((const unsigned char *)err, n));
	/* To see why each catalogue line was refused. */
	if (getenv("FUZZ_SHOW_REFUSALS") != NULL)
		fprintf(stderr, "refused: %.200s\n", err);
}
