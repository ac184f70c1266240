#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * Running stages with podman.  podman is started by proc_run (proc.c)
 * with the configured absolute path, a fixed argv built here and an
 * explicit environment: nothing from a stage ever passes through a
 * shell.
 *
 * `--log-driver passthrough` hands our pipes straight to the container,
 * so output is neither copied through conmon's attach socket nor written
 * to a log file.  conmon writes an empty file `oom` into its cwd (podman's
 * cwd) when the container was OOM-killed: each stage runs podman in its
 * own directory and looks for it.
 */

#define ERRTAIL		1024
#define KILL_GRACE_MS	3000	/* after `rm -f`, before SIGKILL of podman */
#define RM_TIMEOUT_MS	60000
#define BACKSTOP_S	10	/* conmon's own --timeout, past ours */

/*
 * podman's --env-file reader (podman 4.3 pkg/env) is line based: it
 * trims leading blanks, skips '#' lines, refuses names with blanks and
 * drops a '\r' before the line end.  Variables it would read back differently go as `-e`,
 * which takes the string verbatim; everything else goes to the file so
 * that course staff's values stay out of the process list.
 */
int
podman_env_split(const json_t *env, struct buf *file, struct argv *av)
{
	const char	*name;
	json_t		*v;
	const char	*s;
	size_t		 len;

	if (env == NULL)
		return 0;
	json_object_foreach((json_t *)env, name, v) {
		s = json_string_value(v);
		len = json_string_length(v);
		if (s == NULL)
			continue;
		if (name[0] == '#' || strpbrk(name, " \t\n\r\v\f") != NULL ||
		    memchr(s, '\n', len) != NULL ||
		    (len > 0 && s[len - 1] == '\r')) {
			if (argv_add(av, "-e") == -1 ||
			    argv_addf(av, "%s=%s", name, s) == -1)
				return -1;
			continue;
		}
		if (buf_printf(file, "%s=", name) == -1 ||
		    buf_append(file, s, len) == -1 ||
		    buf_append(file, "\n", 1) == -1)
			return -1;
	}
	return 0;
}

int
podman_build_argv(const struct stage_ctx *x, const char *envfile,
    const struct argv *env_args, struct argv *av, char *err, size_t errlen)
{
	const struct wconf	*c = x->conf;
	const struct stage_opts	*o = x->opts;
	char			*ep = NULL;
	size_t			 i;
	int			 rc = -1;

	if (argv_add(av, c->podman) == -1 || argv_add(av, "run") == -1 ||
	    argv_add(av, "--rm") == -1 ||
	    argv_add(av, "--name") == -1 || argv_add(av, x->name) == -1 ||
	    argv_addf(av, "--label=broadway.worker=%s", c->worker_id) == -1 ||
	    argv_addf(av, "--label=broadway.job=%s", x->job_id) == -1 ||
	    argv_add(av, "--log-driver=passthrough") == -1 ||
	    argv_addf(av, "--pull=%s", c->pull) == -1 ||
	    argv_add(av, "--hostname") == -1 || argv_add(av, o->hostname) == -1 ||
	    argv_addf(av, "--memory=%lld", (long long)o->memory_bytes) == -1 ||
	    argv_addf(av, "--memory-swap=%lld", (long long)o->memory_bytes) == -1 ||
	    argv_addf(av, "--pids-limit=%d", c->pids_limit) == -1 ||
	    argv_addf(av, "--timeout=%lld",
	    (long long)o->timeout + 1 + BACKSTOP_S) == -1 ||
	    argv_addf(av, "--mount=type=bind,src=%s,dst=/job", x->scratch) == -1)
		goto nomem;
	if (o->networking && c->allow_network) {
		if (argv_addf(av, "--network=%s", c->network_mode) == -1)
			goto nomem;
	} else if (argv_add(av, "--network=none") == -1)
		goto nomem;
	if (o->privileged) {
		if (!c->allow_privileged) {
			snprintf(err, errlen, "the stage asks for privileged mode,"
			    " which this worker does not allow");
			goto out;
		}
		if (argv_add(av, "--privileged") == -1)
			goto nomem;
	} else if (argv_add(av, "--security-opt=no-new-privileges") == -1 ||
	    argv_add(av, "--cap-drop=NET_RAW") == -1 ||
	    argv_add(av, "--cap-drop=MKNOD") == -1 ||
	    argv_add(av, "--cap-drop=AUDIT_WRITE") == -1)
		goto nomem;
	if (o->cpuset_cpus != NULL &&
	    argv_addf(av, "--cpuset-cpus=%s", o->cpuset_cpus) == -1)
		goto nomem;
	if (envfile != NULL && (argv_add(av, "--env-file") == -1 ||
	    argv_add(av, envfile) == -1))
		goto nomem;
	for (i = 0; env_args != NULL && i < env_args->n; i++)
		if (argv_add(av, env_args->v[i]) == -1)
			goto nomem;
	if (o->entrypoint != NULL) {
		/* podman reads a JSON array as the exact argv. */
		if ((ep = jsonx_dump(o->entrypoint)) == NULL ||
		    argv_add(av, "--entrypoint") == -1 || argv_add(av, ep) == -1)
			goto nomem;
	}
	/* An image such as "-v" must not be read as an option. */
	if (argv_add(av, "--") == -1 || argv_add(av, o->image) == -1)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory building the podman command");
out:
	free(ep);
	return rc;
}

