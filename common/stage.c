#include <stdio.h>
#include <string.h>

#include "envname.h"
#include "image_ref.h"
#include "jobsize.h"
#include "jsonx.h"
#include "stage.h"

#define ENTRYPOINT_MAX_ARGS	256
#define ENTRYPOINT_ARG_MAX	4096
#define MEMORY_MIN		(6 * 1024 * 1024)	/* podman refuses less */

static const char *const stage_keys[] = {
	"image", "env", "entrypoint", "networking", "privileged", "hostname",
	"timeout", "memory", "cpuset_cpus", "logs", NULL
};

/* In the order a run's jobs use them. */
static const char *const pipeline_keys[] = {
	"pre_processing_pipeline", "student_pipeline",
	"post_processing_pipeline"
};

static const char *const config_keys[] = {
	"student_pipeline", "pre_processing_pipeline",
	"post_processing_pipeline", "env", NULL
};

int64_t
memory_parse(const char *s)
{
	int64_t		 v = 0, mult = 1;
	size_t		 i, n = strlen(s);

	if (n == 0 || n > 20)
		return -1;
	switch (s[n - 1]) {
	case 'b': case 'B': mult = 1; n--; break;
	case 'k': case 'K': mult = 1024; n--; break;
	case 'm': case 'M': mult = 1024 * 1024; n--; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; n--; break;
	default: break;
	}
	if (n == 0 || n > 12)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > INT64_MAX / mult)
		return -1;
	return v * mult;
}

static int
charset_ok(const char *s, const char *allowed, size_t maxlen)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= maxlen && strspn(s, allowed) == n;
}

static int
entrypoint_valid(const json_t *ep, const char *where, char *err, size_t errlen)
{
	size_t	 i;
	json_t	*a;

	if (!json_is_array(ep) || json_array_size(ep) == 0 ||
	    json_array_size(ep) > ENTRYPOINT_MAX_ARGS) {
		snprintf(err, errlen, "%s: entrypoint must be an array of 1..%d"
		    " strings", where, ENTRYPOINT_MAX_ARGS);
		return -1;
	}
	json_array_foreach(ep, i, a) {
		if (!json_is_string(a) ||
		    json_string_length(a) > ENTRYPOINT_ARG_MAX) {
			snprintf(err, errlen, "%s: entrypoint[%zu] must be a"
			    " string of at most %d bytes", where, i,
			    ENTRYPOINT_ARG_MAX);
			return -1;
		}
	}
	return 0;
}

