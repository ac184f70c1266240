#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "envname.h"
#include "jobsize.h"
#include "jsonx.h"
#include "stage.h"
#include "util.h"

#define DUMP_FLAGS	(JSON_COMPACT | JSON_ENCODE_ANY)	/* as jsonx_dump */

/* A run or job id: only its length matters here. */
static const char id_placeholder[PUBLIC_ID_LEN + 1] = "000000000000000000000000";

size_t
json_str_len(const char *s, size_t n)
{
	size_t		 i, len = 2;
	unsigned char	 ch;

	/* jansson's dump_string without JSON_ENSURE_ASCII/ESCAPE_SLASH. */
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' ||
		    ch == '\n' || ch == '\r' || ch == '\t')
			len += 2;
		else if (ch < 0x20)
			len += 6;
		else
			len++;
	}
	return len;
}

static size_t
value_len(const json_t *v)
{
	return json_str_len(json_string_value(v), json_string_length(v));
}

void
job_shape_free(struct job_shape *sh)
{
	size_t	 i;

	for (i = 0; i < sh->nstages; i++)
		json_decref(sh->lens[i]);
	sh->nstages = 0;
}

/* The merged env of a stage before the run env: fcgi/env.c env_layer. */
static json_t *
base_env(const json_t *global, const json_t *stage_env)
{
	json_t	*e;

	if ((e = json_object()) == NULL)
		return NULL;
	if ((json_is_object(global) && json_object_update(e, (json_t *)global)) ||
	    json_object_set_new(e, ENV_INJECTED_RUN, json_string(id_placeholder)) ||
	    (json_is_object(stage_env) &&
	    json_object_update(e, (json_t *)stage_env)) ||
	    json_object_set_new(e, ENV_INJECTED_JOB, json_string(id_placeholder))) {
		json_decref(e);
		return NULL;
	}
	return e;
}

/* name -> serialised length of its value, for every name of env. */
static json_t *
value_lens(const json_t *env)
{
	const char	*name;
	json_t		*v, *out;

	if ((out = json_object()) == NULL)
		return NULL;
	json_object_foreach((json_t *)env, name, v) {
		if (json_object_set_new(out, name,
		    json_integer((json_int_t)value_len(v))) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int
job_shape_init(struct job_shape *sh, const json_t *config, const char *key)
{
	const json_t	*pipe, *global, *st;
	json_t		*copy = NULL, *base = NULL;
	size_t		 i;

	memset(sh, 0, sizeof(*sh));
	sh->key = key;
	pipe = json_object_get(config, key);
	if (!json_is_array(pipe) || json_array_size(pipe) == 0)
		return 0;
	global = json_object_get(config, "env");
	json_array_foreach(pipe, i, st) {
		if (i >= PIPELINE_MAX_STAGES)
			break;
		if ((base = base_env(global, json_object_get(st, "env"))) == NULL ||
		    (sh->lens[i] = value_lens(base)) == NULL)
			goto fail;
		sh->nstages = i + 1;
		if ((copy = json_copy((json_t *)st)) == NULL ||
		    json_object_set(copy, "env", base) != 0)
			goto fail;
		sh->size[i] = json_dumpb(copy, NULL, 0, DUMP_FLAGS);
		json_decref(copy);
		json_decref(base);
		copy = base = NULL;
		if (sh->size[i] == 0)
			goto fail;
	}
	return 1;
fail:
	json_decref(copy);
	json_decref(base);
	job_shape_free(sh);
	return -1;
}

void
job_shape_measure(const struct job_shape *sh, const json_t *run_env,
    struct job_measure *m)
{
	const char	*name;
	const json_t	*b;
	json_t		*v;
	size_t		 i, len, stage;

	memset(m, 0, sizeof(*m));
	m->bytes = sh->nstages > 0 ? 1 + sh->nstages : 2;	/* [ , , ] */
	for (i = 0; i < sh->nstages; i++) {
		stage = sh->size[i];
		m->vars[i] = json_object_size(sh->lens[i]);
		if (json_is_object(run_env)) {
			json_object_keylen_foreach((json_t *)run_env, name, len, v) {
				/* The job id is set after the run env. */
				if (strcmp(name, ENV_INJECTED_JOB) == 0)
					continue;
				if ((b = json_object_get(sh->lens[i], name)) != NULL) {
					stage = stage + value_len(v) -
					    (size_t)json_integer_value(b);
					continue;
				}
				/* ,"name":"value" */
				stage += 1 + json_str_len(name, len) + 1 + value_len(v);
				m->vars[i]++;
			}
		}
		m->bytes += stage;
	}
}

int
job_shape_check(const struct job_shape *sh, const json_t *run_env,
    const char *who, char *err, size_t errlen)
{
	struct job_measure	 m;
	size_t			 i;

	if (sh->nstages == 0)
		return 0;
	job_shape_measure(sh, run_env, &m);
	for (i = 0; i < sh->nstages; i++) {
		if (m.vars[i] > ENV_MAX_NAMES) {
			snprintf(err, errlen, "%s: %s[%zu] would get %zu variables"
			    " (global + stage + run env + %s and %s), more than"
			    " the worker's limit of %d", who, sh->key, i,
			    m.vars[i], ENV_INJECTED_RUN, ENV_INJECTED_JOB,
			    ENV_MAX_NAMES);
			return -1;
		}
	}
	if (m.bytes > JOB_STAGES_MAX) {
		snprintf(err, errlen, "%s: a %s job as the worker receives it"
		    " (every stage with its merged env) would be %zu bytes,"
		    " more than the limit of %d", who, sh->key, m.bytes,
		    JOB_STAGES_MAX);
		return -1;
	}
	return 0;
}

int
run_envs_valid(const json_t *config, const json_t *students,
    const json_t *pre_env, const json_t *post_env, char *err, size_t errlen)
{
	struct job_shape	 pre, stu, post;
	const json_t		*s;
	char			 sub[256], who[64];
	size_t			 i;
	int			 rc = -2;

	memset(&pre, 0, sizeof(pre));
	memset(&stu, 0, sizeof(stu));
	memset(&post, 0, sizeof(post));
	/* A config stored before a rule was added meets it here. */
	if (config_valid(config, sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "the assignment's configuration is no"
		    " longer accepted, upload it again: %s", sub);
		return -1;
	}
	if (env_names_valid(pre_env, "pre_processing_env", err, errlen) == -1 ||
	    env_names_valid(post_env, "post_processing_env", err, errlen) == -1)
		return -1;
	json_array_foreach(students, i, s) {
		snprintf(who, sizeof(who), "students_env[%zu]", i);
		if (env_names_valid(s, who, err, errlen) == -1)
			return -1;
	}
	if (job_shape_init(&pre, config, "pre_processing_pipeline") == -1 ||
	    job_shape_init(&stu, config, "student_pipeline") == -1 ||
	    job_shape_init(&post, config, "post_processing_pipeline") == -1)
		goto out;
	rc = -1;
	if (job_shape_check(&pre, pre_env, "pre_processing_env", err,
	    errlen) == -1 ||
	    job_shape_check(&post, post_env, "post_processing_env", err,
	    errlen) == -1)
		goto out;
	json_array_foreach(students, i, s) {
		snprintf(who, sizeof(who), "students_env[%zu]", i);
		if (job_shape_check(&stu, s, who, err, errlen) == -1)
			goto out;
	}
	rc = 0;
out:
	if (rc == -2)
		snprintf(err, errlen, "out of memory");
	job_shape_free(&pre);
	job_shape_free(&stu);
	job_shape_free(&post);
	return rc;
}
