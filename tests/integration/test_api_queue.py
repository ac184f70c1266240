"""Round robin across courses, FIFO within a course, queue positions."""

import lib
from lib import FakeWorker, call, eq, fail, ok


def rr_expected(first_round, counts):
    """The claim order round robin gives: cycle through the courses in
    the order of the first round, skipping exhausted ones."""
    left = dict(counts)
    out = []
    while any(left.values()):
        for c in first_round:
            if left[c] > 0:
                out.append(c)
                left[c] -= 1
    return out


def t_round_robin(env):
    lib.drain()
    counts = {"A": 3, "B": 5, "C": 7}
    courses = {}
    runs = {}
    for name in ("A", "B", "C"):
        c = lib.new_course("rr" + name)
        asg = lib.unique("a")
        lib.put_config(c, asg, lib.config(student=True))
        courses[name] = c
        runs[lib.start_run(c, asg, [{"WHO": name, "N": str(i)}
                                    for i in range(counts[name])])] = name
    w = FakeWorker(slots=64)
    w.register()
    order = []
    held = []
    foreign = 0
    while True:
        j = w.claim_job()
        if j is None:
            break
        if j.run_id not in runs:
            foreign += 1
            w.finish(j, True)
            continue
        held.append(j)
        order.append((runs[j.run_id], int(j.env["N"])))
    got = [c for c, _ in order]
    eq(len(got), 15, "jobs claimed (%r)" % got)
    first = got[:3]
    eq(sorted(first), ["A", "B", "C"], "first round %r" % got)
    eq(got, rr_expected(first, counts), "round-robin order")
    for name in counts:
        eq([n for c, n in order if c == name], list(range(counts[name])),
           "FIFO within course %s" % name)
    for j in held:
        w.finish(j, True)
    for name, c in courses.items():
        eq(lib.queue_length(c), 0, "queue %s" % name)


def t_round_robin_fresh_course_joins(env):
    """A course that queues while another has a backlog is served on the
    next turn, not after the backlog."""
    lib.drain()
    big = lib.new_course("rrbig")
    small = lib.new_course("rrsmall")
    asg = lib.unique("a")
    for c in (big, small):
        lib.put_config(c, asg, lib.config(student=True))
    rb = lib.start_run(big, asg, [{"N": str(i)} for i in range(20)])
    w = FakeWorker(slots=64)
    w.register()
    held = [w.claim_for(rb) for _ in range(3)]
    rs = lib.start_run(small, asg, [{"N": "0"}])
    nxt = [w.claim_job() for _ in range(2)]
    assert rs in [j.run_id for j in nxt], \
        "the new course's job was not among the next two claims: %r" % nxt
    for j in held + nxt:
        w.finish(j, True)
    lib.drain()


def t_positions(env):
    """10 one-student runs: positions 0..9; each claim shifts the rest down;
    a claimed job's position is 409."""
    lib.drain()
    c = lib.new_course("pos")
    asg = lib.unique("a")
    lib.put_config(c, asg, lib.config(student=True))
    jobs = []
    for i in range(10):
        run = lib.start_run(c, asg, [{"N": str(i)}])
        jobs.append(list(lib.run_status(c, run)["student_jobs"])[0])
    other = lib.new_course("posother")
    lib.put_config(other, asg, lib.config(student=True))
    orun = lib.start_run(other, asg, [{"N": str(i)} for i in range(4)])
    ojobs = list(lib.run_status(other, orun)["student_jobs"])

    def positions():
        return [lib.position(c, j, c.query) for j in jobs]

    for i, r in enumerate(positions()):
        eq(ok(r), {"position": i}, "initial position of job %d" % i)
    # the other course's queue is counted separately
    opos = sorted(ok(lib.position(other, j))["position"] for j in ojobs)
    eq(opos, [0, 1, 2, 3], "other course positions")
    w = FakeWorker(slots=64)
    w.register()
    held = []
    claimed = 0
    while claimed < 10:
        j = w.claim_job()
        assert j is not None, "queue ran dry"
        held.append(j)
        if j.id not in jobs:
            continue
        eq(j.id, jobs[claimed], "FIFO claim %d" % claimed)
        claimed += 1
        for i, r in enumerate(positions()):
            if i < claimed:
                fail(r, 409)
            else:
                eq(ok(r), {"position": i - claimed},
                   "position of job %d after %d claims" % (i, claimed))
    for j in held:
        w.finish(j, True)
    for r in positions():
        fail(r, 409)
    lib.drain()


def t_position_errors(env):
    c, asg, run = lib.new_run(students=1)
    job = list(lib.run_status(c, run)["student_jobs"])[0]
    other = lib.new_course()
    fail(lib.position(c, "0" * 24), 404)
    fail(lib.position(c, "nosuchjob"), 404)
    fail(lib.position(other, job), 404)
    fail(lib.position(other, job, other.query), 404)
    eq(ok(lib.position(c, job, c.query)), {"position": 0}, "own job")
    fail(call("GET", "/queue/%s/%s/position" % (c.id, "j" * 129), c.admin), 400)
    fail(call("GET", "/queue/%s/length" % c.id, c.query), 403)
    lib.drain()


def t_concurrent_run_creation(env):
    """8 threads start 5 runs each in one course at once: the 40 jobs get
    the distinct positions 0..39, and claims follow that order."""
    lib.drain()
    c = lib.new_course("conc")
    asg = lib.unique("a")
    lib.put_config(c, asg, lib.config(student=True))

    def starter(t):
        def f():
            return [lib.start_run(c, asg, [{"T": str(t), "K": str(k)}]) for k in range(5)]
        return f
    runs = [r for rs in lib.parallel([starter(t) for t in range(8)],
                                     warm=[(lambda: lib.queue_length(c))] * 8)
            for r in rs]
    eq(len(set(runs)), 40, "distinct runs")
    jobs = [list(lib.run_status(c, r)["student_jobs"])[0] for r in runs]
    pos = {j: ok(lib.position(c, j))["position"] for j in jobs}
    eq(sorted(pos.values()), list(range(40)), "positions")
    w = FakeWorker(slots=64)
    w.register()
    order = []
    while len(order) < 40:
        j = w.claim_job()
        assert j is not None, "queue ran dry after %d" % len(order)
        if j.id in pos:
            order.append(j)
        else:
            w.finish(j, True)
    eq([pos[j.id] for j in order], list(range(40)), "claims in position order")
    for j in order:
        w.finish(j, True)


def tests(env):
    return [
        ("round_robin_three_courses", t_round_robin),
        ("round_robin_new_course_served_next", t_round_robin_fresh_course_joins),
        ("positions_shift_as_jobs_are_claimed", t_positions),
        ("position_errors", t_position_errors),
        ("concurrent_run_creation_positions", t_concurrent_run_creation),
    ]
