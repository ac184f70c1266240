/* Unit tests for the worker's pure parts: capture (cap, head/tail,
 * UTF-8), podman argv and env split, config parsing. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/extern.h"
#include "jsonx.h"

static int	 passed, failed;

#define T_CHECK(cond) do {						\
	if (cond)							\
		passed++;						\
	else {								\
		failed++;						\
		fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); \
	}								\
} while (0)

static char *
cap_str(size_t cap, const char *in, size_t n)
{
	struct capture	 c;
	char		*s;

	capture_init(&c, cap);
	capture_write(&c, in, n);
	s = capture_finish(&c, NULL);
	capture_free(&c);
	return s;
}

static void
t_utf8(void)
{
	char	*s;

	s = cap_str(4096, "plain\n", 6);
	T_CHECK(strcmp(s, "plain\n") == 0);
	free(s);
	/* invalid bytes, overlong, surrogate, NUL, cut sequence at end */
	s = cap_str(4096, "a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\0e\xe2\x82", 14);
	T_CHECK(strcmp(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
	    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "d\xef\xbf\xbd" "e\xef\xbf\xbd\n") == 0);
	free(s);
	s = cap_str(4096, "\xe2\x82\xac \xf0\x9f\x98\x80\n", 9);
	T_CHECK(strcmp(s, "\xe2\x82\xac \xf0\x9f\x98\x80\n") == 0);
	free(s);
}

static void
t_split_writes(void)
{
	struct capture	 c;
	const char	*euro = "\xe2\x82\xac";
	char		*s;
	int		 i;

	capture_init(&c, 4096);
	for (i = 0; i < 3; i++)
		capture_write(&c, euro + i, 1);	/* one byte per read */
	capture_stage_end(&c);
	capture_write(&c, "x", 1);
	s = capture_finish(&c, NULL);
	T_CHECK(strcmp(s, "\xe2\x82\xac\nx\n") == 0);
	free(s);
	capture_free(&c);
}

static void
t_truncate(void)
{
	struct capture	 c;
	char		*big, *s, *m;
	size_t		 n = 100000, len;
	unsigned long long cut;

	big = malloc(n);
	memset(big, 'x', n);
	memcpy(big, "HEAD", 4);
	memcpy(big + n - 4, "TAIL", 4);
	capture_init(&c, 1024);
	capture_write(&c, big, n);
	s = capture_finish(&c, &len);
	T_CHECK(len <= 1024);
	T_CHECK(strncmp(s, "HEAD", 4) == 0);
	T_CHECK(len > 5 && strcmp(s + len - 5, "TAIL\n") == 0);
	m = strstr(s, "\n[... ");
	T_CHECK(m != NULL && sscanf(m, "\n[... %llu bytes", &cut) == 1);
	/* Bytes kept (without the marker) + bytes cut = all bytes + the
	 * final newline capture_finish adds. */
	T_CHECK(m != NULL && strstr(m, "]\n") != NULL &&
	    len - (size_t)(strstr(m, "]\n") + 2 - m) + cut == n + 1);
	free(s);
	capture_free(&c);
	/* Multibyte characters are never cut by the head or tail. */
	for (len = 0; len + 3 <= n; len += 3)
		memcpy(big + len, "\xe2\x82\xac", 3);
	capture_init(&c, 1000);
	capture_write(&c, big, len);
	s = capture_finish(&c, NULL);
	m = strstr(s, "\n[...");
	T_CHECK(m != NULL && (m - s) % 3 == 0);
	T_CHECK(strstr(s, "\xef\xbf\xbd") == NULL);
	free(s);
	capture_free(&c);
	free(big);
}

static int
argv_has(const struct argv *av, const char *s)
{
	size_t	 i;

	for (i = 0; i < av->n; i++)
		if (strcmp(av->v[i], s) == 0)
			return (int)i;
	return -1;
}

