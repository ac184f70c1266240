#ifndef BW_LOG_H
#define BW_LOG_H

/*
 * Structured logs, one line each on stderr, logfmt style:
 *   ts=2026-11-25T20:14:19.123Z level=info prog=broadway-fcgi req=ab12 msg="..."
 * The request id is per thread so the threaded SSE process can use it too.
 */

void	 log_init(const char *prog);
void	 log_set_request(const char *reqid);	/* NULL clears */
void	 log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* appends strerror(errno) */
void	 log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
