// Bob Nguyen - RPN calculator
// Reads the whole line, then walks it by hand (no strtok).
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    long long val;
    struct node *next;
} node;

static node *top = NULL;
static int size = 0;

static void push(long long v) {
    node *n = malloc(sizeof(node));
    if (n == NULL) { perror("malloc"); exit(1); }
    n->val = v;
    n->next = top;
    top = n;
    size++;
}

static long long pop(void) {
    node *n = top;
    long long v = n->val;
    top = n->next;
    free(n);
    size--;
    return v;
}

static void clear(void) {
    while (top) pop();
}

// parse a signed decimal number; false if it is not one or does not fit
static bool parse_num(const char *s, const char *e, long long *out) {
    bool neg = false;
    unsigned long long v = 0, lim;
    if (s < e && (*s == '+' || *s == '-')) { neg = (*s == '-'); s++; }
    if (s == e) return false;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; s < e; s++) {
        if (!isdigit((unsigned char)*s)) return false;
        unsigned d = *s - '0';
        if (v > (lim - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

static bool apply(char op) {
    if (size < 2) return false;
    long long b = pop(), a = pop(), r;
    bool ovf = false;
    if (op == '+') ovf = __builtin_saddll_overflow(a, b, &r);
    else if (op == '-') ovf = __builtin_ssubll_overflow(a, b, &r);
    else if (op == '*') ovf = __builtin_smulll_overflow(a, b, &r);
    else {
        if (b == 0 || (a == LLONG_MIN && b == -1)) return false;
        r = a / b;
    }
    if (ovf) return false;
    push(r);
    return true;
}

int main(void) {
    char *line = NULL;
    size_t n = 0;
    while (getline(&line, &n, stdin) != -1) {
        const char *p = line;
        bool ok = true, empty = true;
        clear();
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
            if (!*p) break;
            const char *start = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            empty = false;
            long long v;
            if (p - start == 1 && (*start == '+' || *start == '-' || *start == '*' || *start == '/'))
                ok = apply(*start);
            else if (parse_num(start, p, &v))
                push(v);
            else
                ok = false;
            if (!ok) break;
        }
        if (empty) continue;
        if (ok && size == 1) printf("%lld\n", top->val);
        else printf("error\n");
    }
    clear();
    free(line);
    return 0;
}
