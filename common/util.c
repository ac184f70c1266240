#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

int
id_valid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return i > 0;
}

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
random_bytes(void *p, size_t n)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		r = getrandom((char *)p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 raw[64];
	size_t		 i;

	if (nbytes > sizeof(raw) || random_bytes(raw, nbytes) == -1)
		return -1;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int
public_id_new(char out[PUBLIC_ID_LEN + 1])
{
	return random_hex(out, PUBLIC_ID_LEN / 2);
}

int64_t
env_int64(const char *name, int64_t dflt, int64_t min, int64_t max)
{
	const char	*v = getenv(name);
	int64_t		 out;

	if (v == NULL || *v == '\0')
		return dflt;
	if (parse_int64(v, min, max, &out) == -1)
		fatalx("%s must be an integer in [%lld, %lld]", name,
		    (long long)min, (long long)max);
	return out;
}

int64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

int
copy_str(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return -1;
	if (snprintf(dst, size, "%s", src) >= (int)size)
		return -1;
	return 0;
}
