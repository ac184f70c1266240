/*
 * libFuzzer target: a POST grading_config body, optionally followed by a
 * NUL byte and a POST grading_run body whose env objects are layered into
 * the jobs of that config.  Properties: props_config.c.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*body = (const char *)data, *nul;
	size_t		 len = size;

	if ((nul = memchr(body, '\0', size)) != NULL) {
		len = (size_t)(nul - body);
		(void)check_config_body(body, len, nul + 1, size - len - 1);
	} else
		(void)check_config_body(body, len, NULL, 0);
	return 0;
}
