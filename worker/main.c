#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * broadway-worker: the configuration, the signals, the start and the
 * drain.  The threads, each given the one struct worker:
 *
 *   main        signals (sigwait): 1st SIGTERM/SIGINT drains, 2nd aborts
 *   dispatcher  claims a job whenever a slot is free (dispatch.c)
 *   slot x N    runs a job, spools its result, reports it (dispatch.c,
 *               report.c)
 *   heartbeat   keeps the leases alive; re-registers if forgotten
 *   nudge       holds the `work` event stream; each event cuts the
 *               dispatcher's backoff nap short (polling stays the fallback)
 *
 * Order at start: lock the work dir, remove what a killed incarnation
 * left (containers by label, job directories), send spooled results,
 * and only then register (registering requeues the id's old jobs).
 */

struct threads {
	pthread_t	 hb, disp, nudge, slot[WORKER_SLOTS_MAX];
};

/* -h: the usage on stdout, exit 0; a wrong command line: stderr, 2. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: broadway-worker [-dhnP]"
	    " [-f config] [-u api_url] [-c ca_file] [-t token_file]\n"
	    "\t[-i worker_id] [-s slots] [-p podman] [-C containers.conf]"
	    " [-S storage.conf]\n"
	    "\t[-w work_dir] [-l log_cap] [-o key=value] [-R job.json]\n"
	    "       broadway-worker --help | --version\n"
	    "See broadway-worker(8).\n");
	exit(status);
}

/*
 * Flags, then the config file under them, then the flags' settings on
 * top; conf_finish checks the whole.  *local: the -R job file, if any.
 */
static void
configure(struct wconf *c, int argc, char *argv[], const char **local)
{
	static const struct { int ch; const char *key; } flagkeys[] = {
		{ 'u', "api_url" }, { 'c', "ca_file" }, { 't', "token_file" },
		{ 'i', "worker_id" }, { 's', "slots" }, { 'p', "podman" },
		{ 'C', "containers_conf" }, { 'S', "storage_conf" },
		{ 'w', "work_dir" }, { 'l', "log_cap" }, { 'n', "allow_network" },
		{ 'P', "allow_privileged" }, { 0, NULL }
	};
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct { const char *key; char *val; } flags[64];
	const char	*conffile = NULL;
	char		 err[512], *eq;
	size_t		 nflags = 0, i;
	int		 ch;

	conf_defaults(c);
	*local = NULL;
	while ((ch = getopt_long(argc, argv, "dhnPf:u:c:t:i:s:p:C:S:w:l:o:R:",
	    longopts, NULL)) != -1) {
		if (nflags >= sizeof(flags) / sizeof(flags[0]))
			usage(2);
		switch (ch) {
		case 'h':
			usage(0);
		case 'V':
			printf("broadway-worker %s\n", WORKER_VERSION);
			exit(0);
		case 'd':
			c->foreground = 1;
			continue;
		case 'f':
			conffile = optarg;
			continue;
		case 'R':
			*local = optarg;
			continue;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL)
				usage(2);
			*eq = '\0';
			flags[nflags].key = optarg;
			flags[nflags++].val = eq + 1;
			continue;
		default:
			break;
		}
		for (i = 0; flagkeys[i].key != NULL; i++)
			if (flagkeys[i].ch == ch)
				break;
		if (flagkeys[i].key == NULL)
			usage(2);
		flags[nflags].key = flagkeys[i].key;
		/* -n and -P take no argument: they switch a setting on. */
		flags[nflags++].val = ch == 'n' || ch == 'P' ? (char *)"yes" :
		    optarg;
	}
	if (optind != argc)
		usage(2);
	if (conffile != NULL && conf_load(c, conffile, err, sizeof(err)) == -1)
		fatalx("%s", err);
	for (i = 0; i < nflags; i++)
		if (conf_set(c, flags[i].key, flags[i].val, err,
		    sizeof(err)) == -1)
			fatalx("%s", err);
	if (*local != NULL && c->worker_id[0] == '\0')
		copy_str(c->worker_id, sizeof(c->worker_id), "local");
	if (conf_finish(c, *local == NULL, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/* Wait ms for one of the blocked signals; 1 if one came. */
static int
signal_wait(const sigset_t *set, int64_t ms, int *sig)
{
	struct timespec	 ts;
	int		 s;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	s = sigtimedwait(set, NULL, &ts);
	if (s > 0) {
		*sig = s;
		return 1;
	}
	return 0;
}

/* Before the threads run, a retry waits for a signal (and gives up). */
struct start_wait {
	const sigset_t	*set;
	int		 sig;
};

static int
start_wait(void *arg, int64_t ms)
{
	struct start_wait	*sw = arg;

	return signal_wait(sw->set, ms, &sw->sig);
}

static void
flush_spool(struct worker *w, const sigset_t *set)
{
	struct start_wait	 sw = { set, 0 };
	struct report_wait	 rw = { start_wait, &sw };

	if (report_spool(&w->conf, &rw) == -1) {
		log_info("signal %d: exiting; results stay spooled", sw.sig);
		exit(0);
	}
}

static void
register_first(struct worker *w, const sigset_t *set)
{
	struct api	*a;
	int64_t		 backoff = RETRY_MIN_MS;
	int		 sig;
	enum api_rc	 rc;

	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	while ((rc = api_register(a, &w->reg)) != API_OK) {
		if (backoff == RETRY_MIN_MS && api_unreachable(a))
			log_warnx("register failed: cannot reach the API at %s:"
			    " %s; check api_url (https://, the host and the port"
			    " nginx serves the API on over TLS) and ca_file",
			    w->conf.api_url, api_error(a));
		else
			log_warnx("register failed: %s", api_error(a));
		if (rc == API_BAD)
			fatalx("the API refuses this worker's registration");
		if (signal_wait(set, backoff, &sig)) {
			log_info("signal %d before registering: exiting", sig);
			exit(0);
		}
		backoff = backoff_next(backoff, RETRY_MAX_MS);
	}
	log_info("registered as %s (%s, %d slots); heartbeat %lld s, poll"
	    " %lld..%lld ms", w->conf.worker_id, w->conf.hostname, w->conf.slots,
	    (long long)w->reg.heartbeat, (long long)w->reg.poll_min_ms,
	    (long long)w->reg.poll_max_ms);
	api_close(a);
}

static int
lock_work_dir(const struct wconf *c)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/lock", c->work_dir) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("%s is in use by another broadway-worker: each worker"
		    " needs its own work_dir", c->work_dir);
		close(fd);
		return -1;
	}
	return fd;	/* kept open for the life of the process */
}

