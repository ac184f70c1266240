#ifndef BW_JSONX_H
#define BW_JSONX_H

#include <stddef.h>
#include <jansson.h>

/* Parse a JSON object; duplicate keys are an error.  NULL with err set. */
json_t	*jsonx_parse_object(const char *, size_t, char *err, size_t errlen);

/*
 * Check that every key of obj is in the NULL-terminated list `allowed`.
 * On failure err names the first unknown key and what it was found in.
 */
int	 jsonx_keys_allowed(const json_t *obj, const char *const *allowed,
	    const char *where, char *err, size_t errlen);

/* Env object: names non-empty, <= 256 bytes, no '=' or NUL; string values
 * without NUL, <= 64 KiB; at most 1024 names.  0 or -1 with err. */
int	 jsonx_env_valid(const json_t *env, const char *where, char *err, size_t errlen);

/* Compact serialisation; caller frees.  NULL on allocation failure. */
char	*jsonx_dump(const json_t *);

#endif
