/*
 * What the API refuses so that the worker can carry every accepted job
 * (issue 10, points 4 and 6 and the env-name faults): the image grammar,
 * the env-name grammar, and a job's size and variable count as the
 * worker receives it, checked against the real layering (fcgi/env.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "env.h"
#include "envname.h"
#include "harness.h"
#include "image_ref.h"
#include "jobsize.h"
#include "jsonx.h"
#include "stage.h"
#include "states.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_image_ref(void)
{
	static const char *const good[] = {
		"a", "alpine", "busybox:latest", "localhost/bb:1",
		"docker.io/library/busybox:latest", "docker.io/library/busybox",
		"registry.example.com:5000/team/grader:v1.2_rc-3",
		"localhost:5000/x", "my-registry:5000/a/b", "Registry.Example.COM/a",
		"a/b/c/d", "a.b/c", "a_b", "a__b", "a-b", "a---b", "a.b.c",
		"ubuntu:22.04", "x:_tag", "x:TAG", "10.0.0.1:5000/x",
		"a@sha256:" HEX64, "localhost/bb:1@sha256:" HEX64,
		"foo:5000", "docker.io/library/docker:dind", NULL
	};
	static const char *const bad[] = {
		"", " ", "a b", " alpine", "alpine ", "a\tb", "a\nb",
		/* podman transports: host paths on the worker */
		"dir:/etc", "dir:foo", "dir:5000/x", "oci:foo", "oci:/tmp/x",
		"oci-archive:/etc/passwd", "oci-archive:x.tar",
		"docker-archive:/etc/passwd", "docker-archive:x.tar:tag",
		"containers-storage:foo", "containers-storage:[vfs@/r+/rr]x",
		"docker://busybox", "docker:latest", "docker-daemon:foo:1",
		"ostree:foo", "sif:foo", "tarball:foo",
		/* options and paths */
		"-v", "--rm", "-", "--privileged=true", "-alpine",
		"../x", "..", ".", "./x", "/x", "x/", "x//y", "a/../b", "a/./b",
		"a/.b", "a/b.", "a/-b", "a/b-", "a_", "_a", "a___b", "a.-b",
		/* case and charset */
		"Alpine", "library/Busybox", "localhost/BB:1", "a;rm", "a$b", "a|b",
		"a&b", "a`b`", "a'b", "a\"b", "a\\b", "a*", "a?", "a%2fb",
		"h\xc3\xa9llo",
		/* registry */
		"-x.com/a", "x-.com/a", "x..com/a", ".x.com/a", "x.com:/a",
		"x.com:0/a", "x.com:65536/a", "x.com:123456/a", "x.com:ab/a",
		"[::1]:5000/a", "x_y.com/a", "localhost/", "x.com/",
		/* tag and digest */
		"a:", "a:.x", "a:-x", "a:x:y", "a:x/y", "a@", "a@sha256:",
		"a@sha256:abc", "a@sha512:" HEX64, "a@sha256:" HEX64 "0",
		"a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"a@sha256:" HEX64 "@sha256:" HEX64, "a:1@", "@sha256:" HEX64,
		NULL
	};
	char	 err[256], name[600];
	size_t	 i;

	for (i = 0; good[i] != NULL; i++) {
		err[0] = '\0';
		T_CHECK_MSG(image_ref_valid(good[i], err, sizeof(err)) == 0,
		    "good image \"%s\" refused: %s", good[i], err);
	}
	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		T_CHECK_MSG(image_ref_valid(bad[i], err, sizeof(err)) == -1 &&
		    err[0] != '\0', "bad image \"%s\" accepted", bad[i]);
	}
	T_CHECK(image_ref_valid(NULL, NULL, 0) == -1);
	T_CHECK(image_ref_valid("dir:x", NULL, 0) == -1);
	T_CHECK(image_ref_valid("dir:x", err, sizeof(err)) == -1 &&
	    strstr(err, "transport") != NULL && strstr(err, "\"dir:\"") != NULL);

	/* Length bounds: the name 255, the tag 128. */
	memset(name, 'a', IMAGE_NAME_MAX);
	name[IMAGE_NAME_MAX] = '\0';
	T_CHECK(image_ref_valid(name, err, sizeof(err)) == 0);
	name[IMAGE_NAME_MAX] = 'a';
	name[IMAGE_NAME_MAX + 1] = '\0';
	T_CHECK(image_ref_valid(name, err, sizeof(err)) == -1);
	snprintf(name, sizeof(name), "a:");
	memset(name + 2, 't', IMAGE_TAG_MAX);
	name[2 + IMAGE_TAG_MAX] = '\0';
	T_CHECK(image_ref_valid(name, err, sizeof(err)) == 0);
	name[2 + IMAGE_TAG_MAX] = 't';
	name[3 + IMAGE_TAG_MAX] = '\0';
	T_CHECK(image_ref_valid(name, err, sizeof(err)) == -1);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	T_CHECK(image_ref_valid(name, err, sizeof(err)) == -1);
}

