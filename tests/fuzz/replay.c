/*
 * Replays the catalogue of hostile inputs (bad-inputs.txt) through the
 * same property checks as the fuzz targets.  Each case runs in its own
 * child, so a crash or a failed property fails that case alone and names
 * its line.  Prints how many bad inputs were tried and refused cleanly,
 * then "N passed, N failed".
 *
 * Line format: KIND INPUT.  KIND is one of
 *   json    a request body the JSON parser must refuse
 *   config  a body that parses, which the config validator must refuse
 *   stage   a stage object stage_valid (and the worker) must refuse
 *   env     an env object jsonx_env_valid must refuse (as in a config,
 *           a stage, or students_env[i] of a run)
 *   run     an accepted config, NUL, a grading_run body the API must
 *           refuse (its env objects, then run_envs_valid)
 *   memory  a memory size memory_parse must refuse
 *   utf8    bytes a stage prints: the capture must turn them into valid
 *           UTF-8 with at least one U+FFFD
 * A leading '+' makes the line a control that must be accepted; "todo "
 * before KIND marks a hole known to be open (issue 10): reported, not
 * failed.  INPUT takes C escapes (\n \r \t \0 \\ \xHH) and \{N}TEXT\}
 * repeats TEXT N times (repeats nest), with \# in TEXT standing for the
 * innermost repetition's number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "jsonx.h"

#define LINE_MAX_LEN	8192
#define INPUT_MAX	(8 * 1024 * 1024)

struct out {
	char	*p;
	size_t	 n;
};

static void
out_put(struct out *o, const char *s, size_t n)
{
	if (o->n + n > INPUT_MAX) {
		fprintf(stderr, "replay: an input over %d bytes\n", INPUT_MAX);
		exit(2);
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Expands s[0..n) into o; \# becomes idx.  -1 on a malformed escape. */
static int
expand(struct out *o, const char *s, size_t n, long idx)
{
	static const char	 from[] = "nrt0\\", to[] = "\n\r\t\0\\";
	const char		*p, *end = s + n, *close;
	char			 num[24], c;
	long			 k, times;
	int			 h1, h2, depth;

	for (p = s; p < end; p++) {
		if (*p != '\\') {
			out_put(o, p, 1);
			continue;
		}
		if (++p == end)
			return -1;
		if (*p == '#') {
			snprintf(num, sizeof(num), "%ld", idx);
			out_put(o, num, strlen(num));
		} else if (*p == 'x') {
			if (end - p < 3 || (h1 = hexval(p[1])) < 0 ||
			    (h2 = hexval(p[2])) < 0)
				return -1;
			c = (char)(h1 * 16 + h2);
			out_put(o, &c, 1);
			p += 2;
		} else if (*p == '{') {
			times = strtol(p + 1, (char **)&p, 10);
			if (p >= end || *p != '}' || times < 0)
				return -1;
			/* The matching \}: escapes are pairs, repeats nest. */
			for (depth = 1, close = p + 1; close + 1 < end; close++) {
				if (close[0] != '\\')
					continue;
				if (close[1] == '{')
					depth++;
				else if (close[1] == '}' && --depth == 0)
					break;
				close++;
			}
			if (close + 1 >= end)
				return -1;
			for (k = 0; k < times; k++)
				if (expand(o, p + 1, (size_t)(close - p - 1), k) == -1)
					return -1;
			p = close + 1;
		} else if (strchr(from, *p) != NULL && *p != '\0') {
			out_put(o, &to[strchr(from, *p) - from], 1);
		} else
			return -1;
	}
	return 0;
}

static json_t *
must_parse(const char *s, size_t n)
{
	char	 err[256];
	json_t	*j;

	j = jsonx_parse_object(s, n, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "the case itself does not parse: %s\n", err);
		_exit(3);	/* exit() would rewind the parent's catalogue */
	}
	return j;
}

