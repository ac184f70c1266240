"""grading_run, the run state machine, env layering, grading_run_env,
job logs, the worker list and the queue length, driven by fake workers."""

import json

import lib
from lib import FakeWorker, call, eq, fail, ok


def rpath(course, asg):
    return "/grading_run/%s/%s" % (course.id, asg)


def status(course, run):
    return lib.run_status(course, run)


def one(d, what):
    assert isinstance(d, dict) and len(d) == 1, "%s: want one job, got %r" % (what, d)
    return list(d.items())[0]


# ---------------------------------------------------------------- validation

def no_run_stored(c, problems):
    """After refused runs in course c: nothing queued, no run stored,
    and no problem at all."""
    try:
        eq(lib.queue_length(c), 0, "queue length after refused runs")
        rows = lib.sql("SELECT COUNT(*) FROM grading_run WHERE course_id = "
                       + lib.sql_quote(c.id))
        eq(rows[0][0], "0", "runs stored after refused requests")
    except AssertionError as e:
        problems.append(str(e))
    assert not problems, "%d problem(s):\n  " % len(problems) + "\n  ".join(problems)


def t_run_validation(env):
    c = lib.new_course()
    only_students = lib.unique("a")
    lib.put_config(c, only_students, lib.config(student=True))
    full = lib.unique("a")
    lib.put_config(c, full, lib.config(student=True, pre=True, post=True))
    cases = [
        ("no config", rpath(c, "no-such-assignment"), {"students_env": [{}]}, 404, None),
        ("malformed JSON", rpath(c, full), '{"students_env": [', 400, None),
        ("empty body", rpath(c, full), '', 400, None),
        ("not an object", rpath(c, full), [{"A": "1"}], 400, None),
        ("duplicate keys", rpath(c, full),
         '{"students_env": [{}], "students_env": [{}]}', 400, "duplicate"),
        ("duplicate keys in a student", rpath(c, full),
         '{"students_env": [{"A": "1", "A": "2"}]}', 400, "duplicate"),
        ("students_env missing", rpath(c, full), {}, 400, "students_env"),
        ("empty roster", rpath(c, full), {"students_env": []}, 400, "students_env"),
        ("students_env object", rpath(c, full), {"students_env": {"A": "1"}}, 400,
         "students_env"),
        ("students_env null", rpath(c, full), {"students_env": None}, 400,
         "students_env"),
        ("student not an object", rpath(c, full), {"students_env": ["A=1"]}, 400, None),
        ("student null", rpath(c, full), {"students_env": [None]}, 400, None),
        ("student value number", rpath(c, full),
         {"students_env": [{"NUMVAL": 1}]}, 400, "NUMVAL"),
        ("student value object", rpath(c, full),
         {"students_env": [{"OBJVAL": {}}]}, 400, "OBJVAL"),
        ("student env name with =", rpath(c, full),
         {"students_env": [{"A=B": "1"}]}, 400, None),
        ("student env empty name", rpath(c, full), {"students_env": [{"": "1"}]}, 400, None),
        ("student value NUL", rpath(c, full),
         {"students_env": [{"A": "x\u0000y"}]}, 400, None),
        ("unknown top-level key", rpath(c, full),
         {"students_env": [{}], "bogus_run_key": {}}, 400, "bogus_run_key"),
        ("pre env not an object", rpath(c, full),
         {"students_env": [{}], "pre_processing_env": "A=1"}, 400, "pre_processing_env"),
        ("post env value number", rpath(c, full),
         {"students_env": [{}], "post_processing_env": {"PV": 2}}, 400, "PV"),
        ("pre env without pre pipeline", rpath(c, only_students),
         {"students_env": [{}], "pre_processing_env": {"A": "1"}}, 400, "pre"),
        ("post env without post pipeline", rpath(c, only_students),
         {"students_env": [{}], "post_processing_env": {"A": "1"}}, 400, "post"),
        ("pre and post env without pipelines", rpath(c, only_students),
         {"students_env": [{}], "pre_processing_env": {},
          "post_processing_env": {}}, 400, None),
        ("roster over 20000", rpath(c, only_students),
         {"students_env": [{}] * 20001}, 400, "students_env"),
        ("bad assignment id", rpath(c, "a" * 129), {"students_env": [{}]}, 400, None),
    ]
    problems = []
    for label, p, body, want, must in cases:
        if isinstance(body, str):
            r = call("POST", p, c.admin, raw=body)
        else:
            r = call("POST", p, c.admin, body=body)
        try:
            fail(r, want, must)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    no_run_stored(c, problems)


