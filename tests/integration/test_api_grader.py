"""The worker protocol as the API serves it: auth, register, claim,
slots, leases (expiry, requeue, attempts), stale and duplicate results."""

import time

import lib
from lib import FakeWorker, call, eq, fail, ok


def job_row(job_id):
    """(state, attempt, worker_id, success, infra_failure) from the DB."""
    rows = lib.sql("SELECT state, attempt, worker_id, success, infra_failure"
                   " FROM grading_job WHERE public_id = " + lib.sql_quote(job_id))
    assert len(rows) == 1, rows
    return tuple(rows[0])


def log_of(c, job_id):
    return call("GET", "/grading_job_log/%s/%s" % (c.id, job_id), c.admin)


def t_auth(env):
    c = lib.new_course()
    wid = lib.unique("w")
    body = {"hostname": "h", "slots": 1}
    problems = []

    def expect(label, r, st):
        try:
            fail(r, st)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    for verb in ("register", "heartbeat", "claim", "result"):
        p = "/grader/%s/%s" % (wid, verb)
        b = body if verb == "register" else {}
        expect(verb + " no token", call("POST", p, body=b), 401)
        expect(verb + " bad format", call("POST", p, body=b, headers={
            "Authorization": "Token " + env.cluster}), 401)
        expect(verb + " unknown token", call("POST", p, "no-such-cluster-token", body=b), 401)
        expect(verb + " course admin token", call("POST", p, c.admin, body=b), 403)
        expect(verb + " course query token", call("POST", p, c.query, body=b), 403)
        expect(verb + " GET", call("GET", p, env.cluster), 405)
    expect("long worker id", call("POST", "/grader/%s/register" % ("w" * 129),
                                  env.cluster, body=body), 400)
    expect("bad worker id", call("POST", "/grader/bad%20id/register", env.cluster,
                                 body=body), 400)
    assert not problems, "%d problem(s):\n  " % len(problems) + "\n  ".join(problems)


def t_unregistered(env):
    w = FakeWorker()
    fail(w.heartbeat(), 404)
    fail(w.claim(), 404)
    fail(w.post("result", {"grading_job_id": "0" * 24, "attempt": 1, "success": True,
                           "results": [], "logs": {"stdout": "", "stderr": ""}}), 404)


def t_register(env):
    w = FakeWorker(heartbeat=False)
    d = w.register()
    eq(d.get("heartbeat"), lib.HEARTBEAT_S, "heartbeat interval (stack runs with 1)")
    eq(d.get("allowance"), 3 * lib.HEARTBEAT_S, "allowance")
    for k in ("poll_min_ms", "poll_max_ms"):
        assert isinstance(d.get(k), int) and d[k] > 0, d
    assert d["poll_min_ms"] <= d["poll_max_ms"], d
    eq(ok(w.heartbeat()), {"alive": True}, "heartbeat answer")
    ok(call("POST", w.path("heartbeat"), env.cluster, raw=b""))
    # registering again (a new incarnation) is allowed
    w.register()
    bad = [
        ({}, "hostname"),
        ({"hostname": "", "slots": 1}, "hostname"),
        ({"hostname": "h" * 256, "slots": 1}, "hostname"),
        ({"hostname": 5, "slots": 1}, "hostname"),
        ({"hostname": "h", "slots": 0}, "slots"),
        ({"hostname": "h", "slots": 65}, "slots"),
        ({"hostname": "h", "slots": "2"}, "slots"),
        ({"hostname": "h", "slots": 1.5}, "slots"),
        ({"hostname": "h", "slots": 1, "bogus_reg_key": 1}, "bogus_reg_key"),
    ]
    problems = []
    for b, must in bad:
        try:
            fail(call("POST", lib.FakeWorker().path("register"), env.cluster, body=b),
                 400, must)
        except AssertionError as e:
            problems.append("%r: %s" % (b, e))
    try:
        fail(call("POST", w.path("register"), env.cluster, raw='{"hostname": '), 400)
    except AssertionError as e:
        problems.append("malformed: %s" % e)
    assert not problems, "\n  ".join(problems)


