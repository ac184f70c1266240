"""`make demo` without its image: the roster and the bundles are well
formed, the assignment's config validates against the API, and
demo/watch.py grades a whole run against this stack, with a FakeWorker
standing in for broadway-worker (no containers).  The fake worker checks
what each job receives (every stage without network, each student's own
files in the job env, the reference only in pre-processing, the roster in
post-processing) and answers with the machine-readable lines the stage
scripts print; watch.py must then follow every job, build the scoreboard
and find every outcome the ROSTER expects.  The real stages run in
`make demo`."""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

import lib
from lib import FakeWorker, call, eq, ok

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "demo")
sys.path.insert(0, DEMO)
import bundle  # noqa: E402  (demo/bundle.py)

IMAGE = "localhost/broadway-demo-gcc:test"
# Every kind of submission the demo promises.
KINDS = ("all tests passed", "wrong answer", "compile error", "timeout",
         "process limit", "out of memory", "output limit")


def student_files(name):
    d = os.path.join(bundle.SUBMISSIONS_DIR, name)
    return {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}


def t_roster(env):
    roster = bundle.load_roster()
    names = [r["student"] for r in roster]
    eq(len(names), len(set(names)), "duplicate students")
    dirs = sorted(d for d in os.listdir(bundle.SUBMISSIONS_DIR)
                  if os.path.isdir(os.path.join(bundle.SUBMISSIONS_DIR, d)))
    eq(sorted(names), dirs, "ROSTER vs demo/submissions/")
    top = bundle.max_points()
    eq(top, 100, "points in tests/POINTS")
    for r in roster:
        files = student_files(r["student"])
        assert any(n.endswith(".c") for n in files), r
        assert 0 <= r["score"] <= top, r
        assert (r["expect"] == "all tests passed") == (r["score"] == top), r
        v = bundle.submission_b64(r["student"])
        assert len(v) <= bundle.ENV_VALUE_MAX
    for k in KINDS:
        assert any(r["expect"].startswith(k) for r in roster), \
            "no submission expected to end with %r" % k
    assert sum(1 for r in roster if r["score"] == top) >= 2, "correct ones"


def t_bundles(env):
    a = bundle.make_config(IMAGE)
    b = bundle.make_config(IMAGE)
    eq(a, b, "the bundle is not deterministic")
    raw = base64.b64decode(a["env"]["ASSIGNMENT_TGZ_B64"])
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        names = set(t.getnames())
        for m in t.getmembers():
            eq((m.uid, m.mtime), (0, 0), m.name)
    for s in ("lib.sh", "pre.sh", "build.sh", "test.sh", "post.sh"):
        assert "grader/" + s in names, names
        p = subprocess.run(["bash", "-n", os.path.join(
            bundle.ASSIGNMENT_DIR, "grader", s)], stderr=subprocess.PIPE,
            text=True)
        eq(p.returncode, 0, "bash -n %s: %s" % (s, p.stderr))
    for n in os.listdir(os.path.join(bundle.ASSIGNMENT_DIR, "tests")):
        assert "tests/" + n in names, n
    assert not any(n.startswith("reference") for n in names), \
        "the reference solution must not reach the students' jobs"


def t_config_validates(env):
    course = lib.new_course("demo")
    cfg = bundle.make_config(IMAGE)
    for key in ("pre_processing_pipeline", "student_pipeline",
                "post_processing_pipeline"):
        for st in cfg[key]:
            eq(st["networking"], False, key)
            assert st["timeout"] > 0 and st["memory"], st
    path = "/grading_config/%s/rpn" % course.id
    ok(call("POST", path, course.admin, body=cfg))
    eq(ok(call("GET", path, course.admin)), cfg, "config round trip")


