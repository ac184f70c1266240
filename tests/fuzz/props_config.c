/*
 * Properties of the upload and run-start parsers: the functions
 * fcgi/api/config.c and fcgi/api/run.c call (jsonx_parse_object,
 * config_valid, jsonx_env_valid, run_envs_valid, jsonx_dump) and the job
 * stages the API then builds for a worker (env_job_stages, read back by
 * the worker's stage_opts_read).  An accepted value must have the
 * documented shape (reference §3.2 and issue 10's rules, checked here
 * independently), survive a round trip through its stored text
 * unchanged, and give stages the worker accepts, of exactly the size
 * jobsize.c computed; a refused one must come with a message the API can
 * send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "check.h"
#include "env.h"
#include "envname.h"
#include "image_ref.h"
#include "jobsize.h"
#include "jsonx.h"
#include "stage.h"
#include "states.h"

#define ERR_LEN		256	/* the handlers' buffer */
/* Ids as long as real ones (PUBLIC_ID_LEN): job sizes count them. */
#define RUN_PID		"0123456789abcdef01234567"
#define JOB_PID		"fedcba9876543210fedcba98"

static const char *const kind_keys[JOB_KIND__MAX] = {
	"pre_processing_pipeline", "student_pipeline",
	"post_processing_pipeline"
};

/* What podman would read as a transport or an option (issue 10, 6). */
static const char *const image_bad_prefix[] = {
	"dir:", "oci:", "oci-archive:", "docker-archive:", "docker-daemon:",
	"docker://", "containers-storage:", "ostree:", "sif:", "tarball:",
	"-", NULL
};

static const char *const config_keys[] = {
	"student_pipeline", "pre_processing_pipeline",
	"post_processing_pipeline", "env", NULL
};
static const char *const stage_keys[] = {
	"image", "env", "entrypoint", "networking", "privileged", "hostname",
	"timeout", "memory", "cpuset_cpus", "logs", NULL
};

/* err is filled with 0xff first: a refusal that writes no message then
 * fails check_refusal's NUL test. */
#define ERR_INIT(e)	memset((e), 0xff, sizeof(e))

