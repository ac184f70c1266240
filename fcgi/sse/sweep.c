/*
 * The sweeper thread: broadway-sse is the one long-lived process of the
 * API side, so it runs the dead-worker sweep once a second.  Without it a
 * worker that dies while no other worker calls in would hold its jobs
 * until the next claim or heartbeat.  engine_sweep is a single
 * primary-key read when nothing is due, and every API process may sweep
 * too (it is throttled cluster-wide through the scheduler row).
 */
#include <unistd.h>

#include <mysql.h>

#include "db.h"
#include "engine.h"
#include "log.h"
#include "sse.h"

void *
sweep_main(void *arg)
{
	struct db	*db = NULL;
	int		 i;

	(void)arg;
	mysql_thread_init();
	while (!hub_stopping()) {
		/* A second in steps, so a stop is seen within 100 ms. */
		for (i = 0; i < 10 && !hub_stopping(); i++)
			usleep(100000);
		if (hub_stopping())
			break;
		if (db == NULL && (db = db_open_env()) == NULL)
			continue;
		engine_sweep(db);
	}
	/* Stopping: the connection is closed, not dropped (main.c). */
	db_close(db);
	mysql_thread_end();
	return NULL;
}
