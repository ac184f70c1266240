"""Helpers for the Broadway-C integration tests (Python 3 stdlib only).

The suite runs against one live stack (scripts/stack.sh up DIR) described
by DIR/stack.env.  run.py calls init(path) once; every helper below then
talks to that stack.  Tests create their own uniquely named courses and
tokens (new_course) so they never depend on one another, but the job
queue and the workers are shared: a test that needs to know the global
claim order first calls drain(), and every test leaves no job QUEUED or
STARTED behind it.

A test module is tests/integration/test_*.py with

    def tests(env):
        return [("name", callable_taking_env), ...]

A test fails by raising (AssertionError or anything else).

stack.env, HTTPS and event streams come from pylib/broadway_client.py
(shared with the benchmarks and the demo), the FastCGI client from
fcgi_client.py; the names below stay the tests' one entry point.
"""

import http.client
import os
import secrets
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "pylib"))
from broadway_client import Client, Resp, StackEnv  # noqa: E402,F401
from fcgi_client import fcgi_call  # noqa: E402,F401  (lib.fcgi_call)

ENV = None              # the Env of the stack under test (init)
CLIENT = None           # its Client: call() below
_uniq_lock = threading.Lock()
_uniq_n = 0
_workers = []           # every FakeWorker, so cleanup() can silence them

BODY_MAX = 16 * 1024 * 1024     # nginx client_max_body_size and the handler
HEARTBEAT_S = 1                 # the suite's stack runs BROADWAY_HEARTBEAT=1
MAX_ATTEMPTS = 3

JOB_STATES = ("QUEUED", "STARTED", "FAILED", "SUCCEEDED")
RUN_STATES = ("READY", "PRE_PROCESSING_STAGE", "STUDENTS_STAGE",
              "POST_PROCESSING_STAGE", "FINISHED", "FAILED")


# ---------------------------------------------------------------- env

class Env(StackEnv):
    """stack.env (broadway_client.StackEnv: .api, .host, .port, .base,
    .ca, .stack_dir) plus the cluster token and the tree's root."""

    def __init__(self, values):
        super().__init__(values)
        self.cluster = self["BROADWAY_CLUSTER_TOKEN"]
        self.root = self.get("BROADWAY_ROOT", ROOT)


def init(path):
    global ENV, CLIENT
    ENV = Env.load(path)
    CLIENT = Client(ENV.api)
    return ENV


# ---------------------------------------------------------------- HTTPS

def ssl_context():
    return ENV.api.ssl_context()


def full_path(path, absolute=False):
    return ENV.api.full_path(path, absolute)


def drop_connection():
    """Forget this thread's keep-alive connection."""
    CLIENT.close()


def call(method, path, token=None, body=None, raw=None, headers=None,
         absolute=False, timeout=60):
    """One HTTPS request on this thread's keep-alive connection
    (broadway_client.Client.request): path relative to /api/v1 unless it
    starts with /api/v1/ or absolute=True; body as JSON, raw as is;
    returns Resp (status, headers lower-cased, parsed JSON or None)."""
    return CLIENT.request(method, path, token=token, body=body, raw=raw,
                          headers=headers, absolute=absolute,
                          timeout=timeout)