def t_slots(env):
    """A worker gets at most `slots` jobs at once: 204 beyond that."""
    c, asg, run, w = lib.run_with_worker(students=4, slots=2)
    a, b = w.claim_job(), w.claim_job()
    assert a and b
    eq(w.claim()[0], 204, "third claim with 2 slots")
    eq(lib.queue_length(c), 2, "two still queued")
    w.finish(a, True)
    d = w.claim_job()
    assert d is not None, "a slot was freed but no job came"
    eq(w.claim()[0], 204, "slots full again")
    w.finish(b, True)
    w.finish(d, True)
    e = w.claim_job()
    w.finish(e, True)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_claim_shape(env):
    c, asg, run, w = lib.run_with_worker(students=1)
    r = w.claim()
    d = ok(r)
    assert set(d) >= {"grading_job_id", "attempt", "stages"}, "claim keys %r" % d
    eq(d["attempt"], 1, "attempt")
    assert isinstance(d["stages"], list) and d["stages"], d
    w.finish(lib.Job(d), True)


def t_stale_results(env):
    """Results from the wrong worker, the wrong attempt, for a job not
    started, or unknown, are 409 and change nothing."""
    lib.drain()
    c, asg, run = lib.new_run(students=2)
    w, other = FakeWorker(), FakeWorker()
    w.register()
    other.register()
    j = w.claim_job()
    queued = [k for k, v in lib.run_status(c, run)["student_jobs"].items() if v == "QUEUED"]
    eq(len(queued), 1, "one job still queued")
    before = job_row(j.id)
    problems = []
    cases = [
        ("other worker", other, j, {}),
        ("attempt + 1", w, j, {"attempt": j.attempt + 1}),
        ("queued job", w, queued[0], {"attempt": 1}),
    ]
    for label, wk, job, kw in cases:
        r = wk.result(job, success=False, stdout="STALE", **kw)
        try:
            fail(r, 409)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    # attempt 0 was never given: refused (as bad input or as stale)
    r = w.result(j, success=False, stdout="STALE", attempt=0)
    if r[0] not in (400, 409):
        problems.append("attempt 0: %r" % (r,))
    r = w.result("0123456789abcdef01234567", attempt=1)
    if r[0] not in (404, 409):
        problems.append("unknown job: %r" % (r,))
    eq(job_row(j.id), before, "job row after stale results")
    st = lib.run_status(c, run)
    eq(st["student_jobs"][j.id], "STARTED", "job state")
    eq(st["student_jobs"][queued[0]], "QUEUED", "queued job state")
    fail(log_of(c, j.id), 409)
    eq(lib.job_events(j.id), ["STARTED"], "job_event rows after stale results")
    w.finish(j, True, stdout="real")
    eq(ok(log_of(c, j.id))["stdout"], "real", "log")
    # late results after the job ended: still refused, nothing changes
    fail(other.result(j, success=False, stdout="LATE"), 409)
    eq(ok(log_of(c, j.id))["stdout"], "real", "log after late result")
    eq(lib.run_status(c, run)["student_jobs"][j.id], "SUCCEEDED", "state after late")
    lib.drain()
    assert not problems, "\n  ".join(problems)


