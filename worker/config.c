#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "extern.h"
#include "log.h"

/*
 * The config file is `key = value` lines; `#` starts a comment line.
 * Flags use the same keys (conf_set), applied after the file.
 */

enum ckind { C_STR, C_INT, C_BOOL, C_SIZE };

struct ckey {
	const char	*name;
	enum ckind	 kind;
	size_t		 off;
	size_t		 size;		/* C_STR: buffer size */
	int64_t		 min, max;	/* C_INT, C_SIZE */
};

#define S(f)	C_STR, offsetof(struct wconf, f), sizeof(((struct wconf *)0)->f), 0, 0
#define I(f, lo, hi)	C_INT, offsetof(struct wconf, f), 0, lo, hi
#define B(f)	C_BOOL, offsetof(struct wconf, f), 0, 0, 1

static const struct ckey ckeys[] = {
	{ "api_url",		S(api_url) },
	{ "ca_file",		S(ca_file) },
	{ "token_file",		S(token_file) },
	{ "worker_id",		S(worker_id) },
	{ "hostname",		S(hostname) },
	{ "slots",		I(slots, 1, WORKER_SLOTS_MAX) },
	{ "podman",		S(podman) },
	{ "containers_conf",	S(containers_conf) },
	{ "storage_conf",	S(storage_conf) },
	{ "work_dir",		S(work_dir) },
	{ "log_cap",		C_SIZE, offsetof(struct wconf, log_cap), 0,
				LOG_CAP_MIN, LOG_CAP_MAX },
	{ "allow_network",	B(allow_network) },
	{ "allow_privileged",	B(allow_privileged) },
	{ "network_mode",	S(network_mode) },
	{ "pids_limit",		I(pids_limit, 16, 1000000) },
	{ "pull",		S(pull) },
	{ "connect_timeout",	I(connect_timeout, 1, 600) },
	{ "request_timeout",	I(request_timeout, 1, 3600) },
	{ "nudge",		B(nudge) },
	{ NULL,			0, 0, 0, 0, 0 }
};

void
conf_defaults(struct wconf *c)
{
	memset(c, 0, sizeof(*c));
	c->slots = 1;
	snprintf(c->podman, sizeof(c->podman), "/usr/bin/podman");
	snprintf(c->work_dir, sizeof(c->work_dir), "/var/lib/broadway-worker");
	c->log_cap = LOG_CAP_DEFAULT;
	snprintf(c->network_mode, sizeof(c->network_mode), "bridge");
	c->pids_limit = PIDS_LIMIT_DEFAULT;
	snprintf(c->pull, sizeof(c->pull), "missing");
	c->connect_timeout = 10;
	c->request_timeout = 120;
	c->nudge = 1;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };
	size_t	 i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	return -1;
}

