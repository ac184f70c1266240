#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "jsonx.h"
#include "log.h"

/*
 * Running stages with podman.  podman is started with execve of the
 * configured absolute path, a fixed argv built here, an explicit
 * environment and every other descriptor closed: nothing from a stage
 * ever passes through a shell.
 *
 * `--log-driver passthrough` hands our pipes straight to the container,
 * so output is neither copied through conmon's attach socket nor written
 * to a log file.  conmon writes an empty file `oom` into its cwd (podman's
 * cwd) when the container was OOM-killed: each stage runs podman in its
 * own directory and looks for it.
 */

#define READ_CHUNK	65536
#define ERRTAIL		1024
#define KILL_GRACE_MS	3000	/* after `rm -f`, before SIGKILL of podman */
#define DRAIN_MS	2000	/* reading after podman exited */
#define RM_TIMEOUT_MS	60000
#define TICK_MS		250	/* how often the abort flag is looked at */
#define BACKSTOP_S	10	/* conmon's own --timeout, past ours */

void
argv_free(struct argv *av)
{
	size_t	 i;

	if (av == NULL || av->v == NULL)
		return;
	for (i = 0; i < av->n; i++)
		free(av->v[i]);
	free(av->v);
	av->v = NULL;
	av->n = av->cap = 0;
}

