#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "envname.h"

#define QUOTE_MAX	32	/* bytes of a name shown; ENV_QUOTE_SIZE agrees */

static int
ident_char(char ch, int first)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    ch == '_' || (!first && ch >= '0' && ch <= '9');
}

int
env_name_valid(const char *name, size_t len)
{
	size_t	 i;

	if (len == 0 || len > ENV_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!ident_char(name[i], i == 0))
			return 0;
	return 1;
}

void
env_name_quote(const char *name, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 ch;

	if (outlen == 0)
		return;
	for (i = 0; i < len && i < QUOTE_MAX; i++) {
		ch = (unsigned char)name[i];
		if (ch >= ' ' && ch <= '~' && ch != '"' && ch != '\\') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (i < len && o + 3 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int
env_names_valid(const json_t *env, const char *where, char *err, size_t errlen)
{
	const char	*name;
	size_t		 len;
	json_t		*v;
	char		 q[ENV_QUOTE_SIZE];

	if (!json_is_object(env))
		return 0;
	/* The key length, not strlen: jansson keeps a "\u0000" in a key. */
	json_object_keylen_foreach((json_t *)env, name, len, v) {
		(void)v;
		if (env_name_valid(name, len))
			continue;
		env_name_quote(name, len, q, sizeof(q));
		snprintf(err, errlen, "%s: invalid variable name \"%s\": a name"
		    " is 1..%d characters of A-Z, a-z, 0-9 and '_', not"
		    " starting with a digit", where, q, ENV_NAME_MAX);
		return -1;
	}
	return 0;
}