def t_run_ids(env):
    """Run ids are fresh 24-hex strings; status of an unknown or malformed
    run id is 404."""
    c, asg, r1 = lib.new_run(students=1)
    r2 = lib.start_run(c, asg, [{"S": "2"}])
    assert r1 != r2
    st = status(c, r2)
    for jid in st["student_jobs"]:
        assert len(jid) == 24 and all(x in "0123456789abcdef" for x in jid), jid
    fail(call("GET", "/grading_run_status/%s/%s" % (c.id, "0" * 24), c.admin), 404)
    fail(call("GET", "/grading_run_status/%s/temp" % c.id, c.admin), 404)
    fail(call("GET", "/grading_run_env/%s/temp" % c.id, c.admin), 404)
    fail(call("GET", "/grading_job_log/%s/weird" % c.id, c.admin), 404)
    fail(call("GET", "/grading_job_log/%s/%s" % (c.id, "f" * 24), c.admin), 404)
    lib.drain()


# ---------------------------------------------------------------- state machine

def t_single_student(env):
    lib.drain()
    c, asg, run = lib.new_run(students=1)
    st = status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "state after start")
    eq(st["pre_processing_job"], None, "pre job")
    eq(st["post_processing_job"], None, "post job")
    jid, js = one(st["student_jobs"], "student_jobs")
    eq(js, "QUEUED", "job state")
    eq(lib.queue_length(c), 1, "queue length")
    w = FakeWorker()
    w.register()
    j = w.claim_job()
    assert j is not None, "no job to claim"
    eq(j.id, jid, "claimed job")
    eq(j.attempt, 1, "first attempt")
    st = status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "state while running")
    eq(st["student_jobs"], {jid: "STARTED"}, "jobs while running")
    eq(lib.queue_length(c), 0, "queue length while running")
    w2 = FakeWorker()
    w2.register()
    eq(w2.claim()[0], 204, "second claim, nothing queued")
    w.finish(j, True, stdout="done\n")
    st = status(c, run)
    eq(st["state"], "FINISHED", "state at the end")
    eq(st["student_jobs"], {jid: "SUCCEEDED"}, "jobs at the end")
    eq(w2.claim()[0], 204, "claim after the end")


