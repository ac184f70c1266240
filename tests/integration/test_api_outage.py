"""The database going away and the stack stopping.

While MariaDB is down every route answers 503 with Retry-After and the
JSON envelope (a 500 is kept for real bugs), and the same requests work
again once it is back.  `stack.sh down` stops the FastCGI children and
broadway-sse so that they close their database connections: MariaDB's
log has no "Aborted connection" for them."""

import json
import os
import shutil
import subprocess
import tempfile

import lib
from lib import call, eq, fail, ok


def db_pid(env):
    with open(os.path.join(env.stack_dir, "run", "mysqld.pid")) as f:
        return int(f.read().split()[0])


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def unavailable(r, what, problems):
    try:
        fail(r, 503, "database unavailable")
        ra = r[1].get("retry-after", "")
        assert ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra
        eq(r[1].get("access-control-allow-origin"), "*", "CORS header")
    except AssertionError as e:
        problems.append("%s: %s" % (what, e))


def t_db_down_503(env):
    import test_nudge
    import test_sse
    course, asg, run = lib.new_run(students=1)
    job = lib.job_ids(lib.run_status(course, run))[1][0]
    w = lib.FakeWorker(heartbeat=False)
    w.register()
    reqs = [
        ("queue length", "GET", "/queue/%s/length" % course.id, course.admin, None),
        ("run status", "GET", "/grading_run_status/%s/%s" % (course.id, run),
         course.query, None),
        ("config", "POST", "/grading_config/%s/%s" % (course.id, asg), course.admin,
         lib.config(student=True)),
        ("run start", "POST", "/grading_run/%s/%s" % (course.id, asg), course.admin,
         {"students_env": [{"S": "1"}]}),
        ("claim", "POST", "/grader/%s/claim" % w.id, env.cluster, {}),
    ]
    pid = db_pid(env)
    problems = []
    try:
        os.kill(pid, 15)
        lib.wait_until(lambda: not alive(pid), 60, 0.05, "mariadbd to stop")
        for _ in range(2):      # every FastCGI child, cached token or not
            for what, m, p, tok, body in reqs:
                unavailable(call(m, p, tok, body=body), what, problems)
        s = test_sse.Stream(course.id, job, course.query, timeout=10)
        unavailable(lib.Resp(s.status, s.headers, s.body_json()),
                    "job stream", problems)
        s.close()
        s = test_nudge.WorkStream(w.id, timeout=10)
        unavailable(lib.Resp(s.status, s.headers, json.loads(s.stream.body())),
                    "nudge stream", problems)
        s.close()
    finally:
        lib.stack("restart-db")
    # back: the same requests succeed, nothing lost
    lib.call_retry("GET", "/queue/%s/length" % course.id, course.admin,
                   timeout=30, ok_status=(200,))
    for what, m, p, tok, body in reqs[:3]:
        ok(call(m, p, tok, body=body))
    eq(lib.run_status(course, run)["student_jobs"][job], "QUEUED", "the queued job")
    lib.drain()
    assert not problems, "\n  ".join(problems)


def t_down_closes_connections(env):
    """A private stack: requests to every FastCGI child, a job stream and
    a nudge stream, then `stack.sh down`: no "Aborted connection"."""
    import test_nudge
    import test_sse
    d = tempfile.mkdtemp(prefix="broadway-down.")
    script = os.path.join(env.root, "scripts", "stack.sh")
    e = {k: v for k, v in os.environ.items() if not k.startswith("BROADWAY_")}
    e["BUILD"] = env.get("BROADWAY_BUILD", os.path.join(env.root, "build"))
    old = lib.ENV, lib.CLIENT
    up = False
    try:
        p = subprocess.run([script, "up", d], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        assert p.returncode == 0, "stack.sh up: %s" % p.stdout[-2000:]
        up = True
        lib.init(d)             # lib.call() now talks to this stack
        c = lib.Course("demo", lib.ENV["BROADWAY_DEMO_ADMIN_TOKEN"],
                       lib.ENV["BROADWAY_DEMO_QUERY_TOKEN"])
        _, _, run = lib.new_run(course=c)
        job = lib.job_ids(lib.run_status(c, run))[1][0]
        for i in range(40):     # spread over the children (fresh connections)
            ok(call("GET", "/queue/demo/length", c.admin))
            lib.drop_connection()
        s = test_sse.Stream("demo", job, c.query, timeout=10)
        s.expect("position", 0)
        ws = test_nudge.open_ready(wid="down-worker")
        lib.drop_connection()
        p = subprocess.run([script, "down", d], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        up = False
        assert p.returncode == 0, "stack.sh down: %s" % p.stdout[-2000:]
        s.close()
        ws.close()
        with open(os.path.join(d, "logs", "mysqld.log"), errors="replace") as f:
            aborted = [ln.rstrip() for ln in f if "Aborted connection" in ln]
        assert not aborted, "%d aborted connections:\n  %s" % (
            len(aborted), "\n  ".join(aborted[:10]))
    finally:
        if lib.CLIENT is not old[1]:
            lib.drop_connection()
        lib.ENV, lib.CLIENT = old
        if up:
            subprocess.run([script, "down", d], env=e, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300)
        shutil.rmtree(d, ignore_errors=True)


def tests(env):
    return [
        ("database_down_503_retry_after", t_db_down_503),
        ("stack_down_no_aborted_connection", t_down_closes_connections),
    ]