def t_duplicate_result(env):
    """An exact repeat of an accepted result: 200, nothing changes."""
    c, asg, run, w = lib.run_with_worker(students=2, post=True, slots=2)
    a, b = w.claim_job(), w.claim_job()
    body = w.result_body(a, True, stdout="first", stderr="e1")
    eq(ok(w.post("result", body)), {"accepted": True}, "first result")
    row = job_row(a.id)
    for _ in range(3):
        eq(ok(w.post("result", body)), {"accepted": True}, "repeat")
    eq(job_row(a.id), row, "job row after repeats")
    eq(lib.job_events(a.id), ["STARTED", "SUCCEEDED"], "job_event rows after repeats")
    eq(ok(log_of(c, a.id)), {"stdout": "first", "stderr": "e1"}, "log after repeats")
    st = lib.run_status(c, run)
    eq(st["state"], "STUDENTS_STAGE", "run not advanced by repeats")
    eq(st["post_processing_job"], None, "no post job from repeats")
    # a different result for the same (worker, attempt) changes nothing either
    r = w.result(a, success=False, stdout="changed")
    assert r[0] in (200, 409), r
    eq(ok(log_of(c, a.id))["stdout"], "first", "log after a changed repeat")
    eq(lib.run_status(c, run)["student_jobs"][a.id], "SUCCEEDED", "state")
    w.finish(b, True)
    body_b = w.result_body(b, True)
    eq(ok(w.post("result", body_b)), {"accepted": True}, "repeat of the last student")
    st = lib.run_status(c, run)
    eq(st["state"], "POST_PROCESSING_STAGE", "run")
    eq(len(st["post_processing_job"]), 1, "exactly one post job")
    n = lib.sql("SELECT COUNT(*) FROM grading_job j JOIN grading_run r ON r.id = j.run_id"
                " WHERE j.kind = 2 AND r.public_id = " + lib.sql_quote(run))
    eq(n[0][0], "1", "post jobs in the DB")
    lib.drain()
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_result_validation(env):
    """Malformed results are 400 and leave the job STARTED."""
    c, asg, run, w = lib.run_with_worker(students=1)
    j = w.claim_job()
    good = w.result_body(j, True)

    def mod(**kw):
        b = dict(good)
        for k, v in kw.items():
            if v is KeyError:
                b.pop(k, None)
            else:
                b[k] = v
        return b

    cases = [
        ("missing grading_job_id", mod(grading_job_id=KeyError)),
        ("missing attempt", mod(attempt=KeyError)),
        ("missing success", mod(success=KeyError)),
        ("missing logs", mod(logs=KeyError)),
        ("success not bool", mod(success="yes")),
        ("attempt string", mod(attempt="1")),
        ("results not array", mod(results={})),
        ("65 results", mod(results=[{}] * 65)),
        ("results over 64 KiB", mod(results=[{"x": "y" * 70000}])),
        ("logs not object", mod(logs="out")),
        ("logs.stdout number", mod(logs={"stdout": 1, "stderr": ""})),
        ("unknown logs key", mod(logs={"stdout": "", "stderr": "", "bogus_log": ""})),
        ("stdout over 4 MiB", mod(logs={"stdout": "x" * (4 * 1024 * 1024 + 1),
                                        "stderr": ""})),
        ("unknown key", mod(bogus_result_key=1)),
        ("not an object", [good]),
    ]
    problems = []
    for label, b in cases:
        r = w.post("result", b)
        try:
            fail(r, 400)
            if label.startswith("unknown"):
                fail(r, 400, "bogus")
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    r = call("POST", w.path("result"), env.cluster, raw='{"grading_job_id": ')
    if r[0] != 400:
        problems.append("malformed JSON: %r" % (r,))
    eq(lib.run_status(c, run)["student_jobs"][j.id], "STARTED", "job after bad results")
    w.finish(j, True)
    assert not problems, "\n  ".join(problems)


def bystander():
    """An idle worker that only heartbeats, as the rest of a cluster does:
    its calls give the API the chance to sweep."""
    b = FakeWorker(hostname="bystander")
    b.register()
    return b


