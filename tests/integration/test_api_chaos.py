"""Outages mid-run: every FastCGI child SIGKILLed (multiwatch respawns
them) and MariaDB restarted, while fake workers keep claiming and posting
with retries.  No job and no accepted result may be lost; the run ends
FINISHED with every job SUCCEEDED."""

import http.client
import os
import random
import threading
import time

import lib
from lib import FakeWorker, eq

STUDENTS = 300
LOG_PAD = 512 * 1024     # heavier results stay in flight longer
WORKERS = 8
# What a call sees while the API or the database is down: counted and
# retried (anything else is a bug and ends the worker's thread loudly).
NET_ERRORS = (OSError, http.client.HTTPException)


def expected_log(job_id):
    return "out of %s\n" % job_id + "x" * LOG_PAD


class Budget:
    """How many results the workers may post: the test hands them out in
    steps so that every outage lands mid-run, with calls in flight."""

    def __init__(self):
        self.sem = threading.Semaphore(0)
        self.unlimited = threading.Event()
        self.given = 0

    def give(self, n):
        for _ in range(max(0, n)):
            self.sem.release()
        self.given += max(0, n)

    def take(self, stop):
        while not self.unlimited.is_set() and not stop.is_set():
            if self.sem.acquire(timeout=0.05):
                return True
        return not stop.is_set()


class ChaosWorker:
    """A fake worker that survives outages the way broadway-worker does:
    it retries every call, and each claim carries {"running": []} (it
    claims only when idle), so a lease whose claim answer was lost in the
    outage is given back by the API at the next claim."""

    def __init__(self, run, stop, budget):
        self.w = FakeWorker(slots=1)
        self.run = run
        self.stop = stop
        self.budget = budget
        self.accepted = {}      # job id -> attempt, for every 200
        self.refused = []       # (job id, attempt, status)
        self.errors = 0
        self.claims = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def register(self):
        while not self.stop.is_set():
            try:
                r = self.w.post("register", {"hostname": self.w.hostname,
                                             "slots": 1})
                if r[0] == 200:
                    return True
            except NET_ERRORS:
                lib.drop_connection()
            self.errors += 1
            time.sleep(0.1)
        return False

    def loop(self):
        self.register()
        self.w.start_heartbeats()
        try:
            while not self.stop.is_set():
                try:
                    r = self.w.claim(running=[])
                except NET_ERRORS:
                    r = None
                    lib.drop_connection()
                if r is None or r[0] >= 500:
                    self.errors += 1
                    time.sleep(0.05)
                    continue
                if r[0] == 404:
                    self.register()
                    continue
                if r[0] == 204:
                    time.sleep(0.02)
                    continue
                assert r[0] == 200, "claim: %r" % (r,)
                self.claims += 1
                job = lib.Job(r[2]["data"])
                time.sleep(random.uniform(0, 0.02))     # the work
                if job.run_id == self.run and not self.budget.take(self.stop):
                    return
                self.post_result(job)
        finally:
            self.w.stop()

    def post_result(self, job):
        body = self.w.result_body(job, True, stdout=expected_log(job.id))
        while not self.stop.is_set():
            try:
                r = self.w.post("result", body)
            except NET_ERRORS:
                lib.drop_connection()
                self.errors += 1
                time.sleep(0.05)
                continue
            if r[0] >= 500:
                self.errors += 1
                time.sleep(0.05)
                continue
            if job.run_id != self.run:
                return          # a leftover of an earlier test, cleaned up
            if r[0] == 200:
                self.accepted[job.id] = job.attempt
            else:
                self.refused.append((job.id, job.attempt, r[0]))
            return


