"""`stack.sh restart PART DIR` (issue 10, point 1).

nginx killed with SIGKILL and started again must come back on the stack's
port: workers know only that URL.  The port probe used to bind without
SO_REUSEADDR, so the TIME-WAIT sockets of the killed nginx (or its
orphaned workers, still listening) made it pick a new random port, and a
run with a worker hung.  Each part restarts alone: the others keep their
pids."""

import os
import signal
import subprocess
import time

import lib
from lib import call, ok
from test_worker_lib import Worker, stage


def stack_restart(part, env):
    script = os.path.join(env.root, "scripts", "stack.sh")
    p = subprocess.run([script, "restart", part, env.stack_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=180)
    assert p.returncode == 0, "stack.sh restart %s: exit %d: %s" % (
        part, p.returncode, p.stderr[-3000:])
    return p.stderr


def pidfile(env, rel):
    try:
        with open(os.path.join(env.stack_dir, rel)) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


PIDFILES = {"db": "run/mysqld.pid", "fcgi": "run/api.pid",
            "sse": "run/sse.pid", "nginx": "nginx/nginx.pid"}


def pids(env):
    return {k: pidfile(env, v) for k, v in PIDFILES.items()}


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         stdout=subprocess.PIPE, text=True).stdout
    return [int(x) for x in out.split()]


def recorded_port(env):
    with open(os.path.join(env.stack_dir, "stack.env")) as f:
        for line in f:
            if line.startswith("BROADWAY_HTTPS_PORT="):
                return int(line.split("=", 1)[1])
    raise AssertionError("no BROADWAY_HTTPS_PORT in stack.env")


def api_answers(c):
    """A request on a new connection to the URL the suite started with."""
    lib.drop_connection()
    ok(call("GET", "/queue/%s/length" % c.id, c.admin))


def running_run(env, students=6):
    lib.drain()
    c = lib.new_course("rs")
    a = lib.unique("a")
    lib.put_config(c, a, {"student_pipeline": [
        stage("sleep 2; echo graded $NETID")]})
    rid = lib.start_run(c, a, [{"NETID": "s%d" % i} for i in range(students)])
    return c, rid


def wait_finished(c, rid, timeout=90):
    st = lib.wait_until(
        lambda: (lambda s: s if s["state"] in ("FINISHED", "FAILED")
                 else None)(lib.run_status(c, rid)),
        timeout=timeout, interval=0.2, msg="run %s to end" % rid)
    states = set(st["student_jobs"].values())
    assert st["state"] == "FINISHED" and states == {"SUCCEEDED"}, st
    return st


def t_nginx_kill9_mid_run(env):
    """Every nginx process SIGKILLed while a worker grades; the restart
    answers on the same URL and the run finishes."""
    port = recorded_port(env)
    c, rid = running_run(env)
    with Worker(env, lib.unique("rs"), slots=2) as w:
        lib.wait_until(lambda: "STARTED" in lib.run_status(c, rid)[
            "student_jobs"].values(), timeout=60, msg="a job STARTED")
        master = pidfile(env, PIDFILES["nginx"])
        victims = [master] + children(master)
        for p in victims:
            os.kill(p, signal.SIGKILL)
        lib.wait_until(lambda: not any(alive(p) for p in victims),
                       timeout=10, msg="nginx gone")
        stack_restart("nginx", env)
        assert recorded_port(env) == port, "the port moved: %d -> %d" % (
            port, recorded_port(env))
        api_answers(c)
        wait_finished(c, rid)
        w.stop()
    assert "result accepted" in w.logtext(), w.logtext()[-2000:]


def t_nginx_master_kill9_orphans(env):
    """Only the master SIGKILLed: its workers live on holding the port;
    the restart stops them and listens there itself."""
    port = recorded_port(env)
    c = lib.new_course("rs")
    master = pidfile(env, PIDFILES["nginx"])
    old = children(master)
    assert old, "nginx has no workers"
    os.kill(master, signal.SIGKILL)
    lib.wait_until(lambda: not alive(master), timeout=10, msg="master gone")
    assert any(alive(p) for p in old), "the workers died with the master"
    stack_restart("nginx", env)
    eq_port = recorded_port(env)
    assert eq_port == port, "the port moved: %d -> %d" % (port, eq_port)
    left = [p for p in old if alive(p)]
    assert not left, "orphaned nginx workers still run: %r" % left
    new = pidfile(env, PIDFILES["nginx"])
    assert new != master and alive(new), (master, new)
    api_answers(c)


def t_restart_one_part(env):
    """fcgi (after a SIGKILL of multiwatch), sse and db restart alone:
    the other parts keep their pids, the API answers on the same port."""
    port = recorded_port(env)
    c = lib.new_course("rs")
    for part in ("fcgi", "sse", "db"):
        before = pids(env)
        orphans = []
        if part == "fcgi":
            orphans = children(before["fcgi"])
            os.kill(before["fcgi"], signal.SIGKILL)
            lib.wait_until(lambda: not alive(before["fcgi"]), timeout=10,
                           msg="multiwatch gone")
        stack_restart(part, env)
        after = pids(env)
        for k in before:
            if k == part:
                assert after[k] != before[k] and alive(after[k]), (
                    part, before, after)
            else:
                assert after[k] == before[k] and alive(after[k]), (
                    "restart %s touched %s: %r -> %r" % (part, k, before,
                                                          after))
        left = [p for p in orphans if alive(p)]
        assert not left, "orphaned broadway-fcgi still run: %r" % left
        assert recorded_port(env) == port
        lib.wait_until(lambda: api_answers(c) or True, timeout=30,
                       msg="API answers after restart %s" % part)


def t_restart_worker(env):
    """The stack's own worker: started, restarted (new pid, registered
    again), stopped; nothing else restarted."""
    script = os.path.join(env.root, "scripts", "stack.sh")
    wpid = os.path.join(env.stack_dir, "worker", "worker.pid")
    before = pids(env)
    try:
        p = subprocess.run([script, "start-worker", env.stack_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        first = pidfile(env, "worker/worker.pid")
        assert first and alive(first), first
        stack_restart("worker", env)
        second = pidfile(env, "worker/worker.pid")
        assert second != first and alive(second) and not alive(first), (
            first, second)
        eq_pids = pids(env)
        assert eq_pids == before, "restart worker touched %r -> %r" % (
            before, eq_pids)
    finally:
        subprocess.run([script, "stop-worker", env.stack_dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
    assert not os.path.exists(wpid)


def tests(env):
    return [
        ("nginx_kill9_mid_run", t_nginx_kill9_mid_run),
        ("nginx_master_kill9_orphans", t_nginx_master_kill9_orphans),
        ("restart_one_part", t_restart_one_part),
        ("restart_worker", t_restart_worker),
    ]