def t_lease_expiry(env):
    """A silent worker loses its job; it is requeued at its old place and
    claimed by another worker with a higher attempt; after 3 lost leases
    the job is FAILED (infrastructure) and the run advances."""
    lib.drain()
    bystander()
    c, asg, run = lib.new_run(students=1, post=True)
    jid = list(lib.run_status(c, run)["student_jobs"])[0]
    workers = []
    for attempt in (1, 2, 3):
        w = FakeWorker(heartbeat=False)
        w.register()
        workers.append(w)
        t0 = time.time()
        j = lib.wait_until(lambda: w.claim_job(), 20, 0.2,
                           "job %s at attempt %d" % (jid, attempt))
        eq(j.id, jid, "the requeued job")
        eq(j.attempt, attempt, "attempt number")
        if attempt > 1:
            # the previous holder's result is now stale
            fail(workers[-2].result(j, attempt=attempt - 1, stdout="STALE"), 409)
        eq(lib.run_status(c, run)["student_jobs"][jid], "STARTED", "job state")
        # w goes silent now (no heartbeat, claim or result)
        lib.wait_until(lambda: lib.run_status(c, run)["student_jobs"][jid] != "STARTED",
                       15, 0.2, "lease of attempt %d to expire" % attempt)
        took = time.time() - t0
        assert took >= 2.5, "lease lost after %.1fs, allowance is 3s" % took
    st = lib.wait_until(lambda: (lambda s: s if s["state"] == "POST_PROCESSING_STAGE"
                                 else None)(lib.run_status(c, run)), 10, 0.2,
                        "run to advance to post")
    eq(st["student_jobs"][jid], "FAILED", "job after 3 lost leases")
    row = job_row(jid)
    eq((row[0], row[1], row[4]), ("2", "3", "1"), "DB (state, attempt, infra_failure)")
    r = log_of(c, jid)
    ok(r)
    eq(lib.job_events(jid), ["STARTED", "QUEUED", "STARTED", "QUEUED", "STARTED",
                             "FAILED"], "job_event rows")
    # a result from the last holder is refused
    fail(workers[-1].result(jid, attempt=3, stdout="LATE"), 409)
    eq(lib.run_status(c, run)["student_jobs"][jid], "FAILED", "still FAILED")
    lib.drain()
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_lease_kept_by_heartbeats(env):
    """A worker that heartbeats keeps its job well past the allowance."""
    c, asg, run, w = lib.run_with_worker(students=1)
    j = w.claim_job()
    time.sleep(6)
    eq(lib.run_status(c, run)["student_jobs"][j.id], "STARTED", "after 6s of heartbeats")
    eq(j.attempt, 1, "attempt")
    w.finish(j, True)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_requeue_keeps_place(env):
    """A lost job goes back at its old place: ahead of jobs queued after it."""
    lib.drain()
    bystander()
    c, asg, run = lib.new_run(students=3)
    jobs = list(lib.run_status(c, run)["student_jobs"])
    w = FakeWorker(heartbeat=False)
    w.register()
    first = w.claim_job()
    # the other two wait; positions 0 and 1
    lib.wait_until(lambda: lib.run_status(c, run)["student_jobs"][first.id] == "QUEUED",
                   15, 0.2, "requeue")
    eq(ok(lib.position(c, first.id))["position"], 0, "requeued job position")
    w2 = FakeWorker()
    w2.register()
    j = w2.claim_job()
    eq((j.id, j.attempt), (first.id, 2), "requeued job claimed first")
    w2.finish(j, True)
    for _ in range(2):
        w2.finish(w2.claim_job(), True)
    eq(set(lib.run_status(c, run)["student_jobs"].values()), {"SUCCEEDED"}, "jobs")
    assert set(jobs) >= {first.id}


def t_reregister_requeues(env):
    """Registering again starts a new incarnation: held jobs go back to the
    queue at once; the old incarnation's result is refused."""
    c, asg, run, w = lib.run_with_worker(students=1)
    j = w.claim_job()
    w.register()
    eq(lib.run_status(c, run)["student_jobs"][j.id], "QUEUED", "requeued on re-register")
    fail(w.result(j), 409)
    j2 = w.claim_job()
    eq((j2.id, j2.attempt), (j.id, 2), "claimed again")
    w.finish(j2, True)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_dead_worker_revived(env):
    """A worker declared dead that heartbeats again is alive; its old
    lease is gone."""
    lib.drain()
    bystander()
    c, asg, run = lib.new_run(students=1)
    w = FakeWorker(heartbeat=False)
    w.register()
    j = w.claim_job()
    lib.wait_until(lambda: lib.run_status(c, run)["student_jobs"][j.id] == "QUEUED",
                   15, 0.2, "requeue")
    eq(ok(w.heartbeat()), {"alive": True}, "heartbeat of a dead worker")
    fail(w.result(j), 409)
    j2 = w.claim_job()
    eq((j2.id, j2.attempt), (j.id, 2), "claimed again")
    w.finish(j2, True)


def t_sweep_without_worker_traffic(env):
    """No other worker calls in: the dead worker's job is requeued all the
    same (the SSE process sweeps once a second), and the worker shows dead."""
    c, asg, run, w = lib.run_with_worker(
        students=1, heartbeat=False, hostname=lib.unique("lonely"))
    j = w.claim_job()
    lib.wait_until(lambda: lib.run_status(c, run)["student_jobs"][j.id] == "QUEUED",
                   15, 0.2, "requeue with no worker traffic")
    d = ok(call("GET", "/worker/%s/all" % c.id, c.admin))
    mine = [n for n in d["worker_nodes"] if n["hostname"] == w.hostname]
    eq([(n["alive"], n["busy"], n["running"]) for n in mine], [(False, False, 0)],
       "dead worker in the list")
    lib.drain()