int
stage_valid(const json_t *st, const char *where, char *err, size_t errlen)
{
	const json_t	*v;
	char		 sub[160];

	if (!json_is_object(st)) {
		snprintf(err, errlen, "%s must be an object", where);
		return -1;
	}
	if (jsonx_keys_allowed(st, stage_keys, where, err, errlen) == -1)
		return -1;
	v = json_object_get(st, "image");
	if (v == NULL || !json_is_string(v)) {
		snprintf(err, errlen, "%s: \"image\" is required and must be a"
		    " string", where);
		return -1;
	}
	if (!charset_ok(json_string_value(v), "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@", STAGE_IMAGE_MAX)) {
		snprintf(err, errlen, "%s: \"image\" must be 1..%d characters of"
		    " [A-Za-z0-9._-/:@]", where, STAGE_IMAGE_MAX);
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s.env", where);
	if ((v = json_object_get(st, "env")) != NULL &&
	    jsonx_env_valid(v, sub, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(st, "entrypoint")) != NULL &&
	    entrypoint_valid(v, where, err, errlen) == -1)
		return -1;
	if (((v = json_object_get(st, "networking")) != NULL && !json_is_boolean(v)) ||
	    ((v = json_object_get(st, "privileged")) != NULL && !json_is_boolean(v)) ||
	    ((v = json_object_get(st, "logs")) != NULL && !json_is_boolean(v))) {
		snprintf(err, errlen, "%s: networking, privileged and logs must"
		    " be true or false", where);
		return -1;
	}
	if ((v = json_object_get(st, "hostname")) != NULL &&
	    (!json_is_string(v) || !charset_ok(json_string_value(v),
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-",
	    63))) {
		snprintf(err, errlen, "%s: hostname must be 1..63 characters of"
		    " [A-Za-z0-9.-]", where);
		return -1;
	}
	if ((v = json_object_get(st, "timeout")) != NULL &&
	    (!json_is_number(v) || json_number_value(v) <= 0 ||
	    json_number_value(v) > STAGE_TIMEOUT_MAX)) {
		snprintf(err, errlen, "%s: timeout must be a number of seconds"
		    " in (0, %.0f]", where, STAGE_TIMEOUT_MAX);
		return -1;
	}
	if ((v = json_object_get(st, "memory")) != NULL &&
	    (!json_is_string(v) || memory_parse(json_string_value(v)) <
	    MEMORY_MIN)) {
		snprintf(err, errlen, "%s: memory must be a size such as \"512m\""
		    " or \"2g\", at least 6m", where);
		return -1;
	}
	if ((v = json_object_get(st, "cpuset_cpus")) != NULL &&
	    (!json_is_string(v) || !charset_ok(json_string_value(v),
	    "0123456789,-", 64))) {
		snprintf(err, errlen, "%s: cpuset_cpus must look like \"0-3\" or"
		    " \"0,2\"", where);
		return -1;
	}
	return 0;
}

int
pipeline_valid(const json_t *p, const char *where, char *err, size_t errlen)
{
	size_t	 i;
	json_t	*st;
	char	 sub[96];

	if (!json_is_array(p) || json_array_size(p) == 0 ||
	    json_array_size(p) > PIPELINE_MAX_STAGES) {
		snprintf(err, errlen, "%s must be an array of 1..%d stages",
		    where, PIPELINE_MAX_STAGES);
		return -1;
	}
	json_array_foreach(p, i, st) {
		snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
		if (stage_valid(st, sub, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * What the worker must be able to carry, beyond the schema: images podman
 * reads as registry or local names, env names that reach the container
 * intact, and every job within the worker's bounds even with an empty
 * run env (a run adds its own and is checked again when it starts).
 */
static int
config_carriable(const json_t *c, char *err, size_t errlen)
{
	struct job_shape	 sh;
	const json_t		*pipe, *st;
	size_t			 k, i;
	char			 where[96], why[192];
	int			 rc;

	if (env_names_valid(json_object_get(c, "env"), "env", err, errlen) == -1)
		return -1;
	for (k = 0; k < sizeof(pipeline_keys) / sizeof(pipeline_keys[0]); k++) {
		pipe = json_object_get(c, pipeline_keys[k]);
		json_array_foreach(pipe, i, st) {
			snprintf(where, sizeof(where), "%s[%zu]",
			    pipeline_keys[k], i);
			if (image_ref_valid(json_string_value(json_object_get(st,
			    "image")), why, sizeof(why)) == -1) {
				snprintf(err, errlen, "%s: \"image\" %s", where,
				    why);
				return -1;
			}
			snprintf(where, sizeof(where), "%s[%zu].env",
			    pipeline_keys[k], i);
			if (env_names_valid(json_object_get(st, "env"), where,
			    err, errlen) == -1)
				return -1;
		}
		if ((rc = job_shape_init(&sh, c, pipeline_keys[k])) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = job_shape_check(&sh, NULL, "the configuration", err, errlen);
		job_shape_free(&sh);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
config_valid(const json_t *c, char *err, size_t errlen)
{
	static const char *const optional[] = {
		"pre_processing_pipeline", "post_processing_pipeline", NULL
	};
	const json_t	*v;
	size_t		 i;

	if (!json_is_object(c)) {
		snprintf(err, errlen, "the grading config must be an object");
		return -1;
	}
	if (jsonx_keys_allowed(c, config_keys, "the grading config", err,
	    errlen) == -1)
		return -1;
	if ((v = json_object_get(c, "student_pipeline")) == NULL) {
		snprintf(err, errlen, "\"student_pipeline\" is required");
		return -1;
	}
	if (pipeline_valid(v, "student_pipeline", err, errlen) == -1)
		return -1;
	/* null means "no such pipeline", as in the original. */
	for (i = 0; optional[i] != NULL; i++) {
		v = json_object_get(c, optional[i]);
		if (v != NULL && !json_is_null(v) &&
		    pipeline_valid(v, optional[i], err, errlen) == -1)
			return -1;
	}
	v = json_object_get(c, "env");
	if (v != NULL && !json_is_null(v) &&
	    jsonx_env_valid(v, "env", err, errlen) == -1)
		return -1;
	return config_carriable(c, err, errlen);
}

int
stage_opts_read(const json_t *st, struct stage_opts *o, char *err, size_t errlen)
{
	const json_t	*v;

	if (stage_valid(st, "stage", err, errlen) == -1)
		return -1;
	memset(o, 0, sizeof(*o));
	o->image = json_string_value(json_object_get(st, "image"));
	o->env = json_object_get(st, "env");
	o->entrypoint = json_object_get(st, "entrypoint");
	o->networking = json_is_true(json_object_get(st, "networking"));
	o->privileged = json_is_true(json_object_get(st, "privileged"));
	v = json_object_get(st, "hostname");
	o->hostname = v ? json_string_value(v) : STAGE_DEFAULT_HOSTNAME;
	v = json_object_get(st, "timeout");
	o->timeout = v ? json_number_value(v) : STAGE_DEFAULT_TIMEOUT;
	v = json_object_get(st, "memory");
	o->memory = v ? json_string_value(v) : STAGE_DEFAULT_MEMORY;
	o->memory_bytes = memory_parse(o->memory);
	v = json_object_get(st, "cpuset_cpus");
	o->cpuset_cpus = v ? json_string_value(v) : NULL;
	v = json_object_get(st, "logs");
	o->logs = v ? json_is_true(v) : 1;
	return 0;
}