static void
test_env_name(void)
{
	static const char *const good[] = {
		"A", "a", "_", "_A1", "STUDENT_ID", "DUE_DATE", "x9", "GRADING_RUN_ID",
		NULL
	};
	static const char *const bad[] = {
		"A\n", "\nA", "A\rB", "#A", "A#", "A B", " A", "A ", "A=B", "=",
		"1A", "9", "A-B", "A.B", "A*", "*", "P*", "h\xc3\xa9", "A\tB",
		"-A", "A$", NULL
	};
	char	 err[512], big[ENV_NAME_MAX + 2], q[300];
	json_t	*o;
	size_t	 i;

	for (i = 0; good[i] != NULL; i++)
		T_CHECK_MSG(env_name_valid(good[i], strlen(good[i])) == 1,
		    "good name \"%s\" refused", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		T_CHECK_MSG(env_name_valid(bad[i], strlen(bad[i])) == 0,
		    "bad name \"%s\" accepted", bad[i]);
	T_CHECK(env_name_valid("", 0) == 0);
	T_CHECK(env_name_valid("A\0B", 3) == 0);
	memset(big, 'A', sizeof(big));
	T_CHECK(env_name_valid(big, ENV_NAME_MAX) == 1);
	T_CHECK(env_name_valid(big, ENV_NAME_MAX + 1) == 0);

	/* jansson's parser refuses "\u0000" in a key, but an object can hold
	 * one (json_object_setn): it must not pass as "A". */
	o = json_loads("{\"A\\u0000B\": \"1\"}", 0, NULL);
	T_CHECK(o == NULL);
	o = json_object();
	json_object_setn_new(o, "A\0B", 3, json_string("1"));
	T_CHECK(env_names_valid(o, "env", err, sizeof(err)) == -1);
	T_CHECK_MSG(strstr(err, "\"A\\x00B\"") != NULL, "%s", err);
	json_decref(o);
	o = json_pack("{s:s}", "X\nY", "1");
	T_CHECK(env_names_valid(o, "students_env[3]", err, sizeof(err)) == -1);
	T_CHECK_MSG(strstr(err, "students_env[3]") != NULL &&
	    strstr(err, "\"X\\x0aY\"") != NULL, "%s", err);
	json_decref(o);
	o = json_pack("{s:s, s:s}", "OK_1", "a b\nc", "_x", "");
	T_CHECK(env_names_valid(o, "env", err, sizeof(err)) == 0);
	json_decref(o);
	T_CHECK(env_names_valid(NULL, "env", err, sizeof(err)) == 0);

	env_name_quote("\xc3\xa9\"\\", 4, q, sizeof(q));
	T_CHECK_STR(q, "\\xc3\\xa9\\x22\\x5c");
	memset(big, 'B', sizeof(big));
	env_name_quote(big, sizeof(big), q, sizeof(q));
	T_CHECK(strlen(q) == 35 && strcmp(q + 32, "...") == 0);
	env_name_quote(big, sizeof(big), q, 5);
	T_CHECK(strlen(q) == 4);
}

/* The stages of a job as fcgi/env.c builds them, serialised. */
static size_t
real_size(const json_t *config, int kind, const json_t *run_env)
{
	json_t	*st;
	char	*s;
	size_t	 n;

	st = env_job_stages(config, kind, run_env, "0123456789abcdef01234567",
	    "89abcdef0123456789abcdef");
	s = st ? jsonx_dump(st) : NULL;
	n = s ? strlen(s) : 0;
	free(s);
	json_decref(st);
	return n;
}

static size_t
real_vars(const json_t *config, int kind, const json_t *run_env, size_t stage)
{
	json_t	*st;
	size_t	 n;

	st = env_job_stages(config, kind, run_env, "r", "j");
	n = json_object_size(json_object_get(json_array_get(st, stage), "env"));
	json_decref(st);
	return n;
}

static void
test_measure_matches_claim(void)
{
	static const char *const configs[] = {
		"{\"student_pipeline\": [{\"image\": \"a\"}]}",
		"{\"student_pipeline\": [{\"image\": \"a\", \"env\": {}}], \"env\": {}}",
		"{\"student_pipeline\": [{\"image\": \"a\", \"env\": {\"A\": \"s\","
		" \"GRADING_RUN_ID\": \"stage-run\", \"Q\": \"\\\"\\\\\\n\\t\\u0001\\u007f\"}},"
		" {\"image\": \"b\", \"timeout\": 2.5, \"entrypoint\": [\"/bin/sh\","
		" \"-c\", \"echo \\u00e9\\u2603\"], \"memory\": \"64m\"}],"
		" \"env\": {\"A\": \"global\", \"G\": \"\\u00e9\\u00e9\","
		" \"GRADING_JOB_ID\": \"g\", \"GRADING_RUN_ID\": \"g\"},"
		" \"pre_processing_pipeline\": [{\"image\": \"p\", \"env\": {\"P\": \"1\"}}],"
		" \"post_processing_pipeline\": null}",
		NULL
	};
	static const char *const runs[] = {
		"null", "{}", "{\"A\": \"run\"}", "{\"NEW\": \"\\u0002x\\\\y\"}",
		"{\"GRADING_JOB_ID\": \"spoof\", \"GRADING_RUN_ID\": \"longer-spoof\","
		" \"A\": \"\", \"G\": \"\\n\", \"Z\": \"\\u2603\"}",
		NULL
	};
	static const char *const keys[JOB_KIND__MAX] = {
		"pre_processing_pipeline", "student_pipeline",
		"post_processing_pipeline"
	};
	struct job_shape	 sh;
	struct job_measure	 m;
	json_t			*c, *r;
	size_t			 i, j, s;
	int			 k, rc;

	for (i = 0; configs[i] != NULL; i++) {
		c = json_loads(configs[i], 0, NULL);
		T_CHECK_MSG(c != NULL, "config %zu does not parse", i);
		for (k = 0; k < JOB_KIND__MAX; k++) {
			rc = job_shape_init(&sh, c, keys[k]);
			T_CHECK(rc == (env_pipeline(c, k) != NULL ? 1 : 0));
			if (rc != 1)
				continue;
			for (j = 0; runs[j] != NULL; j++) {
				r = json_loads(runs[j], JSON_DECODE_ANY, NULL);
				job_shape_measure(&sh, r, &m);
				T_CHECK_MSG(m.bytes == real_size(c, k, r),
				    "config %zu kind %d run %zu: measured %zu,"
				    " real %zu", i, k, j, m.bytes,
				    real_size(c, k, r));
				for (s = 0; s < sh.nstages; s++)
					T_CHECK_MSG(m.vars[s] == real_vars(c, k,
					    r, s), "config %zu kind %d run %zu"
					    " stage %zu: %zu vars, real %zu", i,
					    k, j, s, m.vars[s], real_vars(c, k, r, s));
				json_decref(r);
			}
			job_shape_free(&sh);
		}
		json_decref(c);
	}
	T_CHECK(json_str_len("", 0) == 2);
	T_CHECK(json_str_len("a\"\x01\xc3\xa9", 5) == 2 + 1 + 2 + 6 + 2);
}

/* An env object of n variables PREFIX0000.. of `len` bytes each. */
static json_t *
env_of(const char *prefix, size_t n, size_t len)
{
	json_t	*e = json_object();
	char	 name[64], *v = malloc(len + 1);
	size_t	 i;

	memset(v, 'x', len);
	v[len] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%04zu", prefix, i);
		json_object_set_new(e, name, json_string(v));
	}
	free(v);
	return e;
}

