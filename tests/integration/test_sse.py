"""GET /api/v1/stream/{course}/{job}: server-sent events from broadway-sse.

The original's stream test, the snapshot on connect, errors before any
stream starts, resume with Last-Event-ID across a restart of the SSE
process, clients that go away, SIGTERM, and 500 concurrent streams."""

import http.client
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass

import lib
from broadway_client import EventStream, SseError
from lib import FakeWorker, call, eq, fail


@dataclass(repr=False)
class Event:
    """A status_update event: its SSE fields and the JSON in its data."""
    name: str | None        # the `event:` field
    id: int | None
    raw: str                # the data line as sent
    type: str
    data: object

    @classmethod
    def of(cls, ev):
        d = json.loads(ev.data)
        return cls(ev.event, int(ev.id) if ev.id is not None else None,
                   ev.data, d["type"], d["data"])

    def __repr__(self):
        return f"Event(id={self.id} {self.type}={self.data!r})"


class Stream(EventStream):
    """One job's event stream over its own HTTPS connection (HTTP/1.1,
    chunked); .seen keeps every event read."""

    def __init__(self, course_id, job_id, token, last_event_id=None,
                 timeout=30, headers=None):
        super().__init__(lib.ENV.api, f"/stream/{course_id}/{job_id}",
                         token, last_event_id, headers, timeout)
        self.seen = []

    def body_json(self):
        return json.loads(self.body())

    def next(self):
        """The next event, or None when the server ended the response
        cleanly (the final chunk).  An aborted response raises."""
        try:
            sse = super().next()
        except SseError as e:
            raise AssertionError(str(e)) from e
        if sse is None:
            return None
        ev = Event.of(sse)
        eq(ev.name, "status_update", "event name")
        assert ev.id is not None, f"event without id: {sse!r}"
        self.seen.append(ev)
        return ev

    def expect(self, typ, data):
        ev = self.next()
        assert ev is not None, \
            f"stream ended; wanted {typ} {data!r} (seen {self.seen!r})"
        assert (ev.type, ev.data) == (typ, data), \
            f"wanted {typ} {data!r}, got {ev!r} (seen {self.seen!r})"
        return ev

    def expect_end(self):
        ev = self.next()
        assert ev is None, f"wanted the end of the stream, got {ev!r}"


def stream_retry(course_id, job_id, token, timeout=30, **kw):
    """Open a stream, retrying while the SSE process is (re)starting."""
    deadline = time.time() + timeout
    while True:
        try:
            s = Stream(course_id, job_id, token, **kw)
            if s.status == 200:
                return s
            last = "%d %r" % (s.status, s.resp.read()[:200])
            s.close()
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        if time.time() > deadline:
            raise AssertionError("stream not available after %ss: %s"
                                 % (timeout, last))
        time.sleep(0.1)


def queued_run(students):
    """A new run: (course, assignment, run id, its student job ids in
    queue order)."""
    course, asg, run = lib.new_run(students=students)
    return course, asg, run, queue_order(course, run)


def queue_order(course, run_id):
    """The run's student job ids in queue order (by their positions)."""
    st = lib.run_status(course, run_id)
    _, jobs, _ = lib.job_ids(st)
    pos = {}
    for j in jobs:
        r = lib.position(course, j)
        pos[j] = lib.ok(r)["position"]
    order = sorted(jobs, key=lambda j: pos[j])
    eq([pos[j] for j in order], list(range(len(jobs))), "positions")
    return order


def sse_pid(env):
    with open(os.path.join(env.stack_dir, "run", "sse.pid")) as f:
        return int(f.read().split()[0])


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True         # no /proc entry: reaped already


# ---------------------------------------------------------------- tests