def fake_logs(job, roster):
    """(success, stdout) as the stage scripts would answer job."""
    e = job.env
    for st in job.stages:
        eq(st.get("networking"), False, "a stage with networking")
        eq(st["env"].get("ASSIGNMENT_TGZ_B64"),
           e.get("ASSIGNMENT_TGZ_B64"), "the bundle in every stage")
    line = lambda tag, o: "BROADWAY-%s %s" % (tag, json.dumps(
        dict(o, job=job.id)))
    if "REFERENCE_TGZ_B64" in e:
        assert "SUBMISSION_TGZ_B64" not in e
        return True, line("SUITE", {"suite": "fake", "tests": 8, "max": 100})
    if "ROSTER" in e:
        eq(e["ROSTER"].split(), [r["student"] for r in roster], "ROSTER")
        return True, line("ROSTER", {"run": job.run_id, "suite": "fake",
                                     "max": 100, "students": e["ROSTER"].split()})
    assert "REFERENCE_TGZ_B64" not in e, "the reference in a student's job"
    name = e["STUDENT_ID"]
    raw = base64.b64decode(e["SUBMISSION_TGZ_B64"])
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        got = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    eq(got, student_files(name), "the files of " + name)
    r = [r for r in roster if r["student"] == name][0]
    passed = r["expect"] == "all tests passed"
    return passed, "tests...\n" + line("SCORE", {
        "student": name, "score": r["score"], "max": 100,
        "status": "passed" if passed else "failed",
        "reason": r["expect"] + " (fake)", "suite": "fake"})


def t_watch_fake_worker(env):
    course = lib.new_course("demo")
    roster = bundle.load_roster()
    tmp = tempfile.mkdtemp(prefix="demo-", dir=env.stack_dir or None)
    envf = os.path.join(tmp, "stack.env")
    with open(envf, "w") as f:
        f.write("BROADWAY_URL=%s\nBROADWAY_CA=%s\nBROADWAY_STACK_DIR=%s\n"
                "BROADWAY_DEMO_ADMIN_TOKEN=%s\nBROADWAY_DEMO_QUERY_TOKEN=%s\n"
                % (env["BROADWAY_URL"], env.ca, tmp, course.admin, course.query))
    done = threading.Event()
    seen = {}
    errors = []

    def work():
        w = FakeWorker(slots=2)
        w.register()
        try:
            while not done.is_set():
                j = w.claim_job()
                if j is None:
                    time.sleep(0.05)
                    continue
                if j.env.get("ASSIGNMENT") != "rpn":
                    w.finish(j, True)   # not ours
                    continue
                try:
                    success, out = fake_logs(j, roster)
                except Exception as e:          # report, and fail the job
                    errors.append(e)
                    success, out = False, ""
                seen[j.id] = j
                time.sleep(0.1)                 # let the streams see STARTED
                w.finish(j, success, stdout=out)
        except Exception as e:
            errors.append(e)
        finally:
            w.stop()
            lib.drop_connection()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        p = subprocess.run([sys.executable, os.path.join(DEMO, "watch.py"),
                            "--stack-env", envf, "--image", IMAGE,
                            "--course", course.id, "--timeout", "45"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
    finally:
        done.set()
        t.join(10)
        lib.drain()
    if errors:
        raise errors[0]
    assert p.returncode == 0, "watch.py exit %d:\n%s" % (p.returncode,
                                                         p.stdout[-3000:])
    eq(len(seen), len(roster) + 2, "jobs the fake worker ran")
    assert "every outcome is the one demo/submissions/ROSTER expects" in \
        p.stdout, p.stdout[-2000:]
    for r in roster:
        assert "%s (fake)" % r["expect"] in p.stdout, r
    runs = os.path.join(tmp, "demo", "runs", "latest")
    with open(os.path.join(runs, "scoreboard.csv")) as f:
        eq(len(f.read().strip().split("\n")), len(roster) + 1, "csv rows")
    for r in roster:
        assert os.path.exists(os.path.join(runs, r["student"] + ".stdout")), r
    shutil.rmtree(tmp)


def tests(env):
    return [("roster", t_roster), ("bundles", t_bundles),
            ("config_validates", t_config_validates),
            ("watch_fake_worker", t_watch_fake_worker)]
