#ifndef BW_FUZZ_CHECK_H
#define BW_FUZZ_CHECK_H

/*
 * What the fuzz targets assert, shared by the libFuzzer harnesses and the
 * replay of the bad-input catalogue (replay.c).  A failed property aborts
 * with file:line and the expression, which libFuzzer reports as a crash
 * and saves the input that caused it.
 */

#include <stddef.h>

#include <jansson.h>

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

void	 fuzz_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));

/* Strict UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
int	 utf8_valid(const unsigned char *, size_t);

/* A refusal message the API can send: non-empty, NUL-terminated inside
 * its buffer, and valid UTF-8 (it becomes a JSON string). */
void	 check_refusal(const char *err, size_t errlen);

/* props_config.c: the upload and run-start parsers (0 accepted, -1 refused) */
int	 check_config_body(const char *body, size_t len, const char *run,
	    size_t runlen);
int	 check_config_value(const json_t *config);
int	 check_run_body(const json_t *config, const char *run, size_t runlen);
int	 check_stage_value(const json_t *stage);
int	 check_env_value(const json_t *env);
int	 check_memory(const char *s);

/* props_capture.c: one scripted capture against a model of its output */
enum cap_op_kind { CAP_WRITE, CAP_PUTS, CAP_STAGE_END };
struct cap_op {
	enum cap_op_kind	 kind;
	const unsigned char	*p;
	size_t			 n;
	size_t			 repeat;	/* CAP_WRITE: times p[0..n) is written */
};
/* Runs ops, checks the result; returns how many U+FFFD it holds. */
size_t	 check_capture(size_t cap, const struct cap_op *, size_t nops);

#endif
