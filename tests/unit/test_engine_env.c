/* Env layering and the stages a worker receives (fcgi/env.c). */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "env.h"
#include "harness.h"
#include "states.h"

static const char *
get(const json_t *env, const char *k)
{
	return json_string_value(json_object_get(env, k));
}

static void
test_layers(void)
{
	json_t	*g = json_pack("{s:s, s:s, s:s}", "A", "global", "B", "global",
	    "GRADING_RUN_ID", "spoof");
	json_t	*st = json_pack("{s:s, s:s}", "B", "stage", "C", "stage");
	json_t	*run = json_pack("{s:s, s:s}", "C", "run", "GRADING_JOB_ID", "spoof");
	json_t	*e = env_layer(g, st, run, "RUN1", "JOB1");

	T_CHECK_STR(get(e, "A"), "global");
	T_CHECK_STR(get(e, "B"), "stage");
	T_CHECK_STR(get(e, "C"), "run");
	/* GRADING_RUN_ID is injected at global level: the config may not
	 * override it, but a stage or run env could; GRADING_JOB_ID always wins. */
	T_CHECK_STR(get(e, "GRADING_RUN_ID"), "RUN1");
	T_CHECK_STR(get(e, "GRADING_JOB_ID"), "JOB1");
	/* The inputs are untouched: nothing leaks into the next job. */
	T_CHECK(json_object_get(st, "GRADING_JOB_ID") == NULL);
	T_CHECK_STR(get(st, "C"), "stage");
	json_decref(e);
	json_decref(g);
	json_decref(st);
	json_decref(run);
}

static void
test_no_leak_between_students(void)
{
	json_t	*cfg = json_loads("{\"student_pipeline\":[{\"image\":\"i\","
	    "\"env\":{\"S\":\"stage\"}},{\"image\":\"j\"}],\"env\":{\"G\":\"g\"}}",
	    0, NULL);
	json_t	*s1 = json_pack("{s:s, s:s}", "ONLY1", "x", "S", "one");
	json_t	*s2 = json_pack("{s:s}", "ONLY2", "y");
	json_t	*a = env_job_stages(cfg, JOB_KIND_STUDENT, s1, "R", "J1");
	json_t	*b = env_job_stages(cfg, JOB_KIND_STUDENT, s2, "R", "J2");
	json_t	*e;

	T_CHECK(a != NULL && json_array_size(a) == 2);
	T_CHECK(b != NULL && json_array_size(b) == 2);
	e = json_object_get(json_array_get(b, 0), "env");
	T_CHECK(json_object_get(e, "ONLY1") == NULL);
	T_CHECK_STR(get(e, "S"), "stage");
	T_CHECK_STR(get(e, "ONLY2"), "y");
	T_CHECK_STR(get(e, "G"), "g");
	T_CHECK_STR(get(e, "GRADING_JOB_ID"), "J2");
	e = json_object_get(json_array_get(a, 0), "env");
	T_CHECK_STR(get(e, "S"), "one");
	T_CHECK_STR(json_string_value(json_object_get(json_array_get(a, 1),
	    "image")), "j");
	/* The config itself still has its own stage env only. */
	T_CHECK(json_object_size(json_object_get(json_array_get(
	    json_object_get(cfg, "student_pipeline"), 0), "env")) == 1);
	/* No pre pipeline: no stages. */
	T_CHECK(env_job_stages(cfg, JOB_KIND_PRE, s1, "R", "J") == NULL);
	T_CHECK(env_pipeline(cfg, JOB_KIND_POST) == NULL);
	T_CHECK(env_pipeline(cfg, 7) == NULL);
	json_decref(a);
	json_decref(b);
	json_decref(s1);
	json_decref(s2);
	json_decref(cfg);
}

static void
test_state_names(void)
{
	T_CHECK_STR(run_state_name(RUN_POST_PROCESSING_STAGE), "POST_PROCESSING_STAGE");
	T_CHECK_STR(job_state_name(JOB_SUCCEEDED), "SUCCEEDED");
	T_CHECK_STR(job_state_name(-1), "UNKNOWN");
	T_CHECK_STR(run_state_name(RUN__MAX), "UNKNOWN");
	T_CHECK(token_kind_parse("query") == TOKEN_QUERY);
	T_CHECK(token_kind_parse("root") == -1);
}

int
main(void)
{
	test_layers();
	test_no_leak_between_students();
	test_state_names();
	return T_DONE();
}