def t_original_stream(env):
    """Five queued jobs: the listener of job k gets its position k at
    once, then k-1 ... 0, STARTED, FINISHED, and the end of the stream."""
    course, _, run, jobs = queued_run(5)
    ls = [Stream(course.id, j, course.query) for j in jobs]
    try:
        for k, s in enumerate(ls):
            eq(s.status, 200, "stream %d status" % k)
            s.expect("position", k)
        w = FakeWorker()
        w.register()
        for i in range(5):
            job = w.claim_for(run)
            eq(job.id, jobs[i], "claim order")
            ls[i].expect("state", "STARTED")
            for k in range(i + 1, 5):
                ls[k].expect("position", k - i - 1)
            w.finish(job, True)
            ls[i].expect("state", "FINISHED")
            ls[i].expect_end()
        w.stop()
        # The wire format exactly as the spec page spells it.
        ev = ls[4].seen[-1]
        eq(ev.raw, '{"type": "state", "data": "FINISHED"}', "data line")
        eq(ls[4].seen[0].raw, '{"type": "position", "data": 4}', "data line")
        ids = [e.id for e in ls[4].seen]
        assert ids == sorted(ids), "ids go backwards: %r" % ids
    finally:
        for s in ls:
            s.close()


def t_snapshot(env):
    """On connect: the position if queued, the state if running, the
    final state and the end if finished; a failed job says FAILED."""
    course, _, run, jobs = queued_run(3)
    s = Stream(course.id, jobs[2], course.admin)
    eq(s.status, 200, "status")
    eq(s.headers.get("content-type"), "text/event-stream", "content-type")
    eq(s.headers.get("cache-control"), "no-cache", "cache-control")
    eq(s.headers.get("access-control-allow-origin"), "*", "CORS")
    s.expect("position", 2)
    s.close()

    w = FakeWorker(slots=2)
    w.register()
    j0 = w.claim_for(run)
    eq(j0.id, jobs[0], "first claim")
    s = Stream(course.id, jobs[0], course.query)
    started = s.expect("state", "STARTED")
    assert started.id > 0, started
    s.close()
    w.finish(j0, True)
    s = Stream(course.id, jobs[0], course.query)
    fin = s.expect("state", "FINISHED")
    assert fin.id > started.id, (started, fin)
    s.expect_end()

    j1 = w.claim_for(run)
    w.finish(j1, False)
    s = Stream(course.id, jobs[1], course.query)
    s.expect("state", "FAILED")
    s.expect_end()

    # Through nginx the X-Accel-Buffering header is consumed; ask the
    # process itself (a finished job's stream ends at once).
    sock = os.path.join(env.stack_dir, "run", "sse.sock")
    r = lib.fcgi_call(sock, "GET", lib.full_path("/stream/%s/%s" % (
        course.id, jobs[0])), course.query)
    eq(r.status, 200, "direct status")
    eq(r.headers.get("x-accel-buffering"), "no", "X-Accel-Buffering")
    eq(r.headers.get("content-type"), "text/event-stream", "direct type")
    assert b'"data": "FINISHED"' in r.raw, r.raw
    j2 = w.claim_for(run)
    w.finish(j2, True)
    w.stop()


def t_errors(env):
    """401/403/404/405 are JSON envelopes before any stream starts."""
    a = lib.new_course()
    b = lib.new_course()
    _, _, run_b = lib.new_run(course=b, students=1)
    job_b = lib.job_ids(lib.run_status(b, run_b))[1][0]
    unknown = secrets.token_hex(12)

    def get(course_id, job, token, **kw):
        s = Stream(course_id, job, token, **kw)
        try:
            return lib.Resp(s.status, s.headers, s.body_json(), b"", [])
        finally:
            s.close()

    fail(get(a.id, unknown, a.query), 404, "job")
    fail(get(a.id, job_b, a.query), 404, "job")        # another course's job
    fail(get(a.id, job_b, a.admin), 404, "job")
    fail(get(a.id, job_b, b.admin), 401)                # b's token on a
    fail(get(b.id, job_b, a.admin), 401)
    fail(get(b.id, job_b, None), 401)
    fail(get(b.id, job_b, "x" + b.admin), 401)
    fail(get(b.id, job_b, None, headers={"Authorization": "Token " + b.admin}), 401)
    # An unknown course answers like a known one the token does not open.
    fail(get("no-such-course-" + secrets.token_hex(4), job_b, b.admin), 401)
    fail(get(b.id, "bad%20id", b.admin), 404)
    r = call("POST", "/stream/%s/%s" % (b.id, job_b), b.admin, body={})
    fail(r, 405)
    r = call("OPTIONS", "/stream/%s/%s" % (b.id, job_b))
    eq(r.status, 204, "OPTIONS")
    eq(r.headers.get("access-control-allow-origin"), "*", "CORS on OPTIONS")
    # The job of b still streams with b's query token.
    s = Stream(b.id, job_b, b.query)
    s.expect("position", 0)
    s.close()
    lib.drain()