static json_t *
config_with(json_t *global, json_t *stage_env)
{
	json_t	*st = json_pack("{s:s}", "image", "localhost/bb:1");

	if (stage_env != NULL)
		json_object_set_new(st, "env", stage_env);
	return json_pack("{s:[o], s:o*}", "student_pipeline", st, "env", global);
}

static void
test_config_bounds(void)
{
	char	 err[512];
	json_t	*c;
	int	 rc;

	/* Issue 10: 70 x 60 000 bytes of global env, each layer legal. */
	c = config_with(env_of("V", 70, 60000), NULL);
	rc = config_valid(c, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "student_pipeline job") != NULL &&
	    strstr(err, "3145728") != NULL, "rc %d: %s", rc, err);
	json_decref(c);
	/* 50 x 60 000 fits. */
	c = config_with(env_of("V", 50, 60000), NULL);
	T_CHECK_MSG(config_valid(c, err, sizeof(err)) == 0, "%s", err);
	json_decref(c);
	/* The size of the whole job: two stages of 30 x 60 000 each. */
	c = json_pack("{s:[{s:s, s:o}, {s:s, s:o}]}", "student_pipeline",
	    "image", "a", "env", env_of("S", 30, 60000),
	    "image", "b", "env", env_of("T", 30, 60000));
	rc = config_valid(c, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "bytes") != NULL, "rc %d: %s", rc, err);
	json_decref(c);

	/* Variables: 600 global + 500 stage, each layer under 1024. */
	c = config_with(env_of("G", 600, 1), env_of("S", 500, 1));
	rc = config_valid(c, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "student_pipeline[0] would get 1102"
	    " variables") != NULL && strstr(err, "1024") != NULL, "rc %d: %s",
	    rc, err);
	json_decref(c);
	/* 1022 + the two injected is exactly the limit. */
	c = config_with(env_of("G", 600, 1), env_of("S", 422, 1));
	T_CHECK_MSG(config_valid(c, err, sizeof(err)) == 0, "%s", err);
	json_decref(c);
	/* Overlapping names count once. */
	c = config_with(env_of("G", 1000, 1), env_of("G", 1000, 2));
	T_CHECK_MSG(config_valid(c, err, sizeof(err)) == 0, "%s", err);
	json_decref(c);
	/* One more in a pre stage. */
	c = json_pack("{s:[{s:s}], s:[{s:s, s:o}], s:o}", "student_pipeline",
	    "image", "a", "pre_processing_pipeline", "image", "p", "env",
	    env_of("P", 23, 1), "env", env_of("G", 1000, 1));
	rc = config_valid(c, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "pre_processing_pipeline[0] would"
	    " get 1025") != NULL, "rc %d: %s", rc, err);
	json_decref(c);
}

