#ifndef BW_JOBSIZE_H
#define BW_JOBSIZE_H

#include <stddef.h>
#include <jansson.h>

#include "stage.h"

/*
 * A job as the worker receives it: every stage of one pipeline with its
 * merged env (global + GRADING_RUN_ID + stage + run env + GRADING_JOB_ID,
 * the layering of fcgi/env.c).  The shape of a pipeline is computed once
 * per config; then each run env (a student's, the pre or post env) costs
 * one look-up per variable and stage, not a copy of the config, so a
 * 20 000-student roster is checked in milliseconds.
 */
struct job_shape {
	size_t		 nstages;
	/* Per stage, the merged env without the run env: each name with the
	 * length of its value as serialised, so that a run env overriding a
	 * 64 KiB value costs a look-up, not a scan of the value. */
	json_t		*lens[PIPELINE_MAX_STAGES];
	size_t		 size[PIPELINE_MAX_STAGES];	/* serialised stage with that env */
	const char	*key;				/* "student_pipeline", ... */
};

struct job_measure {
	size_t		 bytes;				/* the "stages" array */
	size_t		 vars[PIPELINE_MAX_STAGES];	/* per stage, merged */
};

/* 1 built, 0 the config has no such pipeline, -1 out of memory.  The
 * config must be config_valid-shaped (objects where objects belong). */
int	 job_shape_init(struct job_shape *, const json_t *config, const char *key);
void	 job_shape_free(struct job_shape *);
void	 job_shape_measure(const struct job_shape *, const json_t *run_env,
	    struct job_measure *);
/* 0, or -1 with err: a stage over ENV_MAX_NAMES variables or the whole
 * over JOB_STAGES_MAX bytes.  `who` names the run env in the message. */
int	 job_shape_check(const struct job_shape *, const json_t *run_env,
	    const char *who, char *err, size_t errlen);

/* The pipelines a run starts under config (the stored one) with these
 * envs: names (env_names_valid), the config itself (config_valid) and
 * every job's bounds.  0, -1 with err (the caller's fault), -2 out of
 * memory. */
int	 run_envs_valid(const json_t *config, const json_t *students,
	    const json_t *pre_env, const json_t *post_env, char *err,
	    size_t errlen);

/* The length of s[0..n) as jansson writes it compactly, with quotes. */
size_t	 json_str_len(const char *s, size_t n);

#endif
