"""The checks of the chaos run (test_chaos_run.py): what the database,
the API and the workers' own logs must agree on after a run graded under
faults.  No test of its own (run.py loads only test_*.py).

Definitions used below:

- A job *ended exactly once* when job_event holds exactly one terminal
  event (FAILED or SUCCEEDED) for it, that event is its last, and the
  row is SUCCEEDED without infra_failure.
- A result a worker *finished* is one its log reports as
  "job=ID finished: ..." (broadway-worker writes the spool file before
  that line, so every such result was spooled).  It is *answered* when
  the same worker's log (this incarnation or a later one sending the
  spool) reports "result accepted" or "result refused" for the job.
- A finished result is *not lost* when it was answered, the spool holds
  nothing at the end, and either
    (a) it was accepted, and the database stores the job as ended by
        that worker (and, for a spooled copy naming its attempt, at that
        attempt); or
    (b) it was refused, and the job was *legitimately re-run*: job_event
        shows the job requeued while that worker really could not talk
        to the API, i.e. inside one of its down windows (killed with -9
        until its restart had registered again, or stopped with SIGSTOP
        until SIGCONT), widened by WINDOW_SLACK seconds.
  A refusal with no such requeue is a lost result: the worker did the
  work, was reachable, and the API threw the result away.
"""

import json
import os
import re

import lib

WINDOW_SLACK = 2.0      # seconds: a requeue just after a window still counts

JOB_QUEUED, JOB_STARTED, JOB_FAILED, JOB_SUCCEEDED = range(4)
KIND_NAMES = ("pre", "student", "post")

# One line of a worker's log about a job (worker/dispatch.c, report.c).
LINE = re.compile(
    r'msg="job=([0-9a-f]{24})(?:-(\d+) \(spooled\))? '
    r'(?:attempt (\d+) (started)|(finished): \w+|result (accepted|refused))')


class WorkerLog:
    """What one worker (all its incarnations) says it did, per job."""

    def __init__(self, wid, text):
        self.id = wid
        self.started = {}       # job -> [attempt, ...]
        self.finished = {}      # job -> count
        self.accepted = {}      # job -> [attempt or None, ...]
        self.refused = {}       # job -> count
        for m in LINE.finditer(text):
            job, sp_att, att, started, finished, answer = m.groups()
            if started:
                self.started.setdefault(job, []).append(int(att))
            elif finished:
                self.finished[job] = self.finished.get(job, 0) + 1
            elif answer == "accepted":
                self.accepted.setdefault(job, []).append(
                    int(sp_att) if sp_att else None)
            else:
                self.refused[job] = self.refused.get(job, 0) + 1

    def answers(self, job):
        return len(self.accepted.get(job, ())) + self.refused.get(job, 0)


def spool_left(spool_dir):
    """Files left in a worker's spool (results never answered, or kept
    aside as .rejected)."""
    try:
        return sorted(os.listdir(spool_dir))
    except FileNotFoundError:
        return []


def db_jobs(run_id):
    """public id -> facts of every job of the run."""
    q = lib.sql_quote(run_id)
    rows = lib.sql(
        "SELECT j.public_id, j.kind, j.state, j.attempt,"
        " COALESCE(j.worker_id, ''), j.infra_failure, j.run_env"
        " FROM grading_job j JOIN grading_run r ON r.id = j.run_id"
        f" WHERE r.public_id = {q} ORDER BY j.id")
    jobs = {}
    for pid, kind, state, att, wid, infra, run_env in rows:
        jobs[pid] = {"kind": int(kind), "state": int(state),
                     "attempt": int(att), "worker": wid,
                     "infra": int(infra), "env": run_env}
    return jobs


def db_events(run_id):
    """public id -> [(state, unix time)] oldest first."""
    q = lib.sql_quote(run_id)
    rows = lib.sql(
        "SELECT j.public_id, e.state, UNIX_TIMESTAMP(e.created_at)"
        " FROM job_event e JOIN grading_job j ON j.id = e.job_id"
        f" JOIN grading_run r ON r.id = j.run_id WHERE r.public_id = {q}"
        " ORDER BY e.id")
    ev = {}
    for pid, state, t in rows:
        ev.setdefault(pid, []).append((int(state), float(t)))
    return ev


def requeues(events):
    """Times a job went back to the queue after it had been claimed
    (a QUEUED event before any claim would be its creation)."""
    out, claimed = [], False
    for state, t in events:
        if state == JOB_STARTED:
            claimed = True
        elif state == JOB_QUEUED and claimed:
            out.append(t)
    return out


