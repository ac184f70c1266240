/*
 * broadway-fcgi: one stateless, single-threaded FastCGI process of the
 * pool spawn-fcgi/multiwatch keeps alive.  It holds one database
 * connection and nothing else that must survive it.
 *
 * SIGTERM, SIGINT and SIGQUIT (multiwatch sends its children SIGQUIT when
 * it is told to stop) end the process after the request in hand, closing the database connection:
 * libfcgi leaves them at their default, which would drop the
 * connection unannounced and leave "Aborted connection" in MariaDB's
 * log for every child.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "api.h"
#include "log.h"

static volatile sig_atomic_t	 stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	/* Makes libfcgi's accept give up instead of retrying. */
	FCGX_ShutdownPending();
}

/* No SA_RESTART: a signal must interrupt the wait in accept(). */
static void
catch_term(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

int
main(void)
{
	FCGX_Request	 fx;
	struct req	 r;
	struct db	*db;
	int		 rc;

	log_init("broadway-fcgi");
	engine_conf_load();
	signal(SIGPIPE, SIG_IGN);
	catch_term();

	/* Start even if the database is down: the first request connects. */
	if ((db = db_open_env()) == NULL)
		log_warnx("database not reachable yet; will retry per request");
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (FCGX_InitRequest(&fx, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("FCGX_InitRequest failed");
	while (!stopping && FCGX_Accept_r(&fx) >= 0) {
		if (db == NULL)
			db = db_open_env();
		rc = http_req_init(&r, &fx);
		if (rc != 0)
			http_send_fail(&r, rc, "no such endpoint");
		else if (db == NULL)
			http_send_fail(&r, 503, "database unavailable");
		else
			route_dispatch(db, &r);
		http_req_free(&r);
		FCGX_Finish_r(&fx);
	}
	if (stopping)
		log_info("stopping: closing the database connection");
	db_close(db);
	return 0;
}