/* Keeps a NULL after the last element, as execve wants. */
int
argv_add(struct argv *av, const char *s)
{
	char	**nv;
	size_t	  ncap;

	if (av->n + 2 > av->cap) {
		ncap = av->cap ? av->cap * 2 : 64;
		if ((nv = realloc(av->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		av->v = nv;
		av->cap = ncap;
	}
	if ((av->v[av->n] = strdup(s)) == NULL)
		return -1;
	av->n++;
	av->v[av->n] = NULL;
	return 0;
}

static int
argv_addf(struct argv *av, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
argv_addf(struct argv *av, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = argv_add(av, s);
	free(s);
	return rc;
}

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

/*
 * fork + execve.  Between the two only async-signal-safe calls: the
 * parent is multi-threaded.  The child gets its own process group (a
 * terminal's ^C must not reach podman: SIGINT drains the worker), an
 * empty signal mask and default SIGPIPE (the worker blocks and ignores).
 */
static pid_t
spawn(char *const argv[], char *const envp[], const char *dir, int in,
    int out, int err)
{
	static const char	 msg[] = "broadway-worker: cannot execute podman\n";
	sigset_t		 none;
	struct sigaction	 sa;
	pid_t			 pid;
	int			 i;

	sigemptyset(&none);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if ((pid = fork()) != 0)
		return pid;
	setpgid(0, 0);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(127);
	if (dir != NULL && chdir(dir) == -1)
		_exit(127);
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sigaction(i, &sa, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	closefrom(3);
	execve(argv[0], argv, envp);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Wait for pid at most ms milliseconds, then SIGKILL its group.  */
static int
wait_bounded(pid_t pid, int pidfd, int ms, int *status)
{
	struct pollfd	 pfd;
	pid_t		 r;

	if (pidfd >= 0) {
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, ms);
	}
	while ((r = waitpid(pid, status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == pid)
		return 0;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return -1;
}

/*
 * Run a podman command to completion (rm, ps), stdout into out if not
 * NULL (bounded), stderr discarded.  The exit code, or -1.
 */
static int
run_cmd(const struct wconf *c, struct argv *av, struct buf *out, int ms)
{
	char		**envp = NULL, chunk[4096];
	int		  devnull = -1, p[2] = { -1, -1 }, pidfd = -1, status = 0;
	int		  rc = -1;
	ssize_t		  n;
	pid_t		  pid;
	int64_t		  end = mono_ms() + ms;
	struct pollfd	  pfd;

	if ((envp = podman_envp(c)) == NULL)
		goto out;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		goto out;
	if (out != NULL && pipe2(p, O_CLOEXEC) == -1)
		goto out;
	pid = spawn(av->v, envp, NULL, devnull, out ? p[1] : devnull, devnull);
	if (pid == -1)
		goto out;
	pidfd = pidfd_open_(pid);
	if (p[1] != -1) {
		close(p[1]);
		p[1] = -1;
		pfd.fd = p[0];
		pfd.events = POLLIN;
		while (mono_ms() < end) {
			if (poll(&pfd, 1, (int)(end - mono_ms())) <= 0)
				continue;
			if ((n = read(p[0], chunk, sizeof(chunk))) <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				break;
			}
			(void)buf_append(out, chunk, (size_t)n);
		}
	}
	ms = (int)(end - mono_ms());
	if (wait_bounded(pid, pidfd, ms > 0 ? ms : 0, &status) == 0)
		rc = exit_code_of(status);
out:
	if (pidfd != -1)
		close(pidfd);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	if (devnull != -1)
		close(devnull);
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

void
podman_run_stage(const struct stage_ctx *x, struct stage_result *r)
{
	const struct wconf	*c = x->conf;
	struct capture		*errcap = x->opts->logs ? x->err : NULL;
	struct argv		 av = { NULL, 0, 0 }, env_args = { NULL, 0, 0 };
	struct buf		 envfile;
	struct pollfd		 pfd[3];
	char			 path[PATH_MAX], reason[256], errtail[ERRTAIL];
	char			**envp = NULL, *chunk = NULL;
	int			 po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int			 devnull = -1, pidfd = -1, status = 0, exited = 0;
	int			 nfds, i, wait_ms;
	size_t			 errtail_len = 0;
	int64_t			 start, now, deadline, kill_at = 0, drain_end = 0;
	ssize_t			 n;
	pid_t			 pid = -1, w;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
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
	if ((envp = podman_envp(c)) == NULL || (chunk = malloc(READ_CHUNK)) == NULL) {
		stage_fail(r, errcap, "out of memory");
		goto out;
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    pipe2(pe, O_CLOEXEC) == -1 ||
	    (x->opts->logs && pipe2(po, O_CLOEXEC) == -1)) {
		stage_fail(r, errcap, "cannot create pipes: %s", strerror(errno));
		goto out;
	}
	start = mono_ms();
	deadline = start + (int64_t)(x->opts->timeout * 1000.0);
	pid = spawn(av.v, envp, x->dir, devnull, po[1] != -1 ? po[1] : devnull,
	    pe[1]);
	if (pid == -1) {
		stage_fail(r, errcap, "cannot fork: %s", strerror(errno));
		goto out;
	}
	r->ran = 1;
	close(pe[1]);
	pe[1] = -1;
	if (po[1] != -1) {
		close(po[1]);
		po[1] = -1;
	}
	pidfd = pidfd_open_(pid);
	for (;;) {
		now = mono_ms();
		if (!exited && !r->timed_out && !r->aborted &&
		    (now >= deadline || atomic_load(x->abort))) {
			if (now >= deadline)
				r->timed_out = 1;
			else
				r->aborted = 1;
			/* podman run returns once its container is gone. */
			podman_remove(c, x->name);
			now = mono_ms();
			kill_at = now + KILL_GRACE_MS;
		}
		if (!exited && kill_at != 0 && now >= kill_at) {
			log_warnx("job=%s podman run did not exit after rm -f:"
			    " killing it", x->job_id);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			kill_at = now + 60000;
		}
		if (!exited && (pidfd == -1 || pe[0] == -1)) {
			/* No pidfd (old kernel) or pipes done: poll for exit. */
			while ((w = waitpid(pid, &status, WNOHANG)) == -1 &&
			    errno == EINTR)
				;
			if (w == pid) {
				exited = 1;
				drain_end = now + DRAIN_MS;
			}
		}
		if (exited && ((po[0] == -1 && pe[0] == -1) || now >= drain_end))
			break;
		nfds = 0;
		if (po[0] != -1) {
			pfd[nfds].fd = po[0];
			pfd[nfds++].events = POLLIN;
		}
		if (pe[0] != -1) {
			pfd[nfds].fd = pe[0];
			pfd[nfds++].events = POLLIN;
		}
		if (!exited && pidfd != -1) {
			pfd[nfds].fd = pidfd;
			pfd[nfds++].events = POLLIN;
		}
		wait_ms = TICK_MS;
		if (!exited && !r->timed_out && !r->aborted &&
		    deadline - now < wait_ms)
			wait_ms = (int)(deadline - now);
		if (exited && drain_end - now < wait_ms)
			wait_ms = (int)(drain_end - now);
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(pfd, (nfds_t)nfds, wait_ms) == -1 && errno != EINTR) {
			log_warn("job=%s poll", x->job_id);
			usleep(10000);
			continue;
		}
		for (i = 0; i < nfds; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			if (pfd[i].fd == pidfd) {
				while ((w = waitpid(pid, &status, WNOHANG)) ==
				    -1 && errno == EINTR)
					;
				if (w == pid) {
					exited = 1;
					drain_end = mono_ms() + DRAIN_MS;
				}
				continue;
			}
			n = read(pfd[i].fd, chunk, READ_CHUNK);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				if (pfd[i].fd == po[0]) {
					close(po[0]);
					po[0] = -1;
				} else {
					close(pe[0]);
					pe[0] = -1;
				}
				continue;
			}
			if (pfd[i].fd == po[0])
				capture_write(x->out, chunk, (size_t)n);
			else {
				errtail_add(errtail, &errtail_len, chunk,
				    (size_t)n);
				if (x->opts->logs)
					capture_write(x->err, chunk, (size_t)n);
			}
		}
	}
	r->duration_ms = mono_ms() - start;
	r->exit_code = exit_code_of(status);
	snprintf(path, sizeof(path), "%s/oom", x->dir);
	r->oom_killed = access(path, F_OK) == 0;
	/*
	 * --rm removes the container on every ordinary exit.  Make sure
	 * after a kill, a podman error or a podman crash.
	 */
	if (r->timed_out || r->aborted || !WIFEXITED(status) ||
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
		errtail_line(errtail, errtail_len, reason, sizeof(reason));
		snprintf(r->error, sizeof(r->error), "podman could not run the"
		    " stage (exit 125): %s", reason);
	} else if (!WIFEXITED(status))
		snprintf(r->error, sizeof(r->error), "podman died (%s)",
		    strsignal(WTERMSIG(status)));
	else
		r->success = r->exit_code == 0;
out:
	if (pid > 0 && !exited) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	for (i = 0; i < 2; i++) {
		if (po[i] != -1)
			close(po[i]);
		if (pe[i] != -1)
			close(pe[i]);
	}
	if (pidfd != -1)
		close(pidfd);
	if (devnull != -1)
		close(devnull);
	free(chunk);
	podman_envp_free(envp);
	argv_free(&av);
	argv_free(&env_args);
	buf_free(&envfile);
}