def t_lost_claim_answer(env):
    """A claim committed whose answer never reached the worker (a FastCGI
    child killed after the commit, a dropped connection): the worker
    (1 slot, so it polls only when idle, like broadway-worker) keeps
    heartbeating and polling.  The job must not be stranded STARTED
    forever with the worker wedged on 204: within a few allowances it has
    to come back to this worker or to the queue (and so to another)."""
    c, asg, run, w = lib.run_with_worker(students=1, slots=1)
    lost = ok(w.claim())["grading_job_id"]      # the answer is "lost"
    other = FakeWorker(slots=1)
    other.register()
    deadline = time.time() + 5 * 3 * lib.HEARTBEAT_S
    got = None
    while time.time() < deadline and got is None:
        for wk in (w, other):
            j = wk.claim_job()
            if j is not None and j.run_id != run:
                wk.finish(j, True)      # a leftover of an earlier test
            elif j is not None:
                got = (wk, j)
                break
        time.sleep(0.3)
    if got is None:
        st = lib.run_status(c, run)["student_jobs"]
        raise AssertionError("job %s stranded: state %s after %ds of heartbeats and"
                             " polls; the worker only gets 204"
                             % (lost, st.get(lost), 5 * 3 * lib.HEARTBEAT_S))
    wk, j = got
    eq(j.id, lost, "the job that came back")
    wk.finish(j, True)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def t_lost_claim_answer_running_list(env):
    """With the "running" list: a worker with 2 slots runs job A and lost
    the answer for job B; its next claim listing only A gives B back at
    once (to the queue, attempt bumped at the next claim), and A stays."""
    c, asg, run, w = lib.run_with_worker(students=3, slots=2)
    a = w.claim_job(running=[])
    lost = ok(w.claim(running=[a.id]))["grading_job_id"]   # answer "lost"
    st = lib.run_status(c, run)["student_jobs"]
    eq((st[a.id], st[lost]), ("STARTED", "STARTED"), "both leased")
    j = w.claim_job(running=[a.id])
    assert j is not None, "no job for the free slot"
    st = lib.run_status(c, run)["student_jobs"]
    eq(st[a.id], "STARTED", "the listed job keeps its lease")
    # the lost one went back to the queue: either this claim got it
    # again (attempt 2), or it waits QUEUED ahead of later jobs
    if j.id == lost:
        eq(j.attempt, 2, "attempt of the re-claimed job")
    else:
        eq(st[lost], "QUEUED", "the lost lease is back in the queue")
        eq(ok(lib.position(c, lost))["position"], 0, "at its old place")
    fail(w.result(lost, attempt=1), 409)
    w.finish(a, True)
    w.finish(j, True)
    lib.drain()
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")
    eq(set(lib.run_status(c, run)["student_jobs"].values()), {"SUCCEEDED"}, "jobs")


def t_claim_running_validation(env):
    """A bad "running" list is 400 and claims nothing."""
    c, asg, run, w = lib.run_with_worker(students=1)
    for b in ({"running": "x"}, {"running": [1]},
              {"bogus_claim_key": []}):
        fail(w.post("claim", b), 400)
    eq(lib.run_status(c, run)["student_jobs"] and
       set(lib.run_status(c, run)["student_jobs"].values()), {"QUEUED"}, "job")
    w.finish(w.claim_job(running=[]), True)


def t_claim_long_poll_free(env):
    """A claim never blocks: 204 comes back at once."""
    lib.drain()
    w = FakeWorker()
    w.register()
    t0 = time.time()
    for _ in range(20):
        eq(w.claim()[0], 204, "empty claim")
    took = time.time() - t0
    assert took < 2.0, "20 empty claims took %.2fs" % took


def tests(env):
    return [
        ("grader_auth", t_auth),
        ("unregistered_worker_404", t_unregistered),
        ("register_and_validation", t_register),
        ("claim_shape", t_claim_shape),
        ("claim_never_blocks", t_claim_long_poll_free),
        ("slots_limit_claims", t_slots),
        ("stale_results_409_nothing_changed", t_stale_results),
        ("duplicate_result_200_nothing_changed", t_duplicate_result),
        ("result_validation_400", t_result_validation),
        ("lease_kept_by_heartbeats", t_lease_kept_by_heartbeats),
        ("lease_expiry_requeue_max_attempts", t_lease_expiry),
        ("requeued_job_keeps_its_place", t_requeue_keeps_place),
        ("reregister_requeues_held_jobs", t_reregister_requeues),
        ("dead_worker_revived_by_heartbeat", t_dead_worker_revived),
        ("sweep_without_worker_traffic", t_sweep_without_worker_traffic),
        ("lost_claim_answer_not_stranded", t_lost_claim_answer),
        ("lost_claim_answer_running_list", t_lost_claim_answer_running_list),
        ("claim_running_validation", t_claim_running_validation),
    ]