def t_complete_run(env):
    """pre -> students -> post with every intermediate state."""
    lib.drain()
    c, asg, run = lib.new_run(students=2, pre=True, post=True)
    st = status(c, run)
    eq(st["state"], "PRE_PROCESSING_STAGE", "state after start")
    pre_id, s = one(st["pre_processing_job"], "pre job")
    eq(s, "QUEUED", "pre state")
    eq(st["student_jobs"], {}, "no student jobs before pre")
    eq(st["post_processing_job"], None, "no post job yet")
    eq(lib.queue_length(c), 1, "queue holds the pre job only")

    w1, w2, w3 = FakeWorker(), FakeWorker(), FakeWorker()
    for w in (w1, w2, w3):
        w.register()
    j = w1.claim_job()
    eq(j.id, pre_id, "claimed the pre job")
    st = status(c, run)
    eq(st["pre_processing_job"], {pre_id: "STARTED"}, "pre running")
    eq(st["state"], "PRE_PROCESSING_STAGE", "state with pre running")
    eq(w2.claim()[0], 204, "nothing else to claim while pre runs")

    w1.finish(j, True)
    st = status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "state after pre")
    eq(st["pre_processing_job"], {pre_id: "SUCCEEDED"}, "pre done")
    eq(len(st["student_jobs"]), 2, "two student jobs")
    assert all(v == "QUEUED" for v in st["student_jobs"].values()), st
    eq(st["post_processing_job"], None, "no post job during students")
    eq(lib.queue_length(c), 2, "queue holds the students")

    a = w1.claim_job()
    b = w2.claim_job()
    assert a and b and {a.id, b.id} == set(st["student_jobs"]), (a, b, st)
    eq(w3.claim()[0], 204, "nothing else while students run")
    st = status(c, run)
    eq(st["student_jobs"], {a.id: "STARTED", b.id: "STARTED"}, "students running")

    w1.finish(a, True)
    st = status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "one student left")
    eq(st["student_jobs"][a.id], "SUCCEEDED", "first student")
    eq(st["post_processing_job"], None, "post not before the last student")
    eq(w3.claim()[0], 204, "post not queued early")

    w2.finish(b, False)
    st = status(c, run)
    eq(st["state"], "POST_PROCESSING_STAGE", "after the last student")
    eq(st["student_jobs"][b.id], "FAILED", "failed student")
    post_id, s = one(st["post_processing_job"], "post job")
    eq(s, "QUEUED", "post queued")

    p = w3.claim_job()
    eq(p.id, post_id, "claimed the post job")
    eq(status(c, run)["post_processing_job"], {post_id: "STARTED"}, "post running")
    w3.finish(p, True)
    st = status(c, run)
    eq(st["state"], "FINISHED", "final state")
    eq(st["post_processing_job"], {post_id: "SUCCEEDED"}, "post done")
    eq(st["pre_processing_job"], {pre_id: "SUCCEEDED"}, "pre still shown")
    eq(w1.claim()[0], 204, "nothing left")
    for jid, want in ((pre_id, "SUCCEEDED"), (a.id, "SUCCEEDED"), (b.id, "FAILED"),
                      (post_id, "SUCCEEDED")):
        eq(lib.job_events(jid), ["STARTED", want], "job_event rows of %s" % jid)


def t_pre_failure(env):
    c, asg, run, w = lib.run_with_worker(students=3, pre=True, post=True)
    j = w.claim_job()
    pre_id, _ = one(status(c, run)["pre_processing_job"], "pre job")
    eq(j.id, pre_id, "claimed the pre job")
    w.finish(j, False)
    st = status(c, run)
    eq(st["state"], "FAILED", "run after a pre failure")
    eq(st["pre_processing_job"], {pre_id: "FAILED"}, "pre job")
    eq(st["student_jobs"], {}, "no student jobs")
    eq(st["post_processing_job"], None, "no post job")
    eq(lib.queue_length(c), 0, "nothing queued")
    eq(w.claim()[0], 204, "nothing to claim")
    rows = lib.sql("SELECT COUNT(*) FROM grading_job j JOIN grading_run r ON r.id = j.run_id"
                   " WHERE r.public_id = " + lib.sql_quote(run))
    eq(rows[0][0], "1", "jobs in the DB for the run")


def t_student_failure(env):
    """Every student failing still finishes the run (no post pipeline)."""
    c, asg, run, w = lib.run_with_worker(students=2, slots=2)
    a, b = w.claim_job(), w.claim_job()
    w.finish(a, False)
    eq(status(c, run)["state"], "STUDENTS_STAGE", "after one failure")
    w.finish(b, False)
    st = status(c, run)
    eq(st["state"], "FINISHED", "after all failed")
    eq(sorted(st["student_jobs"].values()), ["FAILED", "FAILED"], "jobs")


def t_post_failure(env):
    c, asg, run, w = lib.run_with_worker(students=1, post=True)
    w.finish(w.claim_job(), True)
    eq(status(c, run)["state"], "POST_PROCESSING_STAGE", "after students")
    p = w.claim_job()
    w.finish(p, False)
    st = status(c, run)
    eq(st["state"], "FAILED", "after a post failure")
    eq(st["post_processing_job"], {p.id: "FAILED"}, "post job")


def t_pre_success_no_post(env):
    c, asg, run, w = lib.run_with_worker(students=1, pre=True)
    w.finish(w.claim_job(), True)
    st = status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "after pre")
    w.finish(w.claim_job(), True)
    st = status(c, run)
    eq(st["state"], "FINISHED", "end")
    eq(st["post_processing_job"], None, "post")


