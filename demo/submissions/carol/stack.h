#ifndef STACK_H
#define STACK_H

#include <stddef.h>
#include <stdint.h>

struct stack {
	int64_t	*v;
	size_t	 n, cap;
};

int	stack_push(struct stack *, int64_t);
int	stack_pop2(struct stack *, int64_t *, int64_t *);
void	stack_reset(struct stack *);
void	stack_free(struct stack *);

#endif