def call_retry(method, path, token=None, body=None, timeout=90,
               ok_status=None, **kw):
    """call() again and again across an outage: network errors and 5xx
    (502/503/504 from nginx or the API) are retried until timeout."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            r = call(method, path, token=token, body=body, timeout=15, **kw)
            if r[0] < 500 and (ok_status is None or r[0] in ok_status):
                return r
            last = r
        except (OSError, http.client.HTTPException) as e:
            last = e
            drop_connection()
        if time.time() > deadline:
            raise AssertionError(f"{method} {path} still failing after "
                                 f"{timeout}s: {last!r}")
        time.sleep(0.1)


# ---------------------------------------------------------------- asserts

def envelope_ok(r):
    st, h, j = r
    assert isinstance(j, dict), f"body is not a JSON object: {r!r}"
    assert set(j) >= {"status", "data"}, f"no envelope: {r!r}"


def ok(r, status=200):
    """Assert a success envelope; return data."""
    st, h, j = r
    assert st == status, f"expected {status}, got {r!r}"
    envelope_ok(r)
    assert j["status"] == "success", f"status not success: {r!r}"
    return j["data"]


def fail(r, status, contains=None):
    """Assert a failure envelope with this HTTP status; return the message.
    contains: substring(s) the message must include (case-insensitive)."""
    st, h, j = r
    assert st == status, f"expected {status}, got {r!r}"
    envelope_ok(r)
    want = "error" if status >= 500 else "fail"
    assert j["status"] == want, \
        f"envelope status {j['status']!r}, want {want!r}: {r!r}"
    d = j["data"]
    assert isinstance(d, dict) and isinstance(d.get("message"), str) \
        and d["message"], f"data.message missing: {r!r}"
    if contains:
        for c in ([contains] if isinstance(contains, str) else contains):
            assert c.lower() in d["message"].lower(), \
                f"message {d['message']!r} does not mention {c!r}"
    return d["message"]


def eq(got, want, what=""):
    assert got == want, \
        f"{what or 'value'}: expected {want!r}, got {got!r}"


def wait_until(pred, timeout=10.0, interval=0.05, msg=None):
    """Poll pred() until it returns something truthy; return that value."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = pred()
        except AssertionError as e:
            last = e
            v = None
        else:
            v = last
        if v:
            return v
        if time.time() > deadline:
            what = msg or getattr(pred, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for "
                                 f"{what} (last: {last!r})")
        time.sleep(interval)


# ---------------------------------------------------------------- processes

def _db_env():
    e = dict(os.environ)
    for k, v in ENV.items():
        if k.startswith("BROADWAY_"):
            e[k] = v
    return e


