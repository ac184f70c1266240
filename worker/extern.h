#ifndef BW_WORKER_EXTERN_H
#define BW_WORKER_EXTERN_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "stage.h"
#include "util.h"

/*
 * broadway-worker: claims jobs from the API over HTTPS and runs every
 * stage with podman.  One header for the program, grouped by file.
 */

#ifndef WORKER_VERSION
#define WORKER_VERSION		"1.0"
#endif
#define WORKER_SLOTS_MAX	64
#define LOG_CAP_DEFAULT		(1024 * 1024)
#define LOG_CAP_MIN		1024
/* The API takes 4 MiB per stream; U+FFFD can triple an invalid byte. */
#define LOG_CAP_MAX		(1024 * 1024 + 256 * 1024)
#define PIDS_LIMIT_DEFAULT	256
#define TOKEN_MAX		512
#define URL_MAX			1024

/* config.c */
struct wconf {
	char	 api_url[URL_MAX];
	char	 ca_file[PATH_MAX];
	char	 token_file[PATH_MAX];
	char	 token[TOKEN_MAX];
	char	 worker_id[ID_MAX + 1];
	char	 hostname[256];
	int	 slots;
	char	 podman[PATH_MAX];
	char	 containers_conf[PATH_MAX];
	char	 storage_conf[PATH_MAX];
	char	 work_dir[PATH_MAX];
	size_t	 log_cap;
	int	 allow_network;
	int	 allow_privileged;
	char	 network_mode[32];	/* "bridge" or "slirp4netns" */
	int	 pids_limit;
	char	 pull[16];		/* "never", "missing", "always", "newer" */
	int	 connect_timeout;	/* seconds */
	int	 request_timeout;	/* seconds */
	int	 nudge;			/* hold the nudge stream */
	int	 foreground;
};

void	 conf_defaults(struct wconf *);
int	 conf_set(struct wconf *, const char *key, const char *value,
	    char *err, size_t errlen);
int	 conf_load(struct wconf *, const char *path, char *err, size_t errlen);
int	 conf_finish(struct wconf *, int need_api, char *err, size_t errlen);

/* capture.c: capped, UTF-8-clean capture of one stream of a job */
struct capture {
	struct buf	 head;
	char		*tail;		/* ring of tail_max bytes */
	size_t		 head_max, tail_max, tail_len, tail_pos;
	uint64_t	 total;		/* sanitised bytes seen */
	unsigned char	 pend[4];	/* incomplete UTF-8 sequence */
	int		 npend, need;
	int		 last;		/* last byte emitted, -1 if none */
};

int	 capture_init(struct capture *, size_t cap);
void	 capture_write(struct capture *, const void *, size_t);
void	 capture_puts(struct capture *, const char *);
void	 capture_stage_end(struct capture *);
char	*capture_finish(struct capture *, size_t *len);	/* caller frees */
void	 capture_free(struct capture *);
#define TRUNC_MARKER_FMT	"\n[... %llu bytes truncated ...]\n"

/* proc.c: run one program to its end (the only fork + execve) */
struct argv {
	char	**v;
	size_t	  n, cap;
};

