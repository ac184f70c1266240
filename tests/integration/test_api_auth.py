"""Tokens x endpoints x courses, and CORS."""

import lib
from lib import call, eq, fail, ok

ADMIN, VIEW = "admin", "view"


def fixture():
    """Course A with a config, a finished run (one job with a log) and a
    second run whose single job stays QUEUED; course B, its own tokens."""
    A = lib.new_course("ca")
    B = lib.new_course("cb")
    asg = lib.unique("a")
    lib.put_config(A, asg, lib.config(student=True))
    done_run = lib.start_run(A, asg, [{"S": "1"}])
    w = lib.FakeWorker()
    w.register()
    j = w.claim_for(done_run)
    w.finish(j, True, stdout="out", stderr="err")
    w.stop()
    queued_run = lib.start_run(A, asg, [{"S": "2"}])
    st = lib.run_status(A, queued_run)
    queued_job = list(st["student_jobs"])[0]
    return A, B, asg, done_run, j.id, queued_run, queued_job


def endpoints(c, asg, run, job, qjob):
    """(method, path, body, need) for every course endpoint."""
    return [
        ("GET", "/grading_config/%s/%s" % (c, asg), None, ADMIN),
        ("POST", "/grading_config/%s/%s" % (c, asg),
         lib.config(student=True), ADMIN),
        ("POST", "/grading_run/%s/%s" % (c, asg),
         {"students_env": [{"S": "x"}]}, ADMIN),
        ("GET", "/grading_run_status/%s/%s" % (c, run), None, VIEW),
        ("GET", "/grading_run_env/%s/%s" % (c, run), None, ADMIN),
        ("GET", "/grading_job_log/%s/%s" % (c, job), None, ADMIN),
        ("GET", "/worker/%s/all" % c, None, ADMIN),
        ("GET", "/queue/%s/length" % c, None, ADMIN),
        ("GET", "/queue/%s/%s/position" % (c, qjob), None, VIEW),
    ]


def req(method, path, body, authz):
    h = {} if authz is None else {"Authorization": authz}
    return call(method, path, body=body, headers=h)


def t_matrix(env):
    A, B, asg, run, job, qrun, qjob = fixture()
    problems = []

    def check(label, r, status):
        try:
            if status == 200:
                ok(r)
            else:
                fail(r, status)
            eq(r[1].get("access-control-allow-origin"), "*", "CORS header")
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))

    try:
        for m, p, body, need in endpoints(A.id, asg, run, job, qjob):
            is_run_post = p.startswith("/grading_run/")
            lbl = "%s %s" % (m, p.split("/")[1])
            check(lbl + " no token", req(m, p, body, None), 401)
            for bad in ("Token " + A.admin, "Bearer", "Bearer ",
                        "bearer " + A.admin, "Bearer  " + A.admin,
                        "Bearer " + A.admin + " x", "Basic dXNlcjpwYXNz",
                        A.admin):
                check(lbl + " bad format %r" % bad[:12], req(m, p, body, bad), 401)
            check(lbl + " unknown token", req(m, p, body, "Bearer nosuchtoken0123"), 401)
            check(lbl + " other course's token", req(m, p, body, "Bearer " + B.admin), 401)
            check(lbl + " other course's query token",
                  req(m, p, body, "Bearer " + B.query), 401)
            check(lbl + " cluster token", req(m, p, body, "Bearer " + env.cluster), 401)
            if need == ADMIN:
                check(lbl + " query token", req(m, p, body, "Bearer " + A.query), 403)
            else:
                check(lbl + " query token", req(m, p, body, "Bearer " + A.query), 200)
            if not is_run_post:
                check(lbl + " admin token", req(m, p, body, "Bearer " + A.admin), 200)
            # An unknown course answers as a known one the token does not
            # open: 401, whatever the token (no way to tell which courses
            # exist).  README, "Contract decisions".
            up = p.replace("/%s/" % A.id, "/nosuchcourse-%s/" % lib.unique("x"), 1)
            if up.endswith("/" + A.id):
                up = up[:-len(A.id)] + "nosuchcourse-" + lib.unique("x")
            bp = p.replace("/%s/" % A.id, "/%s/" % B.id, 1)
            for tname, tok in (("garbage", "nosuchtoken0123"),
                               ("other course's", A.admin),
                               ("other course's query", A.query),
                               ("cluster", env.cluster)):
                ru = req(m, up, body, "Bearer " + tok)
                check(lbl + " unknown course, %s token" % tname, ru, 401)
                rb = req(m, bp, body, "Bearer " + tok)
                check(lbl + " known course, %s token" % tname, rb, 401)
                if ru[2] != rb[2]:
                    problems.append("%s %s token: unknown course %r, known"
                                    " course %r" % (lbl, tname, ru[2], rb[2]))
        # course B's own token on course B's paths with course A's ids
        for m, p, body, need in endpoints(B.id, asg, run, job, qjob):
            if p.startswith("/grading_config/") or p.startswith("/grading_run/") \
                    or p.startswith("/worker/") or p.endswith("/length"):
                continue
            lbl = "%s %s foreign id" % (m, p.split("/")[1])
            for tok in (B.admin, B.query):
                r = req(m, p, body, "Bearer " + tok)
                if need == ADMIN and tok == B.query:
                    check(lbl + " (query token)", r, 403)
                    continue
                check(lbl, r, 404)
                d = (r[2] or {}).get("data")
                if not (isinstance(d, dict) and set(d) == {"message"}):
                    problems.append("%s: leaks data %r" % (lbl, r))
        # nothing was queued by the refused grading_run calls
        eq(lib.queue_length(A), 1, "course A queue length after refused runs")
    finally:
        lib.drain()
    assert not problems, "%d problem(s):\n  " % len(problems) + "\n  ".join(problems)