def check_jobs(jobs, events, students, problems):
    """Counts per kind, exactly one end per job, nothing STARTED, the
    post-processing job claimed only after every other job ended."""
    kinds = [sum(1 for j in jobs.values() if j["kind"] == k) for k in range(3)]
    if kinds != [1, students, 1]:
        problems.append(f"jobs per kind (pre, students, post): {kinds},"
                        f" want [1, {students}, 1]")
    for pid, j in jobs.items():
        ev = events.get(pid, [])
        ends = [s for s, _ in ev if s in (JOB_FAILED, JOB_SUCCEEDED)]
        if len(ends) != 1 or not ev or ev[-1][0] not in (JOB_FAILED,
                                                         JOB_SUCCEEDED):
            problems.append(f"{KIND_NAMES[j['kind']]} job {pid} ended"
                            f" {len(ends)} times; events {ev}")
        if j["state"] != JOB_SUCCEEDED or j["infra"]:
            problems.append(f"{KIND_NAMES[j['kind']]} job {pid} state"
                            f" {lib.JOB_STATES[j['state']]}"
                            f" infra_failure {j['infra']}")
    started = [p for p, j in jobs.items() if j["state"] == JOB_STARTED]
    if started:
        problems.append(f"jobs left STARTED: {started}")
    post = [p for p, j in jobs.items() if j["kind"] == 2]
    others_end = [t for p, j in jobs.items() if j["kind"] != 2
                  for s, t in events.get(p, ()) if s >= JOB_FAILED]
    if len(post) == 1 and others_end:
        claims = [t for s, t in events.get(post[0], ()) if s == JOB_STARTED]
        if not claims or min(claims) < max(others_end):
            problems.append(f"post-processing job {post[0]} claimed at"
                            f" {claims} before the last other job ended"
                            f" ({max(others_end)})")


def check_logs(course, jobs, expected, roster, problems):
    """Every job's stored log is exactly its own stage's output: its
    student id, its per-job token and its own job id, nothing else."""
    seen = []
    for pid, j in jobs.items():
        want = expected(pid, j)
        if j["kind"] == 1:
            seen.append(json.loads(j["env"]).get("STUDENT_ID"))
        r = lib.call_retry("GET", f"/grading_job_log/{course.id}/{pid}",
                           course.admin)
        d = (r.json or {}).get("data") if r.status == 200 else None
        if not isinstance(d, dict) or d.get("stdout") != want or \
                d.get("stderr") != "":
            problems.append(f"log of {KIND_NAMES[j['kind']]} job {pid}:"
                            f" want stdout {want!r}, got {r!r}")
    if sorted(seen) != sorted(roster):
        problems.append(f"student ids of the jobs are not the roster"
                        f" (each once): {len(seen)} jobs, "
                        f"{len(set(seen))} distinct of {len(roster)}")


def in_window(t, windows):
    return any(a - 0.5 <= t <= b + WINDOW_SLACK for a, b in windows)


def check_results(wlogs, windows, spools, jobs, events, problems):
    """No finished result lost (see the module's definitions).  Returns
    counts for the summary."""
    stats = {"finished": 0, "accepted": 0, "refused_legit": 0,
             "spooled_sent": 0}
    by_worker = {w.id: w for w in wlogs}
    for w in wlogs:
        left = spool_left(spools[w.id])
        if left:
            problems.append(f"worker {w.id}: results left in its spool: {left}")
        for job, n in w.finished.items():
            stats["finished"] += n
            if job not in jobs:
                continue        # a leftover of another test
            if w.answers(job) < n:
                problems.append(f"worker {w.id}: {n} finished result(s) of"
                                f" {job}, only {w.answers(job)} answered")
        for job, atts in w.accepted.items():
            j = jobs.get(job)
            if j is None:
                continue
            stats["accepted"] += len(atts)
            stats["spooled_sent"] += sum(1 for a in atts if a is not None)
            if j["worker"] != w.id or j["state"] < JOB_FAILED:
                problems.append(f"worker {w.id}: result of {job} accepted,"
                                f" but the database has it"
                                f" {lib.JOB_STATES[j['state']]} by"
                                f" {j['worker']!r}")
            for a in atts:
                if a is not None and a != j["attempt"]:
                    problems.append(f"worker {w.id}: spooled attempt {a} of"
                                    f" {job} accepted, stored attempt is"
                                    f" {j['attempt']}")
        for job, n in w.refused.items():
            if job not in jobs:
                continue
            rq = requeues(events.get(job, []))
            if any(in_window(t, windows.get(w.id, ())) for t in rq):
                stats["refused_legit"] += n
            else:
                problems.append(
                    f"LOST: worker {w.id} finished {job} and its result was"
                    f" refused, with no requeue while the worker was down"
                    f" (requeues at {rq}, its down windows"
                    f" {windows.get(w.id, [])}) [issue 10 point 2]")
    for job, j in jobs.items():
        w = by_worker.get(j["worker"])
        if w is None or not w.accepted.get(job):
            problems.append(f"job {job} stored as ended by {j['worker']!r},"
                            " whose log has no accepted result for it")
    return stats
