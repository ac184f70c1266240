/* Judy Alvarez -- RPN calculator, token by token with scanf */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	long long st[4096];
	int n = 0, bad = 0, any = 0;
	char tok[256], sep;

	/* read a token and the character after it; a newline ends the line */
	while (scanf("%255s%c", tok, &sep) != 0) {
		any = 1;
		if (!bad && strlen(tok) == 1 && strchr("+-*/", tok[0])) {
			if (n < 2) {
				bad = 1;
			} else {
				long long b = st[--n], a = st[--n];
				if (tok[0] == '+') bad = __builtin_add_overflow(a, b, &a);
				else if (tok[0] == '-') bad = __builtin_sub_overflow(a, b, &a);
				else if (tok[0] == '*') bad = __builtin_mul_overflow(a, b, &a);
				else if (b == 0 || (a == INT64_MIN && b == -1)) bad = 1;
				else a /= b;
				st[n++] = a;
			}
		} else if (!bad) {
			char *end;
			st[n++] = strtoll(tok, &end, 10);
			bad = *end != '\0';
		}
		if (sep == '\n') {
			if (any) {
				if (bad || n != 1) printf("error\n");
				else printf("%lld\n", st[0]);
			}
			n = bad = any = 0;
		}
	}
	return 0;
}
