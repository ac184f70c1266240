#ifndef BW_ENVNAME_H
#define BW_ENVNAME_H

#include <stddef.h>
#include <jansson.h>

/*
 * Env variable names the API accepts: 1..ENV_NAME_MAX bytes of
 * [A-Za-z_][A-Za-z0-9_]*, the names a shell can read.  Everything else
 * (a '\n', '\r', '#', '=', '*', blank, NUL or non-ASCII byte) is lost or
 * misread on some path to the container: podman's env file is line
 * based and skips '#' lines, `-e NAME*` is a prefix match on podman's own
 * environment, and busybox and POSIX shells hide non-identifiers.
 */
int	 env_name_valid(const char *name, size_t len);	/* 1 valid, 0 not */

/* Every name of an env object (already jsonx_env_valid); 0, or -1 with
 * err naming the variable. */
int	 env_names_valid(const json_t *env, const char *where, char *err,
	    size_t errlen);

/* A name made printable for a message: bytes outside ' '..'~' (and '"'
 * and '\\') as \xNN, the first 32 bytes only, then "...".  ASCII, so
 * it can be cut anywhere; ENV_QUOTE_SIZE holds the longest. */
#define ENV_QUOTE_SIZE	(4 * 32 + 4)
void	 env_name_quote(const char *name, size_t len, char *out, size_t outlen);

#endif