def token_id(label):
    """The id token-list shows for the token with this label."""
    for ln in lib.admin("token-list").splitlines():
        f = ln.split("\t")
        if f[-1] == label:
            return f[0]
    raise AssertionError("no token labelled %s" % label)


def t_revoked_token_ends_streams(env):
    """A revoked token does not keep its open streams: job streams and
    worker nudge streams opened with it end within the auth cache time
    (1 s; allow 3 s), and reconnecting gets 401.  Streams of other
    tokens, also of the same course, go on."""
    import test_nudge
    course, _, run = lib.new_run(students=1)
    job = lib.job_ids(lib.run_status(course, run))[1][0]
    lq, lc = lib.unique("rq"), lib.unique("rc")
    q2, ct = lib.new_token(), lib.new_token()
    lib.admin("token-add", "query", course.id, "--token", q2, "--label", lq)
    lib.admin("token-add", "cluster", "--token", ct, "--label", lc)
    doomed = Stream(course.id, job, q2, timeout=10)
    kept = Stream(course.id, job, course.query, timeout=10)
    wdoomed = test_nudge.open_ready(token=ct)
    wkept = test_nudge.open_ready()
    try:
        doomed.expect("position", 0)
        kept.expect("position", 0)
        lib.admin("token-revoke", token_id(lq))
        lib.admin("token-revoke", token_id(lc))
        t0 = time.time()
        doomed.expect_end()
        ev = wdoomed.q.get(timeout=3)
        took = time.time() - t0
        eq(ev[0], "end", "the revoked worker stream: %r" % (ev,))
        assert took < 3.0, "streams ended after %.1fs" % took
        s = Stream(course.id, job, q2)
        fail(lib.Resp(s.status, s.headers, s.body_json(), b"", []), 401)
        s.close()
        r = test_nudge.WorkStream(token=ct)
        eq(r.status, 401, "nudge stream with the revoked token")
        r.close()
        # the others are still open and still told things
        assert wkept.q.empty() or all(e[0] == "work" for e in list(wkept.q.queue)), \
            "the other worker stream ended: %r" % list(wkept.q.queue)
        w = FakeWorker()
        w.register()
        j = w.claim_for(run)
        kept.expect("state", "STARTED")
        w.finish(j, True)
        kept.expect("state", "FINISHED")
        kept.expect_end()
        w.stop()
    finally:
        for x in (doomed, kept, wdoomed, wkept):
            x.close()


def t_resume_after_restart(env):
    """Last-Event-ID after `stack.sh restart-sse`: the events committed
    while the process was down are replayed; nothing is lost or repeated."""
    course, _, run, jobs = queued_run(2)
    s0 = Stream(course.id, jobs[0], course.query)
    s1 = Stream(course.id, jobs[1], course.query)
    s0.expect("position", 0)
    s1.expect("position", 1)
    w = FakeWorker(slots=2)
    w.register()
    j0 = w.claim_for(run)
    started = s0.expect("state", "STARTED")
    s1.expect("position", 0)

    lib.stack("restart-sse")
    # The old process closed our streams cleanly when it stopped.
    s0.expect_end()
    s1.expect_end()
    s0.close()
    s1.close()
    # While nobody listens: job 0 finishes, job 1 starts.
    w.finish(j0, True)
    j1 = w.claim_for(run)
    eq(j1.id, jobs[1], "second claim")

    s0 = stream_retry(course.id, jobs[0], course.query,
                      last_event_id=started.id)
    fin = s0.expect("state", "FINISHED")
    assert fin.id > started.id, (started, fin)
    s0.expect_end()
    s0.close()
    # Job 1 saw positions only (id 0: none of its own events yet).
    s1 = stream_retry(course.id, jobs[1], course.query, last_event_id=0)
    st1 = s1.expect("state", "STARTED")
    w.finish(j1, True)
    s1.expect("state", "FINISHED")
    s1.expect_end()
    s1.close()
    # From the start: the whole history of job 0, then the end.
    s0 = Stream(course.id, jobs[0], course.query, last_event_id=0)
    eq(s0.expect("state", "STARTED").id, started.id, "replayed id")
    eq(s0.expect("state", "FINISHED").id, fin.id, "replayed id")
    s0.expect_end()
    s0.close()
    # Already up to date: nothing is repeated, the stream just ends.
    s0 = Stream(course.id, jobs[0], course.query, last_event_id=fin.id)
    s0.expect_end()
    s0.close()
    assert st1.id > fin.id, (fin, st1)
    w.stop()


