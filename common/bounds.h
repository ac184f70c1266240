#ifndef BW_BOUNDS_H
#define BW_BOUNDS_H

/*
 * Bounds the API and the worker must agree on: whatever the API accepts
 * from course staff has to fit what the worker is able to read back.
 */

/* The worker reads at most this much of any API answer (a claim included). */
#define CLAIM_ANSWER_MAX	(4 * 1024 * 1024)

/*
 * A job's "stages" array as the worker receives it (every stage with its
 * merged env), serialised.  1 MiB under CLAIM_ANSWER_MAX: the rest of the
 * claim answer (envelope, job id, course id, kind) is under 1 KiB, so the
 * margin covers it many times over.
 */
#define JOB_STAGES_MAX		(3 * 1024 * 1024)

/* One env object, a layer or a stage's merged env (jsonx_env_valid). */
#define ENV_MAX_NAMES		1024
#define ENV_NAME_MAX		256
#define ENV_VALUE_MAX		(64 * 1024)

/* The variables the API adds to every stage's env (fcgi/env.c). */
#define ENV_INJECTED_RUN	"GRADING_RUN_ID"
#define ENV_INJECTED_JOB	"GRADING_JOB_ID"

#endif