int
conf_set(struct wconf *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct ckey	*k;
	char			*base = (char *)c;
	int64_t			 n;
	int			 b;

	for (k = ckeys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL) {
		snprintf(err, errlen, "unknown setting \"%s\"", key);
		return -1;
	}
	switch (k->kind) {
	case C_STR:
		if (copy_str(base + k->off, k->size, value) == -1) {
			snprintf(err, errlen, "%s: value too long", key);
			return -1;
		}
		return 0;
	case C_INT:
		if (parse_int64(value, k->min, k->max, &n) == -1) {
			snprintf(err, errlen, "%s: want an integer in %lld..%lld",
			    key, (long long)k->min, (long long)k->max);
			return -1;
		}
		*(int *)(void *)(base + k->off) = (int)n;
		return 0;
	case C_BOOL:
		if (parse_bool(value, &b) == -1) {
			snprintf(err, errlen, "%s: want yes or no", key);
			return -1;
		}
		*(int *)(void *)(base + k->off) = b;
		return 0;
	case C_SIZE:
		n = memory_parse(value);
		if (n < k->min || n > k->max) {
			snprintf(err, errlen, "%s: want a size in %lld..%lld"
			    " bytes (e.g. 1m)", key, (long long)k->min,
			    (long long)k->max);
			return -1;
		}
		*(size_t *)(void *)(base + k->off) = (size_t)n;
		return 0;
	}
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
conf_load(struct wconf *c, const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	 line[2048], sub[256], *p, *eq, *key, *val;
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: want key = value", path,
			    lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		if (conf_set(c, key, val, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
read_token(struct wconf *c, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*f;
	char		 line[TOKEN_MAX + 2], *t;
	int		 rc = -1;

	if ((f = fopen(c->token_file, "r")) == NULL) {
		snprintf(err, errlen, "token_file %s: %s", c->token_file,
		    strerror(errno));
		return -1;
	}
	/* Anyone who can read the token can claim jobs and post results. */
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		log_warnx("token_file %s is open to group or others (mode"
		    " %04o): anyone who reads it can act as a worker; chmod 600"
		    " %s", c->token_file, (unsigned)(st.st_mode & 07777),
		    c->token_file);
	if (fgets(line, sizeof(line), f) == NULL) {
		snprintf(err, errlen, "token_file %s is empty", c->token_file);
		goto out;
	}
	t = trim(line);
	if (*t == '\0' || copy_str(c->token, sizeof(c->token), t) == -1 ||
	    strpbrk(t, " \t\r\n") != NULL) {
		snprintf(err, errlen, "token_file %s: bad token", c->token_file);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return rc;
}

/* Check the whole config; fill the worker id and hostname if unset. */
int
conf_finish(struct wconf *c, int need_api, char *err, size_t errlen)
{
	char	 host[256];
	size_t	 n;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (c->hostname[0] == '\0')
		copy_str(c->hostname, sizeof(c->hostname), host);
	if (c->worker_id[0] == '\0')
		copy_str(c->worker_id, sizeof(c->worker_id), host);
	if (!id_valid(c->worker_id)) {
		snprintf(err, errlen, "worker_id must be [A-Za-z0-9_.-]{1,128}");
		return -1;
	}
	if (c->podman[0] != '/' || c->work_dir[0] != '/' ||
	    (c->containers_conf[0] != '\0' && c->containers_conf[0] != '/') ||
	    (c->storage_conf[0] != '\0' && c->storage_conf[0] != '/') ||
	    (c->ca_file[0] != '\0' && c->ca_file[0] != '/')) {
		snprintf(err, errlen, "podman, work_dir, containers_conf,"
		    " storage_conf and ca_file must be absolute paths");
		return -1;
	}
	/* The scratch directory goes into podman's --mount=type=bind,src=... */
	if (strpbrk(c->work_dir, ",\"'\n") != NULL) {
		snprintf(err, errlen, "work_dir must not contain commas, quotes"
		    " or newlines");
		return -1;
	}
	if (access(c->podman, X_OK) == -1) {
		snprintf(err, errlen, "podman %s: %s", c->podman,
		    strerror(errno));
		return -1;
	}
	if (strcmp(c->network_mode, "bridge") != 0 &&
	    strcmp(c->network_mode, "slirp4netns") != 0 &&
	    strcmp(c->network_mode, "host") != 0) {
		snprintf(err, errlen, "network_mode must be bridge, slirp4netns"
		    " or host");
		return -1;
	}
	if (strcmp(c->pull, "never") != 0 && strcmp(c->pull, "missing") != 0 &&
	    strcmp(c->pull, "always") != 0 && strcmp(c->pull, "newer") != 0) {
		snprintf(err, errlen, "pull must be never, missing, always or"
		    " newer");
		return -1;
	}
	/* A trailing slash would double in every request path. */
	n = strlen(c->api_url);
	while (n > 0 && c->api_url[n - 1] == '/')
		c->api_url[--n] = '\0';
	if (!need_api)
		return 0;
	/* The token goes with every request: never in clear. */
	if (strncasecmp(c->api_url, "http://", 7) == 0) {
		snprintf(err, errlen, "api_url %s: the API is HTTPS only (the"
		    " cluster token must not cross the network in clear): use"
		    " https://%s", c->api_url, c->api_url + 7);
		return -1;
	}
	if (strncasecmp(c->api_url, "https://", 8) != 0) {
		snprintf(err, errlen, "api_url must be an https URL such as"
		    " https://grader.example.edu/api/v1");
		return -1;
	}
	if (c->token_file[0] == '\0') {
		snprintf(err, errlen, "token_file is required");
		return -1;
	}
	return read_token(c, err, errlen);
}