static int
in_list(const char *key, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

static int
string_of(const json_t *v, const char *set, size_t min, size_t max)
{
	const char	*s;
	size_t		 n;

	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	n = json_string_length(v);
	return n >= min && n <= max && strlen(s) == n && strspn(s, set) == n;
}

static void
env_shape(const json_t *env)
{
	const char	*name;
	json_t		*v;
	void		*it;

	FUZZ_ASSERT(json_is_object(env));
	FUZZ_ASSERT(json_object_size(env) <= ENV_MAX_NAMES);
	for (it = json_object_iter((json_t *)env); it != NULL;
	    it = json_object_iter_next((json_t *)env, it)) {
		name = json_object_iter_key(it);
		v = json_object_iter_value(it);
		FUZZ_ASSERT(json_object_iter_key_len(it) == strlen(name));
		FUZZ_ASSERT(strlen(name) >= 1 && strlen(name) <= ENV_NAME_MAX);
		FUZZ_ASSERT(strchr(name, '=') == NULL);
		FUZZ_ASSERT(json_is_string(v));
		FUZZ_ASSERT(json_string_length(v) <= ENV_VALUE_MAX);
		FUZZ_ASSERT(strlen(json_string_value(v)) == json_string_length(v));
	}
}

/* Names as the API accepts them in the end: [A-Za-z_][A-Za-z0-9_]*. */
static void
env_names_shape(const json_t *env)
{
	const char	*name;
	json_t		*v;
	size_t		 n;

	if (env == NULL || json_is_null(env))
		return;
	json_object_foreach((json_t *)env, name, v) {
		n = strlen(name);
		FUZZ_ASSERT(n >= 1 && n <= ENV_NAME_MAX);
		FUZZ_ASSERT(!(name[0] >= '0' && name[0] <= '9'));
		FUZZ_ASSERT(strspn(name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n);
	}
}

/* An image a config may carry: a registry or local-store name. */
static void
image_shape(const char *image)
{
	size_t	 i;

	for (i = 0; image_bad_prefix[i] != NULL; i++)
		FUZZ_ASSERT(strncmp(image, image_bad_prefix[i],
		    strlen(image_bad_prefix[i])) != 0);
	FUZZ_ASSERT(image_ref_valid(image, NULL, 0) == 0);
}

static void
stage_shape(const json_t *st)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char		 set[128];
	const char	*key;
	json_t		*v, *a;
	size_t		 i;
	struct stage_opts o;
	char		 err[ERR_LEN];

	FUZZ_ASSERT(json_is_object(st));
	json_object_foreach((json_t *)st, key, v)
		FUZZ_ASSERT(in_list(key, stage_keys));
	snprintf(set, sizeof(set), "%s._-/:@", alnum);
	FUZZ_ASSERT(string_of(json_object_get(st, "image"), set, 1,
	    STAGE_IMAGE_MAX));
	if ((v = json_object_get(st, "env")) != NULL)
		env_shape(v);
	if ((v = json_object_get(st, "entrypoint")) != NULL) {
		FUZZ_ASSERT(json_is_array(v));
		FUZZ_ASSERT(json_array_size(v) >= 1 && json_array_size(v) <= 256);
		json_array_foreach(v, i, a)
			FUZZ_ASSERT(json_is_string(a) &&
			    json_string_length(a) <= 4096);
	}
	if ((v = json_object_get(st, "networking")) != NULL)
		FUZZ_ASSERT(json_is_boolean(v));
	if ((v = json_object_get(st, "privileged")) != NULL)
		FUZZ_ASSERT(json_is_boolean(v));
	if ((v = json_object_get(st, "logs")) != NULL)
		FUZZ_ASSERT(json_is_boolean(v));
	snprintf(set, sizeof(set), "%s.-", alnum);
	if ((v = json_object_get(st, "hostname")) != NULL)
		FUZZ_ASSERT(string_of(v, set, 1, 63));
	if ((v = json_object_get(st, "timeout")) != NULL)
		FUZZ_ASSERT(json_is_number(v) && json_number_value(v) > 0 &&
		    json_number_value(v) <= STAGE_TIMEOUT_MAX);
	if ((v = json_object_get(st, "memory")) != NULL)
		FUZZ_ASSERT(json_is_string(v) &&
		    check_memory(json_string_value(v)) == 0 &&
		    memory_parse(json_string_value(v)) >= 6 * 1024 * 1024);
	if ((v = json_object_get(st, "cpuset_cpus")) != NULL)
		FUZZ_ASSERT(string_of(v, "0123456789,-", 1, 64));

	/* What the worker reads from it, defaults applied. */
	ERR_INIT(err);
	FUZZ_ASSERT(stage_opts_read(st, &o, err, sizeof(err)) == 0);
	FUZZ_ASSERT(o.image == json_string_value(json_object_get(st, "image")));
	FUZZ_ASSERT(o.timeout > 0 && o.timeout <= STAGE_TIMEOUT_MAX);
	FUZZ_ASSERT(o.memory != NULL && o.memory_bytes == memory_parse(o.memory));
	FUZZ_ASSERT(o.memory_bytes >= 6 * 1024 * 1024);
	FUZZ_ASSERT(o.hostname != NULL && o.hostname[0] != '\0');
	FUZZ_ASSERT(o.logs == !json_is_false(json_object_get(st, "logs")));
	FUZZ_ASSERT(o.networking == json_is_true(json_object_get(st, "networking")));
	FUZZ_ASSERT(o.privileged == json_is_true(json_object_get(st, "privileged")));
}

static void
pipeline_shape(const json_t *p)
{
	json_t	*st;
	size_t	 i;

	FUZZ_ASSERT(json_is_array(p));
	FUZZ_ASSERT(json_array_size(p) >= 1 &&
	    json_array_size(p) <= PIPELINE_MAX_STAGES);
	json_array_foreach(p, i, st)
		stage_shape(st);
}

static void
config_shape(const json_t *c)
{
	const char	*key;
	json_t		*v;

	const json_t	*p, *st;
	size_t		 i;
	int		 k;

	FUZZ_ASSERT(json_is_object(c));
	json_object_foreach((json_t *)c, key, v)
		FUZZ_ASSERT(in_list(key, config_keys));
	env_names_shape(json_object_get(c, "env"));
	for (k = 0; k < JOB_KIND__MAX; k++) {
		p = json_object_get(c, kind_keys[k]);
		json_array_foreach(p, i, st) {
			image_shape(json_string_value(json_object_get(st, "image")));
			env_names_shape(json_object_get(st, "env"));
		}
	}
	pipeline_shape(json_object_get(c, "student_pipeline"));
	v = json_object_get(c, "pre_processing_pipeline");
	if (v != NULL && !json_is_null(v))
		pipeline_shape(v);
	v = json_object_get(c, "post_processing_pipeline");
	if (v != NULL && !json_is_null(v))
		pipeline_shape(v);
	v = json_object_get(c, "env");
	if (v != NULL && !json_is_null(v))
		env_shape(v);
}

/* Stored as jsonx_dump's text, read back as config_load does: the same
 * value, the same text, and still valid.  Returns the reparsed value. */
static json_t *
roundtrip(const json_t *v)
{
	char	*text, *text2;
	json_t	*back, *loose;
	char	 err[ERR_LEN];

	FUZZ_ASSERT((text = jsonx_dump(v)) != NULL);
	FUZZ_ASSERT(utf8_valid((const unsigned char *)text, strlen(text)));
	ERR_INIT(err);
	back = jsonx_parse_object(text, strlen(text), err, sizeof(err));
	FUZZ_ASSERT(back != NULL);
	FUZZ_ASSERT(json_equal(back, (json_t *)v));
	loose = json_loadb(text, strlen(text), 0, NULL);
	FUZZ_ASSERT(loose != NULL && json_equal(loose, back));
	FUZZ_ASSERT((text2 = jsonx_dump(back)) != NULL);
	FUZZ_ASSERT(strcmp(text, text2) == 0);
	json_decref(loose);
	free(text);
	free(text2);
	return back;
}

/* The value env_layer must give `name`: run over stage over the run id
 * over global; the job id always. */
static const json_t *
layer_expect(const char *name, const json_t *global, const json_t *stage_env,
    const json_t *run_env, json_t *run_id)
{
	const json_t	*v;

	if (strcmp(name, "GRADING_JOB_ID") == 0)
		return NULL;
	if (json_is_object(run_env) && (v = json_object_get(run_env, name)))
		return v;
	if (json_is_object(stage_env) && (v = json_object_get(stage_env, name)))
		return v;
	if (strcmp(name, "GRADING_RUN_ID") == 0)
		return run_id;
	return json_is_object(global) ? json_object_get(global, name) : NULL;
}

static size_t
layer_union(const json_t *const layers[3], json_t *scratch)
{
	const char	*name;
	json_t		*v;
	int		 i;

	json_object_clear(scratch);
	json_object_set_new(scratch, "GRADING_RUN_ID", json_true());
	json_object_set_new(scratch, "GRADING_JOB_ID", json_true());
	for (i = 0; i < 3; i++)
		if (json_is_object(layers[i]))
			json_object_foreach((json_t *)layers[i], name, v)
				json_object_set_new(scratch, name, json_true());
	return json_object_size(scratch);
}

/* The stages a worker receives for a job of `kind`. */
static void
check_job_stages(const json_t *config, int kind, const json_t *run_env)
{
	const json_t	*pipe, *global, *st, *want, *layers[3];
	json_t		*out, *o, *env, *v, *job, *back, *run_id, *names;
	const char	*key;
	char		*text;
	size_t		 i;
	struct stage_opts opts;
	struct job_shape sh;
	struct job_measure jm;
	char		 err[ERR_LEN];

	pipe = env_pipeline(config, kind);
	out = env_job_stages(config, kind, run_env, RUN_PID, JOB_PID);
	if (pipe == NULL) {
		FUZZ_ASSERT(out == NULL);
		return;
	}
	FUZZ_ASSERT(out != NULL && json_array_size(out) == json_array_size(pipe));
	global = json_object_get(config, "env");
	run_id = json_string(RUN_PID);
	names = json_object();
	json_array_foreach(pipe, i, st) {
		o = json_array_get(out, i);
		FUZZ_ASSERT(o != st);
		/* Everything but env as configured. */
		json_object_foreach((json_t *)st, key, v)
			if (strcmp(key, "env") != 0)
				FUZZ_ASSERT(json_equal(json_object_get(o, key), v));
		json_object_foreach(o, key, v)
			FUZZ_ASSERT(strcmp(key, "env") == 0 ||
			    json_object_get(st, key) != NULL);
		env = json_object_get(o, "env");
		FUZZ_ASSERT(json_is_object(env));
		layers[0] = global;
		layers[1] = json_object_get(st, "env");
		layers[2] = run_env;
		FUZZ_ASSERT(json_object_size(env) == layer_union(layers, names));
		json_object_foreach(env, key, v) {
			want = layer_expect(key, global, layers[1], run_env, run_id);
			if (strcmp(key, "GRADING_JOB_ID") == 0)
				FUZZ_ASSERT(json_is_string(v) &&
				    strcmp(json_string_value(v), JOB_PID) == 0);
			else
				FUZZ_ASSERT(want != NULL && json_equal(v, want));
		}
		/* Whatever the API accepted, the worker runs. */
		ERR_INIT(err);
		FUZZ_ASSERT(json_object_size(env) <= ENV_MAX_NAMES);
		FUZZ_ASSERT(stage_opts_read(o, &opts, err, sizeof(err)) == 0);
	}
	/* jobsize.c's arithmetic is the size of the real thing, to the byte. */
	FUZZ_ASSERT(job_shape_init(&sh, config, kind_keys[kind]) == 1);
	job_shape_measure(&sh, run_env, &jm);
	FUZZ_ASSERT((text = jsonx_dump(out)) != NULL);
	FUZZ_ASSERT(jm.bytes == strlen(text));
	FUZZ_ASSERT(jm.bytes <= JOB_STAGES_MAX);
	for (i = 0; i < json_array_size(out); i++)
		FUZZ_ASSERT(jm.vars[i] == json_object_size(json_object_get(
		    json_array_get(out, i), "env")));
	free(text);
	job_shape_free(&sh);
	/* The claim answer parses back, on the worker, to the same stages. */
	job = json_pack("{s:O}", "stages", out);
	FUZZ_ASSERT(job != NULL);
	back = roundtrip(job);
	json_decref(back);
	json_decref(job);
	json_decref(names);
	json_decref(run_id);
	json_decref(out);
}

int
check_memory(const char *s)
{
	int64_t		 v = memory_parse(s), want = 0, mult = 1;
	size_t		 n = strlen(s), digits;

	digits = strspn(s, "0123456789");
	if (v == -1)
		return -1;
	/* Accepted: 1..12 digits and at most one unit letter. */
	FUZZ_ASSERT(digits >= 1 && digits <= 12);
	FUZZ_ASSERT(n == digits || (n == digits + 1 &&
	    strchr("bBkKmMgG", s[digits]) != NULL));
	if (n > digits)
		mult = strchr("bB", s[digits]) ? 1 : strchr("kK", s[digits]) ?
		    1024 : strchr("mM", s[digits]) ? 1024 * 1024 :
		    1024 * 1024 * 1024;
	for (size_t i = 0; i < digits; i++)
		want = want * 10 + (s[i] - '0');
	FUZZ_ASSERT(want <= INT64_MAX / mult && v == want * mult);
	return 0;
}

int
check_env_value(const json_t *env)
{
	char	 err[ERR_LEN];
	json_t	*back;
	int	 rc;

	ERR_INIT(err);
	rc = jsonx_env_valid(env, "env", err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	/* The API checks names next, wherever an env comes from. */
	if (rc == 0) {
		ERR_INIT(err);
		rc = env_names_valid(env, "env", err, sizeof(err));
		FUZZ_ASSERT(rc == 0 || rc == -1);
	}
	if (rc == -1) {
		check_refusal(err, sizeof(err));
		return -1;
	}
	env_shape(env);
	env_names_shape(env);
	back = roundtrip(env);
	FUZZ_ASSERT(jsonx_env_valid(back, "env", err, sizeof(err)) == 0);
	json_decref(back);
	return 0;
}

int
check_stage_value(const json_t *st)
{
	char		 err[ERR_LEN];
	struct stage_opts o;
	int		 rc;

	ERR_INIT(err);
	rc = stage_valid(st, "stage", err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == -1) {
		check_refusal(err, sizeof(err));
		/* The worker refuses the same stage. */
		ERR_INIT(err);
		FUZZ_ASSERT(stage_opts_read(st, &o, err, sizeof(err)) == -1);
		check_refusal(err, sizeof(err));
		return -1;
	}
	stage_shape(st);
	return 0;
}

int
check_config_value(const json_t *c)
{
	char	 err[ERR_LEN], err2[ERR_LEN];
	json_t	*back;
	int	 rc, kind;

	ERR_INIT(err);
	rc = config_valid(c, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == -1) {
		check_refusal(err, sizeof(err));
		/* The same message every time: no state, no randomness. */
		ERR_INIT(err2);
		FUZZ_ASSERT(config_valid(c, err2, sizeof(err2)) == -1);
		FUZZ_ASSERT(strcmp(err, err2) == 0);
		return -1;
	}
	config_shape(c);
	back = roundtrip(c);
	ERR_INIT(err);
	FUZZ_ASSERT(config_valid(back, err, sizeof(err)) == 0);
	json_decref(back);
	for (kind = 0; kind < JOB_KIND__MAX; kind++)
		check_job_stages(c, kind, NULL);
	return 0;
}

/* A run-start body as run.c takes it: each env object checked alone,
 * then run_envs_valid over the whole run; when accepted, every job's
 * stages as the worker gets them. */
int
check_run_body(const json_t *config, const char *run, size_t runlen)
{
	char		 err[ERR_LEN];
	json_t		*body, *students, *s, *pre, *post;
	size_t		 i;
	int		 rc = -1;

	ERR_INIT(err);
	if ((body = jsonx_parse_object(run, runlen, err, sizeof(err))) == NULL) {
		check_refusal(err, sizeof(err));
		return -1;
	}
	students = json_object_get(body, "students_env");
	pre = json_object_get(body, "pre_processing_env");
	post = json_object_get(body, "post_processing_env");
	if (!json_is_array(students) || json_array_size(students) == 0 ||
	    (pre != NULL && (check_env_value(pre) == -1 ||
	    env_pipeline(config, JOB_KIND_PRE) == NULL)) ||
	    (post != NULL && (check_env_value(post) == -1 ||
	    env_pipeline(config, JOB_KIND_POST) == NULL)))
		goto out;
	json_array_foreach(students, i, s)
		if (check_env_value(s) == -1)
			goto out;
	ERR_INIT(err);
	rc = run_envs_valid(config, students, pre, post, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == -1) {
		check_refusal(err, sizeof(err));
		goto out;
	}
	json_array_foreach(students, i, s)
		check_job_stages(config, JOB_KIND_STUDENT, s);
	check_job_stages(config, JOB_KIND_PRE, pre);
	check_job_stages(config, JOB_KIND_POST, post);
out:
	json_decref(body);
	return rc;
}

int
check_config_body(const char *body, size_t len, const char *run, size_t runlen)
{
	char	 err[ERR_LEN];
	json_t	*c, *loose;
	int	 rc;

	ERR_INIT(err);
	if ((c = jsonx_parse_object(body, len, err, sizeof(err))) == NULL) {
		check_refusal(err, sizeof(err));
		return -1;
	}
	FUZZ_ASSERT(json_is_object(c));
	/* Refusing duplicates is the only thing the strict parse adds. */
	loose = json_loadb(body, len, 0, NULL);
	FUZZ_ASSERT(loose != NULL && json_equal(loose, c));
	json_decref(loose);
	rc = check_config_value(c);
	if (rc == 0 && run != NULL)
		(void)check_run_body(c, run, runlen);
	json_decref(c);
	return rc;
}