char **
podman_envp(const struct wconf *c)
{
	struct argv	 env = { NULL, 0, 0 };
	const char	*home = getenv("HOME");

	if (argv_add(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin") == -1 ||
	    argv_addf(&env, "HOME=%s", home && home[0] == '/' ? home : "/root")
	    == -1 || argv_add(&env, "LC_ALL=C") == -1 ||
	    (c->containers_conf[0] != '\0' &&
	    argv_addf(&env, "CONTAINERS_CONF=%s", c->containers_conf) == -1) ||
	    (c->storage_conf[0] != '\0' &&
	    argv_addf(&env, "CONTAINERS_STORAGE_CONF=%s", c->storage_conf) == -1)) {
		argv_free(&env);
		return NULL;
	}
	return env.v;
}

void
podman_envp_free(char **envp)
{
	size_t	 i;

	if (envp == NULL)
		return;
	for (i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

static void
to_buf(void *arg, const char *p, size_t n)
{
	(void)buf_append(arg, p, n);
}

/*
 * Run a podman command to completion (rm, ps), stdout into out if not
 * NULL (bounded), stderr discarded.  The exit code, or -1 (not run, or
 * killed at the deadline).
 */
static int
run_cmd(const struct wconf *c, struct argv *av, struct buf *out, int ms)
{
	struct proc	 p;
	struct proc_end	 e;
	char		**envp;
	int		  rc = -1;

	if ((envp = podman_envp(c)) == NULL)
		return -1;
	memset(&p, 0, sizeof(p));
	p.argv = av->v;
	p.envp = envp;
	p.timeout_ms = ms;
	p.out = out != NULL ? to_buf : NULL;
	p.arg = out;
	p.what = av->v[1] != NULL ? av->v[1] : "podman";
	if (proc_run(&p, &e) == 0 && !e.timed_out)
		rc = e.exit_code;
	podman_envp_free(envp);
	return rc;
}

/* `podman rm -f -t 0 --ignore NAME`: 0 if the container is gone. */
int
podman_remove(const struct wconf *c, const char *name)
{
	struct argv	 av = { NULL, 0, 0 };
	int		 rc = -1;

	if (argv_add(&av, c->podman) == -1 || argv_add(&av, "rm") == -1 ||
	    argv_add(&av, "-f") == -1 || argv_add(&av, "-t") == -1 ||
	    argv_add(&av, "0") == -1 || argv_add(&av, "--ignore") == -1 ||
	    argv_add(&av, "--") == -1 || argv_add(&av, name) == -1)
		goto out;
	rc = run_cmd(c, &av, NULL, RM_TIMEOUT_MS) == 0 ? 0 : -1;
out:
	argv_free(&av);
	return rc;
}

/*
 * Remove every container labelled with this worker's id: what a killed
 * earlier incarnation left behind.  The number removed, or -1.
 */
int
podman_cleanup_worker(const struct wconf *c)
{
	struct argv	 av = { NULL, 0, 0 };
	struct buf	 out;
	char		*line, *save = NULL;
	int		 n = 0, rc = -1;

	buf_init(&out, 1024 * 1024);
	if (argv_add(&av, c->podman) == -1 || argv_add(&av, "ps") == -1 ||
	    argv_add(&av, "-a") == -1 || argv_add(&av, "-q") == -1 ||
	    argv_add(&av, "--no-trunc") == -1 ||
	    argv_addf(&av, "--filter=label=broadway.worker=%s", c->worker_id) == -1)
		goto out;
	if (run_cmd(c, &av, &out, RM_TIMEOUT_MS) != 0) {
		log_warnx("podman ps failed: cannot look for leftover containers");
		goto out;
	}
	for (line = strtok_r(out.data ? out.data : (char *)"", "\n", &save);
	    line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strspn(line, "0123456789abcdef") != strlen(line))
			continue;
		log_info("worker=%s removing leftover container %.12s",
		    c->worker_id, line);
		if (podman_remove(c, line) == 0)
			n++;
	}
	rc = n;
out:
	buf_free(&out);
	argv_free(&av);
	return rc;
}

static void
errtail_add(char *tail, size_t *len, const char *p, size_t n)
{
	if (n >= ERRTAIL) {
		memcpy(tail, p + n - ERRTAIL, ERRTAIL);
		*len = ERRTAIL;
		return;
	}
	if (*len + n > ERRTAIL) {
		memmove(tail, tail + (*len + n - ERRTAIL), ERRTAIL - n);
		*len = ERRTAIL - n;
	}
	memcpy(tail + *len, p, n);
	*len += n;
}

/* The last non-empty line of podman's stderr, printable ASCII only. */
static void
errtail_line(const char *tail, size_t len, char *out, size_t outlen)
{
	size_t	 end = len, start, i, o = 0;

	while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == '\r' ||
	    tail[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && tail[start - 1] != '\n')
		start--;
	for (i = start; i < end && o + 1 < outlen; i++)
		out[o++] = (tail[i] >= 0x20 && tail[i] < 0x7f) ? tail[i] : '?';
	if (outlen > 0)
		out[o] = '\0';
}

static int
write_file(const char *path, const char *data, size_t len)
{
	int	 fd, rc = -1;
	ssize_t	 n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		data += n;
		len -= (size_t)n;
	}
	rc = 0;
out:
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

static void
stage_fail(struct stage_result *r, struct capture *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
stage_fail(struct stage_result *r, struct capture *err, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->success = 0;
	if (err != NULL) {
		capture_puts(err, "[broadway-worker] ");
		capture_puts(err, r->error);
		capture_puts(err, "\n");
	}
}

/* What the runner's callbacks of one stage share. */
struct stage_io {
	const struct stage_ctx	*x;
	char			 errtail[ERRTAIL];
	size_t			 errtail_len;
};

static void
stage_out(void *arg, const char *p, size_t n)
{
	struct stage_io	*io = arg;

	capture_write(io->x->out, p, n);
}

static void
stage_err(void *arg, const char *p, size_t n)
{
	struct stage_io	*io = arg;

	errtail_add(io->errtail, &io->errtail_len, p, n);
	if (io->x->opts->logs)
		capture_write(io->x->err, p, n);
}

/* podman run returns once its container is gone. */
static void
stage_stop(void *arg)
{
	struct stage_io	*io = arg;

	podman_remove(io->x->conf, io->x->name);
}

void
podman_run_stage(const struct stage_ctx *x, struct stage_result *r)
{
	const struct wconf	*c = x->conf;
	struct capture		*errcap = x->opts->logs ? x->err : NULL;
	struct argv		 av = { NULL, 0, 0 }, env_args = { NULL, 0, 0 };
	struct buf		 envfile;
	struct stage_io		 io;
	struct proc		 p;
	struct proc_end		 e;
	char			 path[PATH_MAX], reason[256], what[ID_MAX + 32];
	char			**envp = NULL;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	memset(&io, 0, sizeof(io));
	io.x = x;
	buf_init(&envfile, 128 * 1024 * 1024);
	reason[0] = '\0';

	if (podman_env_split(x->opts->env, &envfile, &env_args) == -1) {
		stage_fail(r, errcap, "out of memory writing the environment");
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/env", x->dir) >= (int)sizeof(path) ||
	    write_file(path, envfile.data ? envfile.data : "", envfile.len) == -1) {
		stage_fail(r, errcap, "cannot write the env file: %s",
		    strerror(errno));
		goto out;
	}
	if (podman_build_argv(x, path, &env_args, &av, reason,
	    sizeof(reason)) == -1) {
		stage_fail(r, errcap, "%s", reason);
		goto out;
	}
	if ((envp = podman_envp(c)) == NULL) {
		stage_fail(r, errcap, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "job=%s podman run", x->job_id);
	memset(&p, 0, sizeof(p));
	p.argv = av.v;
	p.envp = envp;
	p.dir = x->dir;
	p.timeout_ms = (int64_t)(x->opts->timeout * 1000.0);
	p.cancel = x->abort;
	p.out = x->opts->logs ? stage_out : NULL;
	p.err = stage_err;
	p.stop = stage_stop;
	p.grace_ms = KILL_GRACE_MS;
	p.arg = &io;
	p.what = what;
	if (proc_run(&p, &e) == -1) {
		stage_fail(r, errcap, "%s", e.error);
		goto out;
	}
	r->ran = 1;
	r->timed_out = e.timed_out;
	r->aborted = e.cancelled;
	r->duration_ms = e.duration_ms;
	r->exit_code = e.exit_code;
	snprintf(path, sizeof(path), "%s/oom", x->dir);
	r->oom_killed = access(path, F_OK) == 0;
	/*
	 * --rm removes the container on every ordinary exit.  Make sure
	 * after a kill, a podman error or a podman crash.
	 */
	if (r->timed_out || r->aborted || !WIFEXITED(e.status) ||
	    r->exit_code == 125) {
		if (podman_remove(c, x->name) == -1)
			log_warnx("job=%s container %s may be left: podman rm"
			    " failed", x->job_id, x->name);
	}
	if (x->opts->logs) {
		capture_stage_end(x->out);
		capture_stage_end(x->err);
	}
	r->success = 0;
	if (r->aborted)
		snprintf(r->error, sizeof(r->error), "the worker shut down");
	else if (r->timed_out)
		stage_fail(r, errcap,
		    "timed out after %g s: the container was killed",
		    x->opts->timeout);
	else if (r->oom_killed)
		stage_fail(r, errcap,
		    "killed: out of memory (limit %s)", x->opts->memory);
	else if (r->exit_code == 125) {
		errtail_line(io.errtail, io.errtail_len, reason, sizeof(reason));
		snprintf(r->error, sizeof(r->error), "podman could not run the"
		    " stage (exit 125): %s", reason);
	} else if (!WIFEXITED(e.status))
		snprintf(r->error, sizeof(r->error), "podman died (%s)",
		    strsignal(WTERMSIG(e.status)));
	else
		r->success = r->exit_code == 0;
out:
	podman_envp_free(envp);
	argv_free(&av);
	argv_free(&env_args);
	buf_free(&envfile);
}