static void
t_argv(void)
{
	struct wconf		 c;
	struct stage_opts	 o;
	struct stage_ctx	 x;
	struct argv		 av = { NULL, 0, 0 }, ea = { NULL, 0, 0 };
	struct buf		 file;
	json_t			*st;
	char			 err[200];

	conf_defaults(&c);
	snprintf(c.worker_id, sizeof(c.worker_id), "w1");
	st = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[s,s], s:b, s:b, s:s, s:s}",
	    "image", "-v", "env", "A", "x y", "B", "l1\nl2", "#C", "c",
	    "entrypoint", "/bin/sh", "a b", "networking", 1, "privileged", 1,
	    "memory", "64m", "cpuset_cpus", "0");
	T_CHECK(stage_opts_read(st, &o, err, sizeof(err)) == 0);
	memset(&x, 0, sizeof(x));
	x.conf = &c;
	x.opts = &o;
	x.name = "bw-w1-j-1-0";
	x.job_id = "j";
	x.scratch = "/w/jobs/j-1/job";
	x.dir = "/w/jobs/j-1/s0";
	buf_init(&file, 1 << 20);
	T_CHECK(podman_env_split(o.env, &file, &ea) == 0);
	T_CHECK(strcmp(file.data, "A=x y\n") == 0);
	T_CHECK(ea.n == 4 && argv_has(&ea, "B=l1\nl2") >= 0 &&
	    argv_has(&ea, "#C=c") >= 0);
	/* privileged refused by default */
	T_CHECK(podman_build_argv(&x, "/e", &ea, &av, err, sizeof(err)) == -1);
	T_CHECK(strstr(err, "privileged") != NULL);
	argv_free(&av);
	c.allow_privileged = 1;
	T_CHECK(podman_build_argv(&x, "/e", &ea, &av, err, sizeof(err)) == 0);
	T_CHECK(argv_has(&av, "--privileged") > 0);
	T_CHECK(argv_has(&av, "--network=none") > 0);	/* not allowed */
	T_CHECK(argv_has(&av, "--memory=67108864") > 0);
	T_CHECK(argv_has(&av, "--memory-swap=67108864") > 0);
	T_CHECK(argv_has(&av, "--cpuset-cpus=0") > 0);
	T_CHECK(argv_has(&av, "[\"/bin/sh\",\"a b\"]") > 0);
	T_CHECK(argv_has(&av, "--label=broadway.worker=w1") > 0);
	T_CHECK(av.n >= 2 && strcmp(av.v[av.n - 2], "--") == 0 &&
	    strcmp(av.v[av.n - 1], "-v") == 0);
	T_CHECK(av.v[av.n] == NULL);
	argv_free(&av);
	c.allow_network = 1;
	T_CHECK(podman_build_argv(&x, NULL, NULL, &av, err, sizeof(err)) == 0);
	T_CHECK(argv_has(&av, "--network=bridge") > 0);
	T_CHECK(argv_has(&av, "--env-file") == -1);
	argv_free(&av);
	argv_free(&ea);
	buf_free(&file);
	json_decref(st);
}

static void
t_conf(void)
{
	struct wconf	 c;
	char		 err[200];

	conf_defaults(&c);
	T_CHECK(c.slots == 1 && c.log_cap == 1024 * 1024 && !c.allow_network);
	T_CHECK(conf_set(&c, "slots", "4", err, sizeof(err)) == 0 && c.slots == 4);
	T_CHECK(conf_set(&c, "slots", "65", err, sizeof(err)) == -1);
	T_CHECK(conf_set(&c, "slots", "2x", err, sizeof(err)) == -1);
	T_CHECK(conf_set(&c, "log_cap", "256k", err, sizeof(err)) == 0 &&
	    c.log_cap == 256 * 1024);
	T_CHECK(conf_set(&c, "log_cap", "100m", err, sizeof(err)) == -1);
	T_CHECK(conf_set(&c, "allow_network", "yes", err, sizeof(err)) == 0 &&
	    c.allow_network == 1);
	T_CHECK(conf_set(&c, "allow_network", "maybe", err, sizeof(err)) == -1);
	T_CHECK(conf_set(&c, "nonsense", "1", err, sizeof(err)) == -1 &&
	    strstr(err, "nonsense") != NULL);
	T_CHECK(conf_set(&c, "worker_id", "bad id", err, sizeof(err)) == 0 &&
	    conf_finish(&c, 0, err, sizeof(err)) == -1);
}

int
main(void)
{
	t_utf8();
	t_split_writes();
	t_truncate();
	t_argv();
	t_conf();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
