#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "extern.h"
#include "log.h"

/*
 * The nudge stream (PROTOCOL.md, "Nudge"): one long GET of
 * /stream/grader/{worker_id}/work, server-sent events from broadway-sse.
 * Each `work` event means jobs were queued somewhere; the caller wakes
 * its dispatcher.  Only the event names matter, so the parser keeps one
 * bounded line and no data.  No total timeout (the stream is meant to
 * stay open); a stream that stays silent past the server's keep-alives
 * is taken as dead.
 */

#define NUDGE_LOW_SPEED_S	60	/* keep-alives come every <= ~20 s */

void
nudge_parse_init(struct nudge_parse *p)
{
	memset(p, 0, sizeof(*p));
}

/* One complete line (without its end). */
static int
nudge_line(struct nudge_parse *p)
{
	static const char	 want[] = "event: work";
	int			 ended = 0;

	if (p->skip) {
		p->skip = 0;
		return 0;
	}
	if (p->len == 0) {		/* a blank line ends the event */
		ended = p->work;
		p->work = 0;
		return ended;
	}
	if (p->len == sizeof(want) - 1 && memcmp(p->line, want, p->len) == 0)
		p->work = 1;
	return 0;
}

int
nudge_feed(struct nudge_parse *p, const char *data, size_t n)
{
	size_t	 i;
	int	 events = 0;
	char	 c;

	for (i = 0; i < n; i++) {
		c = data[i];
		if (c == '\n') {
			/* CRLF endings are allowed by the SSE format. */
			if (p->len > 0 && p->line[p->len - 1] == '\r')
				p->len--;
			events += nudge_line(p);
			p->len = 0;
			continue;
		}
		/* A long line is no event name we know: skip the rest. */
		if (p->len >= sizeof(p->line)) {
			p->skip = 1;
			p->len = 0;
		}
		if (!p->skip)
			p->line[p->len++] = c;
	}
	return events;
}

struct nudge_ctx {
	const struct nudge_cb	*cb;
	struct nudge_parse	 parse;
	int			 events;
};

static size_t
on_stream(char *data, size_t size, size_t nmemb, void *arg)
{
	struct nudge_ctx	*x = arg;
	int			 n;

	if ((n = nudge_feed(&x->parse, data, size * nmemb)) > 0) {
		x->events += n;
		x->cb->work(x->cb->arg);
	}
	return size * nmemb;
}

/* Called about once a second even on a quiet stream: the way out. */
static int
on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult,
    curl_off_t uln)
{
	struct nudge_ctx	*x = arg;

	(void)dlt;
	(void)dln;
	(void)ult;
	(void)uln;
	return x->cb->stop(x->cb->arg) ? 1 : 0;
}

#define SETOPT(opt, val) do {						\
	if (curl_easy_setopt(h, opt, val) != CURLE_OK) {		\
		snprintf(err, errlen, "curl_easy_setopt(%s) failed", #opt); \
		goto out;						\
	}								\
} while (0)

int
nudge_stream(const struct wconf *c, const struct nudge_cb *cb, char *err,
    size_t errlen)
{
	static const char *const extra[] = { "Accept: text/event-stream",
					     NULL };
	struct nudge_ctx	 x;
	struct curl_slist	*hdrs = NULL;
	CURL			*h;
	CURLcode		 cc;
	char			 url[URL_MAX + ID_MAX + 64];
	char			 errbuf[CURL_ERROR_SIZE];

	memset(&x, 0, sizeof(x));
	x.cb = cb;
	nudge_parse_init(&x.parse);
	if ((h = api_handle(c, extra, errbuf, &hdrs)) == NULL) {
		snprintf(err, errlen, "cannot set up libcurl");
		return 0;
	}
	if (snprintf(url, sizeof(url), "%s/stream/grader/%s/work", c->api_url,
	    c->worker_id) >= (int)sizeof(url)) {
		snprintf(err, errlen, "URL too long");
		goto out;
	}
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(CURLOPT_LOW_SPEED_TIME, (long)NUDGE_LOW_SPEED_S);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_HTTPGET, 1L);
	/* 4xx/5xx end the transfer: no error body is fed to the parser. */
	SETOPT(CURLOPT_FAILONERROR, 1L);
	SETOPT(CURLOPT_WRITEFUNCTION, on_stream);
	SETOPT(CURLOPT_WRITEDATA, &x);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(CURLOPT_XFERINFODATA, &x);
	cc = curl_easy_perform(h);
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		snprintf(err, errlen, "stopped");
	else if (cc != CURLE_OK)
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf :
		    curl_easy_strerror(cc));
	else
		snprintf(err, errlen, "the server ended the stream");
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);	/* holds the token */
	return x.events > 0;
}

/*
 * The thread that holds the stream, reconnecting with backoff.  The
 * dispatcher polls whatever happens here; losing the stream only takes
 * it back to the API's poll_max_ms (and wakes it once, as its nap may
 * be long).
 */
static void
nudge_work(void *arg)
{
	struct worker	*w = arg;

	pthread_mutex_lock(&w->mu);
	if (!w->nudge_up) {
		w->nudge_up = 1;
		log_info("nudge stream up: queued jobs wake the dispatcher");
	}
	w->nudged = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int
nudge_stop(void *arg)
{
	struct worker	*w = arg;
	int		 v;

	pthread_mutex_lock(&w->mu);
	v = worker_stopping(w, 0) || w->stop_heartbeat;
	pthread_mutex_unlock(&w->mu);
	return v;
}

void *
nudge_main(void *arg)
{
	struct worker	*w = arg;
	struct nudge_cb	 cb = { nudge_work, nudge_stop, w };
	char		 err[256];
	int64_t		 backoff = RETRY_MIN_MS;
	int		 up, fails = 0;

	log_set_request(w->conf.worker_id);
	while (!nudge_stop(w)) {
		up = nudge_stream(&w->conf, &cb, err, sizeof(err));
		pthread_mutex_lock(&w->mu);
		if (w->nudge_up) {
			w->nudge_up = 0;
			w->nudged = 1;
			pthread_cond_broadcast(&w->cv);
		}
		pthread_mutex_unlock(&w->mu);
		if (nudge_stop(w))
			break;
		if (up) {
			log_warnx("nudge stream lost (%s): polling until it is"
			    " back", err);
			backoff = RETRY_MIN_MS;
			fails = 0;
		} else if (fails++ % 10 == 0)
			log_warnx("nudge stream unavailable (%s): polling",
			    err);
		worker_nap(w, backoff, 0);
		backoff = backoff_next(backoff, RETRY_MAX_MS);
	}
	return NULL;
}