def t_query_token_status(env):
    c, asg, run = lib.new_run(students=2)
    eq(lib.run_status(c, run, c.query)["state"], "STUDENTS_STAGE", "via query token")
    lib.drain()


# ---------------------------------------------------------------- env

GLOBAL = {"G": "global", "S_OVER": "global", "R_OVER": "global", "G_ONLY": "g"}
STAGE0 = {"S_OVER": "stage0", "R_OVER": "stage0", "ST0": "only-0"}
STAGE1 = {"S_OVER": "stage1", "ST1": "only-1"}


def env_config():
    return {
        "env": GLOBAL,
        "pre_processing_pipeline": [{"image": "localhost/bb:1", "env": {"S_OVER": "pre-stage"}}],
        "student_pipeline": [
            {"image": "localhost/bb:1", "env": STAGE0, "timeout": 7,
             "entrypoint": ["/bin/sh", "-c", "env"], "memory": "64m",
             "hostname": "h1", "networking": False},
            {"image": "localhost/bb:2", "env": STAGE1, "logs": False}],
        "post_processing_pipeline": [{"image": "localhost/bb:1"}],
    }


STUDENTS = [
    {"R_OVER": "student-a", "ONLY_A": "a", "NETID": "alice"},
    {"ONLY_B": "b", "NETID": "bob", "S_OVER": "student-b"},
    {},
]
PRE_ENV = {"PRE_VAR": "pre", "G": "pre-over"}
POST_ENV = {"POST_VAR": "post"}


def layered(stage_env, run_env, run_id, job_id):
    e = dict(GLOBAL)
    e["GRADING_RUN_ID"] = run_id
    e.update(stage_env)
    e.update(run_env)
    e["GRADING_JOB_ID"] = job_id
    return e


def check_stages(job, cfg_pipeline, run_env, run_id, problems, label):
    if len(job.stages) != len(cfg_pipeline):
        problems.append("%s: %d stages, want %d" % (label, len(job.stages), len(cfg_pipeline)))
        return
    for i, (got, want) in enumerate(zip(job.stages, cfg_pipeline)):
        exp = layered(want.get("env", {}), run_env, run_id, job.id)
        if got.get("env") != exp:
            problems.append("%s stage %d env:\n    got  %r\n    want %r"
                            % (label, i, got.get("env"), exp))
        g = {k: v for k, v in got.items() if k != "env"}
        w = {k: v for k, v in want.items() if k != "env"}
        if g != w:
            problems.append("%s stage %d options: got %r, want %r" % (label, i, g, w))