static int
job_dirs_init(const struct wconf *c)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/jobs", c->work_dir) >=
	    (int)sizeof(path) || (mkdir(path, 0700) == -1 && errno != EEXIST))
		return -1;
	return 0;
}

/* -R: run one job file here, print the result; no API involved. */
static int
run_local(struct wconf *c, const char *file)
{
	static atomic_int never;	/* a signal just ends the process */
	struct job	*job;
	json_t		*claim, *res;
	char		 err[200], *s;
	size_t		 len;
	int		 aborted;

	if ((s = spool_read(file, &len)) == NULL)
		return 1;
	claim = jsonx_parse_object(s, len, err, sizeof(err));
	free(s);
	if (claim == NULL) {
		log_warnx("%s: %s", file, err);
		return 1;
	}
	if (json_object_get(claim, "grading_job_id") == NULL)
		json_object_set_new(claim, "grading_job_id", json_string("local"));
	if (json_object_get(claim, "attempt") == NULL)
		json_object_set_new(claim, "attempt", json_integer(1));
	job = job_parse(claim, err, sizeof(err));
	json_decref(claim);
	if (job == NULL) {
		log_warnx("%s: %s", file, err);
		return 1;
	}
	if (spool_init(c) == -1 || job_dirs_init(c) == -1) {
		job_free(job);
		return 1;
	}
	res = job_run(c, job, &never, &aborted);
	job_free(job);
	if (res == NULL || (s = json_dumps(res, JSON_INDENT(1) |
	    JSON_SORT_KEYS)) == NULL) {
		log_warnx("the job could not be run");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	json_decref(res);
	return 0;
}

/* Everything before the threads: the lock, leftovers, spool, register. */
static void
start(struct worker *w, const sigset_t *set)
{
	pthread_condattr_t	 ca;
	int			 n;

	if (spool_init(&w->conf) == -1 || lock_work_dir(&w->conf) == -1)
		exit(1);
	if (api_global_init() == -1)
		fatalx("curl_global_init failed");
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&w->cv, &ca) != 0 ||
	    pthread_mutex_init(&w->mu, NULL) != 0)
		fatalx("pthread init");
	if ((w->running = json_array()) == NULL)
		fatalx("out of memory");

	log_info("starting: api %s, %d slots, work_dir %s, network %s,"
	    " privileged %s", w->conf.api_url, w->conf.slots, w->conf.work_dir,
	    w->conf.allow_network ? w->conf.network_mode : "never",
	    w->conf.allow_privileged ? "allowed" : "refused");
	if ((n = podman_cleanup_worker(&w->conf)) > 0)
		log_info("removed %d leftover container(s)", n);
	if (job_dirs_clean(&w->conf) == -1)
		fatalx("cannot clean %s/jobs", w->conf.work_dir);
	flush_spool(w, set);
	register_first(w, set);
}

