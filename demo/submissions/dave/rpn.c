/* Dave Kowalski -- rpn calculator */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stack[1000];
int sp = 0;

int main(void)
{
	char line[100000];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *tok = strtok(line, " \t\n");
		int err = 0;

		if (tok == NULL)
			continue;
		sp = 0;
		while (tok != NULL) {
			if (strcmp(tok, "+") == 0 || strcmp(tok, "-") == 0 ||
			    strcmp(tok, "*") == 0 || strcmp(tok, "/") == 0) {
				if (sp < 2) {
					err = 1;
					break;
				}
				int b = stack[--sp];
				int a = stack[--sp];
				if (tok[0] == '+') stack[sp++] = a + b;
				if (tok[0] == '-') stack[sp++] = a - b;
				if (tok[0] == '*') stack[sp++] = a * b;
				if (tok[0] == '/') {
					if (b == 0) {
						err = 1;
						break;
					}
					stack[sp++] = a / b;
				}
			} else {
				stack[sp++] = atoi(tok);	/* TODO check the number */
			}
			tok = strtok(NULL, " \t\n");
		}
		if (err || sp != 1)
			printf("error\n");
		else
			printf("%d\n", stack[0]);
	}
	return 0;
}
