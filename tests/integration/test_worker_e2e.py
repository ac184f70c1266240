"""broadway-worker end to end: real workers, real podman, through nginx
and the API (issue 4).  Each test drains the shared queue first and
stops its workers before returning, so no other test's job is run here
and no job of ours is left behind."""

import contextlib
import json
import os
import re
import signal
import time

import lib
from lib import call, ok
import test_worker_lib as wl
from test_worker_lib import Worker, stage


def course_run(stages, students, env=None, pre=None, post=None):
    c = lib.new_course("wk")
    a = lib.unique("a")
    cfg = {"student_pipeline": stages}
    if env is not None:
        cfg["env"] = env
    if pre is not None:
        cfg["pre_processing_pipeline"] = pre
    if post is not None:
        cfg["post_processing_pipeline"] = post
    lib.put_config(c, a, cfg)
    rid = lib.start_run(c, a, students)
    return c, rid


def wait_run(c, rid, timeout=60, states=("FINISHED", "FAILED")):
    return lib.wait_until(
        lambda: (lambda s: s if s["state"] in states else None)(
            lib.run_status(c, rid)), timeout=timeout, interval=0.2,
        msg="run %s to end" % rid)


def job_log(c, jid):
    return ok(call("GET", "/grading_job_log/%s/%s" % (c.id, jid), c.admin))


def job_results(jid):
    rows = lib.sql("SELECT results, attempt, worker_id, state FROM grading_job"
                   " WHERE public_id = " + lib.sql_quote(jid))
    r = rows[0]
    return (json.loads(r[0]) if r[0] else None), int(r[1]), r[2], int(r[3])


def only_job(st):
    jobs = st["student_jobs"]
    assert len(jobs) == 1, jobs
    return list(jobs.items())[0]


def t_pipeline_and_env(env):
    lib.drain()
    c, rid = course_run(
        [stage("sleep 1; echo $NETID > /job/student"),
         stage('echo "A=$A B=$B C=$C run=$GRADING_RUN_ID job=$GRADING_JOB_ID"'
               ' > /job/env', env={"B": "stage", "C": "stage"}),
         stage("cat /job/student /job/env")],
        [{"NETID": "student-id", "C": "run"}],
        env={"A": "global", "B": "global", "C": "global"})
    with Worker(env, lib.unique("wk")):
        st = wait_run(c, rid)
    jid, state = only_job(st)
    assert st["state"] == "FINISHED" and state == "SUCCEEDED", st
    out = job_log(c, jid)["stdout"]
    assert out == "student-id\nA=global B=stage C=run run=%s job=%s\n" % (
        rid, jid), out
    res, attempt, _, _ = job_results(jid)
    assert [r["success"] for r in res] == [True, True, True], res


def t_limits_and_output(env):
    """One assignment per behaviour, graded side by side by one worker."""
    lib.drain()
    cases = {
        "timeout": [stage(None, entrypoint=["sleep", "600"], timeout=2)],
        "oom": [stage('x=$(head -c 200000000 /dev/zero | tr "\\0" a)',
                      memory="32m")],
        # exec: once the pids limit is reached the shell could not fork
        # a plain `sleep`, exit 2 at once and make the outcome a race.
        "forkbomb": [stage("cat /sys/fs/cgroup/pids/pids.max; b() { b | b & };"
                           " b 2>/dev/null; exec sleep 30", timeout=3)],
        "net": [stage("ip -o link | cut -d: -f2 | tr -d ' ' | sort | tr '\\n' ,"
                      "; echo", networking=True)],
        "big": [stage("echo HEAD; head -c 3000000 /dev/zero | tr '\\0' x;"
                      " echo; echo TAIL")],
        "utf8": [stage("printf 'a\\377b\\300\\257c \\342\\202\\254\\n'")],
        "image": [{"image": "localhost/no-such-image:9"}],
        "privileged": [stage("echo ran", privileged=True)],
    }
    runs = {k: course_run(v, [{"K": k}]) for k, v in cases.items()}
    with Worker(env, lib.unique("wk"), slots=2):
        sts = {k: wait_run(c, rid, timeout=90) for k, (c, rid) in runs.items()}
    got = {}
    for k, st in sts.items():
        jid, state = only_job(st)
        res, _, _, _ = job_results(jid)
        got[k] = (state, res[-1], job_log(runs[k][0], jid))
    state, r, logs = got["timeout"]
    assert state == "FAILED" and r["timed_out"] and r["duration_ms"] < 3000, r
    state, r, logs = got["oom"]
    assert state == "FAILED" and r["oom_killed"] and not r["timed_out"], r
    state, r, logs = got["forkbomb"]
    assert logs["stdout"].startswith("%d\n" % 256), logs
    assert r["timed_out"], r
    state, r, logs = got["net"]
    assert state == "SUCCEEDED" and logs["stdout"] == "lo,\n", logs
    state, r, logs = got["big"]
    s = logs["stdout"]
    assert s.startswith("HEAD\nxxx") and s.endswith("xxx\nTAIL\n"), (s[:10], s[-10:])
    assert re.search(r"\n\[\.\.\. \d+ bytes truncated \.\.\.\]\n", s), "no marker"
    assert len(s.encode()) <= 1024 * 1024
    state, r, logs = got["utf8"]
    assert logs["stdout"] == "a\ufffdb\ufffd\ufffdc \u20ac\n", ascii(logs["stdout"])
    state, r, logs = got["image"]
    assert state == "FAILED" and r["exit_code"] == 125, r
    assert "image not known" in logs["stderr"], logs
    state, r, logs = got["privileged"]
    assert state == "FAILED" and "privileged" in r["error"], r


