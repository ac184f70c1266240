#ifndef BW_API_H
#define BW_API_H

/* Private to broadway-fcgi: the handlers and the run engine. */

#include <stdint.h>
#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "engine.h"
#include "env.h"
#include "http.h"

#define ROSTER_MAX		20000
#define RESULTS_MAX_ITEMS	64
#define RESULTS_MAX_BYTES	(64 * 1024)
#define LOG_MAX_BYTES		(4 * 1024 * 1024)

/* One call: the request, the connection and the ids from the path. */
struct call {
	struct req	*r;
	struct db	*db;
	const char	*course;	/* course id, or NULL on grader routes */
	const char	*id;		/* assignment/run/job/worker id or scope */
};

typedef void (*handler_fn)(struct call *);

/* router.c */
void	 route_dispatch(struct db *, struct req *);

/* Handlers: config.c, run.c, status.c, grader.c */
void	 h_config_get(struct call *);
void	 h_config_post(struct call *);
void	 h_run_start(struct call *);
void	 h_run_status(struct call *);
void	 h_run_env(struct call *);
void	 h_job_log(struct call *);
void	 h_workers(struct call *);
void	 h_queue_length(struct call *);
void	 h_queue_position(struct call *);
void	 h_grader_register(struct call *);
void	 h_grader_heartbeat(struct call *);
void	 h_grader_claim(struct call *);
void	 h_grader_result(struct call *);

/* config.c: the stored config of an assignment, parsed.
 * 1 found, 0 not, -1 error. */
int	 config_load(struct db *, const char *course, const char *assignment,
	    json_t **out);

#endif
