/*
 * broadway-fcgi: one stateless, single-threaded FastCGI process of the
 * pool spawn-fcgi/multiwatch keeps alive.  It holds one database
 * connection and nothing else that must survive it.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "api.h"
#include "log.h"

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

	/* Start even if the database is down: the first request connects. */
	if ((db = db_open_env()) == NULL)
		log_warnx("database not reachable yet; will retry per request");
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (FCGX_InitRequest(&fx, 0, 0) != 0)
		fatalx("FCGX_InitRequest failed");
	while ((rc = FCGX_Accept_r(&fx)) >= 0) {
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
	db_close(db);
	return 0;
}