void	 argv_free(struct argv *);
int	 argv_add(struct argv *, const char *);
int	 argv_addf(struct argv *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

struct proc {
	char *const		*argv;		/* argv[0]: an absolute path */
	char *const		*envp;		/* its whole environment */
	const char		*dir;		/* its cwd; NULL: ours */
	int64_t			 timeout_ms;
	const atomic_int	*cancel;	/* nonzero: stop it; NULL: never */
	/* Its stdout and stderr, chunk by chunk; NULL: /dev/null. */
	void			(*out)(void *, const char *, size_t);
	void			(*err)(void *, const char *, size_t);
	/* At the deadline or on cancel: called once, then the process
	 * group is killed grace_ms later.  NULL: killed at once. */
	void			(*stop)(void *);
	int64_t			 grace_ms;
	void			*arg;		/* for out, err and stop */
	const char		*what;		/* names it in logs */
};

struct proc_end {
	int	 started;
	int	 status;	/* from waitpid */
	int	 exit_code;	/* 128 + signal if killed; -1 if not run */
	int	 timed_out;
	int	 cancelled;
	int64_t	 duration_ms;
	char	 error[128];	/* why it was not started */
};

/* 0 once it ran and was reaped, -1 if it could not be started. */
int	 proc_run(const struct proc *, struct proc_end *);

/* podman.c */

struct stage_result {
	int	 ran;		/* podman was started */
	int	 exit_code;	/* -1 if podman never ran */
	int	 timed_out;
	int	 oom_killed;
	int	 aborted;	/* second SIGTERM */
	int64_t	 duration_ms;
	int	 success;
	char	 error[512];	/* "" for none */
};

struct stage_ctx {
	const struct wconf	*conf;
	const struct stage_opts	*opts;
	const char		*name;		/* container name */
	const char		*job_id;
	const char		*scratch;	/* mounted at /job */
	const char		*dir;		/* podman's cwd: env file, oom */
	struct capture		*out, *err;
	const atomic_int	*abort;		/* nonzero: kill the stage now */
};

int	 podman_env_split(const json_t *env, struct buf *file, struct argv *av);
int	 podman_build_argv(const struct stage_ctx *, const char *envfile,
	    const struct argv *env_args, struct argv *, char *err, size_t errlen);
char	**podman_envp(const struct wconf *);
void	 podman_envp_free(char **);
void	 podman_run_stage(const struct stage_ctx *, struct stage_result *);
int	 podman_remove(const struct wconf *, const char *name);
int	 podman_cleanup_worker(const struct wconf *);

/* job.c: one claimed job, read once from the claim answer */
struct job {
	char	 id[ID_MAX + 1];	/* grading_job_id */
	int64_t	 attempt;
	json_t	*stages;		/* the stage list as sent (a reference) */
};

struct job *job_parse(const json_t *claim, char *err, size_t errlen);
void	 job_free(struct job *);
json_t	*job_run(const struct wconf *, const struct job *,
	    const atomic_int *abort, int *aborted);
int	 job_dirs_clean(const struct wconf *);
int	 rm_tree(const char *);

/* spool.c */
int	 spool_init(const struct wconf *);
int	 spool_write(const struct wconf *, const char *job_id, int64_t attempt,
	    const char *body, char *path, size_t pathlen);
int	 spool_remove(const char *path);
int	 spool_list(const struct wconf *, char ***paths, size_t *n);
char	*spool_read(const char *path, size_t *len);

/* client.c */
enum api_rc {
	API_OK = 0,		/* 2xx */
	API_NONE,		/* 204 */
	API_REFUSED,		/* 409 (or 404 for a result) */
	API_UNKNOWN_WORKER,	/* 404 */
	API_BAD,		/* 400, 413: our request is wrong */
	API_RETRY,		/* transport error, 5xx, 401, ... */
};

struct api;

struct api_reg {
	int64_t	 heartbeat;	/* seconds */
	int64_t	 allowance;
	int64_t	 poll_min_ms;
	int64_t	 poll_max_ms;
};

int	 api_global_init(void);
void	 api_global_cleanup(void);
struct api *api_open(const struct wconf *);
void	 api_close(struct api *);
enum api_rc api_register(struct api *, struct api_reg *);
enum api_rc api_heartbeat(struct api *);
enum api_rc api_claim(struct api *, const char *body, json_t **job);
enum api_rc api_result(struct api *, const char *body, size_t len);
const char *api_error(const struct api *);
int	 api_unreachable(const struct api *);	/* no HTTP answer came */
CURL	*api_handle(const struct wconf *, const char *const *extra_headers,
	    char *errbuf, struct curl_slist **hdrs);

/* The state the threads share; main.c owns it, each thread gets a
 * pointer.  Everything but the atomics is read and written with mu held. */
struct worker {
	struct wconf	 conf;		/* read-only once the threads run */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* on CLOCK_MONOTONIC */
	struct api_reg	 reg;		/* the heartbeat thread may renew it */
	struct job	*queue[WORKER_SLOTS_MAX];	/* claimed, not started */
	size_t		 qlen;
	int		 busy;		/* claimed, not yet answered */
	json_t		*running;	/* their job ids, sent with each claim */
	/* Set by the main thread (with mu held, to pair with the
	 * broadcast), read anywhere without it: a slot thread looks at
	 * `aborting` between polls of a running stage. */
	atomic_int	 draining;	/* 1st signal: claim no more */
	atomic_int	 aborting;	/* 2nd signal: stop running stages */
	int		 dispatcher_done;
	int		 slots_left;	/* slot threads still running */
	int		 stop_heartbeat;
	int		 nudged;	/* a `work` event since the last claim */
	int		 nudge_up;	/* the nudge stream is delivering */
	int64_t		 jobs_done;
};

/* wait.c: naps on the worker's clock, and the retry backoff */
#define RETRY_MIN_MS	1000
#define RETRY_MAX_MS	30000

struct timespec;
int	 worker_stopping(struct worker *, int abort_only);
void	 worker_deadline(struct timespec *, int64_t ms);
void	 worker_nap(struct worker *, int64_t ms, int abort_only);
int	 worker_nap_claim(struct worker *, int64_t ms);
int64_t	 backoff_next(int64_t ms, int64_t max);

/* report.c: one result, sent until the API answers */
struct report_wait {
	/* Sleep ms before the next try; nonzero: give up (it stays). */
	int	(*wait)(void *, int64_t ms);
	void	 *arg;
};

int	 report_send(struct api *, const char *path, const char *body,
	    size_t len, const char *what, const struct report_wait *);
int	 report_spool(const struct wconf *, const struct report_wait *);

/* dispatch.c: claiming (the dispatcher) and running (the slots).  The
 * thread bodies here and below take the struct worker. */
void	*dispatcher_main(void *arg);
void	*slot_main(void *arg);

/* heartbeat.c */
void	*heartbeat_main(void *arg);
void	 worker_reregister(struct worker *, struct api *);

/* nudge.c: the worker's `work` event stream from broadway-sse */
void	*nudge_main(void *arg);	/* holds the stream */

struct nudge_parse {
	char	 line[64];	/* the longest line we care about is shorter */
	size_t	 len;
	int	 skip;		/* the current line was too long */
	int	 work;		/* the current event is `work` */
};

struct nudge_cb {
	void	(*work)(void *);	/* one or more `work` events came */
	int	(*stop)(void *);	/* nonzero: end the stream now */
	void	 *arg;
};

void	 nudge_parse_init(struct nudge_parse *);
/* Feed stream bytes; the number of `work` events they completed. */
int	 nudge_feed(struct nudge_parse *, const char *, size_t);
/* Hold the stream until it fails, ends or cb->stop says so.  1 if any
 * `work` event came (the stream was up), else 0; why it ended in err. */
int	 nudge_stream(const struct wconf *, const struct nudge_cb *,
	    char *err, size_t errlen);

#endif
