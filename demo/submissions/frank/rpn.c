/* Frank Li: rpn.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long stack[10000];
int n;

bool is_operator(const char *s)
{
	return strlen(s) == 1 && strchr("+-*/", s[0]) != NULL;
}

int main(void)
{
	char line[65536];

	while (fgets(line, sizeof line, stdin)) {
		bool ok = true;
		n = 0;
		for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n")) {
			if (is_operator(t)) {
				if (n < 2) { ok = false; break; }
				long long b = stack[--n], a = stack[--n];
				if (t[0] == '/' && b == 0) { ok = false; break; }
				stack[n++] = t[0] == '+' ? a + b : t[0] == '-' ? a - b :
				    t[0] == '*' ? a * b : a / b;
			} else {
				stack[n++] = atoll(t)
			}
		}
		if (!ok || n != 1) puts("error");
		else printf("%lld\n", stack[0]);
	}
	return 0;
}
