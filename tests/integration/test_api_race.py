"""Concurrency: the last two student results posted at the same moment
start post-processing exactly once; many workers claiming at once never
get the same job."""

import lib
from lib import FakeWorker, eq, ok

RACE_RUNS = 30


def post_jobs_in_db(run):
    rows = lib.sql("SELECT COUNT(*) FROM grading_job j JOIN grading_run r"
                   " ON r.id = j.run_id WHERE j.kind = 2 AND r.public_id = "
                   + lib.sql_quote(run))
    return int(rows[0][0])


def t_last_two_results(env):
    lib.drain()
    c = lib.new_course("race")
    asg = lib.unique("a")
    lib.put_config(c, asg, lib.config(student=True, post=True))
    w1, w2, wp = FakeWorker(), FakeWorker(), FakeWorker()
    for w in (w1, w2, wp):
        w.register()
    problems = []
    for i in range(RACE_RUNS):
        run = lib.start_run(c, asg, [{"N": "0"}, {"N": "1"}])
        a = w1.claim_for(run)
        b = w2.claim_for(run)
        assert a.id != b.id, "both workers got %s" % a.id
        ra, rb = lib.parallel(
            [lambda: w1.result(a, True), lambda: w2.result(b, False)],
            warm=[w1.heartbeat, w2.heartbeat])
        for r in (ra, rb):
            eq(ok(r), {"accepted": True}, "result answer")
        st = lib.run_status(c, run)
        npost = post_jobs_in_db(run)
        if st["state"] != "POST_PROCESSING_STAGE" or \
                len(st["post_processing_job"] or {}) != 1 or npost != 1:
            problems.append("run %d (%s): state %s, post %r, post jobs in DB %d"
                            % (i, run, st["state"], st["post_processing_job"], npost))
        p = wp.claim_for(run)
        if st["post_processing_job"]:
            assert p.id in st["post_processing_job"], (p, st)
        wp.finish(p, True)
        st = lib.run_status(c, run)
        if st["state"] != "FINISHED":
            problems.append("run %d: final state %s" % (i, st["state"]))
        eq(wp.claim()[0], 204, "no second post job to claim (run %d)" % i)
    assert not problems, "%d of %d runs wrong:\n  " % (len(problems), RACE_RUNS) + \
        "\n  ".join(problems)


def t_last_two_results_single_worker_slots(env):
    """Same race, both results from one worker holding two slots."""
    lib.drain()
    c = lib.new_course("race2")
    asg = lib.unique("a")
    lib.put_config(c, asg, lib.config(student=True, post=True))
    w = FakeWorker(slots=2)
    w.register()
    for i in range(10):
        run = lib.start_run(c, asg, [{"N": "0"}, {"N": "1"}])
        a, b = w.claim_for(run), w.claim_for(run)
        lib.parallel([lambda: w.result(a, True), lambda: w.result(b, True)],
                     warm=[w.heartbeat, w.heartbeat])
        eq(post_jobs_in_db(run), 1, "post jobs for run %d" % i)
        eq(lib.run_status(c, run)["state"], "POST_PROCESSING_STAGE", "run %d" % i)
        p = w.claim_for(run)
        w.finish(p, True)
        eq(lib.run_status(c, run)["state"], "FINISHED", "run %d" % i)


def t_concurrent_claims(env):
    """8 workers claiming 60 jobs at once: every job claimed exactly once."""
    lib.drain()
    c, asg, run = lib.new_run(students=60)
    workers = [FakeWorker(slots=64) for _ in range(8)]
    for w in workers:
        w.register()
    got = [[] for _ in workers]

    def claimer(i):
        def f():
            w = workers[i]
            while True:
                j = w.claim_job()
                if j is None:
                    return
                got[i].append(j)
        return f
    lib.parallel([claimer(i) for i in range(len(workers))],
                 warm=[w.heartbeat for w in workers])
    ids = [j.id for g in got for j in g]
    eq(len(ids), 60, "claims")
    eq(len(set(ids)), 60, "distinct jobs claimed")
    for i, g in enumerate(got):
        for j in g:
            workers[i].finish(j, True)
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def tests(env):
    return [
        ("last_two_results_post_once_x%d" % RACE_RUNS, t_last_two_results),
        ("last_two_results_same_worker", t_last_two_results_single_worker_slots),
        ("concurrent_claims_distinct", t_concurrent_claims),
    ]
