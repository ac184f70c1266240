#define _GNU_SOURCE
#include <sys/types.h>
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
#include "log.h"

/*
 * The one way the worker runs a program (podman, for a stage or for
 * rm/ps): execve of an absolute path with a fixed argv and an explicit
 * environment, every other descriptor closed, stdin from /dev/null,
 * stdout and stderr to pipes read here (or /dev/null), a deadline, a
 * gentle stop then SIGKILL of the process group, a bounded drain of
 * the pipes after the exit, and the exit status.  Nothing a job sends
 * ever passes through a shell.
 */

#define READ_CHUNK	65536
#define DRAIN_MS	2000	/* reading after the program exited */
#define TICK_MS		250	/* how often the cancel flag is looked at */
#define REKILL_MS	60000	/* SIGKILL again if it is still there */

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

int
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
 * fork + execve.  Between the two only async-signal-safe calls: the
 * parent is multi-threaded.  The child gets its own process group (a
 * terminal's ^C must not reach it: SIGINT drains the worker), an empty
 * signal mask and default SIGPIPE (the worker blocks and ignores).
 */
static pid_t
spawn(const struct proc *p, int in, int out, int err)
{
	static const char	 msg[] = "broadway-worker: cannot execute ";
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
	if (p->dir != NULL && chdir(p->dir) == -1)
		_exit(127);
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sigaction(i, &sa, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	closefrom(3);
	execve(p->argv[0], p->argv, p->envp);
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, p->argv[0], strlen(p->argv[0])) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(127);
	_exit(127);
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

static void
kill_group(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* One running child: its pipes (out, err), pidfd and timers. */
struct run {
	const struct proc	*p;
	struct proc_end		*e;
	pid_t			 pid;
	int			 fd[2];		/* stdout, stderr; -1 closed */
	int			 pidfd;
	int			 exited;
	int64_t			 deadline, kill_at, drain_end;
	char			*chunk;
};

static void
reap(struct run *r, int64_t now)
{
	pid_t	 w;

	while ((w = waitpid(r->pid, &r->e->status, WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (w == r->pid) {
		r->exited = 1;
		r->drain_end = now + DRAIN_MS;
	}
}

/* The deadline or the cancel flag: ask it to stop, then kill it. */
static void
enforce(struct run *r, int64_t *now)
{
	const struct proc	*p = r->p;

	if (r->exited)
		return;
	if (!r->e->timed_out && !r->e->cancelled && (*now >= r->deadline ||
	    (p->cancel != NULL && atomic_load(p->cancel)))) {
		if (*now >= r->deadline)
			r->e->timed_out = 1;
		else
			r->e->cancelled = 1;
		if (p->stop != NULL) {
			p->stop(p->arg);
			*now = mono_ms();
		}
		r->kill_at = *now + (p->stop != NULL ? p->grace_ms : 0);
	}
	if (r->kill_at != 0 && *now >= r->kill_at) {
		if (p->stop != NULL)
			log_warnx("%s did not exit after it was stopped:"
			    " killing it", p->what);
		kill_group(r->pid);
		r->kill_at = *now + REKILL_MS;
	}
}

static void
on_readable(struct run *r, int i)
{
	const struct proc	*p = r->p;
	void			(*sink)(void *, const char *, size_t);
	ssize_t			 n;

	n = read(r->fd[i], r->chunk, READ_CHUNK);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(r->fd[i]);
		r->fd[i] = -1;
		return;
	}
	sink = i == 0 ? p->out : p->err;
	sink(p->arg, r->chunk, (size_t)n);
}

/* Until it exited and the pipes are drained (or the drain timed out). */
static void
supervise(struct run *r)
{
	struct pollfd	 pfd[3];
	int		 who[3];	/* 0, 1: a pipe; 2: the pidfd */
	int		 nfds, i, wait_ms;
	int64_t		 now;

	for (;;) {
		now = mono_ms();
		enforce(r, &now);
		if (!r->exited && (r->pidfd == -1 ||
		    (r->fd[0] == -1 && r->fd[1] == -1)))
			reap(r, now);	/* no pidfd (old kernel) or no pipes */
		if (r->exited && ((r->fd[0] == -1 && r->fd[1] == -1) ||
		    now >= r->drain_end))
			break;
		nfds = 0;
		for (i = 0; i < 2; i++)
			if (r->fd[i] != -1) {
				pfd[nfds].fd = r->fd[i];
				pfd[nfds].events = POLLIN;
				who[nfds++] = i;
			}
		if (!r->exited && r->pidfd != -1) {
			pfd[nfds].fd = r->pidfd;
			pfd[nfds].events = POLLIN;
			who[nfds++] = 2;
		}
		wait_ms = TICK_MS;
		if (!r->exited && r->kill_at == 0 && r->deadline - now < wait_ms)
			wait_ms = (int)(r->deadline - now);
		if (r->exited && r->drain_end - now < wait_ms)
			wait_ms = (int)(r->drain_end - now);
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(pfd, (nfds_t)nfds, wait_ms) == -1 && errno != EINTR) {
			log_warn("%s: poll", r->p->what);
			usleep(10000);
			continue;
		}
		for (i = 0; i < nfds; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			if (who[i] == 2)
				reap(r, mono_ms());
			else
				on_readable(r, who[i]);
		}
	}
}

int
proc_run(const struct proc *p, struct proc_end *e)
{
	struct run	 r;
	int		 devnull = -1, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int		 i, rc = -1;
	int64_t		 start;

	memset(e, 0, sizeof(*e));
	e->exit_code = -1;
	memset(&r, 0, sizeof(r));
	r.p = p;
	r.e = e;
	r.pid = -1;
	r.pidfd = -1;
	r.fd[0] = r.fd[1] = -1;
	if ((r.chunk = malloc(READ_CHUNK)) == NULL) {
		snprintf(e->error, sizeof(e->error), "out of memory");
		goto out;
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    (p->out != NULL && pipe2(po, O_CLOEXEC) == -1) ||
	    (p->err != NULL && pipe2(pe, O_CLOEXEC) == -1)) {
		snprintf(e->error, sizeof(e->error), "cannot create pipes: %s",
		    strerror(errno));
		goto out;
	}
	start = mono_ms();
	r.deadline = start + p->timeout_ms;
	r.pid = spawn(p, devnull, po[1] != -1 ? po[1] : devnull,
	    pe[1] != -1 ? pe[1] : devnull);
	if (r.pid == -1) {
		snprintf(e->error, sizeof(e->error), "cannot fork: %s",
		    strerror(errno));
		goto out;
	}
	e->started = 1;
	/* Only the child writes: EOF comes when it (and its own) are done. */
	if (po[1] != -1)
		close(po[1]);
	if (pe[1] != -1)
		close(pe[1]);
	po[1] = pe[1] = -1;
	r.fd[0] = po[0];
	r.fd[1] = pe[0];
	po[0] = pe[0] = -1;
	r.pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
	supervise(&r);
	e->duration_ms = mono_ms() - start;
	e->exit_code = exit_code_of(e->status);
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (po[i] != -1)
			close(po[i]);
		if (pe[i] != -1)
			close(pe[i]);
		if (r.fd[i] != -1)
			close(r.fd[i]);
	}
	if (r.pidfd != -1)
		close(r.pidfd);
	if (devnull != -1)
		close(devnull);
	free(r.chunk);
	return rc;
}