def t_shared_token(env):
    """One token registered for two courses opens both; several admin
    tokens for one course all work."""
    c1 = lib.new_course()
    c2 = lib.new_course()
    shared = lib.new_token()
    lib.admin("token-add", "admin", c1.id, "--token", shared)
    lib.admin("token-add", "admin", c2.id, "--token", shared)
    second = lib.new_token()
    lib.admin("token-add", "admin", c1.id, "--token", second)
    for c in (c1, c2):
        for tok in (c.admin, shared):
            ok(call("GET", "/queue/%s/length" % c.id, tok))
    ok(call("GET", "/queue/%s/length" % c1.id, second))
    fail(call("GET", "/queue/%s/length" % c2.id, second), 401)


def t_revoked_token(env):
    """token-revoke takes effect within the API's auth cache time
    (BROADWAY_AUTH_CACHE_MS, 1 s by default): allow 2 s."""
    c = lib.new_course()
    label = lib.unique("lbl")
    tok = lib.new_token()
    lib.admin("token-add", "admin", c.id, "--token", tok, "--label", label)
    ok(call("GET", "/queue/%s/length" % c.id, tok))
    out = lib.admin("token-list", c.id)
    line = [ln for ln in out.splitlines() if label in ln]
    assert len(line) == 1, "token-list has no single line for %s:\n%s" % (label, out)
    tid = next(w for w in line[0].replace("\t", " ").split() if w.isdigit())
    lib.admin("token-revoke", tid)
    lib.wait_until(lambda: call("GET", "/queue/%s/length" % c.id, tok)[0] == 401,
                   timeout=2.0, msg="the revoked token refused")
    fail(call("GET", "/queue/%s/length" % c.id, tok), 401)
    ok(call("GET", "/queue/%s/length" % c.id, c.admin))
    assert tok not in lib.admin("token-list", c.id), "token-list shows the token itself"


def t_worker_bound_token(env):
    """token-add cluster --worker ID: the token acts as that worker id
    only (403 for another id on every worker route and the nudge
    stream); the same token added for a second id opens both; a plain
    cluster token still acts as any id."""
    import test_nudge
    w1, w2, w3 = lib.unique("wb"), lib.unique("wb"), lib.unique("wb")
    tok = lib.new_token()
    lib.admin("token-add", "cluster", "--worker", w1, "--token", tok,
              "--label", "bound-" + w1)
    listed = [ln.split("\t") for ln in lib.admin("token-list").splitlines()]
    eq(listed[0][:4], ["ID", "KIND", "COURSE", "WORKER"], "token-list header")
    row = [r for r in listed if r[-1] == "bound-" + w1]
    assert len(row) == 1 and row[0][1:4] == ["cluster", "-", w1], row
    course, _, run = lib.new_run(students=1)
    mine = lib.FakeWorker(w1, token=tok)
    mine.register()
    j = mine.claim_for(run)
    problems = []

    def refused(label, r, status=403):
        try:
            fail(r, status)
        except AssertionError as e:
            problems.append("%s: %s" % (label, e))
    # w2 with w1's token: every verb, including a result for w1's lease
    thief = lib.FakeWorker(w2, token=tok, heartbeat=False)
    refused("register as another id", thief.post(
        "register", {"hostname": "h", "slots": 1}), 403)
    refused("heartbeat as another id", thief.heartbeat())
    refused("claim as another id", thief.claim())
    refused("result as another id", thief.result(j, True))
    s = test_nudge.WorkStream(w2, token=tok)
    if s.status != 403:
        problems.append("nudge stream as another id: %d" % s.status)
    s.close()
    s = test_nudge.WorkStream(w1, token=tok)
    if s.status != 200:
        problems.append("own nudge stream: %d" % s.status)
    s.close()
    # the job is still w1's, and w1 finishes it
    mine.finish(j, True)
    eq(lib.run_status(course, run)["student_jobs"][j.id], "SUCCEEDED",
       "the job w1 finished")
    # a second binding of the same token
    lib.admin("token-add", "cluster", "--worker", w3, "--token", tok)
    ok(lib.FakeWorker(w3, token=tok, heartbeat=False).post(
        "register", {"hostname": "h3", "slots": 1}))
    refused("register as a third id", lib.FakeWorker(
        lib.unique("wb"), token=tok, heartbeat=False).post(
        "register", {"hostname": "h", "slots": 1}))
    # a plain cluster token: any id (less safe, documented)
    ok(lib.FakeWorker(w2, heartbeat=False).post(
        "register", {"hostname": "h2", "slots": 1}))
    mine.stop()
    assert not problems, "\n  ".join(problems)


