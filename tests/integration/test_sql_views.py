"""The DBA reporting views and role of sql/002_reporting.sql.

One run (pre, eight students, post) is driven by fake workers with known
outcomes: two successes, exit codes 3 and 1 (the second in a later
stage), a timeout, an OOM kill, a podman error and a job failed by the
infrastructure after three lost leases.  Its timestamps are then set to
known values (as root) so that every view's rows can be computed here and
compared column by column.  While it runs, the states the views show are
compared with the strings the API returns for the same jobs and run.
"""

import datetime
import os
import re
import secrets
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import lib
from lib import FakeWorker, eq, sql, sql_quote

VIEWS = ("report_codes", "report_jobs", "report_runs",
         "report_throughput_hourly", "report_assignment_latency",
         "report_failures", "report_worker_utilisation", "report_runs_daily")
TS = "%Y-%m-%d %H:%M:%S.%f"


# ---------------------------------------------------------------- helpers

def mariadb(user, password, query):
    """(exit status, rows, stderr) of one statement as `user`."""
    e = dict(os.environ, MYSQL_PWD=password)
    cmd = ["mariadb", "--no-defaults", "-N", "-B", "-u", user,
           "--socket=" + lib.ENV["BROADWAY_DB_SOCKET"],
           lib.ENV.get("BROADWAY_DB_NAME", "broadway"), "-e", query]
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    rows = [[None if c == "NULL" else c for c in line.split("\t")]
            for line in p.stdout.splitlines()]
    return p.returncode, rows, p.stderr.strip()


def root_sql(query):
    """As the stack's root (no password over its socket): for users and
    grants, which the API's account may not touch."""
    rc, rows, err = mariadb("root", "", query)
    assert rc == 0, "root sql %r: %s" % (query, err)
    return rows


def dec(x, places="0.001"):
    """A number as MariaDB's CAST(... AS DECIMAL(p, 3)) prints it."""
    return str(Decimal(x).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def ts(t):
    return t.strftime(TS)


def secs(d):
    """timedelta -> Decimal seconds (microsecond exact)."""
    return Decimal(d.days * 86400 + d.seconds) + Decimal(d.microseconds) / 10**6


def pct(values, p):
    """PERCENTILE_CONT: linear interpolation between the closest ranks."""
    v = sorted(values)
    pos = Decimal(p) * (len(v) - 1)
    lo = int(pos)
    if lo + 1 >= len(v):
        return v[lo]
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo])


def view_rows(view, cols, where):
    return sql("SELECT %s FROM %s WHERE %s" % (", ".join(cols), view, where))


def stage_result(stage=0, exit_code=0, timed_out=False, oom=False,
                 error=None, duration_ms=5):
    return {"stage": stage, "image": "localhost/bb:1", "exit_code": exit_code,
            "timed_out": timed_out, "oom_killed": oom,
            "duration_ms": duration_ms, "success": exit_code == 0 and
            not timed_out and not oom and error is None, "error": error}


# What each of the seven student jobs worker W runs posts, in claim order:
# (success, results, expected failure_reason, last_exit_code, last_error).
OUTCOMES = [
    (True, [stage_result()], None, "0", None),
    (True, [stage_result()], None, "0", None),
    (False, [stage_result(exit_code=3)], "exit_code", "3", None),
    (False, [stage_result(exit_code=137, timed_out=True,
                          error="timed out after 1 s: the container was killed")],
     "timeout", "137", "timed out after 1 s: the container was killed"),
    (False, [stage_result(exit_code=137, oom=True,
                          error="killed: out of memory (limit 8m)")],
     "out_of_memory", "137", "killed: out of memory (limit 8m)"),
    (False, [stage_result(exit_code=125,
                          error="podman could not run the stage (exit 125): no image")],
     "infrastructure", "125", "podman could not run the stage (exit 125): no image"),
    (False, [stage_result(), stage_result(stage=1, exit_code=1)], "exit_code", "1",
     None),
]
# Queue wait and run time (seconds) of the eight student jobs, in claim
# order; the last is the job failed by the infrastructure.  The run starts
# 130 minutes ago (T0), so its jobs span more than a clock hour; the first
# seven end well before the last hour, the eighth runs across its start
# (from 65 to 55 minutes ago) and the post job runs inside it.
T0_AGO = datetime.timedelta(minutes=130)
WAITS = [Decimal(x) for x in ("1", "2", "4", "8", "16", "600", "1200", "3897")]
RUNS = [Decimal(x) for x in ("10", "20", "30", "40", "50", "60", "70.5", "600")]