def started_job(c, rid):
    return lib.wait_until(lambda: [j for j, s in lib.run_status(c, rid)[
        "student_jobs"].items() if s == "STARTED"], timeout=30)[0]


@contextlib.contextmanager
def job_in_stage(env, script, stage_wait=10, prefix="wk"):
    """One job (a stage running script) that a new worker has started:
    yields (course, run id, job id, the Worker); after, the worker is
    killed if it still runs and any container it left is removed."""
    lib.drain()
    c, rid = course_run([stage(script)], [{"X": "1"}])
    w = Worker(env, lib.unique(prefix)).start()
    try:
        jid = started_job(c, rid)
        w.wait_log("stage 0:", timeout=stage_wait)
        yield c, rid, jid, w
    finally:
        if w.p.poll() is None:
            w.kill9()
        for cid in wl.containers(env, "broadway.worker=" + w.id):
            wl.podman(env, "rm", "-f", "-t", "0", cid, check=False)


@contextlib.contextmanager
def killed_mid_job(env, script, prefix, pause):
    """job_in_stage, with the worker killed (-9) `pause` seconds into
    the stage."""
    with job_in_stage(env, script, prefix=prefix) as (c, rid, jid, w):
        time.sleep(pause)
        w.kill9()
        yield c, rid, jid, w


def t_kill9_requeue(env):
    """kill -9 mid-job: the lease lapses, a second worker finishes it."""
    with killed_mid_job(env, "sleep 3; echo finished", "wk-a", 0.5) as \
            (c, rid, jid, w1):
        with Worker(env, lib.unique("wk-b")) as w2:
            st = wait_run(c, rid, timeout=60)
        assert only_job(st)[1] == "SUCCEEDED", st
        res, attempt, wid, _ = job_results(jid)
        assert wid == w2.id and attempt == 2, (wid, attempt)
        assert job_log(c, jid)["stdout"] == "finished\n"


def t_kill9_restart_cleans(env):
    """A restarted worker removes the container and the job directory
    its killed incarnation left, and registering requeues the job."""
    with killed_mid_job(env, "sleep 5; echo again", "wk-k", 0.7) as \
            (c, rid, jid, w1):
        assert len(wl.containers(env, "broadway.worker=" + w1.id)) == 1
        stale = os.listdir(os.path.join(w1.wd, "jobs"))
        assert stale == [jid + "-1"], stale
        with Worker(env, w1.id, wd=w1.wd) as w1b:
            w1b.wait_log("registered as", timeout=30)
            log = w1b.logtext()
            assert "removed 1 leftover container" in log, log
            assert not os.path.exists(os.path.join(w1.wd, "jobs", stale[0]))
            st = wait_run(c, rid, timeout=60)
            assert w1b.stop() == 0
        assert only_job(st)[1] == "SUCCEEDED", st
        _, attempt, wid, _ = job_results(jid)
        assert wid == w1.id and attempt == 2, (wid, attempt)
        assert wl.containers(env, "broadway.worker=" + w1.id) == []


def t_api_down_while_job_finishes(env):
    lib.drain()
    c, rid = course_run([stage("sleep 3; echo done-while-down")], [{"X": "1"}])
    with Worker(env, lib.unique("wk")) as w:
        w.wait_log("stage 0:", timeout=30)
        lib.stack("stop-api")
        try:
            w.wait_log("cannot send the result", timeout=30)
            time.sleep(3)
        finally:
            lib.stack("start-api")
        st = lib.wait_until(lambda: (lambda s: s if s["state"] in (
            "FINISHED", "FAILED") else None)(lib.call_retry(
                "GET", "/grading_run_status/%s/%s" % (c.id, rid),
                c.admin).json["data"]), timeout=60, interval=0.2)
        w.wait_log("result accepted", timeout=30)
    jid, state = only_job(st)
    assert state == "SUCCEEDED", st
    assert job_log(c, jid)["stdout"] == "done-while-down\n"
    _, attempt, wid, _ = job_results(jid)
    assert attempt == 1 and wid == w.id, (attempt, wid)


