#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bounds.h"
#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * The API client: one libcurl easy handle per thread (handles are not
 * shared), kept open so the TLS connection is reused.  HTTPS only, no
 * redirects, connect and total timeouts, an error buffer, and every
 * setopt checked.
 */

/* The API sizes what it accepts to fit this (common/bounds.h). */
#define RESPONSE_MAX	CLAIM_ANSWER_MAX

struct api {
	const struct wconf	*conf;
	CURL			*h;
	struct curl_slist	*hdrs;
	struct buf		 resp;
	char			 errbuf[CURL_ERROR_SIZE];
	char			 msg[256];	/* last failure, for logs */
	int			 unreachable;	/* it was curl's, not an answer */
};

int
api_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct api	*a = arg;

	if (buf_append(&a->resp, p, size * nmemb) == -1)
		return 0;	/* too large: the transfer fails */
	return size * nmemb;
}

#define SETOPT(h, opt, val) do {					\
	if (curl_easy_setopt(h, opt, val) != CURLE_OK) {		\
		log_warnx("curl_easy_setopt(%s) failed", #opt);		\
		goto fail;						\
	}								\
} while (0)

/*
 * A libcurl easy handle set up as every connection of the worker wants
 * it (the API calls here, the nudge stream): HTTPS only, no redirects,
 * the peer and its name verified (against ca_file if set), a connect
 * timeout, TCP keep-alive, no signals, errors into errbuf
 * (CURL_ERROR_SIZE), the bearer token and the extra headers (a NULL-
 * ended list).  *hdrs is the header list: free it with
 * curl_slist_free_all after the handle (it holds the token).  NULL on
 * failure (logged).
 */
CURL *
api_handle(const struct wconf *c, const char *const *extra, char *errbuf,
    struct curl_slist **hdrs)
{
	struct curl_slist	*l;
	CURL			*h;
	char			 auth[TOKEN_MAX + 32];

	*hdrs = NULL;
	if ((h = curl_easy_init()) == NULL)
		return NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	l = curl_slist_append(*hdrs, auth);
	explicit_bzero(auth, sizeof(auth));
	if (l == NULL)
		goto fail;
	*hdrs = l;
	for (; extra != NULL && *extra != NULL; extra++) {
		if ((l = curl_slist_append(*hdrs, *extra)) == NULL)
			goto fail;
		*hdrs = l;
	}
	errbuf[0] = '\0';
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file[0] != '\0')
		SETOPT(h, CURLOPT_CAINFO, c->ca_file);
	SETOPT(h, CURLOPT_HTTPHEADER, *hdrs);
	SETOPT(h, CURLOPT_USERAGENT, "broadway-worker/1");
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	return h;
fail:
	curl_easy_cleanup(h);
	curl_slist_free_all(*hdrs);
	*hdrs = NULL;
	return NULL;
}