static void
test_config_names_images(void)
{
	static const struct {
		const char	*json;
		const char	*msg;
	} bad[] = {
		{ "{\"student_pipeline\": [{\"image\": \"dir:/etc\"}]}",
		    "student_pipeline[0]: \"image\" names a podman transport" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}, {\"image\":"
		    " \"oci-archive:/etc/passwd\"}]}", "student_pipeline[1]" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}],"
		    " \"post_processing_pipeline\": [{\"image\": \"Upper\"}]}",
		    "post_processing_pipeline[0]: \"image\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}],"
		    " \"pre_processing_pipeline\": [{\"image\": \"--rm\"}]}",
		    "pre_processing_pipeline[0]: \"image\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}], \"env\": {\"#X\": \"1\"}}",
		    "env: invalid variable name \"#X\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\", \"env\": {\"A B\": \"1\"}}]}",
		    "student_pipeline[0].env: invalid variable name \"A B\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\", \"env\": {\"A\\nB\": \"1\"}}]}",
		    "\"A\\x0aB\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\", \"env\": {\"A\\r\": \"1\"}}]}",
		    "\"A\\x0d\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\", \"env\": {\"P*\": \"1\"}}]}",
		    "\"P*\"" },
	};
	char	 err[512];
	json_t	*c;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		c = json_loads(bad[i].json, 0, NULL);
		T_CHECK_MSG(c != NULL, "%s does not parse", bad[i].json);
		rc = config_valid(c, err, sizeof(err));
		T_CHECK_MSG(rc == -1 && strstr(err, bad[i].msg) != NULL,
		    "%s: rc %d, \"%s\" lacks \"%s\"", bad[i].json, rc, err,
		    bad[i].msg);
		json_decref(c);
	}
}

