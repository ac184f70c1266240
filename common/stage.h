#ifndef BW_STAGE_H
#define BW_STAGE_H

#include <stdint.h>
#include <jansson.h>

/*
 * The stage schema (reference §3.2), shared by the API (validating an
 * uploaded config) and the worker (reading a claimed job).
 */

#define PIPELINE_MAX_STAGES	16
#define STAGE_TIMEOUT_MAX	86400.0
#define STAGE_IMAGE_MAX		512

/* Defaults the worker applies; the API stores configs as uploaded. */
#define STAGE_DEFAULT_TIMEOUT	30.0
#define STAGE_DEFAULT_MEMORY	"2g"
#define STAGE_DEFAULT_HOSTNAME	"container"

struct stage_opts {
	const char	*image;
	const json_t	*env;		/* object of strings, may be NULL */
	const json_t	*entrypoint;	/* array of strings or NULL */
	int		 networking;	/* default 0 (off) */
	int		 privileged;	/* default 0 */
	const char	*hostname;	/* default "container" */
	double		 timeout;	/* seconds, default 30 */
	const char	*memory;	/* as given, e.g. "2g" */
	int64_t		 memory_bytes;
	const char	*cpuset_cpus;	/* NULL: all */
	int		 logs;		/* default 1 */
};

/* A stage object: 0, or -1 with err naming the problem. */
int	 stage_valid(const json_t *, const char *where, char *err, size_t errlen);

/* A pipeline: non-empty array of valid stages, at most PIPELINE_MAX_STAGES. */
int	 pipeline_valid(const json_t *, const char *where, char *err, size_t errlen);

/* A whole grading config (the POST grading_config body). */
int	 config_valid(const json_t *, char *err, size_t errlen);

/* Fill opts from a validated stage, applying defaults.  Pointers borrow
 * from the json_t.  0 or -1 with err. */
int	 stage_opts_read(const json_t *, struct stage_opts *, char *err, size_t errlen);

/* "512m", "2g", "1048576" -> bytes; -1 if malformed or out of range. */
int64_t	 memory_parse(const char *);

#endif
