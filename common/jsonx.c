#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "envname.h"
#include "jsonx.h"

/* Length of the well-formed UTF-8 sequence at p, 0 if there is none
 * (p is NUL-terminated, so the checks stop at its end). */
static size_t
utf8_seq(const unsigned char *p)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 need, k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	need = p[0] < 0xe0 ? 1 : p[0] < 0xf0 ? 2 : 3;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/*
 * jansson's error text quotes the raw bytes near the error, which can be
 * a cut or invalid UTF-8 sequence; the message is answered as a JSON
 * string, which must be UTF-8 or the answer loses it.  Bytes that start
 * no well-formed sequence become '?'.
 */
static void
err_clean(char *err)
{
	unsigned char	*p = (unsigned char *)err;
	size_t		 n;

	while (*p != '\0') {
		if ((n = utf8_seq(p)) == 0)
			*p++ = '?';
		else
			p += n;
	}
}

json_t *
jsonx_parse_object(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t	 je;
	json_t		*j;

	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
		err_clean(err);
		return NULL;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the body must be a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

int
jsonx_keys_allowed(const json_t *obj, const char *const *allowed,
    const char *where, char *err, size_t errlen)
{
	const char	*key;
	json_t		*v;
	size_t		 i;
	char		 q[ENV_QUOTE_SIZE];

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			/* Quoted: a cut UTF-8 sequence would make the
			 * message unsendable as JSON. */
			env_name_quote(key, strlen(key), q, sizeof(q));
			snprintf(err, errlen, "unknown key \"%s\" in %s", q,
			    where);
			return -1;
		}
	}
	return 0;
}

int
jsonx_env_valid(const json_t *env, const char *where, char *err, size_t errlen)
{
	const char	*name;
	json_t		*v;
	char		 q[ENV_QUOTE_SIZE];

	if (!json_is_object(env)) {
		snprintf(err, errlen, "%s must be an object of strings", where);
		return -1;
	}
	if (json_object_size(env) > ENV_MAX_NAMES) {
		snprintf(err, errlen, "%s has more than %d variables", where,
		    ENV_MAX_NAMES);
		return -1;
	}
	json_object_foreach((json_t *)env, name, v) {
		size_t nlen = strlen(name);
		if (nlen == 0 || nlen > ENV_NAME_MAX ||
		    strchr(name, '=') != NULL) {
			env_name_quote(name, nlen, q, sizeof(q));
			snprintf(err, errlen, "%s: invalid variable name \"%s\""
			    " (1..%d bytes, no '=')", where, q, ENV_NAME_MAX);
			return -1;
		}
		/* jansson keeps embedded NULs in keys; strlen stops there. */
		if (!json_is_string(v)) {
			env_name_quote(name, nlen, q, sizeof(q));
			snprintf(err, errlen, "%s: value of \"%s\" must be a string",
			    where, q);
			return -1;
		}
		if (json_string_length(v) > ENV_VALUE_MAX ||
		    memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
			env_name_quote(name, nlen, q, sizeof(q));
			snprintf(err, errlen, "%s: value of \"%s\" is longer than"
			    " %d bytes or contains NUL", where, q, ENV_VALUE_MAX);
			return -1;
		}
	}
	return 0;
}

char *
jsonx_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}
