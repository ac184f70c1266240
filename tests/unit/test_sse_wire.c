/*
 * Unit tests for the pure parts of broadway-sse: FastCGI framing, the
 * event text, queue positions and the missing-id bookkeeping.
 *
 * The test links fcgi/sse/wire.c, which has no I/O and no other
 * dependency inside broadway-sse (see the Makefile's unit test rules).
 */
#include <stdio.h>
#include <string.h>

#include <fastcgi.h>

#include "harness.h"
#include "sse.h"
#include "states.h"

static void
test_record(void)
{
	unsigned char	 b[64];
	size_t		 n;

	n = sse_record(b, sizeof(b), FCGI_STDOUT, 0x1234, "hey", 3);
	T_CHECK(n == 11);
	T_CHECK(b[0] == 1 && b[1] == 6 && b[2] == 0x12 && b[3] == 0x34);
	T_CHECK(b[4] == 0 && b[5] == 3 && b[6] == 0 && b[7] == 0);
	T_CHECK(memcmp(b + 8, "hey", 3) == 0);
	T_CHECK(sse_record(b, 10, FCGI_STDOUT, 1, "hey", 3) == 0);
	T_CHECK(sse_record(b, sizeof(b), FCGI_STDOUT, 1, NULL, 0) == 8);

	n = sse_record_end(b, sizeof(b), 7);
	T_CHECK(n == 24);
	/* An empty FCGI_STDOUT closes the stream... */
	T_CHECK(b[1] == FCGI_STDOUT && b[3] == 7 && b[5] == 0);
	/* ...then FCGI_END_REQUEST, app status 0, request complete. */
	T_CHECK(b[8] == 1 && b[9] == FCGI_END_REQUEST && b[11] == 7);
	T_CHECK(b[13] == 8);
	T_CHECK(b[16] == 0 && b[17] == 0 && b[18] == 0 && b[19] == 0);
	T_CHECK(b[20] == FCGI_REQUEST_COMPLETE);
	T_CHECK(sse_record_end(b, 23, 7) == 0);
}

static void
test_events(void)
{
	char	 b[SSE_EVENT_MAX];
	int	 n;

	n = sse_fmt_state(b, sizeof(b), 42, "STARTED");
	T_CHECK(n > 0 && strcmp(b, "event: status_update\nid: 42\n"
	    "data: {\"type\": \"state\", \"data\": \"STARTED\"}\n\n") == 0);
	n = sse_fmt_position(b, sizeof(b), 0, 3);
	T_CHECK(n > 0 && (size_t)n == strlen(b));
	T_CHECK(strcmp(b, "event: status_update\nid: 0\n"
	    "data: {\"type\": \"position\", \"data\": 3}\n\n") == 0);
	T_CHECK(sse_fmt_position(b, 20, 1, 1) == -1);

	T_CHECK(sse_state_word(JOB_QUEUED) == NULL);
	T_CHECK(strcmp(sse_state_word(JOB_STARTED), "STARTED") == 0);
	T_CHECK(strcmp(sse_state_word(JOB_SUCCEEDED), "FINISHED") == 0);
	T_CHECK(strcmp(sse_state_word(JOB_FAILED), "FAILED") == 0);
	T_CHECK(sse_state_word(-1) == NULL && sse_state_word(JOB__MAX) == NULL);
	T_CHECK(!sse_state_terminal(JOB_QUEUED));
	T_CHECK(!sse_state_terminal(JOB_STARTED));
	T_CHECK(sse_state_terminal(JOB_FAILED) && sse_state_terminal(JOB_SUCCEEDED));
}

static void
test_positions(void)
{
	int64_t	 q[] = { 3, 5, 9, 10, 40 };

	T_CHECK(sse_pos_find(q, 5, 3) == 0);
	T_CHECK(sse_pos_find(q, 5, 10) == 3);
	T_CHECK(sse_pos_find(q, 5, 40) == 4);
	T_CHECK(sse_pos_find(q, 5, 4) == -1);
	T_CHECK(sse_pos_find(q, 5, 41) == -1);
	T_CHECK(sse_pos_find(q, 0, 3) == -1);
}

static void
test_gaps(void)
{
	static struct sse_gaps	 g;
	size_t			 i;
	int			 ok;

	sse_gaps_add(&g, 5, 7, 100);
	T_CHECK(g.n == 3 && g.id[0] == 5 && g.id[2] == 7);
	T_CHECK(sse_gaps_take(&g, 6) == 1);
	T_CHECK(sse_gaps_take(&g, 6) == 0);
	T_CHECK(g.n == 2 && g.id[0] == 5 && g.id[1] == 7);
	sse_gaps_add(&g, 9, 9, 200);
	sse_gaps_expire(&g, 150 + SSE_GAP_WAIT_MS, SSE_GAP_WAIT_MS);
	T_CHECK(g.n == 1 && g.id[0] == 9);
	sse_gaps_expire(&g, 200 + SSE_GAP_WAIT_MS, SSE_GAP_WAIT_MS);
	T_CHECK(g.n == 0);

	/* A jump bigger than the table keeps the newest ids. */
	sse_gaps_add(&g, 1, 1000, 0);
	T_CHECK(g.n == SSE_GAP_MAX);
	T_CHECK(g.id[0] == 1000 - SSE_GAP_MAX + 1 && g.id[g.n - 1] == 1000);
	/* A full table drops its oldest entry. */
	sse_gaps_add(&g, 2000, 2000, 1);
	T_CHECK(g.n == SSE_GAP_MAX && g.id[g.n - 1] == 2000);
	T_CHECK(g.id[0] == 1000 - SSE_GAP_MAX + 2);
	ok = 1;
	for (i = 1; i < g.n; i++)
		if (g.id[i] <= g.id[i - 1])
			ok = 0;
	T_CHECK(ok);
	T_CHECK(sse_gaps_take(&g, 2000) == 1 && g.n == SSE_GAP_MAX - 1);
}

int
main(void)
{
	test_record();
	test_events();
	test_positions();
	test_gaps();
	return T_DONE();
}
