// Ivan Petrov - MP1 RPN calculator
// Reads lines of any length into a growing buffer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *buf;
size_t len, cap;

// read one line into buf (without the newline)
void read_line(void)
{
	int c;
	len = 0;
	while ((c = getchar()) != '\n') {	// EOF is handled in main
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			buf = realloc(buf, cap);
		}
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
}

int main(void)
{
	long long st[10000];
	for (;;) {
		read_line();
		if (len == 0 && feof(stdin))
			break;
		int n = 0, bad = 0, any = 0;
		for (char *t = strtok(buf, " \t\r"); t; t = strtok(NULL, " \t\r")) {
			any = 1;
			if (strlen(t) == 1 && strchr("+-*/", *t)) {
				if (n < 2) { bad = 1; break; }
				long long b = st[--n], a = st[--n];
				if (*t == '+') bad = __builtin_add_overflow(a, b, &a);
				if (*t == '-') bad = __builtin_sub_overflow(a, b, &a);
				if (*t == '*') bad = __builtin_mul_overflow(a, b, &a);
				if (*t == '/') { if (b == 0 || (b == -1 && a == -9223372036854775807LL - 1)) bad = 1; else a /= b; }
				st[n++] = a;
			} else {
				char *e;
				st[n++] = strtoll(t, &e, 10);
				if (*e) bad = 1;
			}
			if (bad) break;
		}
		if (!any) continue;
		if (bad || n != 1) puts("error");
		else printf("%lld\n", st[0]);
	}
	return 0;
}
