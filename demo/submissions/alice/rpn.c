/* rpn.c -- Alice Martin, CS 241 MP1 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXLINE 65536

static int64_t *stack;
static size_t depth, cap;

static int push(int64_t v)
{
	if (depth == cap) {
		size_t ncap = cap ? 2 * cap : 16;
		int64_t *p = realloc(stack, ncap * sizeof *p);
		if (!p)
			return -1;
		stack = p;
		cap = ncap;
	}
	stack[depth++] = v;
	return 0;
}

static int binop(char op)
{
	int64_t a, b, r;

	if (depth < 2)
		return -1;
	b = stack[--depth];
	a = stack[--depth];
	switch (op) {
	case '+': if (__builtin_add_overflow(a, b, &r)) return -1; break;
	case '-': if (__builtin_sub_overflow(a, b, &r)) return -1; break;
	case '*': if (__builtin_mul_overflow(a, b, &r)) return -1; break;
	default:
		if (b == 0 || (a == INT64_MIN && b == -1))
			return -1;
		r = a / b;
	}
	return push(r);
}

static int is_op(const char *t)
{
	return t[0] && !t[1] && strchr("+-*/", t[0]);
}

int main(void)
{
	static char line[MAXLINE];

	while (fgets(line, sizeof line, stdin)) {
		char *tok, *end;
		int bad = 0, any = 0;

		depth = 0;
		for (tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
			any = 1;
			if (is_op(tok)) {
				if (binop(tok[0]) < 0)
					bad = 1;
			} else {
				errno = 0;
				long long v = strtoll(tok, &end, 10);
				if (errno || *end || end == tok || push(v) < 0)
					bad = 1;
			}
			if (bad)
				break;
		}
		if (!any)
			continue;
		if (bad || depth != 1)
			puts("error");
		else
			printf("%lld\n", (long long)stack[0]);
	}
	free(stack);
	return 0;
}
