/*
 * libFuzzer target: a script of capture calls.  Two bytes give the cap
 * (0..8191, so truncation is common), then each op byte is one of
 *   .....00  write the next n bytes once (n: the following byte)
 *   .....01  write the next n bytes (16 * k + 1) times (k: a byte)
 *   .....10  capture_puts the next n bytes as a C string
 *   .....11  capture_stage_end
 * Repeats stop at 16 KiB of input in all.  Properties: props_capture.c.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"

#define OPS_MAX		1024
#define RAW_MAX		(16 * 1024)	/* twice the largest cap */

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cap_op	 ops[OPS_MAX];
	size_t			 i = 2, n, nops = 0, cap, total = 0, rep;
	uint8_t			 op;

	if (size < 2)
		return 0;
	cap = ((size_t)data[0] | (size_t)data[1] << 8) % 8192;
	while (i < size && nops < OPS_MAX) {
		op = data[i++];
		memset(&ops[nops], 0, sizeof(ops[nops]));
		if ((op & 3) == 3) {
			ops[nops++].kind = CAP_STAGE_END;
			continue;
		}
		rep = 1;
		if ((op & 3) == 1 && i < size)
			rep = 16 * (size_t)data[i++] + 1;
		n = i < size ? data[i++] : 0;
		if (n > size - i)
			n = size - i;
		if (n > 0 && rep > (RAW_MAX - total) / n)
			rep = (RAW_MAX - total) / n;
		ops[nops].kind = (op & 3) == 2 ? CAP_PUTS : CAP_WRITE;
		ops[nops].p = data + i;
		ops[nops].n = n;
		ops[nops].repeat = rep;
		total += n * rep;
		nops++;
		i += n;
	}
	(void)check_capture(cap, ops, nops);
	return 0;
}
