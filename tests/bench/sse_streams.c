/*
 * Many SSE streams in one thread (see sse_streams.h).  libcurl's socket
 * interface with epoll: a poll() over thousands of sockets per wakeup
 * would cost the client more than the server it measures.
 */
#include <sys/epoll.h>
#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sse_streams.h"

struct sse_hooks	 sse_hooks;

static int		 epfd = -1;
static long		 timer_ms = -1;
static CURLM		*multi;
static CURLSH		*share;

int64_t
sse_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t
on_data(char *p, size_t sz, size_t nm, void *u)
{
	struct sse_conn	*s = u;
	size_t		 n = sz * nm, i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (s->ll < sizeof(s->line) - 1)
				s->line[s->ll++] = p[i];
			continue;
		}
		s->line[s->ll] = '\0';
		if (s->ll == 0) {
			if (s->data[0] != '\0' && sse_hooks.event != NULL)
				sse_hooks.event(s);
			s->data[0] = '\0';
			s->event[0] = '\0';
		} else if (strncmp(s->line, "data: ", 6) == 0)
			snprintf(s->data, sizeof(s->data), "%s", s->line + 6);
		else if (strncmp(s->line, "event: ", 7) == 0)
			snprintf(s->event, sizeof(s->event), "%s", s->line + 7);
		s->ll = 0;
	}
	return n;
}

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *u, void *sp)
{
	struct epoll_event	 ev;

	(void)e;
	(void)u;
	(void)sp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = fd;
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == -1 && errno == ENOENT)
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static int
on_timer(CURLM *m, long ms, void *u)
{
	(void)m;
	(void)u;
	timer_ms = ms;
	return 0;
}

void
sse_init(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	share = curl_share_init();
	/* One handshake's session is resumed by the others, as browsers do. */
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
	if ((epfd = epoll_create1(0)) == -1) {
		perror("epoll_create1");
		exit(1);
	}
}

void
sse_conn_setup(struct sse_conn *s, const char *url, struct curl_slist *hdr,
    const char *cafile)
{
	if ((s->e = curl_easy_init()) == NULL) {
		fprintf(stderr, "curl_easy_init failed\n");
		exit(1);
	}
	curl_easy_setopt(s->e, CURLOPT_URL, url);
	curl_easy_setopt(s->e, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(s->e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->e, CURLOPT_SHARE, share);
	curl_easy_setopt(s->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->e, CURLOPT_CONNECTTIMEOUT, 60L);
	curl_easy_setopt(s->e, CURLOPT_BUFFERSIZE, 4096L);
	curl_easy_setopt(s->e, CURLOPT_PROTOCOLS_STR, "https");
}

void
sse_conn_add(struct sse_conn *s)
{
	curl_multi_add_handle(multi, s->e);
}

static void
reap(void)
{
	struct sse_conn	*s;
	CURLMsg		*msg;
	int		 left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		s->done = 1;
		s->rc = (int)msg->data.result;
		s->http = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
		    &s->http);
		curl_multi_remove_handle(multi, msg->easy_handle);
		curl_easy_cleanup(msg->easy_handle);
		s->e = NULL;
		if (sse_hooks.done != NULL)
			sse_hooks.done(s);
	}
}

void
sse_pump(int64_t ms, int (*cond)(void))
{
	struct epoll_event	 evs[256];
	int64_t			 end = sse_now_us() + ms * 1000;
	int			 i, n, running, wait, flags;

	while (sse_now_us() < end && (cond == NULL || !cond())) {
		wait = (int)((end - sse_now_us()) / 1000) + 1;
		if (timer_ms >= 0 && timer_ms < wait)
			wait = (int)timer_ms;
		n = epoll_wait(epfd, evs, 256, wait);
		if (n <= 0) {
			timer_ms = -1;
			curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0,
			    &running);
		}
		for (i = 0; i < n; i++) {
			flags = 0;
			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(multi, evs[i].data.fd, flags,
			    &running);
		}
		reap();
	}
}

void
sse_cleanup(void)
{
	curl_multi_cleanup(multi);
	curl_share_cleanup(share);
	close(epfd);
	multi = NULL;
	share = NULL;
	epfd = -1;
}
