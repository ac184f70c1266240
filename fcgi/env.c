#include <string.h>

#include "engine.h"
#include "env.h"
#include "states.h"

static const char *const pipeline_keys[JOB_KIND__MAX] = {
	"pre_processing_pipeline",	/* JOB_KIND_PRE */
	"student_pipeline",		/* JOB_KIND_STUDENT */
	"post_processing_pipeline",	/* JOB_KIND_POST */
};

const json_t *
env_pipeline(const json_t *config, int kind)
{
	const json_t	*p;

	if (kind < 0 || kind >= JOB_KIND__MAX)
		return NULL;
	p = json_object_get(config, pipeline_keys[kind]);
	return json_is_array(p) && json_array_size(p) > 0 ? p : NULL;
}

/*
 * global (+ GRADING_RUN_ID) < stage < run (+ GRADING_JOB_ID), built in a
 * new object every time so nothing leaks from one job to the next.
 */
json_t *
env_layer(const json_t *global, const json_t *stage_env,
    const json_t *run_env, const char *run_pid, const char *job_pid)
{
	json_t	*e;

	if ((e = json_object()) == NULL)
		return NULL;
	if (json_is_object(global))
		json_object_update(e, (json_t *)global);
	json_object_set_new(e, "GRADING_RUN_ID", json_string(run_pid));
	if (json_is_object(stage_env))
		json_object_update(e, (json_t *)stage_env);
	if (json_is_object(run_env))
		json_object_update(e, (json_t *)run_env);
	json_object_set_new(e, "GRADING_JOB_ID", json_string(job_pid));
	return e;
}

json_t *
env_job_stages(const json_t *config, int kind, const json_t *run_env,
    const char *run_pid, const char *job_pid)
{
	const json_t	*pipe, *global, *st;
	json_t		*out, *copy, *env;
	size_t		 i;

	if ((pipe = env_pipeline(config, kind)) == NULL)
		return NULL;
	global = json_object_get(config, "env");
	if ((out = json_array()) == NULL)
		return NULL;
	json_array_foreach(pipe, i, st) {
		copy = json_copy((json_t *)st);
		env = env_layer(global, json_object_get(st, "env"), run_env,
		    run_pid, job_pid);
		if (copy == NULL || env == NULL) {
			json_decref(copy);
			json_decref(env);
			goto fail;
		}
		/* Both _new calls take the reference, even when they fail. */
		if (json_object_set_new(copy, "env", env) != 0) {
			json_decref(copy);
			goto fail;
		}
		if (json_array_append_new(out, copy) != 0)
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}
