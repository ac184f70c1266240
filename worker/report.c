#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * Reporting a result: one loop for a result just finished by a slot
 * and for those a previous incarnation left in the spool.  It sends
 * until the API answers, waiting with backoff between tries; accepted
 * or refused (the lease is gone) removes the spool file; a result the
 * API finds too large or malformed is sent once more without its logs,
 * and if that is refused too the file is kept aside as .rejected.
 */

static void
rename_rejected(const char *path)
{
	char	 bad[PATH_MAX];

	if (path == NULL)
		return;
	if (snprintf(bad, sizeof(bad), "%s.rejected", path) < (int)sizeof(bad) &&
	    rename(path, bad) == 0)
		log_warnx("kept the refused result as %s", bad);
	else
		spool_remove(path);
}

static void
spool_done(const char *path)
{
	if (path != NULL)
		spool_remove(path);
}

/* The same result with the logs replaced by a note, for a 400/413. */
static char *
degrade(const char *body, const char *why)
{
	json_t	*r;
	char	 note[400], err[64], *s = NULL;

	if ((r = jsonx_parse_object(body, strlen(body), err, sizeof(err))) == NULL)
		return NULL;
	snprintf(note, sizeof(note), "[broadway-worker] the API refused this"
	    " result (%s); its logs were dropped\n", why);
	if (json_object_set_new(r, "logs", json_pack("{s:s, s:s}", "stdout",
	    "", "stderr", note)) == 0)
		s = jsonx_dump(r);
	json_decref(r);
	return s;
}

/*
 * Send one result (spooled at path, or NULL if it could not be) until
 * the API answers.  `what` names it in logs ("job=ID").  0 once the API
 * answered, -1 if rw->wait gave up (the spool file stays for the next
 * start).
 */
int
report_send(struct api *a, const char *path, const char *body, size_t len,
    const char *what, const struct report_wait *rw)
{
	int64_t		 backoff = RETRY_MIN_MS;
	char		*alt = NULL;
	enum api_rc	 rc;
	int		 tries = 0, ret = 0;

	for (;;) {
		rc = api_result(a, alt ? alt : body, alt ? strlen(alt) : len);
		if (rc == API_OK) {
			log_info("%s result accepted", what);
			spool_done(path);
			goto out;
		}
		if (rc == API_REFUSED || rc == API_UNKNOWN_WORKER) {
			log_warnx("%s result refused (%s): the lease was lost;"
			    " dropping it", what, api_error(a));
			spool_done(path);
			goto out;
		}
		if (rc == API_BAD) {
			if (alt == NULL && (alt = degrade(body,
			    api_error(a))) != NULL) {
				log_warnx("%s result refused (%s): sending it"
				    " without logs", what, api_error(a));
				continue;
			}
			log_warnx("%s result refused (%s)", what, api_error(a));
			rename_rejected(path);
			goto out;
		}
		if (tries++ % 10 == 0)
			log_warnx("%s cannot send the result (%s): retrying",
			    what, api_error(a));
		if (rw->wait(rw->arg, backoff)) {
			if (path != NULL)
				log_warnx("%s result left in %s", what, path);
			ret = -1;
			goto out;
		}
		backoff = backoff_next(backoff, RETRY_MAX_MS);
	}
out:
	free(alt);
	return ret;
}

/* "job=ID-ATTEMPT (spooled)" from WORK/spool/ID-ATTEMPT.json. */
static void
spool_what(const char *path, char *what, size_t len)
{
	const char	*base = strrchr(path, '/');
	size_t		 n;

	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 5)
		n -= 5;		/* ".json" */
	snprintf(what, len, "job=%.*s (spooled)", (int)n, base);
}

/*
 * Send what the spool holds, oldest name first, before registering.
 * 0 when it is empty (or unreadable), -1 if rw->wait gave up.
 */
int
report_spool(const struct wconf *c, const struct report_wait *rw)
{
	struct api	*a = NULL;
	char		**paths = NULL, *body, what[PATH_MAX + 32];
	size_t		  n = 0, i, len;
	int		  rc = 0;

	if (spool_list(c, &paths, &n) == -1 || n == 0)
		goto out;
	log_info("sending %zu spooled result(s) before registering", n);
	if ((a = api_open(c)) == NULL)
		fatalx("cannot set up libcurl");
	for (i = 0; i < n && rc == 0; i++) {
		if ((body = spool_read(paths[i], &len)) == NULL) {
			rename_rejected(paths[i]);
			continue;
		}
		spool_what(paths[i], what, sizeof(what));
		rc = report_send(a, paths[i], body, len, what, rw);
		free(body);
	}
out:
	api_close(a);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}