def t_env_layering(env):
    """Each job's stages: global < stage < run (+ the two ids), computed
    afresh per student: no key of one student reaches another."""
    lib.drain()
    c = lib.new_course()
    asg = lib.unique("a")
    cfg = env_config()
    lib.put_config(c, asg, cfg)
    run = lib.start_run(c, asg, STUDENTS, PRE_ENV, POST_ENV)
    w = FakeWorker(slots=8)
    w.register()
    problems = []
    pre = w.claim_job()
    check_stages(pre, cfg["pre_processing_pipeline"], PRE_ENV, run, problems, "pre")
    w.finish(pre, True)
    st = status(c, run)
    jobs = [w.claim_job() for _ in STUDENTS]
    eq(w.claim()[0], 204, "no more jobs")
    eq({j.id for j in jobs}, set(st["student_jobs"]), "claimed student jobs")
    # FIFO: claimed in roster order; identify by NETID where present
    by_netid = {j.env.get("NETID"): j for j in jobs}
    for i, s in enumerate(STUDENTS):
        j = jobs[i]
        check_stages(j, cfg["student_pipeline"], s, run, problems, "student %d" % i)
    if set(by_netid) != {"alice", "bob", None}:
        problems.append("NETIDs seen: %r" % sorted(map(str, by_netid)))
    for j in jobs:
        w.finish(j, True)
    post = w.claim_job()
    check_stages(post, cfg["post_processing_pipeline"], POST_ENV, run, problems, "post")

    # grading_run_env: union over stages of each variable's values
    d = ok(call("GET", "/grading_run_env/%s/%s" % (c.id, run), c.admin))

    def union(pipeline, run_env, job_id):
        out = {}
        for stg in pipeline:
            for k, v in layered(stg.get("env", {}), run_env, run, job_id).items():
                out.setdefault(k, set()).add(v)
        return out

    def norm(e):
        assert isinstance(e, dict), e
        for k, v in e.items():
            assert isinstance(v, list) and all(isinstance(x, str) for x in v), (k, v)
        return {k: set(v) for k, v in e.items()}

    try:
        eq(set(d["student_jobs"]), {j.id for j in jobs}, "run_env student ids")
        for i, j in enumerate(jobs):
            got = norm(d["student_jobs"][j.id])
            exp = union(cfg["student_pipeline"], STUDENTS[i], j.id)
            if got != exp:
                problems.append("run_env student %d:\n    got  %r\n    want %r" % (i, got, exp))
        eq(list(d["pre_processing_env"]), [pre.id], "run_env pre id")
        got = norm(d["pre_processing_env"][pre.id])
        exp = union(cfg["pre_processing_pipeline"], PRE_ENV, pre.id)
        if got != exp:
            problems.append("run_env pre: got %r want %r" % (got, exp))
        for key in ("post_processing_env", "post_processing_job"):
            pe = d.get(key)
            if not isinstance(pe, dict) or list(pe) != [post.id]:
                problems.append("run_env %s: %r" % (key, pe))
                continue
            got = norm(pe[post.id])
            exp = union(cfg["post_processing_pipeline"], POST_ENV, post.id)
            if got != exp:
                problems.append("run_env %s: got %r want %r" % (key, got, exp))
    except (AssertionError, KeyError, TypeError) as e:
        problems.append("run_env shape: %r: %r" % (e, d))
    w.finish(post, True)
    eq(status(c, run)["state"], "FINISHED", "run state")
    assert not problems, "\n  ".join(problems)


def t_injected_ids_win(env):
    """GRADING_JOB_ID cannot be overridden by a run env: the job gets its
    real id (or the run is refused)."""
    lib.drain()
    c = lib.new_course()
    asg = lib.unique("a")
    lib.put_config(c, asg, {"student_pipeline": [
        {"image": "localhost/bb:1", "env": {"GRADING_JOB_ID": "from-stage"}}],
        "env": {"GRADING_JOB_ID": "from-global"}})
    r = call("POST", rpath(c, asg), c.admin,
             body={"students_env": [{"GRADING_JOB_ID": "from-student"}]})
    if r[0] == 400:
        return
    run = ok(r)["grading_run_id"]
    w = FakeWorker()
    w.register()
    j = w.claim_for(run)
    eq(j.env.get("GRADING_JOB_ID"), j.id, "GRADING_JOB_ID in the stage env")
    w.finish(j, True)


def t_config_snapshot(env):
    """A run keeps the config it started with: editing the assignment
    mid-run changes neither its student nor its post stages."""
    lib.drain()
    c = lib.new_course()
    asg = lib.unique("a")
    old = {"student_pipeline": [{"image": "localhost/bb:1", "env": {"V": "old"}}],
           "post_processing_pipeline": [{"image": "localhost/bb:1", "env": {"V": "old-post"}}]}
    new = {"student_pipeline": [{"image": "localhost/bb:2", "env": {"V": "new"}}],
           "post_processing_pipeline": [{"image": "localhost/bb:2", "env": {"V": "new-post"}}]}
    lib.put_config(c, asg, old)
    run = lib.start_run(c, asg, [{"S": "1"}])
    lib.put_config(c, asg, new)
    w = FakeWorker()
    w.register()
    j = w.claim_for(run)
    eq((j.stages[0]["image"], j.env.get("V")), ("localhost/bb:1", "old"), "student stage")
    w.finish(j, True)
    p = w.claim_for(run)
    eq((p.stages[0]["image"], p.env.get("V")), ("localhost/bb:1", "old-post"), "post stage")
    w.finish(p, True)


