/*
 * Unit tests for the worker's process runner (proc.c): output and exit
 * status, the explicit environment, no inherited descriptors, the
 * deadline (with and without a gentle stop), the cancel flag, and a
 * program that cannot be executed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/extern.h"
#include "harness.h"

struct seen {
	struct buf	 out, err;
	int		 stops;
};

static void
to_out(void *arg, const char *p, size_t n)
{
	(void)buf_append(&((struct seen *)arg)->out, p, n);
}

static void
to_err(void *arg, const char *p, size_t n)
{
	(void)buf_append(&((struct seen *)arg)->err, p, n);
}

static void
count_stop(void *arg)
{
	((struct seen *)arg)->stops++;
}

static const char *
str(struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

/* Run /bin/sh -c script with envp; the result in e and s. */
static int
sh(const char *script, char *const envp[], int64_t timeout_ms,
    const atomic_int *cancel, int with_stop, struct seen *s,
    struct proc_end *e)
{
	char *const	 argv[] = { (char *)"/bin/sh", (char *)"-c",
			    (char *)script, NULL };
	struct proc	 p;
	int		 rc;

	memset(&p, 0, sizeof(p));
	buf_init(&s->out, 1 << 20);
	buf_init(&s->err, 1 << 20);
	s->stops = 0;
	p.argv = argv;
	p.envp = envp;
	p.timeout_ms = timeout_ms;
	p.cancel = cancel;
	p.out = to_out;
	p.err = to_err;
	p.stop = with_stop ? count_stop : NULL;
	p.grace_ms = 300;
	p.arg = s;
	p.what = "test";
	rc = proc_run(&p, e);
	(void)buf_append(&s->out, "", 1);	/* NUL-terminate */
	(void)buf_append(&s->err, "", 1);
	return rc;
}

static void
seen_free(struct seen *s)
{
	buf_free(&s->out);
	buf_free(&s->err);
}

static void
test_output_and_status(void)
{
	char *const	 envp[] = { (char *)"ONLY=this", NULL };
	struct proc_end	 e;
	struct seen	 s;

	T_CHECK(sh("echo out; echo err >&2; exit 3", envp, 10000, NULL, 0,
	    &s, &e) == 0);
	T_CHECK(e.started && e.exit_code == 3 && !e.timed_out);
	T_CHECK_STR(str(&s.out), "out\n");
	T_CHECK_STR(str(&s.err), "err\n");
	seen_free(&s);

	/* The environment is exactly envp (sh adds PWD, SHLVL, _ only). */
	T_CHECK(sh("echo \"$ONLY\"; echo \"${HOME-unset}\"", envp, 10000,
	    NULL, 0, &s, &e) == 0);
	T_CHECK_STR(str(&s.out), "this\nunset\n");
	seen_free(&s);

	/* A killed program: 128 + the signal. */
	T_CHECK(sh("kill -9 $$", envp, 10000, NULL, 0, &s, &e) == 0);
	T_CHECK_MSG(e.exit_code == 137, "%d", e.exit_code);
	seen_free(&s);
}

static void
test_no_inherited_fds(void)
{
	char *const	 envp[] = { NULL };
	struct proc_end	 e;
	struct seen	 s;
	int		 fd;

	/* Not O_CLOEXEC: only closefrom keeps it from the child. */
	fd = open("/dev/null", O_RDONLY);
	T_CHECK(fd >= 3);
	T_CHECK(sh("ls /proc/self/fd", envp, 10000, NULL, 0, &s, &e) == 0);
	/* 0, 1, 2 and the directory ls reads. */
	T_CHECK_STR(str(&s.out), "0\n1\n2\n3\n");
	seen_free(&s);
	close(fd);
}

static void
test_deadline(void)
{
	char *const	 envp[] = { NULL };
	struct proc_end	 e;
	struct seen	 s;
	int64_t		 t0;

	t0 = mono_ms();
	T_CHECK(sh("exec sleep 30", envp, 200, NULL, 0, &s, &e) == 0);
	T_CHECK(e.timed_out && !e.cancelled && e.exit_code == 137);
	T_CHECK_MSG(mono_ms() - t0 < 3000, "%lld ms",
	    (long long)(mono_ms() - t0));
	T_CHECK(s.stops == 0);
	seen_free(&s);

	/* With a gentle stop that does nothing: called once, then killed
	 * after the grace. */
	t0 = mono_ms();
	T_CHECK(sh("exec sleep 30", envp, 200, NULL, 1, &s, &e) == 0);
	T_CHECK(e.timed_out && e.exit_code == 137 && s.stops == 1);
	T_CHECK_MSG(mono_ms() - t0 >= 450 && mono_ms() - t0 < 3000, "%lld ms",
	    (long long)(mono_ms() - t0));
	seen_free(&s);

	/* A grandchild holding the pipe open does not hold us past the
	 * drain once the program itself is gone. */
	t0 = mono_ms();
	T_CHECK(sh("sleep 4 & echo started", envp, 10000, NULL, 0, &s,
	    &e) == 0);
	T_CHECK(e.exit_code == 0 && !e.timed_out);
	T_CHECK_STR(str(&s.out), "started\n");
	T_CHECK_MSG(mono_ms() - t0 < 5000, "%lld ms",
	    (long long)(mono_ms() - t0));
	seen_free(&s);
}

static void
test_cancel(void)
{
	char *const	 envp[] = { NULL };
	static atomic_int flag;
	struct proc_end	 e;
	struct seen	 s;
	int64_t		 t0;

	atomic_store(&flag, 1);
	t0 = mono_ms();
	T_CHECK(sh("exec sleep 30", envp, 60000, &flag, 0, &s, &e) == 0);
	T_CHECK(e.cancelled && !e.timed_out && e.exit_code == 137);
	T_CHECK(mono_ms() - t0 < 3000);
	seen_free(&s);
}

static void
test_cannot_exec(void)
{
	char *const	 argv[] = { (char *)"/nonexistent/program", NULL };
	char *const	 envp[] = { NULL };
	struct proc	 p;
	struct proc_end	 e;
	struct seen	 s;

	memset(&p, 0, sizeof(p));
	buf_init(&s.err, 4096);
	p.argv = argv;
	p.envp = envp;
	p.timeout_ms = 10000;
	p.err = to_err;
	p.arg = &s;
	p.what = "test";
	T_CHECK(proc_run(&p, &e) == 0);
	T_CHECK(e.exit_code == 127);
	(void)buf_append(&s.err, "", 1);
	T_CHECK(strstr(str(&s.err), "cannot execute /nonexistent/program")
	    != NULL);
	buf_free(&s.err);
}

int
main(void)
{
	test_output_and_status();
	test_no_inherited_fds();
	test_deadline();
	test_cancel();
	test_cannot_exec();
	return T_DONE();
}
