#ifndef BW_BUF_H
#define BW_BUF_H

#include <stddef.h>

/*
 * A growing byte buffer with a hard cap: appends past `max` fail and
 * leave the buffer as it was.  The data is always NUL-terminated.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 buf_init(struct buf *, size_t max);
int	 buf_append(struct buf *, const void *, size_t);	/* 0 or -1 */
int	 buf_puts(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *);
char	*buf_detach(struct buf *);	/* caller frees; buffer emptied */
void	 buf_free(struct buf *);

#endif