def t_big_roster(env):
    """1000 students: 1000 QUEUED jobs in status, run_env and the queue."""
    lib.drain()
    c, asg, run = lib.new_run(students_env=[{"I": str(i)} for i in range(1000)])
    st = lib.run_status(c, run)
    eq(len(st["student_jobs"]), 1000, "student jobs")
    eq(set(st["student_jobs"].values()), {"QUEUED"}, "states")
    eq(lib.queue_length(c), 1000, "queue length")
    d = ok(call("GET", "/grading_run_env/%s/%s" % (c.id, run), c.admin))
    eq(len(d["student_jobs"]), 1000, "run_env jobs")
    eq(sorted(int(v["I"][0]) for v in d["student_jobs"].values()), list(range(1000)),
       "each student's env once")
    lib.drain(timeout=300)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_run_env_simple(env):
    """One student, no pre/post: pre and post env are null."""
    c = lib.new_course()
    asg = lib.unique("a")
    lib.put_config(c, asg, {"student_pipeline": [{"image": "localhost/bb:1"}]})
    run = lib.start_run(c, asg, [{"netid": "test net id"}])
    d = ok(call("GET", "/grading_run_env/%s/%s" % (c.id, run), c.admin))
    eq(d["pre_processing_env"], None, "pre env")
    eq(d["post_processing_env"], None, "post env")
    jid, e = one(d["student_jobs"], "student_jobs")
    eq(e.get("netid"), ["test net id"], "netid")
    eq(e.get("GRADING_RUN_ID"), [run], "GRADING_RUN_ID")
    eq(e.get("GRADING_JOB_ID"), [jid], "GRADING_JOB_ID")
    run2 = lib.start_run(c, asg, [{"netid": "student id 1"}, {"netid": "student id 2"}])
    d = ok(call("GET", "/grading_run_env/%s/%s" % (c.id, run2), c.admin))
    eq(sorted(v["netid"][0] for v in d["student_jobs"].values()),
       ["student id 1", "student id 2"], "two students' netids")
    lib.drain()


# ---------------------------------------------------------------- logs

def t_job_log(env):
    lib.drain()
    c, asg, run = lib.new_run(students=1)
    jid = list(status(c, run)["student_jobs"])[0]
    lp = "/grading_job_log/%s/%s" % (c.id, jid)
    fail(call("GET", lp, c.admin), 409)
    w = FakeWorker()
    w.register()
    j = w.claim_job()
    eq(j.id, jid, "claimed")
    fail(call("GET", lp, c.admin), 409)
    out = "line 1\nunicod\u00e9 \u2603\n" + "x" * 100000
    err = "warning: \"quoted\" \\ back\n"
    w.finish(j, True, stdout=out, stderr=err)
    eq(ok(call("GET", lp, c.admin)), {"stdout": out, "stderr": err}, "log")
    fail(call("GET", lp, c.query), 403)


def t_job_log_failed_and_big(env):
    """A failed job has its log too; a 3 MiB log round-trips."""
    c, asg, run, w = lib.run_with_worker(students=1)
    j = w.claim_job()
    big = ("0123456789abcdef" * 64 + "\n") * 3 * 1024
    w.finish(j, False, stdout=big, stderr="")
    eq(ok(call("GET", "/grading_job_log/%s/%s" % (c.id, j.id), c.admin)),
       {"stdout": big, "stderr": ""}, "big log")


# ---------------------------------------------------------------- workers, queue

def find_worker(c, hostname):
    d = ok(call("GET", "/worker/%s/all" % c.id, c.admin))
    assert isinstance(d.get("worker_nodes"), list), d
    mine = [n for n in d["worker_nodes"] if n.get("hostname") == hostname]
    assert len(mine) == 1, "worker %s listed %d times" % (hostname, len(mine))
    return mine[0]