def check_states_match_api(course, run_id, want_run):
    """The views' state names equal the API's strings for every job."""
    st = lib.run_status(course, run_id)
    eq(st["state"], want_run, "run state from the API")
    api = {}
    for part in ("pre_processing_job", "post_processing_job", "student_jobs"):
        api.update(st.get(part) or {})
    rows = view_rows("report_jobs", ["job_id", "state"],
                     "run_id = %s" % sql_quote(run_id))
    eq(dict((r[0], r[1]) for r in rows), api, "report_jobs states vs the API")
    rows = view_rows("report_runs", ["state"], "run_id = %s" % sql_quote(run_id))
    eq(rows, [[want_run]], "report_runs state vs the API")


# ---------------------------------------------------------------- the run

def drive_run(course, asg, run_id, w, lost):
    """Pre, students and post through the fake workers; returns
    {"pre": job, "post": job, "students": [job, ...] in claim order}."""
    check_states_match_api(course, run_id, "PRE_PROCESSING_STAGE")
    pre = w.claim_for(run_id)
    check_states_match_api(course, run_id, "PRE_PROCESSING_STAGE")
    w.finish(pre, True)
    check_states_match_api(course, run_id, "STUDENTS_STAGE")
    students = [w.claim_for(run_id) for _ in OUTCOMES]
    for j, (success, results, _, _, _) in zip(students, OUTCOMES):
        w.finish(j, success, results=results)
    # The eighth: claimed by `lost` and given back by its re-registering
    # (a new incarnation), three times: then the API fails it.
    for attempt in (1, 2, 3):
        j = lost.claim_for(run_id)
        eq(j.attempt, attempt, "attempt of the lost job")
        if attempt == 1:
            check_states_match_api(course, run_id, "STUDENTS_STAGE")
            students.append(j)
        lost.register()
    check_states_match_api(course, run_id, "POST_PROCESSING_STAGE")
    post = w.claim_for(run_id)
    w.finish(post, True)
    check_states_match_api(course, run_id, "FINISHED")
    return {"pre": pre, "post": post, "students": students}


def set_times(run_id, jobs, workers):
    """Known timestamps for the run, its jobs and the workers, in the
    database's own clock; returns them as {job id: (queued, started,
    finished)} plus the run's (created, finished)."""
    now = datetime.datetime.strptime(sql("SELECT NOW(6)")[0][0], TS)
    t0 = now.replace(microsecond=0) - T0_AGO
    s = lambda x: datetime.timedelta(seconds=float(x))   # noqa: E731
    times = {jobs["pre"].id: (t0, t0 + s(1), t0 + s(3))}
    q = t0 + s(3)
    for j, wait, run in zip(jobs["students"], WAITS, RUNS):
        times[j.id] = (q, q + s(wait), q + s(wait) + s(run))
    last = max(f for _, _, f in times.values())
    times[jobs["post"].id] = (last, last + s("1.5"), last + s("3.5"))
    run_times = (t0, last + s("3.5"))
    for jid, (qa, sa, fa) in times.items():
        sql("UPDATE grading_job SET queued_at = '%s', started_at = '%s',"
            " finished_at = '%s' WHERE public_id = %s"
            % (ts(qa), ts(sa), ts(fa), sql_quote(jid)))
    sql("UPDATE grading_run SET created_at = '%s', finished_at = '%s'"
        " WHERE public_id = %s" % (ts(run_times[0]), ts(run_times[1]),
                                   sql_quote(run_id)))
    reg = t0 - datetime.timedelta(hours=1)
    for wk in workers:
        sql("UPDATE worker SET registered_at = '%s' WHERE id = %s"
            % (ts(reg), sql_quote(wk.id)))
    return times, run_times, reg


# ---------------------------------------------------------------- checks

