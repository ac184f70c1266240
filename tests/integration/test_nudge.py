"""The worker nudge (worker/PROTOCOL.md, "Nudge"): broadway-sse tells a
waiting worker the moment jobs are queued, over
GET /api/v1/stream/grader/{worker_id}/work.

A `work` event on connect, one within a poll tick of a run's first jobs,
of the student jobs after pre-processing, of the post job and of a
requeue; errors before any stream starts; job streams unaffected by the
job_id 0 rows; and a real broadway-worker, idle and backed off, claiming
a new job in well under its poll ceiling (and still after the SSE
process restarts)."""

import http.client
import queue
import threading
import time

import lib
from broadway_client import EventStream
from lib import FakeWorker, call, eq, fail
import test_worker_lib as wl
from test_worker_lib import Worker, stage

WORK_WAIT = 1.5         # seconds: a poll tick (25 ms) plus generous slack


class WorkStream:
    """A worker's nudge stream on its own HTTPS connection; a reader
    thread puts (event name, data, arrival time) or ("end", why) on a
    queue."""

    def __init__(self, wid=None, token=None, timeout=30):
        self.wid = wid or lib.unique("nw")
        tok = lib.ENV.cluster if token is None else token
        self.stream = EventStream(lib.ENV.api,
                                  f"/stream/grader/{self.wid}/work",
                                  tok or None, timeout=timeout)
        self.status = self.stream.status
        self.headers = self.stream.headers
        self.q = queue.Queue()
        self.reader = None
        if self.status == 200:
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self):
        try:
            while (ev := self.stream.next()) is not None:
                self.q.put((ev.event, ev.data, ev.at))
            self.q.put(("end", "eof"))
        except (OSError, ValueError, http.client.HTTPException) as e:
            # The stream broke (SseError is a ValueError) or close() cut
            # it: an event for the test to judge.
            self.q.put(("end", repr(e)))

    def expect_work(self, timeout=WORK_WAIT, what="work"):
        """Wait for a `work` event; its arrival time."""
        try:
            ev = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no work event after {timeout:.1f}s "
                                 f"({what})") from None
        eq(ev[0], "work", f"event ({what}): {ev!r}")
        eq(ev[1], "{}", "data")
        return ev[2]

    def quiet(self, secs=0.3):
        """Nothing arrives for secs (after flushing what is queued)."""
        time.sleep(secs)
        got = []
        while not self.q.empty():
            got.append(self.q.get_nowait())
        return got

    def close(self):
        self.stream.shutdown()
        if self.reader is not None:
            self.reader.join(5)
        self.stream.close()


def open_ready(**kw):
    """A stream past its connect-time `work` event, with nothing else
    pending (other tests' events may still trickle in)."""
    s = WorkStream(**kw)
    eq(s.status, 200, "status")
    eq(s.headers.get("content-type"), "text/event-stream", "content-type")
    s.expect_work(what="on connect")
    s.quiet(0.2)
    return s


# ---------------------------------------------------------------- tests

def t_work_on_new_run(env):
    """A run's first jobs (in any course, even one named like the
    route) reach every worker stream within a tick, once per batch."""
    a, b = open_ready(), open_ready()
    try:
        for cid in (None, "grader"):
            course = None
            if cid is not None:
                course = lib.Course(cid, lib.new_token(), None)
                if not lib.sql("SELECT id FROM course WHERE id = 'grader'"):
                    lib.admin("course-add", cid)
                lib.admin("token-add", "admin", cid, "--token", course.admin)
            t0 = time.monotonic()
            lib.new_run(course=course, students=30)
            for s in (a, b):
                dt = s.expect_work(what="a new run") - t0
                assert dt < WORK_WAIT, dt
            # One batch, one event (coalesced per poll tick).
            left = a.quiet(0.3)
            assert left == [], "more than one work event: %r" % left
        lib.drain()
    finally:
        a.close()
        b.close()


def t_work_per_stage(env):
    """Pre job queued, then the student jobs after it, then the post job:
    each batch is a work event."""
    lib.drain()
    s = open_ready()
    try:
        course, _, run = lib.new_run(students=2, pre=True, post=True)
        s.expect_work(what="the pre job")
        w = FakeWorker()
        w.register()
        j = w.claim_for(run)
        s.quiet(0.2)
        w.finish(j, True)
        s.expect_work(what="student jobs after pre")
        for _ in range(2):
            w.finish(w.claim_for(run), True)
        s.expect_work(what="the post job")
        w.finish(w.claim_for(run), True)
        w.stop()
        eq(lib.run_status(course, run)["state"], "FINISHED", "run state")
    finally:
        s.close()


def t_work_on_requeue(env):
    """A lease given back (here: the worker registers afresh) is work."""
    course, _, run, w = lib.run_with_worker(students=1)
    w.claim_for(run)
    s = open_ready()
    try:
        ok_reg = lib.ok(w.post("register", {"hostname": w.hostname,
                                            "slots": w.slots}))
        assert "heartbeat" in ok_reg
        s.expect_work(what="a requeue")
        j = w.claim_for(run)
        eq(j.attempt, 2, "attempt after the requeue")
        w.finish(j, True)
        w.stop()
    finally:
        s.close()


