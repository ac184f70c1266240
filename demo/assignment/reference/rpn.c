/*
 * rpn: the course's reference solution (never shown to students; it
 * travels only in the pre-processing job's env, which checks the test
 * suite against it before any student is graded).
 *
 * Each input line is an expression in reverse Polish notation: signed
 * 64-bit integers and the operators + - * / separated by blanks.  Print
 * its value, or "error" (division by zero, overflow, a bad token, too
 * few or too many operands).  Blank lines print nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
apply(char op, int64_t a, int64_t b, int64_t *r)
{
	switch (op) {
	case '+':
		return __builtin_add_overflow(a, b, r) ? -1 : 0;
	case '-':
		return __builtin_sub_overflow(a, b, r) ? -1 : 0;
	case '*':
		return __builtin_mul_overflow(a, b, r) ? -1 : 0;
	case '/':
		if (b == 0 || (a == INT64_MIN && b == -1))
			return -1;
		*r = a / b;
		return 0;
	}
	return -1;
}

/* 1 and *out set, or -1: an error. */
static int
eval(char *line, int64_t **stack, size_t *cap, int64_t *out)
{
	size_t		 n = 0;
	char		*tok, *save = NULL, *end;
	int64_t		 v;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (strlen(tok) == 1 && strchr("+-*/", tok[0]) != NULL) {
			if (n < 2 || apply(tok[0], (*stack)[n - 2],
			    (*stack)[n - 1], &v) == -1)
				return -1;
			(*stack)[n - 2] = v;
			n--;
			continue;
		}
		errno = 0;
		v = strtoll(tok, &end, 10);
		if (errno != 0 || *end != '\0' || end == tok)
			return -1;
		if (n == *cap) {
			size_t	 ncap = *cap ? *cap * 2 : 64;
			int64_t	*s = realloc(*stack, ncap * sizeof(*s));

			if (s == NULL)
				return -1;
			*stack = s;
			*cap = ncap;
		}
		(*stack)[n++] = v;
	}
	if (n != 1)
		return -1;
	*out = (*stack)[0];
	return 1;
}

int
main(void)
{
	char		*line = NULL;
	size_t		 linecap = 0, cap = 0;
	int64_t		*stack = NULL, v;
	int		 rc;

	while (getline(&line, &linecap, stdin) != -1) {
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		rc = eval(line, &stack, &cap, &v);
		if (rc == 1)
			printf("%lld\n", (long long)v);
		else if (rc == -1)
			puts("error");
	}
	free(line);
	free(stack);
	return 0;
}
