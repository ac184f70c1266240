#ifndef BW_UTIL_H
#define BW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ID_MAX		128	/* ids in paths: [A-Za-z0-9_.-]{1,128} */
#define PUBLIC_ID_LEN	24	/* run and job ids: 24 lowercase hex */

int	 id_valid(const char *);			/* 1 valid, 0 not */
int	 parse_int64(const char *, int64_t min, int64_t max, int64_t *out);	/* 0 or -1 */
int	 random_bytes(void *, size_t);			/* 0 or -1 */
int	 random_hex(char *out, size_t nbytes);	/* 2*nbytes hex + NUL; 0 or -1 */
int	 public_id_new(char out[PUBLIC_ID_LEN + 1]);	/* 0 or -1 */
/* An integer setting from the environment; fatal if malformed. */
int64_t	 env_int64(const char *name, int64_t dflt, int64_t min, int64_t max);
int64_t	 mono_ms(void);
int64_t	 mono_us(void);
int	 copy_str(char *dst, size_t size, const char *src);	/* 0, or -1 if truncated */

#endif
