#include <stdlib.h>

#include "stack.h"

int
stack_push(struct stack *s, int64_t x)
{
	if (s->n == s->cap) {
		size_t	 cap = s->cap ? s->cap * 2 : 32;
		int64_t	*v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

/* Pop b then a (a was pushed first). */
int
stack_pop2(struct stack *s, int64_t *a, int64_t *b)
{
	if (s->n < 2)
		return -1;
	*b = s->v[--s->n];
	*a = s->v[--s->n];
	return 0;
}

void
stack_reset(struct stack *s)
{
	s->n = 0;
}

void
stack_free(struct stack *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