def t_spool_survives_restart(env):
    lib.drain()
    c, rid = course_run([stage("sleep 2; echo spooled")], [{"X": "1"}])
    w = Worker(env, lib.unique("wk")).start()
    try:
        w.wait_log("stage 0:", timeout=30)
        lib.stack("stop-api")
        try:
            w.wait_log("cannot send the result", timeout=30)
            # Drain, then stop now: the result stays in the spool.
            w.signal(signal.SIGTERM)
            time.sleep(0.3)
            w.signal(signal.SIGTERM)
            assert w.p.wait(30) != 0
            spooled = os.listdir(os.path.join(w.wd, "spool"))
            assert any(f.endswith(".json") for f in spooled), spooled
        finally:
            lib.stack("start-api")
        w2 = Worker(env, w.id, wd=w.wd).start()
        try:
            w2.wait_log("accepted", timeout=30)
            st = wait_run(c, rid, timeout=30)
        finally:
            w2.stop()
        log = w2.logtext()
        assert log.index("spooled") < log.index("registered as"), log
    finally:
        if w.p.poll() is None:
            w.kill9()
    jid, state = only_job(st)
    assert state == "SUCCEEDED", st
    assert job_log(c, jid)["stdout"] == "spooled\n"
    assert [f for f in os.listdir(os.path.join(w.wd, "spool"))
            if f.endswith(".json")] == []


def t_sigterm_drains(env):
    lib.drain()
    c, rid = course_run([stage("sleep 3; echo drained")], [{"X": "1"}])
    w = Worker(env, lib.unique("wk")).start()
    w.wait_log("stage 0:", timeout=30)
    t0 = time.time()
    rc = w.stop()
    assert rc == 0, w.logtext()[-2000:]
    st = lib.run_status(c, rid)
    jid, state = only_job(st)
    assert state == "SUCCEEDED", (st, time.time() - t0)
    assert job_log(c, jid)["stdout"] == "drained\n"
    assert wl.containers(env, "broadway.worker=" + w.id) == []


def t_second_sigterm_aborts(env):
    """The second SIGTERM stops a running stage at once (a flag the main
    thread sets and the slot thread reads: TSAN=1 watches this path);
    the same worker started again gets the job back and finishes it."""
    with job_in_stage(env, "sleep 6; echo second", 30) as (c, rid, jid, w):
        w.signal(signal.SIGTERM)
        w.wait_log("draining", timeout=10)
        t0 = time.time()
        w.signal(signal.SIGTERM)
        rc = w.p.wait(30)
        dt = time.time() - t0
        assert rc == 1, (rc, w.logtext()[-2000:])
        assert dt < 5, dt
        assert "abandoned" in w.logtext(), w.logtext()[-2000:]
        assert wl.containers(env, "broadway.worker=" + w.id) == []
        assert os.listdir(os.path.join(w.wd, "jobs")) == []
        with Worker(env, w.id, wd=w.wd) as w2:
            st = wait_run(c, rid, timeout=60)
            assert w2.stop() == 0
        assert only_job(st)[1] == "SUCCEEDED", st
        _, attempt, wid, _ = job_results(jid)
        assert wid == w.id and attempt == 2, (wid, attempt)


def t_two_workers_twenty_students(env):
    lib.drain()
    c, rid = course_run(
        [stage('echo "student $SID saw $(cat /job/pre 2>/dev/null)"')],
        [{"SID": "s%02d" % i} for i in range(20)],
        pre=[stage("echo pre-ran")], post=[stage("echo post-ran")])
    t0 = time.time()
    with Worker(env, lib.unique("wk-x"), slots=2) as w1, \
            Worker(env, lib.unique("wk-y"), slots=2) as w2:
        st = wait_run(c, rid, timeout=180)
        dt = time.time() - t0
    assert st["state"] == "FINISHED", st
    assert set(st["student_jobs"].values()) == {"SUCCEEDED"}, st
    assert list(st["pre_processing_job"].values()) == ["SUCCEEDED"]
    assert list(st["post_processing_job"].values()) == ["SUCCEEDED"]
    by = {}
    for jid in st["student_jobs"]:
        _, _, wid, _ = job_results(jid)
        by[wid] = by.get(wid, 0) + 1
        assert job_log(c, jid)["stdout"].startswith("student s"), jid
    assert set(by) == {w1.id, w2.id}, by
    print("  20 students + pre + post on 2x2 slots: %.1fs, split %r" % (dt, by))


def tests(env):
    return [(n[2:], f) for n, f in sorted(globals().items())
            if n.startswith("t_") and callable(f)]
