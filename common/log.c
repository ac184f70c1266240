#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char	*log_prog = "broadway";
static int		 log_verbose;
static __thread char	 log_reqid[40];

void
log_init(const char *prog)
{
	const char	*v;

	log_prog = prog;
	v = getenv("BROADWAY_DEBUG");
	log_verbose = v != NULL && v[0] == '1';
}

void
log_set_request(const char *reqid)
{
	if (reqid == NULL || snprintf(log_reqid, sizeof(log_reqid), "%s",
	    reqid) >= (int)sizeof(log_reqid))
		log_reqid[0] = '\0';
}

/*
 * The message is quoted and control characters, quotes and backslashes
 * escaped, so request data cannot forge log lines.
 */
static void
log_emit(const char *level, const char *fmt, va_list ap, int with_errno)
{
	char		 msg[1024], line[2400], *o;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 i, n;
	int		 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (size_t)snprintf(line, sizeof(line),
	    "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s%s%s msg=\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level, log_prog,
	    log_reqid[0] ? " req=" : "", log_reqid);
	o = line + n;
	for (i = 0; msg[i] != '\0' && o < line + sizeof(line) - 8; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o++ = '"';
	*o++ = '\n';
	fwrite(line, 1, (size_t)(o - line), stderr);
	fflush(stderr);
	errno = saved;
}

#define LOG_FN(name, level, err)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(level, fmt, ap, err);			\
	va_end(ap);					\
}

LOG_FN(log_info, "info", 0)
LOG_FN(log_warnx, "warn", 0)
LOG_FN(log_warn, "warn", 1)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit("debug", fmt, ap, 0);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, 1);
	va_end(ap);
	exit(1);
}