def t_worker_list(env):
    c, asg, run, w = lib.run_with_worker(
        students=1, slots=3, hostname=lib.unique("hn"))
    n = find_worker(c, w.hostname)
    for k, t in (("hostname", str), ("jobs_processed", int), ("busy", bool),
                 ("alive", bool), ("slots", int), ("running", int)):
        assert isinstance(n.get(k), t) and not (t is int and isinstance(n.get(k), bool)), \
            "field %s: %r" % (k, n)
    eq((n["alive"], n["busy"], n["jobs_processed"], n["slots"], n["running"]),
       (True, False, 0, 3, 0), "fresh worker (alive, busy, processed, slots, running)")
    assert w.id not in json.dumps(n), "worker id exposed: %r" % n
    j = w.claim_job()
    n = find_worker(c, w.hostname)
    eq((n["busy"], n["running"]), (True, 1), "busy while running")
    w.finish(j, True)
    n = find_worker(c, w.hostname)
    eq((n["busy"], n["running"], n["jobs_processed"]), (False, 0, 1), "after the result")
    # another course sees the same cluster
    c2 = lib.new_course()
    find_worker(c2, w.hostname)
    # silence: marked dead after the allowance (an idle worker keeps
    # calling in, as a cluster does)
    b = FakeWorker(hostname="bystander")
    b.register()
    w.stop()
    lib.wait_until(lambda: not find_worker(c, w.hostname)["alive"], 15,
                   msg="worker marked dead")
    w.heartbeat()
    eq(find_worker(c, w.hostname)["alive"], True, "alive again after a heartbeat")
    w.stop()
    fail(call("GET", "/worker/%s/invalid_scope" % c.id, c.admin), 404)
    fail(call("GET", "/worker/%s/all" % c.id, c.query), 403)


def t_queue_length(env):
    lib.drain()
    c1 = lib.new_course()
    c2 = lib.new_course()
    asg = lib.unique("a")
    for c in (c1, c2):
        lib.put_config(c, asg, lib.config(student=True))
    eq(lib.queue_length(c1), 0, "config, no run")
    lib.start_run(c1, asg, [{"I": str(i)} for i in range(32)])
    lib.start_run(c2, asg, [{"I": str(i)} for i in range(56)])
    eq(lib.queue_length(c1), 32, "course 1")
    eq(lib.queue_length(c2), 56, "course 2")
    c3 = lib.new_course()
    eq(lib.queue_length(c3), 0, "a course with nothing")
    w = FakeWorker(slots=64)
    w.register()
    held = []
    for _ in range(40):
        held.append(w.claim_job())
    eq(lib.queue_length(c1) + lib.queue_length(c2), 48, "after 40 claims")
    for j in held:
        w.finish(j, True)
    lib.drain()
    eq((lib.queue_length(c1), lib.queue_length(c2)), (0, 0), "after all claims")


# ------------------------------------------------ what the worker can carry

def many(prefix, n, size):
    return {"%s%04d" % (prefix, i): "x" * size for i in range(n)}