struct api *
api_open(const struct wconf *c)
{
	static const char *const extra[] = {
		"Expect:",	/* no 100-continue round trip before results */
		"Content-Type: application/json", NULL
	};
	struct api		*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->conf = c;
	buf_init(&a->resp, RESPONSE_MAX);
	if ((a->h = api_handle(c, extra, a->errbuf, &a->hdrs)) == NULL)
		goto fail;
	SETOPT(a->h, CURLOPT_TIMEOUT, (long)c->request_timeout);
	SETOPT(a->h, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(a->h, CURLOPT_WRITEDATA, a);
	SETOPT(a->h, CURLOPT_POST, 1L);
	return a;
fail:
	api_close(a);
	return NULL;
}

void
api_close(struct api *a)
{
	if (a == NULL)
		return;
	if (a->h != NULL)
		curl_easy_cleanup(a->h);
	curl_slist_free_all(a->hdrs);	/* holds the token: freed, not kept */
	buf_free(&a->resp);
	free(a);
}

const char *
api_error(const struct api *a)
{
	return a->msg;
}

int
api_unreachable(const struct api *a)
{
	return a->unreachable;
}

/* The envelope's data.message, for logs. */
static void
note_failure(struct api *a, long code)
{
	json_t		*root;
	const char	*m = NULL;
	char		 err[64];

	root = a->resp.len ? jsonx_parse_object(a->resp.data, a->resp.len,
	    err, sizeof(err)) : NULL;
	if (root != NULL)
		m = json_string_value(json_object_get(json_object_get(root,
		    "data"), "message"));
	snprintf(a->msg, sizeof(a->msg), "HTTP %ld: %s", code,
	    m ? m : "(no message)");
	json_decref(root);
}

static enum api_rc
api_post(struct api *a, const char *verb, const char *body, size_t len,
    json_t **datap)
{
	char		 url[URL_MAX + ID_MAX + 64], err[128];
	CURLcode	 cc;
	json_t		*root;
	long		 code = 0;

	if (datap != NULL)
		*datap = NULL;
	a->msg[0] = '\0';
	a->errbuf[0] = '\0';
	a->unreachable = 0;
	buf_reset(&a->resp);
	if (snprintf(url, sizeof(url), "%s/grader/%s/%s", a->conf->api_url,
	    a->conf->worker_id, verb) >= (int)sizeof(url)) {
		snprintf(a->msg, sizeof(a->msg), "URL too long");
		return API_BAD;
	}
	if (curl_easy_setopt(a->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(a->h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len) != CURLE_OK) {
		snprintf(a->msg, sizeof(a->msg), "curl_easy_setopt failed");
		return API_RETRY;
	}
	if ((cc = curl_easy_perform(a->h)) != CURLE_OK) {
		snprintf(a->msg, sizeof(a->msg), "%s", a->errbuf[0] ?
		    a->errbuf : curl_easy_strerror(cc));
		a->unreachable = 1;
		return API_RETRY;
	}
	if (curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	if (code == 204)
		return API_NONE;
	if (code != 200) {
		note_failure(a, code);
		switch (code) {
		case 409:
			return API_REFUSED;
		case 404:
			return API_UNKNOWN_WORKER;
		case 400:
		case 413:
			return API_BAD;
		default:
			return API_RETRY;
		}
	}
	root = jsonx_parse_object(a->resp.data ? a->resp.data : "",
	    a->resp.len, err, sizeof(err));
	if (root == NULL || !json_is_object(json_object_get(root, "data")) ||
	    strcmp(json_string_value(json_object_get(root, "status")) ?
	    json_string_value(json_object_get(root, "status")) : "",
	    "success") != 0) {
		snprintf(a->msg, sizeof(a->msg), "HTTP 200 with a bad body: %s",
		    root ? "no success envelope" : err);
		json_decref(root);
		return API_RETRY;
	}
	if (datap != NULL)
		*datap = json_incref(json_object_get(root, "data"));
	json_decref(root);
	return API_OK;
}

static int64_t
int_or(const json_t *o, const char *key, int64_t dflt, int64_t min, int64_t max)
{
	const json_t	*v = json_object_get(o, key);
	int64_t		 n;

	if (!json_is_integer(v))
		return dflt;
	n = json_integer_value(v);
	return n < min ? min : n > max ? max : n;
}

enum api_rc
api_register(struct api *a, struct api_reg *reg)
{
	json_t		*body, *data = NULL;
	char		*s;
	enum api_rc	 rc;

	body = json_pack("{s:s, s:i}", "hostname", a->conf->hostname,
	    "slots", a->conf->slots);
	if (body == NULL || (s = jsonx_dump(body)) == NULL) {
		json_decref(body);
		snprintf(a->msg, sizeof(a->msg), "out of memory");
		return API_RETRY;
	}
	json_decref(body);
	rc = api_post(a, "register", s, strlen(s), &data);
	free(s);
	if (rc == API_OK) {
		reg->heartbeat = int_or(data, "heartbeat", 10, 1, 3600);
		reg->allowance = int_or(data, "allowance", 3 * reg->heartbeat,
		    1, 3 * 3600);
		reg->poll_min_ms = int_or(data, "poll_min_ms", 250, 10, 60000);
		reg->poll_max_ms = int_or(data, "poll_max_ms", 5000,
		    reg->poll_min_ms, 600000);
	}
	json_decref(data);
	return rc;
}

enum api_rc
api_heartbeat(struct api *a)
{
	return api_post(a, "heartbeat", "{}", 2, NULL);
}

enum api_rc
api_claim(struct api *a, const char *body, json_t **job)
{
	return api_post(a, "claim", body, strlen(body), job);
}

enum api_rc
api_result(struct api *a, const char *body, size_t len)
{
	enum api_rc	 rc;

	rc = api_post(a, "result", body, len, NULL);
	/* A result needs only the lease: an unknown worker holds none. */
	return rc == API_UNKNOWN_WORKER ? API_REFUSED : rc;
}

void
api_global_cleanup(void)
{
	curl_global_cleanup();
}
