/*
 * broadway-sse: one long-lived, multi-threaded FastCGI process serving
 * GET /api/v1/stream/{course}/{job} as server-sent events, and the
 * workers' nudge streams GET /api/v1/stream/grader/{worker_id}/work.
 *
 * Threads: `acceptors` acceptor threads (accept.c) and one publisher
 * (hub.c).  Signals are blocked in every thread and taken here with
 * sigwait: libfcgi only sets a flag on SIGTERM, which a threaded process
 * never looks at, so without this it would not stop.
 *
 * Stopping closes every stream, then every database connection (the
 * publisher's, each acceptor's, the sweeper's), so MariaDB sees each
 * one end instead of an "Aborted connection": the acceptors are woken
 * from accept() by shutting the listening socket down, which nginx
 * sees as a refused connection, as it would any stopped upstream.
 */
#define _GNU_SOURCE	/* pthread_timedjoin_np */
#include <sys/resource.h>
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>
#include <mysql.h>

#include "engine.h"
#include "log.h"
#include "sse.h"
#include "util.h"

struct sse_conf sse_conf = { 8, 25, 15000, 1000 };

/* Every stream is a descriptor: take all the kernel allows. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("descriptor limit %llu",
		    (unsigned long long)rl.rlim_cur);
}

/* The publisher gets this long to close every stream cleanly; then the
 * acceptors (ending the request in hand) and the sweeper (ending its
 * pass) get STOP_THREADS_MS together. */
#define STOP_WAIT_MS	800
#define STOP_THREADS_MS	3000
#define ACCEPTORS_MAX	64

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += (ms % 1000) * 1000000L;
	ts->tv_sec += ms / 1000 + ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

int
main(void)
{
	pthread_t	 pub, sweeper, acc[ACCEPTORS_MAX];
	struct timespec	 ts;
	sigset_t	 set;
	int		 i, sig, left = 0;

	log_init("broadway-sse");
	sse_conf.acceptors = (int)env_int64("BROADWAY_SSE_ACCEPTORS", 8, 1,
	    ACCEPTORS_MAX);
	sse_conf.poll_ms = (int)env_int64("BROADWAY_SSE_POLL_MS", 25, 1, 1000);
	sse_conf.keepalive_ms = (int)env_int64("BROADWAY_SSE_KEEPALIVE_MS", 15000,
	    100, 3600 * 1000);
	engine_conf_load();
	raise_nofile();

	signal(SIGPIPE, SIG_IGN);
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("mysql_library_init failed");
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (hub_init() == -1)
		fatal("hub_init");

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask failed");

	if (pthread_create(&pub, NULL, hub_main, NULL) != 0)
		fatalx("cannot start the publisher");
	if (pthread_create(&sweeper, NULL, sweep_main, NULL) != 0)
		fatalx("cannot start the sweeper");
	for (i = 0; i < sse_conf.acceptors; i++)
		if (pthread_create(&acc[i], NULL, acceptor_main, NULL) != 0)
			fatalx("cannot start acceptor %d", i);
	log_info("started: %d acceptors, poll %d ms, keep-alive %d ms",
	    sse_conf.acceptors, sse_conf.poll_ms, sse_conf.keepalive_ms);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
			break;
		log_info("ignoring signal %d", sig);
	}
	log_info("signal %d: closing streams", sig);
	hub_stop();
	deadline_in(&ts, STOP_WAIT_MS);
	if (pthread_timedjoin_np(pub, NULL, &ts) != 0)
		log_warnx("publisher still busy; exiting anyway");
	/* accept() in every acceptor now fails (EINVAL); each sees the hub
	 * stopping and closes its connection. */
	if (shutdown(FCGI_LISTENSOCK_FILENO, SHUT_RDWR) == -1)
		log_warn("shutdown of the listening socket");
	deadline_in(&ts, STOP_THREADS_MS);
	for (i = 0; i < sse_conf.acceptors; i++)
		if (pthread_timedjoin_np(acc[i], NULL, &ts) != 0)
			left++;
	if (pthread_timedjoin_np(sweeper, NULL, &ts) != 0)
		left++;
	if (left > 0)
		log_warnx("%d threads still busy; exiting anyway", left);
	log_info("stopped");
	fflush(stderr);
	_exit(0);
}