static void
start_threads(struct worker *w, struct threads *t)
{
	int	 j;

	w->slots_left = w->conf.slots;
	if (pthread_create(&t->hb, NULL, heartbeat_main, w) != 0 ||
	    pthread_create(&t->disp, NULL, dispatcher_main, w) != 0 ||
	    (w->conf.nudge && pthread_create(&t->nudge, NULL, nudge_main,
	    w) != 0))
		fatalx("pthread_create");
	for (j = 0; j < w->conf.slots; j++)
		if (pthread_create(&t->slot[j], NULL, slot_main, w) != 0)
			fatalx("pthread_create");
}

/* Until drained or told to abort; 1 if aborting. */
static int
wait_signals(struct worker *w, const sigset_t *set)
{
	int	 done, sig;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		done = w->slots_left == 0 && w->dispatcher_done;
		pthread_mutex_unlock(&w->mu);
		if (done)
			return 0;
		if (!signal_wait(set, 250, &sig) || sig == SIGHUP)
			continue;
		pthread_mutex_lock(&w->mu);
		if (!atomic_load(&w->draining)) {
			atomic_store(&w->draining, 1);
			log_info("signal %d: draining (%d job(s) running; send"
			    " it again to stop them now)", sig, w->busy);
		} else if (!atomic_load(&w->aborting)) {
			atomic_store(&w->aborting, 1);
			log_info("signal %d: stopping running jobs now", sig);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		if (atomic_load(&w->aborting))
			return 1;
	}
}

/* The second signal: the slot threads remove their containers, so they
 * are waited for; the others may be inside a request and are not, so
 * the process ends with _exit: no atexit cleanup (OpenSSL's) runs under
 * a thread still using it. */
static void __attribute__((noreturn))
abort_now(struct worker *w, struct threads *t)
{
	int	 j;

	for (j = 0; j < w->conf.slots; j++)
		pthread_join(t->slot[j], NULL);
	pthread_detach(t->hb);
	pthread_detach(t->disp);
	if (w->conf.nudge)
		pthread_detach(t->nudge);
	(void)job_dirs_clean(&w->conf);
	log_info("stopped; unanswered results stay in %s/spool",
	    w->conf.work_dir);
	_exit(1);
}

static void
drain(struct worker *w, struct threads *t)
{
	int	 j;

	pthread_mutex_lock(&w->mu);
	w->stop_heartbeat = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(t->hb, NULL);
	pthread_join(t->disp, NULL);
	if (w->conf.nudge)
		pthread_join(t->nudge, NULL);
	for (j = 0; j < w->conf.slots; j++)
		pthread_join(t->slot[j], NULL);
	log_info("drained: %lld job(s) done; exiting",
	    (long long)w->jobs_done);
}

int
main(int argc, char *argv[])
{
	/* Static: the threads use it until exit, also after an abort. */
	static struct worker	 w;
	static struct threads	 t;
	sigset_t		 set;
	const char		*local;

	log_init("broadway-worker");
	configure(&w.conf, argc, argv, &local);
	log_set_request(w.conf.worker_id);
	signal(SIGPIPE, SIG_IGN);
	if (local != NULL)
		return run_local(&w.conf, local);

	if (!w.conf.foreground && daemon(1, 1) == -1)
		fatal("daemon");
	/* Threads inherit the mask: only sigwait here sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");
	start(&w, &set);
	start_threads(&w, &t);
	if (wait_signals(&w, &set))
		abort_now(&w, &t);
	drain(&w, &t);
	api_global_cleanup();
	return 0;
}