def t_run_env_carriable(env):
    """A run whose every layer is legal but whose jobs the worker could not
    carry (issue 10): merged variables over 1024, a job over the size
    limit, env names the worker drops.  400 naming the student or the
    pre/post env, the stage and the limit; nothing is created."""
    c = lib.new_course()
    big = lib.unique("a")
    # 500 global + 500 stage + 2 injected: accepted at upload
    lib.put_config(c, big, {
        "student_pipeline": [{"image": "localhost/bb:1"},
                             {"image": "localhost/bb:1", "env": many("S", 500, 1)}],
        "pre_processing_pipeline": [{"image": "localhost/bb:1"}],
        "post_processing_pipeline": [{"image": "localhost/bb:1"}],
        "env": many("G", 500, 1)})
    p = rpath(c, big)
    ok_student = {"STUDENT_ID": "s0"}
    cases = [
        ("23 more variables for one student",
         {"students_env": [ok_student, ok_student, many("X", 23, 1)]},
         ["students_env[2]", "student_pipeline[1]", "1025 variables", "1024"]),
        ("pre env over the variable limit",
         {"students_env": [ok_student], "pre_processing_env": many("X", 523, 1)},
         ["pre_processing_env", "pre_processing_pipeline[0]", "1025"]),
        ("student job over the size limit",
         {"students_env": [ok_student, many("S", 54, 60000)]},
         ["students_env[1]", "student_pipeline job", "bytes", "3145728"]),
        ("post job over the size limit",
         {"students_env": [ok_student], "post_processing_env": many("X", 54, 60000)},
         ["post_processing_env", "post_processing_pipeline job", "3145728"]),
        ("student env name newline", {"students_env": [ok_student, {"X\nY": "1"}]},
         ["students_env[1]", "invalid variable name", "X\\x0aY"]),
        ("student env name CR", {"students_env": [{"X\r": "1"}]},
         ["students_env[0]", "X\\x0d"]),
        ("student env name #", {"students_env": [{"#X": "1"}]}, ["#X"]),
        ("student env name space", {"students_env": [{"A B": "1"}]}, ["A B"]),
        ("student env name glob", {"students_env": [{"PATH*": "1"}]}, ["PATH*"]),
        ("pre env name", {"students_env": [{}], "pre_processing_env": {"-x": "1"}},
         ["pre_processing_env", "-x"]),
        ("post env name", {"students_env": [{}], "post_processing_env": {"1A": ""}},
         ["post_processing_env", "1A"]),
    ]
    problems = []
    for label, body, must in cases:
        try:
            fail(call("POST", p, c.admin, body=body), 400, must)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    no_run_stored(c, problems)
    # the same run with overlapping names only (they replace, not add)
    rid = lib.start_run(c, big, [many("S", 500, 3)], pre_env=many("G", 10, 2))
    st = status(c, rid)
    assert st["state"] in ("READY", "PRE_PROCESSING_STAGE"), st
    lib.drain()


def t_stored_config_rechecked(env):
    """A config stored before these rules (written into the database here)
    is checked again when a run starts: 400, nothing created."""
    c = lib.new_course()
    a = lib.unique("a")
    lib.put_config(c, a, lib.config(student=True))
    many_vars = ",".join('"V%04d":"x"' % i for i in range(1100))
    for cfg, must in [
            ('{"student_pipeline":[{"image":"oci-archive:/etc/passwd"}]}', "transport"),
            ('{"student_pipeline":[{"image":"localhost/bb:1","env":{"A B":"1"}}]}',
             "A B"),
            ('{"student_pipeline":[{"image":"localhost/bb:1"}],"env":{%s}}' % many_vars,
             "1024")]:
        lib.sql("UPDATE assignment_config SET config = '%s' WHERE course_id = %s"
                " AND assignment_id = %s" % (cfg, lib.sql_quote(c.id), lib.sql_quote(a)))
        fail(call("POST", rpath(c, a), c.admin, body={"students_env": [{}]}), 400,
             ["no longer accepted", must])
    eq(lib.queue_length(c), 0, "queue length after refused runs")
    rows = lib.sql("SELECT COUNT(*) FROM grading_run WHERE course_id = "
                   + lib.sql_quote(c.id))
    eq(rows[0][0], "0", "runs stored after refused requests")


def tests(env):
    return [
        ("run_validation_400_nothing_created", t_run_validation),
        ("run_env_carriable_400_nothing_created", t_run_env_carriable),
        ("stored_config_rechecked_at_run_start", t_stored_config_rechecked),
        ("run_and_job_ids", t_run_ids),
        ("single_student_job", t_single_student),
        ("complete_run_pre_students_post", t_complete_run),
        ("pre_failure_fails_run_no_students", t_pre_failure),
        ("student_failures_do_not_fail_run", t_student_failure),
        ("post_failure_fails_run", t_post_failure),
        ("pre_then_students_no_post", t_pre_success_no_post),
        ("status_with_query_token", t_query_token_status),
        ("env_layering_per_student", t_env_layering),
        ("injected_job_id_wins", t_injected_ids_win),
        ("run_keeps_its_config_snapshot", t_config_snapshot),
        ("big_roster_1000", t_big_roster),
        ("run_env_simple", t_run_env_simple),
        ("job_log", t_job_log),
        ("job_log_failed_and_big", t_job_log_failed_and_big),
        ("worker_list", t_worker_list),
        ("queue_length", t_queue_length),
    ]