def t_client_gone(env):
    """Streams whose clients leave are freed at once, not at the next
    keep-alive."""
    course, _, run = lib.new_run(students=1)
    job = lib.job_ids(lib.run_status(course, run))[1][0]
    pid = sse_pid(env)
    # Let every acceptor open its database connection first.
    for _ in range(16):
        s = Stream(course.id, job, course.query)
        s.expect("position", 0)
        s.close()
    time.sleep(0.2)
    before = fd_count(pid)
    ss = [Stream(course.id, job, course.query) for _ in range(20)]
    for s in ss:
        s.expect("position", 0)
    during = fd_count(pid)
    assert during >= before + 20, (before, during)
    for s in ss:
        s.close()
    lib.wait_until(lambda: fd_count(pid) <= before + 2, 5,
                   msg="descriptors back to %d" % before)
    lib.drain()


def t_sigterm(env):
    """SIGTERM ends the process within a second and every stream cleanly."""
    course, _, run = lib.new_run(students=1)
    job = lib.job_ids(lib.run_status(course, run))[1][0]
    ss = [Stream(course.id, job, course.query) for _ in range(10)]
    for s in ss:
        s.expect("position", 0)
    pid = sse_pid(env)
    t0 = time.time()
    os.kill(pid, 15)
    lib.wait_until(lambda: gone(pid), 2, 0.01, "broadway-sse to exit")
    took = time.time() - t0
    assert took < 1.0, "exit took %.2fs" % took
    for s in ss:
        s.expect_end()
        s.close()
    lib.stack("restart-sse")
    s = stream_retry(course.id, job, course.query)
    s.expect("position", 0)
    s.close()
    lib.drain()


def t_500_streams(env):
    """500 concurrent streams on 500 queued jobs: every one sees STARTED
    then FINISHED and a clean end."""
    n = 500
    course, _, run = lib.new_run(students=n)
    jobs = lib.job_ids(lib.run_status(course, run))[1]
    eq(len(jobs), n, "jobs")
    ready = threading.Semaphore(0)
    results = [None] * n

    def listen(i):
        try:
            s = Stream(course.id, jobs[i], course.query, timeout=120)
            assert s.status == 200, s.status
            first = s.next()
            ready.release()
            assert first is not None and first.type == "position", first
            evs = [first]
            while True:
                ev = s.next()
                if ev is None:
                    break
                evs.append(ev)
            s.close()
            results[i] = evs
        except BaseException as e:          # noqa: B902 - reported below
            results[i] = e
            ready.release()

    ts = [threading.Thread(target=listen, args=(i,), daemon=True)
          for i in range(n)]
    for t in ts:
        t.start()
    for _ in range(n):
        assert ready.acquire(timeout=60), "streams did not all start"
    w = FakeWorker(slots=4)
    w.register()
    done = 0
    while done < n:
        j = w.claim_for(run, timeout=30)
        w.finish(j, True)
        done += 1
    w.stop()
    for t in ts:
        t.join(60)
    bad = []
    for i, r in enumerate(results):
        if not isinstance(r, list):
            bad.append((i, r))
            continue
        states = [e.data for e in r if e.type == "state"]
        pos = [e.data for e in r if e.type == "position"]
        if states != ["STARTED", "FINISHED"] or pos != sorted(pos, reverse=True):
            bad.append((i, r[-5:]))
    assert not bad, "%d streams wrong, e.g. %r" % (len(bad), bad[:3])


def tests(env):
    return [
        ("original_stream", t_original_stream),
        ("snapshot", t_snapshot),
        ("errors", t_errors),
        ("revoked_token_ends_streams", t_revoked_token_ends_streams),
        ("resume_after_restart", t_resume_after_restart),
        ("client_gone", t_client_gone),
        ("sigterm", t_sigterm),
        ("500_streams", t_500_streams),
    ]