def check_jobs(run_id, jobs, times, w, lost, course, asg):
    cols = ["job_id", "course", "assignment", "kind", "state", "attempt",
            "worker", "queued_at", "started_at", "finished_at",
            "queue_wait_s", "run_s", "total_s", "success", "infra_failure",
            "failure_reason", "stages_run", "last_exit_code", "last_error"]
    got = {r[0]: r for r in view_rows("report_jobs", cols,
                                      "run_id = %s" % sql_quote(run_id))}

    def want(job, kind, state, worker, attempt, success, infra, reason,
             stages, exit_code, error):
        qa, sa, fa = times[job.id]
        return [job.id, course.id, asg, kind, state, str(attempt), worker,
                ts(qa), ts(sa), ts(fa), dec(secs(sa - qa)), dec(secs(fa - sa)),
                dec(secs(fa - qa)), success, infra, reason, stages, exit_code,
                error]
    exp = {
        jobs["pre"].id: want(jobs["pre"], "pre", "SUCCEEDED", w.id, 1, "1", "0",
                             None, "1", "0", None),
        jobs["post"].id: want(jobs["post"], "post", "SUCCEEDED", w.id, 1, "1",
                              "0", None, "1", "0", None),
    }
    for j, (success, results, reason, code, error) in zip(jobs["students"],
                                                          OUTCOMES):
        exp[j.id] = want(j, "student", "SUCCEEDED" if success else "FAILED",
                         w.id, 1, "1" if success else "0", "0", reason,
                         str(len(results)), code, error)
    infra = jobs["students"][-1]
    exp[infra.id] = want(infra, "student", "FAILED", lost.id, 3, "0", "1",
                         "infrastructure", "1", None,
                         "infrastructure failure: the worker running this job"
                         " was lost 3 times; the submission was not at fault")
    eq(set(got), set(exp), "report_jobs job ids")
    for jid in exp:
        eq(dict(zip(cols, got[jid])), dict(zip(cols, exp[jid])),
           "report_jobs row of %s" % jid)


def check_runs(run_id, course, asg, run_times):
    c, f = run_times
    got = view_rows("report_runs",
                    ["course", "assignment", "state", "students_total",
                     "students_left", "jobs", "jobs_succeeded", "jobs_failed",
                     "created_at", "finished_at", "duration_s"],
                    "run_id = %s" % sql_quote(run_id))
    eq(got, [[course.id, asg, "FINISHED", "8", "0", "10", "4", "6", ts(c),
              ts(f), dec(secs(f - c))]], "report_runs")
    got = view_rows("report_runs_daily",
                    ["day", "runs", "runs_finished", "runs_failed",
                     "runs_in_progress", "students", "jobs", "mean_duration_s",
                     "max_duration_s"], "course = %s" % sql_quote(course.id))
    d = dec(secs(f - c))
    eq(got, [[c.strftime("%Y-%m-%d"), "1", "1", "0", "0", "8", "10", d, d]],
       "report_runs_daily")


def check_throughput(course, jobs, times):
    failed = {j.id for j, o in zip(jobs["students"], OUTCOMES) if not o[0]}
    failed.add(jobs["students"][-1].id)
    hours = {}
    for jid, (_, sa, fa) in times.items():
        h = fa.replace(minute=0, second=0, microsecond=0)
        hours.setdefault(h, []).append((jid in failed, secs(fa - sa)))
    assert len(hours) >= 2, "the jobs should end in two clock hours: %r" % hours
    exp = []
    for h in sorted(hours):
        v = hours[h]
        nf = sum(1 for f, _ in v if f)
        mean = sum(Decimal(dec(r)) for _, r in v) / len(v)
        exp.append([h.strftime("%Y-%m-%d %H:%M:%S"), str(len(v)),
                    str(len(v) - nf), str(nf), dec(mean)])
    got = sql("SELECT hour, jobs_finished, jobs_succeeded, jobs_failed,"
              " mean_run_s FROM report_throughput_hourly WHERE course = %s"
              " ORDER BY hour" % sql_quote(course.id))
    eq(got, exp, "report_throughput_hourly")


def check_latency(course, asg, jobs, times):
    by_kind = {"pre": [jobs["pre"]], "post": [jobs["post"]],
               "student": jobs["students"][:-1]}     # not the infra failure
    exp = []
    for kind in sorted(by_kind):
        waits = [secs(times[j.id][1] - times[j.id][0]) for j in by_kind[kind]]
        runs = [secs(times[j.id][2] - times[j.id][1]) for j in by_kind[kind]]
        row = [kind, str(len(waits))]
        for v in (waits, runs):
            row += [dec(pct(v, "0.5")), dec(pct(v, "0.9")), dec(pct(v, "0.99")),
                    dec(max(v))]
        exp.append(row)
    got = sql("SELECT kind, jobs, queue_wait_p50_s, queue_wait_p90_s,"
              " queue_wait_p99_s, queue_wait_max_s, run_p50_s, run_p90_s,"
              " run_p99_s, run_max_s FROM report_assignment_latency"
              " WHERE course = %s AND assignment = %s ORDER BY kind"
              % (sql_quote(course.id), sql_quote(asg)))
    eq(got, exp, "report_assignment_latency")
    # The student row by hand too, so the helper above is not the only
    # judge: waits 1 2 4 8 16 600 1200, runs 10 20 30 40 50 60 70.5.
    eq(got[2][2:], ["8.000", "840.000", "1164.000", "1200.000",
                    "40.000", "64.200", "69.870", "70.500"],
       "student percentiles")


