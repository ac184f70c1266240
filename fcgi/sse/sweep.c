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

	(void)arg;
	mysql_thread_init();
	for (;;) {
		sleep(1);
		if (db == NULL && (db = db_open_env()) == NULL)
			continue;
		engine_sweep(db);
	}
	/* NOTREACHED: the process exits from main. */
	return NULL;
}
