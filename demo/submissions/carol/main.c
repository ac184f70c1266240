/*
 * Carol Osei -- MP1: an RPN calculator over 64-bit integers.
 * stack.c holds the stack; this file tokenises and evaluates.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

static const char seps[] = " \t\r\n";

static int
op(struct stack *s, char c)
{
	int64_t	 a, b, r;
	int	 bad = 0;

	if (stack_pop2(s, &a, &b) == -1)
		return -1;
	switch (c) {
	case '+': bad = __builtin_add_overflow(a, b, &r); break;
	case '-': bad = __builtin_sub_overflow(a, b, &r); break;
	case '*': bad = __builtin_mul_overflow(a, b, &r); break;
	case '/':
		bad = b == 0 || (a == INT64_MIN && b == -1);
		if (!bad)
			r = a / b;
		break;
	}
	return bad ? -1 : stack_push(s, r);
}

static int
eval(struct stack *s, char *line, int64_t *res)
{
	char	*save, *t, *end;
	intmax_t v;

	stack_reset(s);
	for (t = strtok_r(line, seps, &save); t; t = strtok_r(NULL, seps, &save)) {
		if (t[1] == '\0' && strchr("+-*/", t[0])) {
			if (op(s, t[0]) == -1)
				return -1;
			continue;
		}
		errno = 0;
		v = strtoimax(t, &end, 10);
		if (errno || *end || v < INT64_MIN || v > INT64_MAX ||
		    stack_push(s, (int64_t)v) == -1)
			return -1;
	}
	if (s->n != 1)
		return -1;
	*res = s->v[0];
	return 0;
}

int
main(void)
{
	struct stack	 s = { 0 };
	char		*line = NULL;
	size_t		 sz = 0;
	int64_t		 r;

	while (getline(&line, &sz, stdin) > 0) {
		if (line[strspn(line, seps)] == '\0')
			continue;
		if (eval(&s, line, &r) == 0)
			printf("%" PRId64 "\n", r);
		else
			puts("error");
	}
	free(line);
	stack_free(&s);
	return 0;
}