/* In the child: 0 if the input was refused, 1 if accepted. */
static int
try_case(const char *kind, const char *s, size_t n)
{
	struct cap_op	 op = { CAP_WRITE, (const unsigned char *)s, n, 1 };
	json_t		*j, *v;
	int		 rc;

	if (strcmp(kind, "json") == 0) {
		char err[256];
		if ((j = jsonx_parse_object(s, n, err, sizeof(err))) != NULL) {
			json_decref(j);
			return 1;
		}
		check_refusal(err, sizeof(err));
		return check_config_body(s, n, NULL, 0) == 0;
	}
	if (strcmp(kind, "utf8") == 0)
		return check_capture(4096, &op, 1) == 0;
	if (strcmp(kind, "memory") == 0)
		return check_memory(s) == 0;
	if (strcmp(kind, "run") == 0) {
		const char *nul = memchr(s, '\0', n);
		if (nul == NULL) {
			fprintf(stderr, "a run case is CONFIG\\0BODY\n");
			_exit(3);
		}
		j = must_parse(s, (size_t)(nul - s));
		if (check_config_value(j) != 0) {
			fprintf(stderr, "the case's config is refused\n");
			_exit(3);
		}
		rc = check_run_body(j, nul + 1, n - (size_t)(nul - s) - 1);
		json_decref(j);
		return rc == 0;
	}
	j = must_parse(s, n);
	if (strcmp(kind, "config") == 0)
		rc = check_config_body(s, n, NULL, 0);
	else if (strcmp(kind, "stage") == 0)
		rc = check_stage_value(j);
	else if (strcmp(kind, "env") == 0) {
		/* {"env": {...}}: the wrapper lets the case be any value. */
		v = json_object_get(j, "env");
		rc = check_env_value(v != NULL ? v : j);
	} else {
		fprintf(stderr, "unknown kind \"%s\"\n", kind);
		_exit(3);
	}
	json_decref(j);
	return rc == 0;
}

/* Runs one case in a child: 0 refused, 1 accepted, 2 crashed or failed. */
static int
run_case(const char *kind, const char *s, size_t n)
{
	pid_t	 pid;
	int	 st;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		_exit(try_case(kind, s, n));
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) > 1)
		return 2;
	return WEXITSTATUS(st);
}

int
main(int argc, char **argv)
{
	static char	 line[LINE_MAX_LEN];
	struct out	 o;
	FILE		*f;
	char		*kind, *input, *nl;
	int		 lineno = 0, control, todo, rc;
	int		 bad = 0, clean = 0, controls = 0, controls_ok = 0, holes = 0;
	int		 passed = 0, failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-replay bad-inputs.txt\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	if ((o.p = malloc(INPUT_MAX + 1)) == NULL)
		return 2;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL && !feof(f)) {
			printf("FAIL line %d: longer than %d bytes\n", lineno,
			    LINE_MAX_LEN);
			failed++;
			continue;
		}
		if (nl != NULL)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		kind = line;
		todo = strncmp(kind, "todo ", 5) == 0;
		if (todo)
			kind += 5;
		control = kind[0] == '+';
		if (control)
			kind++;
		if ((input = strchr(kind, ' ')) == NULL) {
			printf("FAIL line %d: no input\n", lineno);
			failed++;
			continue;
		}
		*input++ = '\0';
		o.n = 0;
		if (expand(&o, input, strlen(input), 0) == -1) {
			printf("FAIL line %d: bad escape\n", lineno);
			failed++;
			continue;
		}
		o.p[o.n] = '\0';
		rc = run_case(kind, o.p, o.n);
		if (control) {
			controls++;
			if (rc == 1) {
				controls_ok++;
				passed++;
			}
			else {
				printf("FAIL line %d: %s control %s\n", lineno,
				    kind, rc == 2 ? "crashed" : "refused");
				failed++;
			}
		} else if (todo) {
			holes++;
			if (rc == 2) {
				printf("FAIL line %d: %s crashed\n", lineno, kind);
				failed++;
			} else if (rc == 0)
				printf("note line %d: known hole now refused;"
				    " drop its \"todo\"\n", lineno);
			else
				printf("open line %d: %s still accepted (issue 10)\n",
				    lineno, kind);
		} else {
			bad++;
			if (rc == 0) {
				clean++;
				passed++;
			} else {
				printf("FAIL line %d: %s input %s\n", lineno, kind,
				    rc == 2 ? "crashed or broke a property" :
				    "was accepted");
				failed++;
			}
		}
	}
	fclose(f);
	free(o.p);
	if (clean == bad)
		printf("%d bad inputs tried, all refused cleanly\n", bad);
	else
		printf("%d bad inputs tried, %d not refused cleanly\n", bad,
		    bad - clean);
	printf("%d of %d controls accepted; %d known holes tried\n",
	    controls_ok, controls, holes);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