def check_failures(course, asg, jobs, times):
    infra = [times[jobs["students"][i].id][2] for i in (5, 7)]
    one = lambda i: ts(times[jobs["students"][i].id][2])   # noqa: E731
    exp = sorted([
        [asg, "exit_code", "1", "1", one(6), one(6)],
        [asg, "exit_code", "3", "1", one(2), one(2)],
        [asg, "infrastructure", None, "2", ts(min(infra)), ts(max(infra))],
        [asg, "out_of_memory", None, "1", one(4), one(4)],
        [asg, "timeout", None, "1", one(3), one(3)],
    ], key=lambda r: (r[1], r[2] or ""))
    got = sql("SELECT assignment, reason, exit_code, jobs, first_at, last_at"
              " FROM report_failures WHERE course = %s ORDER BY reason,"
              " exit_code" % sql_quote(course.id))
    eq(got, exp, "report_failures")


def check_workers(w, lost, jobs, times, reg):
    rows = sql("SELECT NOW(6), v.worker, v.hostname, v.slots, v.alive,"
               " v.jobs_processed, v.running, v.busy_1h_s, v.utilisation_1h,"
               " v.busy_24h_s, v.utilisation_24h"
               " FROM report_worker_utilisation v WHERE v.worker IN (%s, %s)"
               " ORDER BY v.worker" % (sql_quote(w.id), sql_quote(lost.id)))
    now = datetime.datetime.strptime(rows[0][0], TS)
    held = {w.id: [jobs["pre"], jobs["post"]] + jobs["students"][:-1],
            lost.id: [jobs["students"][-1]]}
    exp = []
    for wk in sorted((w, lost), key=lambda x: x.id):
        row = [rows[0][0], wk.id, wk.hostname, str(wk.slots), "1",
               str(len(held[wk.id]) if wk is w else 0), "0"]
        for window in (datetime.timedelta(hours=1), datetime.timedelta(days=1)):
            start = now - window
            busy = sum((max(Decimal(0), secs(min(times[j.id][2], now) -
                                             max(times[j.id][1], start)))
                        for j in held[wk.id]), Decimal(0))
            span = secs(now - max(reg, start))
            row += [dec(busy), dec(busy / (wk.slots * span), "0.0001")]
        exp.append(row)
    eq(rows, exp, "report_worker_utilisation")
    # The last hour holds part of the lost job and all of the post job,
    # so the windows really clip (and differ).
    for r in rows:
        assert Decimal(0) < Decimal(r[7]) < Decimal(r[9]), rows


def t_views(env):
    lib.drain()
    course = lib.new_course()
    asg = lib.unique("a")
    se = [{"STUDENT_ID": "s%d" % i} for i in range(8)]
    course, asg, run_id = lib.new_run(course, pre=True, post=True,
                                      students_env=se, assignment=asg)
    w = FakeWorker(slots=8)
    w.register()
    lost = FakeWorker(slots=2)
    lost.register()
    jobs = drive_run(course, asg, run_id, w, lost)
    times, run_times, reg = set_times(run_id, jobs, (w, lost))
    check_jobs(run_id, jobs, times, w, lost, course, asg)
    check_runs(run_id, course, asg, run_times)
    check_throughput(course, jobs, times)
    check_latency(course, asg, jobs, times)
    check_failures(course, asg, jobs, times)
    check_workers(w, lost, jobs, times, reg)


# ---------------------------------------------------------------- the role

def t_codes(env):
    """report_codes holds every state and kind the API names (the unit
    test test_states_sql compares the migration with common/states.c)."""
    rows = sql("SELECT domain, code, name FROM report_codes"
               " ORDER BY domain, code")
    got = {}
    for d, c, n in rows:
        got.setdefault(d, []).append((int(c), n))
    eq(got["job_state"], list(enumerate(lib.JOB_STATES)), "job states")
    eq(got["run_state"], list(enumerate(lib.RUN_STATES)), "run states")
    eq(got["job_kind"], [(0, "pre"), (1, "student"), (2, "post")], "job kinds")
    eq(got["token_kind"], [(0, "admin"), (1, "query"), (2, "cluster")],
       "token kinds")
    eq(sorted(got), ["job_kind", "job_state", "run_state", "token_kind"],
       "domains")