def t_errors(env):
    """Tokens and ids are checked before any stream starts."""
    c = lib.new_course("nudge")
    for tok, code in ((c.admin, 403), (c.query, 403), ("nope" * 8, 401),
                      ("", 401)):
        s = WorkStream(token=tok)
        try:
            eq(s.status, code, "status for token %r" % tok[:8])
        finally:
            s.close()
    fail(call("GET", "/stream/grader/b%40d/work", env.cluster), 400)
    fail(call("POST", "/stream/grader/w1/work", env.cluster, body={}), 405)
    fail(call("GET", "/stream/grader/w1/other", env.cluster), 404)
    fail(call("GET", "/stream/grader/w1/work/x", env.cluster), 404)
    r = call("OPTIONS", "/stream/grader/w1/work")
    eq(r[0], 204, "OPTIONS")


def t_job_streams_unaffected(env):
    """The job_id 0 rows give job streams no event of their own: a
    stream at position 1 hears nothing when another run is queued in
    its course, then 0, STARTED, FINISHED as before."""
    import test_sse
    lib.drain()
    course, asg, run, order = test_sse.queued_run(2)
    js = test_sse.Stream(course.id, order[1], course.query, timeout=3)
    try:
        js.expect("position", 1)
        lib.start_run(course, asg, [{"STUDENT_ID": "x"}])
        try:
            ev = js.next()
        except TimeoutError:
            pass        # 3 s of silence on the stream: what this test wants
        else:
            raise AssertionError(f"unexpected event {ev!r}")
    finally:
        js.close()
    js = test_sse.Stream(course.id, order[1], course.query, timeout=10)
    try:
        js.expect("position", 1)
        w = FakeWorker()
        w.register()
        w.finish(w.claim_for(run), True)
        js.expect("position", 0)
        j = w.claim_for(run)
        eq(j.id, order[1], "claim order")
        js.expect("state", "STARTED")
        w.finish(j, True)
        js.expect("state", "FINISHED")
        js.expect_end()
        w.stop()
    finally:
        js.close()
    lib.drain()


def claim_delay_ms(job_id):
    rows = lib.sql("SELECT TIMESTAMPDIFF(MICROSECOND, queued_at, started_at)"
                   " FROM grading_job WHERE public_id = "
                   + lib.sql_quote(job_id))
    return int(rows[0][0]) / 1000.0


def one_job(w, c, asg):
    """Queue one job for the idle worker; ms from queued to claimed."""
    rid = lib.start_run(c, asg, [{"N": "1"}])
    st = lib.wait_until(
        lambda: (lambda s: s if s["state"] == "FINISHED" else None)(
            lib.run_status(c, rid)), timeout=60, interval=0.1,
        msg="the run to finish")
    jid = list(st["student_jobs"])[0]
    return claim_delay_ms(jid)


def t_real_worker(env):
    """A real broadway-worker, idle long enough to be at its poll
    ceiling (2 s from the API, 10 s with the nudge up), claims a new
    job within a few hundred ms; after the SSE process restarts it
    reconnects and still does."""
    lib.drain()
    c = lib.new_course("nudge")
    asg = lib.unique("a")
    lib.put_config(c, asg, {"student_pipeline": [stage("true")]})
    with Worker(env, lib.unique("wk-n")) as w:
        w.wait_log("nudge stream up", timeout=60)
        delays = []
        for _ in range(2):
            time.sleep(4)       # 100 ms doubling: past 2 s by now
            delays.append(one_job(w, c, asg))
        lib.stack("restart-sse")
        lib.wait_until(lambda: w.logtext().count("nudge stream up") >= 2,
                       timeout=30, msg="the nudge stream back")
        time.sleep(4)
        delays.append(one_job(w, c, asg))
        print("  queued -> claimed by an idle real worker: %s ms"
              % ", ".join("%.0f" % d for d in delays))
        assert max(delays) < 600, delays
        assert "nudge stream lost" in w.logtext()
        rc = w.stop()
        assert rc == 0, w.logtext()[-2000:]


def t_real_worker_nudge_off(env):
    """nudge = no: no stream, the worker claims by polling alone."""
    lib.drain()
    c = lib.new_course("nudge")
    asg = lib.unique("a")
    lib.put_config(c, asg, {"student_pipeline": [stage("true")]})
    with Worker(env, lib.unique("wk-p"), extra=("-o", "nudge=no")) as w:
        w.wait_log("registered as", timeout=60)
        d = one_job(w, c, asg)
        assert "nudge stream" not in w.logtext(), w.logtext()[-2000:]
        assert d < 5000, d
        rc = w.stop()
        assert rc == 0, w.logtext()[-2000:]


def tests(env):
    return [(n[2:], f) for n, f in sorted(globals().items())
            if n.startswith("t_") and callable(f)]