def chaos_run(env, actions):
    """actions: (n, verb): once n results are in, run stack VERB while
    results trickle on (kill-api: a storm of kills until some calls were
    caught in flight)."""
    lib.drain()
    c, asg, run = lib.new_run(students=STUDENTS, pre=True, post=True)
    stop = threading.Event()
    budget = Budget()
    workers = [ChaosWorker(run, stop, budget) for _ in range(WORKERS)]
    for cw in workers:
        cw.thread.start()

    def done():
        return sum(len(cw.accepted) for cw in workers)

    def errors():
        return sum(cw.errors + cw.w.hb_errors for cw in workers)
    log = []
    t_start = time.time()
    trickle_on = threading.Event()

    def trickle():
        # while an outage runs, one result per 0.15s
        while not stop.is_set():
            if trickle_on.is_set():
                budget.give(1)
            time.sleep(0.15)
    tt = threading.Thread(target=trickle, daemon=True)
    tt.start()
    try:
        for at, verb in actions:
            budget.give(at - budget.given)
            lib.wait_until(lambda: done() >= at, 90, 0.02,
                           "%d accepted results before %s" % (at, verb))
            t0 = time.time()
            e0 = errors()
            trickle_on.set()
            if verb == "kill-api":
                n = 0
                while n < 25 and errors() - e0 < 3:
                    lib.stack(verb)
                    n += 1
                    time.sleep(random.uniform(0.02, 0.2))
                what = "kill-api x%d" % n
            else:
                lib.stack(verb)
                what = verb
            trickle_on.clear()
            log.append("%s at %d accepted: %d errors in %.1fs"
                       % (what, done(), errors() - e0, time.time() - t0))
            if done() >= STUDENTS + 2:
                log.append("(the run had ended: outage not mid-run)")
        budget.unlimited.set()
        st = lib.wait_until(
            lambda: (lambda s: s if s[2] and s[2]["data"]["state"] in
                     ("FINISHED", "FAILED") else None)(
                lib.call_retry("GET", "/grading_run_status/%s/%s" % (c.id, run),
                               c.admin)),
            180, 0.2, "the run to end")
    finally:
        stop.set()
        budget.unlimited.set()
        for cw in workers:
            cw.thread.join(30)
        tt.join(5)
    st = st[2]["data"]
    accepted = {}
    for cw in workers:
        accepted.update(cw.accepted)
    refused = [x for cw in workers for x in cw.refused]
    pre, students, post = lib.job_ids(st)
    problems = []
    if st["state"] != "FINISHED":
        problems.append("run state %s" % st["state"])
    if len(pre) != 1 or len(post) != 1 or len(students) != STUDENTS:
        problems.append("jobs: %d pre, %d students, %d post"
                        % (len(pre), len(students), len(post)))
    states = {}
    states.update(st.get("pre_processing_job") or {})
    states.update(st["student_jobs"])
    states.update(st.get("post_processing_job") or {})
    bad = {k: v for k, v in states.items() if v != "SUCCEEDED"}
    if bad:
        problems.append("jobs not SUCCEEDED: %r" % bad)
    lost = [k for k in accepted if states.get(k) != "SUCCEEDED"]
    if lost:
        problems.append("accepted results lost: %r" % lost)
    unacc = [k for k in states if k not in accepted]
    if unacc:
        problems.append("jobs with no accepted result: %r" % unacc)
    rows = lib.sql("SELECT COUNT(*), COALESCE(SUM(j.infra_failure), 0), COALESCE(MAX(j.attempt), 0)"
                   " FROM grading_job j JOIN grading_run r ON r.id = j.run_id"
                   " WHERE r.public_id = " + lib.sql_quote(run))
    n, infra, maxatt = (int(x) for x in rows[0])
    if n != STUDENTS + 2 or infra != 0:
        problems.append("DB: %d jobs (want %d), %d infra failures" % (n, STUDENTS + 2, infra))
    # logs of accepted results are all there
    for k in list(accepted)[:5]:
        r = lib.call_retry("GET", "/grading_job_log/%s/%s" % (c.id, k), c.admin)
        if r[0] != 200 or r[2]["data"]["stdout"] != expected_log(k):
            problems.append("log of %s: %r" % (k, r))
    eq(lib.queue_length(c), 0, "queue length")
    info = "errors seen by workers %d, claims %d, refused %r, max attempt %d" % (
        sum(cw.errors for cw in workers), sum(cw.claims for cw in workers),
        refused, maxatt)
    info += "; %s; %.1fs" % ("; ".join(log), time.time() - t_start)
    assert not problems, "\n  ".join(problems) + "\n  (" + info + ")"
    if os.environ.get("BROADWAY_TEST_VERBOSE") == "1":
        print("  chaos: " + info)
    return info


def t_kill_api(env):
    chaos_run(env, [(5, "kill-api"), (80, "kill-api"), (160, "kill-api")])


def t_restart_db(env):
    chaos_run(env, [(10, "restart-db"), (150, "restart-db")])


def t_kill_api_and_restart_db(env):
    chaos_run(env, [(5, "kill-api"), (60, "restart-db"), (120, "kill-api"),
                    (200, "restart-db")])


def t_state_survives_api_restart(env):
    """stop-api / start-api: queued jobs, configs and runs are all still
    there (nothing lives in a FastCGI process)."""
    lib.drain()
    c, asg, run = lib.new_run(students=5, post=True)
    before = lib.run_status(c, run)
    cfg = lib.call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin)
    lib.stack("stop-api")
    try:
        r = lib.call("GET", "/queue/%s/length" % c.id, c.admin)
        assert r[0] in (502, 503, 504), "API stopped but answered %r" % (r,)
        lib.fail(r, r[0])
    finally:
        lib.stack("start-api")
    r = lib.call_retry("GET", "/grading_run_status/%s/%s" % (c.id, run), c.admin)
    eq(r[2]["data"], before, "status after restart")
    eq(lib.call_retry("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin)[2],
       cfg[2], "config after restart")
    eq(lib.queue_length(c), 5, "queue after restart")
    lib.drain()
    eq(lib.run_status(c, run)["state"], "FINISHED", "run")


def tests(env):
    return [
        ("kill_all_fcgi_children_mid_run", t_kill_api),
        ("restart_mariadb_mid_run", t_restart_db),
        ("kill_api_and_restart_db_mid_run", t_kill_api_and_restart_db),
        ("state_survives_api_stop_start", t_state_survives_api_restart),
    ]
