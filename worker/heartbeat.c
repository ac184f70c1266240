#include <pthread.h>
#include <time.h>

#include "extern.h"
#include "log.h"

/*
 * The heartbeat thread keeps the leases alive every `heartbeat`
 * seconds, also while the worker drains (running jobs still need
 * them), and registers again if the API forgot this worker.
 */

/* The API answered 404: its leases are gone; a fresh registration
 * (and its timings) lets the worker go on.  Any thread may call it. */
void
worker_reregister(struct worker *w, struct api *a)
{
	struct api_reg	 reg;

	log_warnx("the API does not know this worker: registering again"
	    " (its running jobs' leases are gone)");
	if (api_register(a, &reg) == API_OK) {
		pthread_mutex_lock(&w->mu);
		w->reg = reg;
		pthread_mutex_unlock(&w->mu);
	} else
		log_warnx("register failed: %s", api_error(a));
}

/* Sleep one heartbeat; 1 if the thread is to end. */
static int
heartbeat_nap(struct worker *w)
{
	struct timespec	 ts;
	int		 end;

	pthread_mutex_lock(&w->mu);
	worker_deadline(&ts, w->reg.heartbeat * 1000);
	while (!w->stop_heartbeat && !worker_stopping(w, 1) &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	end = w->stop_heartbeat || worker_stopping(w, 1);
	pthread_mutex_unlock(&w->mu);
	return end;
}

void *
heartbeat_main(void *arg)
{
	struct worker	*w = arg;
	struct api	*a;
	enum api_rc	 rc;
	int		 errors = 0;

	log_set_request(w->conf.worker_id);
	if ((a = api_open(&w->conf)) == NULL)
		fatalx("cannot set up libcurl");
	while (!heartbeat_nap(w)) {
		rc = api_heartbeat(a);
		if (rc == API_UNKNOWN_WORKER)
			worker_reregister(w, a);
		else if (rc != API_OK) {
			if (errors++ % 10 == 0)
				log_warnx("heartbeat failed: %s", api_error(a));
		} else {
			if (errors > 0)
				log_info("heartbeat: the API answers again");
			errors = 0;
		}
	}
	api_close(a);
	return NULL;
}