def t_tokens_not_stored_in_clear(env):
    c = lib.new_course()
    rows = lib.sql("SELECT COUNT(*) FROM api_token WHERE digest = %s OR label = %s"
                   % ("'" + c.admin + "'", "'" + c.admin + "'"))
    eq(rows[0][0], "0", "rows holding the clear token")


def t_options(env):
    """OPTIONS on every route: 204, no body, no auth needed, CORS headers."""
    A = lib.new_course()
    paths = [p for _, p, _, _ in endpoints(A.id, "asg", "0" * 24, "0" * 24, "0" * 24)]
    paths += ["/grader/w1/register", "/grader/w1/heartbeat", "/grader/w1/claim",
              "/grader/w1/result"]
    problems = []
    for p in paths:
        r = call("OPTIONS", p, headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        try:
            eq(r[0], 204, "status")
            eq(r.raw, b"", "body")
            eq(r[1].get("access-control-allow-origin"), "*", "Allow-Origin")
            ah = r[1].get("access-control-allow-headers", "")
            assert "authorization" in ah.lower(), "Allow-Headers %r" % ah
        except AssertionError as e:
            problems.append("OPTIONS %s: %s" % (p, e))
    assert not problems, "\n  ".join(problems)


def t_cors_on_everything(env):
    """Exactly one Access-Control-Allow-Origin: * on success and on every
    kind of error, ours and nginx's."""
    A = lib.new_course()
    cases = [
        ("200", "GET", "/queue/%s/length" % A.id, A.admin, None, None),
        ("400", "GET", "/queue/%s/length" % ("x" * 129), A.admin, None, None),
        ("401", "GET", "/queue/%s/length" % A.id, None, None, None),
        ("403", "GET", "/queue/%s/length" % A.id, A.query, None, None),
        ("404", "GET", "/grading_config/%s/none" % A.id, A.admin, None, None),
        ("404 route", "GET", "/no/such/route", A.admin, None, None),
        ("405", "DELETE", "/queue/%s/length" % A.id, A.admin, None, None),
        ("400 body", "POST", "/grading_config/%s/a" % A.id, A.admin, "{", None),
        ("404 nginx", "GET", "/definitely-not-api", None, None, True),
    ]
    problems = []
    for label, m, p, tok, raw, absolute in cases:
        r = call(m, p, tok, raw=raw, absolute=bool(absolute))
        vals = [v for k, v in r.hlist if k == "access-control-allow-origin"]
        if vals != ["*"]:
            problems.append("%s (%d): Access-Control-Allow-Origin headers %r"
                            % (label, r[0], vals))
        if r[0] >= 400:
            try:
                fail(r, r[0])
            except AssertionError as e:
                problems.append("%s: not a JSON envelope: %s" % (label, e))
        if not r[1].get("content-type", "").startswith("application/json"):
            problems.append("%s: content-type %r" % (label, r[1].get("content-type")))
    assert not problems, "\n  ".join(problems)


def tests(env):
    return [
        ("token_endpoint_course_matrix", t_matrix),
        ("shared_and_multiple_tokens", t_shared_token),
        ("revoked_token_401", t_revoked_token),
        ("cluster_token_bound_to_worker", t_worker_bound_token),
        ("tokens_not_stored_in_clear", t_tokens_not_stored_in_clear),
        ("options_204_without_auth", t_options),
        ("cors_header_on_success_and_errors", t_cors_on_everything),
    ]
