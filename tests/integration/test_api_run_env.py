"""grading_run_env of a large run is written out as it is read: the
FastCGI child's peak memory does not grow with the answer (README,
Limits), and the answer is the same JSON a whole one would be."""

import os

import lib
from lib import eq, ok

BIG_VARS = 4
BIG_VALUE = 60000       # under the 64 KiB value limit
STUDENTS = 100          # 100 x 240 kB = 24 MB per student map


def fcgi_children(env):
    with open(os.path.join(env.stack_dir, "run", "api.pid")) as f:
        mw = f.read().split()[0]
    kids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        if st.split(")")[-1].split()[1] == mw:
            kids.append(int(pid))
    assert kids, "no broadway-fcgi children of multiwatch %s" % mw
    return kids


def mem_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    raise AssertionError("no %s for pid %d" % (key, pid))


def sanitized(pid):
    """An ASan/TSan build: freed memory sits in the sanitizer's quarantine
    (256 MB by default) instead of being reused, so RSS says nothing
    about what the handler holds; the plain build (make test) measures."""
    with open("/proc/%d/maps" % pid) as f:
        return any("libasan" in ln or "libtsan" in ln for ln in f)


def t_big_run_env_streamed(env):
    big = {"BIG%d" % i: chr(ord("a") + i) * BIG_VALUE for i in range(BIG_VARS)}
    course = lib.new_course()
    asg = lib.unique("a")
    # No pre-processing: the student jobs exist from the start.
    cfg = lib.config(student=True, post=True, env=big)
    lib.put_config(course, asg, cfg)
    students = [{"STUDENT_ID": "s%03d" % i} for i in range(STUDENTS)]
    run = lib.start_run(course, asg, students)
    kids = fcgi_children(env)
    base = {}
    for pid in kids:
        # Linux: writing 5 resets the peak (VmHWM) to the current RSS.
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        base[pid] = mem_kb(pid, "VmRSS")
    r = lib.call("GET", "/grading_run_env/%s/%s" % (course.id, run),
                 course.admin, timeout=120)
    growth = max(mem_kb(pid, "VmHWM") - base[pid] for pid in kids)
    d = ok(r)
    size = len(r.raw)
    # A whole answer in memory costs more than its size; streamed, the
    # peak is the config and one job's env (~1 MB here).
    if not sanitized(kids[0]):
        assert growth < 16 * 1024, "peak RSS grew by %d kB for a %d kB" \
            " answer" % (growth, size // 1024)
    assert size > STUDENTS * BIG_VARS * BIG_VALUE, "answer of %d bytes" % size
    st = lib.run_status(course, run)
    _, jobs, post = lib.job_ids(st)
    eq(set(d), {"pre_processing_env", "post_processing_env",
                "post_processing_job", "student_env", "student_jobs"}, "keys")
    eq(d["student_env"], d["student_jobs"], "student_env and student_jobs")
    eq(d["post_processing_env"], d["post_processing_job"], "the post maps")
    eq(set(d["student_jobs"]), set(jobs), "student job ids")
    eq(d["pre_processing_env"], None, "no pre job")
    eq(list(d["post_processing_env"] or {}), post, "post job id")
    sids = set()
    for jid, e in d["student_jobs"].items():
        for k, v in big.items():
            eq(e[k], [v], "%s of %s" % (k, jid))
        eq(e["GRADING_JOB_ID"], [jid], "GRADING_JOB_ID")
        eq(e["GRADING_RUN_ID"], [run], "GRADING_RUN_ID")
        eq(e["STAGE_OF"], ["student"], "stage env")
        sids.update(e["STUDENT_ID"])
    eq(sids, {s["STUDENT_ID"] for s in students}, "students")
    lib.drain()


def t_page_edges(env):
    """Rosters around the page size (100) come out whole, in one piece."""
    for n in (1, 99, 100, 101, 201):
        course, _, run = lib.new_run(students=n)
        d = ok(lib.call("GET", "/grading_run_env/%s/%s" % (course.id, run),
                        course.admin))
        eq(len(d["student_jobs"]), n, "jobs for %d students" % n)
        eq(d["student_env"], d["student_jobs"], "both maps for %d" % n)
        eq(sorted(v["STUDENT_ID"][0] for v in d["student_env"].values()),
           sorted("s%d" % i for i in range(n)), "students of %d" % n)
        eq(d["pre_processing_env"], None, "no pre job")
        eq(d["post_processing_env"], None, "no post job")
    lib.drain()


def tests(env):
    return [
        ("big_answer_streamed_flat_memory", t_big_run_env_streamed),
        ("roster_around_page_size", t_page_edges),
    ]