static void
test_run_envs(void)
{
	char	 err[512];
	json_t	*c, *students, *pre, *post;
	int	 rc;

	c = json_pack("{s:[{s:s, s:o}], s:[{s:s}], s:[{s:s}], s:o}",
	    "student_pipeline", "image", "a", "env", env_of("S", 500, 1),
	    "pre_processing_pipeline", "image", "p",
	    "post_processing_pipeline", "image", "q",
	    "env", env_of("G", 500, 1));
	T_CHECK_MSG(config_valid(c, err, sizeof(err)) == 0, "%s", err);
	students = json_pack("[{s:s}, {s:s}, o]", "STUDENT_ID", "a",
	    "STUDENT_ID", "b", env_of("X", 23, 1));
	rc = run_envs_valid(c, students, NULL, NULL, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "students_env[2]: student_pipeline[0]"
	    " would get 1025 variables") != NULL, "rc %d: %s", rc, err);
	json_array_remove(students, 2);
	T_CHECK_MSG(run_envs_valid(c, students, NULL, NULL, err, sizeof(err)) == 0,
	    "%s", err);
	/* A student's env that overrides costs only the difference. */
	json_array_append_new(students, env_of("S", 500, 5000));
	T_CHECK_MSG(run_envs_valid(c, students, NULL, NULL, err, sizeof(err)) == 0,
	    "%s", err);
	json_array_append_new(students, env_of("S", 500, 7000));
	rc = run_envs_valid(c, students, NULL, NULL, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "students_env[3]: a student_pipeline"
	    " job") != NULL && strstr(err, "more than the limit of 3145728") !=
	    NULL, "rc %d: %s", rc, err);
	json_array_remove(students, 3);

	pre = env_of("P", 60, 60000);
	post = json_pack("{s:s}", "A B", "1");
	rc = run_envs_valid(c, students, pre, NULL, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "pre_processing_env: a"
	    " pre_processing_pipeline job") != NULL, "rc %d: %s", rc, err);
	rc = run_envs_valid(c, students, NULL, post, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "post_processing_env: invalid"
	    " variable name \"A B\"") != NULL, "rc %d: %s", rc, err);
	json_decref(pre);
	json_decref(post);

	json_array_append_new(students, json_pack("{s:s}", "#C", "1"));
	rc = run_envs_valid(c, students, NULL, NULL, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "students_env[3]: invalid variable"
	    " name \"#C\"") != NULL, "rc %d: %s", rc, err);
	json_decref(students);
	json_decref(c);

	/* A config stored before these rules is checked again. */
	c = json_pack("{s:[{s:s}]}", "student_pipeline", "image", "dir:/etc");
	students = json_pack("[{}]");
	rc = run_envs_valid(c, students, NULL, NULL, err, sizeof(err));
	T_CHECK_MSG(rc == -1 && strstr(err, "no longer accepted") != NULL &&
	    strstr(err, "transport") != NULL, "rc %d: %s", rc, err);
	json_decref(students);
	json_decref(c);
}

int
main(void)
{
	test_image_ref();
	test_env_name();
	test_measure_matches_claim();
	test_config_bounds();
	test_config_names_images();
	test_run_envs();
	return T_DONE();
}
