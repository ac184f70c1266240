#ifndef BW_STATES_H
#define BW_STATES_H

/* The numbers are stored in the database (sql/001_init.sql). */

enum run_state {
	RUN_READY = 0,
	RUN_PRE_PROCESSING_STAGE,
	RUN_STUDENTS_STAGE,
	RUN_POST_PROCESSING_STAGE,
	RUN_FINISHED,
	RUN_FAILED,
	RUN__MAX
};

enum job_state {
	JOB_QUEUED = 0,
	JOB_STARTED,
	JOB_FAILED,
	JOB_SUCCEEDED,
	JOB__MAX
};

enum job_kind {
	JOB_KIND_PRE = 0,
	JOB_KIND_STUDENT,
	JOB_KIND_POST,
	JOB_KIND__MAX
};

enum token_kind {
	TOKEN_ADMIN = 0,
	TOKEN_QUERY,
	TOKEN_CLUSTER,
	TOKEN__MAX
};

const char	*run_state_name(int);	/* "READY", ...; "UNKNOWN" if out of range */
const char	*job_state_name(int);	/* "QUEUED", ... */
const char	*job_kind_name(int);	/* "pre", "student", "post" */
const char	*token_kind_name(int);	/* "admin", "query", "cluster" */
int		 token_kind_parse(const char *);	/* -1 if unknown */

#endif
