/*
 * Unit tests for the worker's nudge stream parser: `work` events are
 * counted whatever the chunking, other events, comments, CRLF and
 * overlong lines are not.
 */
#include <stdio.h>
#include <string.h>

#include "../../worker/extern.h"
#include "harness.h"

static int
feed_str(struct nudge_parse *p, const char *s)
{
	return nudge_feed(p, s, strlen(s));
}

/* The whole text fed one byte at a time. */
static int
feed_bytes(const char *s)
{
	struct nudge_parse	 p;
	int			 n = 0;

	nudge_parse_init(&p);
	for (; *s != '\0'; s++)
		n += nudge_feed(&p, s, 1);
	return n;
}

static void
test_events(void)
{
	static const char	 two[] = "event: work\ndata: {}\n\n"
	    ": keepalive\n\nevent: work\ndata: {}\n\n";
	struct nudge_parse	 p;
	char			 lng[300];

	nudge_parse_init(&p);
	T_CHECK(feed_str(&p, two) == 2);
	T_CHECK(feed_bytes(two) == 2);

	/* Split across calls: counted when the blank line comes. */
	nudge_parse_init(&p);
	T_CHECK(feed_str(&p, "event: wo") == 0);
	T_CHECK(feed_str(&p, "rk\ndata: {}\n") == 0);
	T_CHECK(feed_str(&p, "\n") == 1);

	/* CRLF line ends. */
	nudge_parse_init(&p);
	T_CHECK(feed_str(&p, "event: work\r\ndata: {}\r\n\r\n") == 1);

	/* Other events, comments, near misses. */
	nudge_parse_init(&p);
	T_CHECK(feed_str(&p, "event: status_update\ndata: {}\n\n") == 0);
	T_CHECK(feed_str(&p, ": event: work\n\n") == 0);
	T_CHECK(feed_str(&p, "event: workers\n\n") == 0);
	T_CHECK(feed_str(&p, "event:work\n\n") == 0);
	T_CHECK(feed_str(&p, "\n\n\n") == 0);

	/* An overlong line is skipped, the parser recovers after it. */
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	memcpy(lng, "event: work", 11);
	nudge_parse_init(&p);
	T_CHECK(feed_str(&p, lng) == 0);
	T_CHECK(feed_str(&p, "\n\n") == 0);
	T_CHECK(feed_str(&p, "event: work\n\n") == 1);
}

int
main(void)
{
	test_events();
	return T_DONE();
}
