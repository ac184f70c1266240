/*
 * Env layering: the variables a stage's container gets, computed afresh
 * for each job from the config (global + stage) and the run (per-run and
 * per-student env).  Pure: no database, no I/O.
 */
#ifndef BW_ENV_H
#define BW_ENV_H

#include <jansson.h>

json_t	*env_layer(const json_t *global, const json_t *stage_env,
	    const json_t *run_env, const char *run_pid, const char *job_pid);
/* The stages a worker receives for a job of `kind` under config. */
json_t	*env_job_stages(const json_t *config, int kind, const json_t *run_env,
	    const char *run_pid, const char *job_pid);
/* The pipeline of a kind, or NULL if the config has none. */
const json_t *env_pipeline(const json_t *config, int kind);

#endif