def t_report_role(env):
    """An account with the role sees the views and nothing else: no token
    digests, no base table, no writes."""
    db = env.get("BROADWAY_DB_NAME", "broadway")
    # The account the migration made: unix_socket, the role, no more.
    eq(sorted(r[0] for r in root_sql("SHOW GRANTS FOR 'broadway_report'@'localhost'")),
       ["GRANT USAGE ON *.* TO `broadway_report`@`localhost` IDENTIFIED VIA unix_socket",
        "GRANT `broadway_report` TO `broadway_report`@`localhost`",
        "SET DEFAULT ROLE `broadway_report` FOR `broadway_report`@`localhost`"],
       "grants of the broadway_report account")
    # The role is global: another database on the server migrated too
    # adds its own views' grants, and nothing else.
    grants = [r[0] for r in root_sql("SHOW GRANTS FOR broadway_report")]
    eq(sorted(g for g in grants if "`%s`." % db in g or "*.*" in g),
       sorted(["GRANT USAGE ON *.* TO `broadway_report`"] +
              ["GRANT SELECT ON `%s`.`%s` TO `broadway_report`" % (db, v)
               for v in VIEWS]), "grants of the broadway_report role")
    for g in grants:
        assert re.fullmatch(r"GRANT USAGE ON \*\.\* TO `broadway_report`|"
                            r"GRANT SELECT ON `[^`]+`\.`report_[a-z_]+`"
                            r" TO `broadway_report`", g), g
    # No view shows a token, its digest or its label.
    cols = sql("SELECT table_name, column_name FROM information_schema.columns"
               " WHERE table_schema = DATABASE() AND table_name LIKE 'report\\_%'")
    eq(sorted({r[0] for r in cols}), sorted(VIEWS), "the views")
    bad = [r for r in cols if r[1] in ("digest", "label", "revoked_at")]
    eq(bad, [], "token columns in a view")

    # A person's account with the role, as sql/README.md shows.
    user = "bwrep_" + secrets.token_hex(4)
    pw = secrets.token_hex(16)
    root_sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'" % (user, pw))
    try:
        root_sql("GRANT broadway_report TO '%s'@'localhost'" % user)
        root_sql("SET DEFAULT ROLE broadway_report FOR '%s'@'localhost'" % user)
        rc, rows, err = mariadb(user, pw, "SHOW TABLES")
        assert rc == 0, err
        eq(sorted(r[0] for r in rows), sorted(VIEWS), "tables the role sees")
        for v in VIEWS:
            rc, rows, err = mariadb(user, pw, "SELECT COUNT(*) FROM %s" % v)
            assert rc == 0, "SELECT on %s as the reporting user: %s" % (v, err)
            assert int(rows[0][0]) > 0, "%s is empty" % v
        # The tokens table and every base table are refused, and so is
        # anything that writes.
        for q in ("SELECT digest FROM api_token", "SELECT COUNT(*) FROM api_token",
                  "SELECT * FROM grading_job LIMIT 1", "SELECT * FROM job_log LIMIT 1",
                  "SELECT * FROM grading_run LIMIT 1", "SELECT * FROM worker LIMIT 1",
                  "SELECT * FROM job_state", "SELECT * FROM %s.api_token" % db,
                  "SELECT * FROM mysql.user",
                  "DELETE FROM report_jobs", "UPDATE report_runs SET state = 'x'",
                  "CREATE TABLE t (a INT)", "SET ROLE NONE"):
            rc, rows, err = mariadb(user, pw, q)
            if q == "SET ROLE NONE":
                # Allowed, but it only drops rights: after it nothing is readable.
                assert rc == 0, err
                rc, rows, err = mariadb(
                    user, pw, "SET ROLE NONE; SELECT COUNT(*) FROM report_jobs")
            assert rc != 0, "%r as the reporting user succeeded: %r" % (q, rows)
            assert "denied" in err, "%r: %s" % (q, err)
        # The digest cannot be reached through information_schema either.
        rc, rows, err = mariadb(user, pw, "SELECT COUNT(*) FROM information_schema"
                                ".columns WHERE table_name = 'api_token'")
        assert rc == 0, err
        eq(rows, [["0"]], "api_token columns visible to the reporting user")
    finally:
        root_sql("DROP USER IF EXISTS '%s'@'localhost'" % user)


def tests(env):
    return [
        ("views_for_a_run", t_views),
        ("codes_match_the_api_names", t_codes),
        ("report_role_reads_views_only", t_report_role),
    ]