def admin(*args, check=True):
    """Run $BROADWAY_ADMIN with the stack's DB env; return stdout."""
    p = subprocess.run([ENV["BROADWAY_ADMIN"]] + [str(a) for a in args],
                       env=_db_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"broadway-admin {' '.join(map(str, args))}: "
                             f"exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def stack(verb, check=True, timeout=120):
    """scripts/stack.sh VERB $BROADWAY_STACK_DIR; return stdout."""
    script = os.path.join(ENV.root, "scripts", "stack.sh")
    p = subprocess.run([script, verb, ENV.stack_dir], env=_db_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"stack.sh {verb}: exit {p.returncode}: "
                             f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout


def sql(query):
    """Run one SQL statement with the mariadb client; rows as lists of str
    (NULL -> None).  For white-box assertions only (counts, flags)."""
    e = dict(os.environ)
    e["MYSQL_PWD"] = ENV.get("BROADWAY_DB_PASSWORD", "")
    cmd = ["mariadb", "--no-defaults", "-N", "-B", "-u",
           ENV.get("BROADWAY_DB_USER", "root")]
    if ENV.get("BROADWAY_DB_SOCKET"):
        cmd += ["--socket=" + ENV["BROADWAY_DB_SOCKET"]]
    else:
        cmd += ["-h", ENV.get("BROADWAY_DB_HOST", "127.0.0.1"),
                "-P", ENV.get("BROADWAY_DB_PORT", "3306"), "--protocol=tcp"]
    cmd += [ENV.get("BROADWAY_DB_NAME", "broadway"), "-e", query]
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"sql {query!r}: {p.stderr.strip()}")
    rows = []
    for line in p.stdout.splitlines():
        rows.append([None if c == "NULL" else c for c in line.split("\t")])
    return rows


def sql_quote(s):
    """Quote a value we generated ourselves (ids: [A-Za-z0-9_.-])."""
    assert all(c.isalnum() or c in "_.-" for c in s), s
    return "'" + s + "'"


# ---------------------------------------------------------------- fixtures

def unique(prefix="t"):
    """A fresh id of [A-Za-z0-9_.-], unique in this run and across runs."""
    global _uniq_n
    with _uniq_lock:
        _uniq_n += 1
        n = _uniq_n
    return f"{prefix}-{n}-{secrets.token_hex(3)}"


def new_token():
    return "tk" + secrets.token_hex(16)


class Course:
    def __init__(self, cid, admin_token, query_token):
        self.id = cid
        self.admin = admin_token
        self.query = query_token

    def __repr__(self):
        return f"Course({self.id})"


def new_course(prefix="c", query=True):
    """A new course with one admin and (by default) one query token."""
    cid = unique(prefix)
    admin("course-add", cid)
    a = new_token()
    admin("token-add", "admin", cid, "--token", a)
    q = None
    if query:
        q = new_token()
        admin("token-add", "query", cid, "--token", q)
    return Course(cid, a, q)


def stage(image="localhost/bb:1", **kw):
    s = {"image": image}
    s.update(kw)
    return s


def config(student=None, pre=None, post=None, env=None):
    """A grading config; pipelines are lists of stages (or True for one
    default stage)."""
    def pl(p, name):
        if p is True:
            return [stage(env={"STAGE_OF": name})]
        return p
    c = {"student_pipeline": pl(student, "student") or [stage()]}
    if pre is not None:
        c["pre_processing_pipeline"] = pl(pre, "pre")
    if post is not None:
        c["post_processing_pipeline"] = pl(post, "post")
    if env is not None:
        c["env"] = env
    return c


def put_config(course, assignment, cfg):
    ok(call("POST", f"/grading_config/{course.id}/{assignment}",
            course.admin, body=cfg))


def start_run(course, assignment, students, pre_env=None, post_env=None):
    """POST grading_run; return the run id."""
    body = {"students_env": students}
    if pre_env is not None:
        body["pre_processing_env"] = pre_env
    if post_env is not None:
        body["post_processing_env"] = post_env
    d = ok(call("POST", f"/grading_run/{course.id}/{assignment}",
                course.admin, body=body))
    rid = d["grading_run_id"]
    assert isinstance(rid, str) and len(rid) == 24 and \
        all(c in "0123456789abcdef" for c in rid), f"run id {rid!r}"
    return rid


def new_run(course=None, students=1, pre=False, post=False, env=None,
            students_env=None, pre_env=None, post_env=None, assignment=None):
    """Config + run in one go; returns (course, assignment, run_id)."""
    course = course or new_course()
    assignment = assignment or unique("a")
    put_config(course, assignment, config(
        student=True, pre=True if pre else None,
        post=True if post else None, env=env))
    se = students_env if students_env is not None else \
        [{"STUDENT_ID": f"s{i}"} for i in range(students)]
    rid = start_run(course, assignment, se, pre_env, post_env)
    return course, assignment, rid


def run_with_worker(students=1, pre=False, post=False, **worker):
    """The setup of most grader tests: an empty queue (drain), a new
    run (new_run), and a registered FakeWorker(**worker).  Returns
    (course, assignment, run_id, worker)."""
    drain()
    course, assignment, rid = new_run(students=students, pre=pre, post=post)
    w = FakeWorker(**worker)
    w.register()
    return course, assignment, rid, w


def run_status(course, run_id, token=None):
    return ok(call("GET", f"/grading_run_status/{course.id}/{run_id}",
                   token or course.admin))


def job_ids(st):
    """All job ids of a status answer: (pre ids, student ids, post ids)."""
    pre = list((st.get("pre_processing_job") or {}).keys())
    post = list((st.get("post_processing_job") or {}).keys())
    return pre, list(st["student_jobs"].keys()), post


def queue_length(course):
    return ok(call("GET", f"/queue/{course.id}/length", course.admin))["length"]


def position(course, job_id, token=None):
    return call("GET", f"/queue/{course.id}/{job_id}/position",
                token or course.admin)


def job_events(job_id):
    """The job_event states of a job, oldest first (for SSE), without a
    leading QUEUED (creation may or may not be recorded)."""
    rows = sql("SELECT e.state FROM job_event e JOIN grading_job j ON j.id = e.job_id"
               f" WHERE j.public_id = {sql_quote(job_id)} ORDER BY e.id")
    names = [JOB_STATES[int(r[0])] for r in rows]
    if names and names[0] == "QUEUED":
        names = names[1:]
    return names


# ---------------------------------------------------------------- fake worker

class Job:
    """A claimed job as the worker sees it."""

    def __init__(self, data):
        self.data = data
        self.id = data["grading_job_id"]
        self.attempt = data["attempt"]
        self.stages = data["stages"]
        env0 = (self.stages[0].get("env") or {}) if self.stages else {}
        self.env = env0
        self.run_id = env0.get("GRADING_RUN_ID")

    def __repr__(self):
        return f"Job({self.id} attempt {self.attempt} run {self.run_id})"


class FakeWorker:
    """The worker protocol (worker/PROTOCOL.md) spoken directly over HTTPS:
    no containers.  Heartbeats run in a thread once register() is called
    (unless heartbeat=False); stop() ends them."""

    def __init__(self, wid=None, hostname=None, slots=1, token=None,
                 heartbeat=True, interval=None):
        self.id = wid or unique("w")
        self.hostname = hostname or (f"host-{self.id}")
        self.slots = slots
        self.token = token or ENV.cluster
        self.auto_hb = heartbeat
        self.interval = interval or max(0.3, HEARTBEAT_S / 2.0)
        self._stop = threading.Event()
        self._hb = None
        self.hb_errors = 0
        self.reg = None
        with _uniq_lock:
            _workers.append(self)

    def path(self, verb):
        return f"/grader/{self.id}/{verb}"

    def post(self, verb, body=None, retry=False, **kw):
        if retry:
            return call_retry("POST", self.path(verb), self.token,
                              body={} if body is None else body, **kw)
        return call("POST", self.path(verb), self.token,
                    body={} if body is None else body, **kw)

    def register(self, retry=False):
        self.reg = ok(self.post("register", {"hostname": self.hostname,
                                             "slots": self.slots}, retry=retry))
        if self.auto_hb:
            self.start_heartbeats()
        return self.reg

    def heartbeat(self):
        return self.post("heartbeat")

    def _hb_loop(self):
        while not self._stop.wait(self.interval):
            try:
                r = self.heartbeat()
                if r[0] != 200:
                    self.hb_errors += 1
            except (OSError, http.client.HTTPException):
                # The API may be down on purpose (the chaos tests count
                # these); the next beat tries on a new connection.
                self.hb_errors += 1
                drop_connection()
        drop_connection()

    def start_heartbeats(self):
        if self._hb is None:
            self._stop.clear()
            self._hb = threading.Thread(target=self._hb_loop, daemon=True,
                                        name=f"hb-{self.id}")
            self._hb.start()

    def stop(self):
        """Stop heartbeating (the worker goes silent)."""
        self._stop.set()
        if self._hb is not None:
            self._hb.join(5)
            self._hb = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    def claim(self, retry=False, running=None):
        """The raw claim answer (Resp).  running: the job ids this worker
        says it runs (PROTOCOL.md); None sends {}."""
        body = {} if running is None else {"running": list(running)}
        return self.post("claim", body, retry=retry)

    def claim_job(self, retry=False, running=None):
        """A Job, or None on 204; anything else fails the test."""
        r = self.claim(retry=retry, running=running)
        if r[0] == 204:
            assert not r.raw, f"204 with a body: {r!r}"
            return None
        return Job(ok(r))

    def claim_for(self, runs, timeout=15):
        """Wait for a job of one of `runs` (run ids); any other job that
        turns up (a leftover of another test) is finished with success
        and skipped."""
        runs = set([runs] if isinstance(runs, str) else runs)
        deadline = time.time() + timeout
        while True:
            j = self.claim_job()
            if j is not None and j.run_id in runs:
                return j
            if j is not None:
                self.finish(j, True)
                continue
            if time.time() > deadline:
                raise AssertionError(f"no job of runs {sorted(runs)} for worker "
                                     f"{self.id} after {timeout}s")
            time.sleep(0.05)

    def wait_job(self, timeout=10):
        return wait_until(self.claim_job, timeout, 0.05,
                          f"a job for worker {self.id}")

    def result_body(self, job, success=True, stdout="", stderr="",
                    results=None, attempt=None):
        jid = job.id if isinstance(job, Job) else job
        att = attempt if attempt is not None else job.attempt
        if results is None:
            results = [{"stage": 0, "image": "localhost/bb:1",
                        "exit_code": 0 if success else 1, "timed_out": False,
                        "oom_killed": False, "duration_ms": 1,
                        "success": success, "error": None}]
        return {"grading_job_id": jid, "attempt": att, "success": success,
                "results": results,
                "logs": {"stdout": stdout, "stderr": stderr}}

    def result(self, job, success=True, stdout="", stderr="", results=None,
               attempt=None, retry=False):
        return self.post("result", self.result_body(
            job, success, stdout, stderr, results, attempt), retry=retry)

    def finish(self, job, success=True, **kw):
        """Post a result and insist it is accepted."""
        d = ok(self.result(job, success, **kw))
        assert d == {"accepted": True}, f"result answer {d!r}"
        return d


def cleanup():
    """After each test (run.py): stop every fake worker's heartbeats, and
    give back any job one of them still holds (by registering it afresh,
    which requeues its jobs at once), so a failed test does not leave a
    lease that expires in the middle of a later test."""
    with _uniq_lock:
        ws = list(_workers)
        del _workers[:]
    for w in ws:
        w.stop()
    if not ws or ENV is None:
        return
    try:
        ids = ", ".join(sql_quote(w.id) for w in ws)
        held = {r[0] for r in sql("SELECT DISTINCT worker_id FROM grading_job"
                                  f" WHERE state = 1 AND worker_id IN ({ids})")}
        for w in ws:
            if w.id in held:
                call("POST", w.path("register"), w.token,
                     body={"hostname": w.hostname, "slots": w.slots})
    except (AssertionError, OSError, http.client.HTTPException,
            subprocess.TimeoutExpired) as e:
        # Best effort: the test may have left the stack down on purpose
        # or by failing; a later test that needs it fails on its own.
        print(f"warning: cleanup could not give back the jobs of "
              f"{len(ws)} fake workers: {e!r}", file=sys.stderr)
    finally:
        drop_connection()


def drain(timeout=60, keep=None):
    """Claim every queued job (of any course) and post success for it,
    until the queue stays empty: leaves a clean queue for tests that
    count claims.  Jobs whose run is in `keep` are an error."""
    w = FakeWorker(hostname="janitor", slots=64)
    w.register()
    n = 0
    deadline = time.time() + timeout
    try:
        empty = 0
        while empty < 2:
            j = w.claim_job()
            if j is None:
                empty += 1
                time.sleep(0.05)
                continue
            empty = 0
            if keep and j.run_id in keep:
                raise AssertionError(f"drain claimed a job of a live run {j}")
            w.finish(j, True)
            n += 1
            assert time.time() < deadline, "drain did not end"
    finally:
        w.stop()
    return n


# ---------------------------------------------------------------- threads

def parallel(fns, timeout=120, warm=None):
    """Run callables in threads released together by a barrier; return
    their results (re-raising the first exception).  warm[i]() runs in
    thread i before the barrier (e.g. to open its TLS connection)."""
    res = [None] * len(fns)
    errs = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        try:
            if warm is not None and warm[i] is not None:
                warm[i]()
            barrier.wait(30)
            res[i] = fns[i]()
        except BaseException as e:      # noqa: B902 - reported below
            errs[i] = e
        finally:
            drop_connection()
    ts = [threading.Thread(target=run, args=(i,), daemon=True)
          for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
    for e in errs:
        if e is not None:
            raise e
    return res
