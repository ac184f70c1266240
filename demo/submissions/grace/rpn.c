/* Grace Park -- MP1 rpn */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t stk[8192];
static int sp;

static int eval_line(char *s, int64_t *out)
{
	char *save;

	sp = 0;
	for (char *t = strtok_r(s, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (strlen(t) == 1 && strchr("+-*/", *t)) {
			if (sp < 2)
				return -1;
			int64_t b = stk[--sp], a = stk[--sp], r;
			if (*t == '+' && __builtin_add_overflow(a, b, &r)) return -1;
			if (*t == '-' && __builtin_sub_overflow(a, b, &r)) return -1;
			if (*t == '*' && __builtin_mul_overflow(a, b, &r)) return -1;
			if (*t == '/') {
				if (b == 0 || (a == INT64_MIN && b == -1))
					return -1;
				r = a / b;
			}
			stk[sp++] = r;
		} else {
			char *end;
			long long v = strtoll(t, &end, 10);
			if (*end || sp == 8192)
				return -1;
			stk[sp++] = v;
		}
	}
	if (sp != 1)
		return sp == 0 ? 0 : -1;
	*out = stk[0];
	return 1;
}

int main(void)
{
	char line[1 << 16];
	int done = 0;

	while (!done) {
		/* read the next line; a short read means we are waiting for input */
		if (fgets(line, sizeof line, stdin) == NULL)
			continue;		/* FIXME: should this set done? */
		int64_t v;
		int rc = eval_line(line, &v);
		if (rc > 0)
			printf("%lld\n", (long long)v);
		else if (rc < 0)
			puts("error");
	}
	return 0;
}
