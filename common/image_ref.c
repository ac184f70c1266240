/*
 * The image reference grammar: the OCI distribution reference grammar,
 * narrowed to what needs no guessing.
 *
 *   reference := name [ ":" tag ] [ "@sha256:" 64 lowercase hex ]
 *   name      := [ domain "/" ] component ( "/" component )*  (<= 255 bytes)
 *   domain    := host [ ":" port ]  -- the first part of a name with a '/',
 *                when it holds a '.' or a ':' or is "localhost"
 *   host      := label ( "." label )*, label := [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?
 *   port      := 1..65535
 *   component := [a-z0-9]+ ( sep [a-z0-9]+ )*, sep := "." | "_" | "__" | "-"+
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * plus one rule the grammar alone misses: podman reads the text before
 * the first ':' as a transport name, so "dir:foo" (a valid name:tag) and
 * "dir:5000/x" (a valid host:port/path) would open ./foo and ./5000/x on
 * the worker.  Such prefixes are refused.  No IPv6 literal hosts.
 */
#include <stdio.h>
#include <string.h>

#include "image_ref.h"
#include "stage.h"

#define DIGEST_PREFIX	"sha256:"
#define DIGEST_HEX	64

/* The transports of containers/image that podman 4 knows. */
static const char *const transports[] = {
	"containers-storage", "dir", "docker", "docker-archive",
	"docker-daemon", "oci", "oci-archive", "ostree", "sif", "tarball",
	NULL
};

#define FAIL(...) do {							\
	if (err != NULL)						\
		snprintf(err, errlen, __VA_ARGS__);			\
	return -1;							\
} while (0)

static int
lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int
alnum(char ch)
{
	return lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/* A path component, s[0..n). */
static int
component_ok(const char *s, size_t n)
{
	size_t	 i = 0, run;

	for (;;) {
		for (run = 0; i < n && lower_alnum(s[i]); i++)
			run++;
		if (run == 0)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return 0;
	}
}

/* host[:port], s[0..n). */
static int
domain_ok(const char *s, size_t n)
{
	const char	*colon = memchr(s, ':', n);
	size_t		 hn = colon ? (size_t)(colon - s) : n, i, label = 0;
	long		 port = 0;

	if (hn == 0)
		return 0;
	for (i = 0; i < hn; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (alnum(s[i]) || (s[i] == '-' && label > 0))
			label++;
		else
			return 0;
	}
	if (label == 0 || s[hn - 1] == '-')
		return 0;
	if (colon == NULL)
		return 1;
	if (n - hn - 1 == 0 || n - hn - 1 > 5)
		return 0;
	for (i = hn + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

static int
tag_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > IMAGE_TAG_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

static int
digest_ok(const char *s)
{
	size_t	 i, pn = strlen(DIGEST_PREFIX);

	if (strncmp(s, DIGEST_PREFIX, pn) != 0 || strlen(s) != pn + DIGEST_HEX)
		return 0;
	for (i = pn; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
transport_named(const char *ref)
{
	const char	*colon = strchr(ref, ':');
	size_t		 n, i;

	if (colon == NULL)
		return 0;
	n = (size_t)(colon - ref);
	for (i = 0; transports[i] != NULL; i++)
		if (strlen(transports[i]) == n && strncmp(ref, transports[i], n) == 0)
			return 1;
	return 0;
}

int
image_ref_valid(const char *ref, char *err, size_t errlen)
{
	const char	*at, *slash, *colon, *p, *end;
	size_t		 len, nlen;

	len = ref != NULL ? strlen(ref) : 0;
	if (len == 0 || len > STAGE_IMAGE_MAX)
		FAIL("must be 1..%d bytes", STAGE_IMAGE_MAX);
	if (transport_named(ref))
		FAIL("names a podman transport (\"%.*s:\"), which would read"
		    " files on the worker; give a registry or local image"
		    " such as \"localhost/name:tag\"",
		    (int)(strchr(ref, ':') - ref), ref);
	if ((at = strchr(ref, '@')) != NULL && !digest_ok(at + 1))
		FAIL("a digest must be \"@sha256:\" and %d lowercase hex"
		    " digits", DIGEST_HEX);
	end = at != NULL ? at : ref + len;
	/* The tag is after the last ':' that follows the last '/'. */
	slash = NULL;
	for (p = ref; p < end; p++)
		if (*p == '/')
			slash = p;
	colon = memchr(slash ? slash : ref, ':', (size_t)(end - (slash ? slash : ref)));
	if (colon != NULL && !tag_ok(colon + 1, (size_t)(end - colon - 1)))
		FAIL("the tag must be 1..%d characters of [A-Za-z0-9_.-],"
		    " not starting with '.' or '-'", IMAGE_TAG_MAX);
	nlen = (size_t)((colon ? colon : end) - ref);
	if (nlen == 0 || nlen > IMAGE_NAME_MAX)
		FAIL("the name before the tag must be 1..%d bytes",
		    IMAGE_NAME_MAX);
	p = ref;
	end = ref + nlen;
	slash = memchr(p, '/', nlen);
	if (slash != NULL && (memchr(p, '.', (size_t)(slash - p)) != NULL ||
	    memchr(p, ':', (size_t)(slash - p)) != NULL ||
	    (slash - p == 9 && strncmp(p, "localhost", 9) == 0))) {
		if (!domain_ok(p, (size_t)(slash - p)))
			FAIL("the registry \"%.*s\" must be a host name"
			    " (letters, digits, '-', '.') with an optional"
			    " :port", (int)(slash - p) > 64 ? 64 :
			    (int)(slash - p), p);
		p = slash + 1;
	}
	for (;;) {
		slash = memchr(p, '/', (size_t)(end - p));
		if (!component_ok(p, (size_t)((slash ? slash : end) - p)))
			FAIL("each part of the path must be lowercase letters"
			    " and digits, separated by '.', '_', '__' or '-'"
			    " (no leading '-' or '.', no empty parts)");
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return 0;
}
