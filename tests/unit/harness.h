#ifndef BW_HARNESS_H
#define BW_HARNESS_H

/*
 * A tiny test harness: T_CHECK counts passes and failures and prints
 * file:line and the expression of each failure; `return T_DONE();` at
 * the end of main prints the summary line every runner sums up,
 * "N passed, N failed", and gives the exit status.
 */

#include <stdio.h>
#include <string.h>

static int t_passed __attribute__((unused));
static int t_failed __attribute__((unused));

#define T_CHECK(cond) do {						\
	if (cond)							\
		t_passed++;						\
	else {								\
		t_failed++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
		fflush(stdout);						\
	}								\
} while (0)

/* Like T_CHECK, with a printf-style note (e.g. the value seen). */
#define T_CHECK_MSG(cond, ...) do {					\
	if (cond)							\
		t_passed++;						\
	else {								\
		t_failed++;						\
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		fflush(stdout);						\
	}								\
} while (0)

/* Two strings equal (NULL equals only NULL). */
#define T_CHECK_STR(a, b) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if ((t_a_ == NULL && t_b_ == NULL) || (t_a_ != NULL &&		\
	    t_b_ != NULL && strcmp(t_a_, t_b_) == 0))			\
		t_passed++;						\
	else {								\
		t_failed++;						\
		printf("FAIL %s:%d: %s == %s: \"%s\" != \"%s\"\n",	\
		    __FILE__, __LINE__, #a, #b, t_a_ ? t_a_ : "(null)",	\
		    t_b_ ? t_b_ : "(null)");				\
		fflush(stdout);						\
	}								\
} while (0)

#define T_DONE()							\
	(printf("%d passed, %d failed\n", t_passed, t_failed),		\
	    fflush(stdout), t_failed == 0 ? 0 : 1)

#endif
