#include <string.h>

#include "states.h"

static const char *const run_state_names[RUN__MAX] = {
	"READY",			/* RUN_READY */
	"PRE_PROCESSING_STAGE",		/* RUN_PRE_PROCESSING_STAGE */
	"STUDENTS_STAGE",		/* RUN_STUDENTS_STAGE */
	"POST_PROCESSING_STAGE",	/* RUN_POST_PROCESSING_STAGE */
	"FINISHED",			/* RUN_FINISHED */
	"FAILED",			/* RUN_FAILED */
};

static const char *const job_state_names[JOB__MAX] = {
	"QUEUED", "STARTED", "FAILED", "SUCCEEDED",
};

static const char *const job_kind_names[JOB_KIND__MAX] = {
	"pre", "student", "post",
};

static const char *const token_kind_names[TOKEN__MAX] = {
	"admin", "query", "cluster",
};

#define NAME_OF(table, i) \
	((i) >= 0 && (i) < (int)(sizeof(table) / sizeof(table[0])) ? table[i] : "UNKNOWN")

const char *
run_state_name(int s)
{
	return NAME_OF(run_state_names, s);
}

const char *
job_state_name(int s)
{
	return NAME_OF(job_state_names, s);
}

const char *
job_kind_name(int k)
{
	return NAME_OF(job_kind_names, k);
}

const char *
token_kind_name(int k)
{
	return NAME_OF(token_kind_names, k);
}

int
token_kind_parse(const char *s)
{
	int	 i;

	for (i = 0; i < TOKEN__MAX; i++)
		if (strcmp(s, token_kind_names[i]) == 0)
			return i;
	return -1;
}
