#!/usr/bin/python3
"""The course's side of `make demo` (Python 3 standard library only).

    demo/watch.py --stack-env DIR/stack.env --image IMAGE [--out DIR]
                  [--course demo] [--assignment rpn] [--timeout 600]
    demo/watch.py --print-config IMAGE      the config it would upload

1. Packs the assignment (demo/assignment/grader and tests) into the
   config's global env, the reference solution into the pre-processing
   env and every student's files (demo/submissions/NAME/) into that
   student's env, as base64 tar.gz values (the API's limit is 64 KiB a
   value; demo/bundle.py), and uploads the grading config.
2. Starts a run over demo/submissions/ROSTER.
3. Follows every job on its own SSE stream (the course's query token)
   and shows each state change and queue position, with a progress
   line; saves each finished job's log (GET grading_job_log, the admin
   token) under --out.
4. Prints the scoreboard, built from the BROADWAY-SCORE line each
   student job prints (the post-processing job has no network, so it
   cannot read them itself: it publishes the roster the scores are
   checked against), and checks every outcome against the ROSTER.

Exit status 0 if the run finished and every outcome is the expected one.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pylib"))
from broadway_client import Client, EventStream, StackEnv  # noqa: E402
# demo/ is on sys.path already: it holds this script.
from bundle import load_roster, make_config, make_run, max_points  # noqa: E402

TERMINAL = ("SUCCEEDED", "FAILED")


# ---------------------------------------------------------------- HTTP

class Api:
    """The API calls of the demo: broadway_client.Client, with a request
    that fails on the network tried three times (the demo runs on a busy
    machine; a test would rather see the failure)."""

    def __init__(self, env):
        self.endpoint = env.api
        self.client = Client(env.api)

    def call(self, method, path, token, body=None, timeout=30):
        """(status, data of the envelope or None)."""
        for attempt in range(3):
            try:
                r = self.client.request(method, path, token, body=body,
                                        timeout=timeout)
                break
            except (OSError, http.client.HTTPException):
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return r.status, r.json.get("data") if isinstance(r.json, dict) \
            else None


def follow(api, course, job_id, token, on_event, stop):
    """Read the job's SSE stream until its state is final, reconnecting
    (with Last-Event-ID) if the connection drops.  on_event(type, data)."""
    last_id = None
    while not stop.is_set():
        final = False
        s = None
        try:
            s = EventStream(api.endpoint, f"/stream/{course}/{job_id}", token,
                            last_event_id=last_id, timeout=90)
            if s.status == 404:
                return
            if s.status != 200:
                s.body()
                raise OSError(f"stream answered {s.status}")
            while not stop.is_set() and (sse := s.next()) is not None:
                if sse.id is not None:
                    last_id = sse.id
                ev = sse.json()
                on_event(ev.get("type"), ev.get("data"))
                if ev.get("type") == "state" and \
                        ev.get("data") in ("FINISHED", "SUCCEEDED", "FAILED"):
                    final = True
        except (OSError, ValueError, http.client.HTTPException):
            # The stream broke (the SSE process restarted, a timeout, a
            # cut-off event: SseError is a ValueError).  Expected: go on
            # from the last event seen, after a pause; the run's status
            # poll in Watch.run covers what a stream misses meanwhile.
            pass
        finally:
            if s is not None:
                s.close()
        if final:
            return
        stop.wait(0.5)


# ---------------------------------------------------------------- the run

class Job:
    def __init__(self, jid, kind, label):
        self.id = jid
        self.kind = kind                # pre, student, post
        self.label = label
        self.state = "QUEUED"
        self.position = None
        self.started = None
        self.ended = None
        self.stdout = None
        self.stderr = None
        self.outcome = None             # parsed from the log
        self.fetching = False


class Watch:
    def __init__(self, api, args, env, roster):
        self.api = api
        self.args = args
        self.course = args.course
        self.admin = env["BROADWAY_DEMO_ADMIN_TOKEN"]
        self.query = env["BROADWAY_DEMO_QUERY_TOKEN"]
        self.roster = roster
        self.jobs = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = time.time()
        self.run_state = "READY"
        self.tty = sys.stdout.isatty()
        self.last_progress = ""
        self.last_key = None
        self.last_print = time.time()   # the first line once jobs moved
        self.threads = []
        self.logdir = None
        self.names = {}                 # student job id -> student

    # ---- output

    def out(self, text):
        """An event line, above the progress line on a terminal."""
        with self.lock:
            if self.tty:
                sys.stdout.write("\r\033[K")
            sys.stdout.write(text + "\n")
            if self.tty and self.last_progress:
                sys.stdout.write(self.last_progress)
            sys.stdout.flush()

    def stamp(self):
        return "%6.1fs" % (time.time() - self.t0)

    def progress(self):
        with self.lock:
            jobs = list(self.jobs.values())
        st = [j for j in jobs if j.kind == "student"]
        done = [j for j in st if j.state in TERMINAL]
        ok = sum(1 for j in done if j.state == "SUCCEEDED")
        running = [j.label for j in jobs if j.state == "STARTED"]
        queued = sorted((j for j in jobs if j.state == "QUEUED"),
                        key=lambda j: (j.position is None, j.position or 0))
        q = " ".join("%s#%s" % (j.label, j.position if j.position is not None
                                else "?") for j in queued[:6])
        if len(queued) > 6:
            q += " +%d" % (len(queued) - 6)
        n = len(self.roster)
        width = 20
        fill = width * len(done) // n if n else 0
        text = "[%s] %s %d/%d students done (%d passed, %d failed) | %s | running: %s | queue: %s" % (
            "#" * fill + "." * (width - fill), self.run_state, len(done), n,
            ok, len(done) - ok, self.stamp().strip(),
            " ".join(running) or "-", q or "-")
        if self.tty:
            cols = os.get_terminal_size(sys.stdout.fileno()).columns
            text = text[:max(cols - 1, 20)]
            with self.lock:
                self.last_progress = text
                sys.stdout.write("\r\033[K" + text)
                sys.stdout.flush()
            return
        # Not a terminal: the line when the counts change, at most every
        # 2 s, and every 10 s anyway.
        key = (self.run_state, len(done), tuple(running))
        now = time.time()
        if (key != self.last_key and now - self.last_print >= 2) or \
                now - self.last_print >= 10:
            self.last_key = key
            self.last_print = now
            self.out("  progress " + text)

    def clear_progress(self):
        with self.lock:
            self.last_progress = ""
            if self.tty:
                sys.stdout.write("\r\033[K")
                sys.stdout.flush()

    # ---- events

    def on_event(self, job, typ, data):
        with self.lock:
            old_state, old_pos = job.state, job.position
            if typ == "position":
                if job.state in TERMINAL:
                    return
                job.position = data
                # A position after STARTED: the job was requeued (its
                # worker died); the stream tells QUEUED as a position.
                job.state = "QUEUED"
            elif typ == "state":
                word = "SUCCEEDED" if data == "FINISHED" else data
                if job.state in TERMINAL:
                    return
                job.state = word
                job.position = None
                if word == "STARTED":
                    job.started = time.time()
                elif word in TERMINAL:
                    job.ended = time.time()
        if typ == "position" and old_state == "STARTED":
            self.out("%s  %-8s QUEUED     position %s (requeued)" % (
                self.stamp(), job.label, data))
        elif typ == "position" and old_pos is None:
            self.out("%s  %-8s QUEUED     position %s" % (
                self.stamp(), job.label, data))
        elif typ == "state" and job.state != old_state:
            if job.state in TERMINAL:
                self.finish(job)
            else:
                self.out("%s  %-8s %s" % (self.stamp(), job.label, job.state))

    def finish(self, job):
        """Fetch and save the log of a finished job, and say how it ended."""
        with self.lock:
            if job.fetching:
                return
            job.fetching = True
        for _ in range(40):
            st, data = self.api.call("GET", "/grading_job_log/%s/%s" % (
                self.course, job.id), self.admin)
            if st == 200 and data is not None:
                break
            time.sleep(0.25)            # 409: the result is not stored yet
        else:
            data = {"stdout": "", "stderr": "(the log could not be fetched)"}
        job.stdout = data.get("stdout") or ""
        job.stderr = data.get("stderr") or ""
        base = os.path.join(self.logdir, job.label.strip("()"))
        for ext, text in (("stdout", job.stdout), ("stderr", job.stderr)):
            with open("%s.%s" % (base, ext), "w") as f:
                f.write(text)
        job.outcome = outcome(job)
        took = ""
        if job.started and job.ended:
            took = " after %.1fs" % (job.ended - job.started)
        o = job.outcome
        score = "%d/%d" % (o["score"], o["max"]) if job.kind == "student" else ""
        self.out("%s  %-8s %-10s %-8s %s%s" % (self.stamp(), job.label, job.state,
                                            score, o["reason"], took))

    def add_job(self, jid, kind, label):
        with self.lock:
            if jid in self.jobs:
                return
            job = self.jobs[jid] = Job(jid, kind, label)
        t = threading.Thread(target=follow, daemon=True, args=(
            self.api, self.course, jid, self.query,
            lambda typ, data: self.on_event(job, typ, data), self.stop))
        t.start()
        self.threads.append(t)

    def student_names(self, run_id):
        st, data = self.api.call("GET", "/grading_run_env/%s/%s" % (
            self.course, run_id), self.admin)
        if st != 200:
            return
        for jid, env in (data.get("student_jobs") or {}).items():
            v = env.get("STUDENT_ID") or []
            if v:
                self.names[jid] = v[0]

    # ---- main loop

    def run(self, run_id, deadline):
        self.logdir = os.path.join(self.args.out, run_id)
        os.makedirs(self.logdir, exist_ok=True)
        latest = os.path.join(self.args.out, "latest")
        try:
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(run_id, latest)
        except OSError as e:
            # Only a convenience: the logs are in logdir all the same.
            print(f"watch.py: no link {latest}: {e}", file=sys.stderr)
        while time.time() < deadline:
            st, s = self.api.call("GET", "/grading_run_status/%s/%s" % (
                self.course, run_id), self.query)
            if st != 200:
                raise RuntimeError("grading_run_status answered %d: %r" % (st, s))
            if s["state"] != self.run_state:
                self.run_state = s["state"]
                if self.run_state not in ("FINISHED", "FAILED"):
                    self.out("%s  run      %s" % (self.stamp(), self.run_state))
            for jid in (s.get("pre_processing_job") or {}):
                self.add_job(jid, "pre", "(pre)")
            students = s.get("student_jobs") or {}
            if any(j not in self.names for j in students):
                self.student_names(run_id)
            for jid in students:
                self.add_job(jid, "student", self.names.get(jid, jid[:8]))
            for jid in (s.get("post_processing_job") or {}):
                self.add_job(jid, "post", "(post)")
            # The status is the fallback if a stream missed an event.
            every = dict(s.get("student_jobs") or {})
            every.update(s.get("pre_processing_job") or {})
            every.update(s.get("post_processing_job") or {})
            for jid, state in every.items():
                job = self.jobs.get(jid)
                if job and state in TERMINAL and job.outcome is None and \
                        job.ended and time.time() - job.ended > 5:
                    self.finish(job)
                elif job and state in TERMINAL and job.state not in TERMINAL:
                    self.on_event(job, "state", state)
            self.progress()
            with self.lock:
                pending = [j for j in self.jobs.values() if j.outcome is None]
            if self.run_state in ("FINISHED", "FAILED") and not pending:
                break
            time.sleep(0.25)
        else:
            raise RuntimeError("the run did not finish within %d s" %
                               self.args.timeout)
        self.stop.set()
        self.clear_progress()
        self.out("%s  run      %s" % (self.stamp(), self.run_state))


# ---------------------------------------------------------------- scores

def machine_lines(text, tag, job_id):
    """The BROADWAY-<tag> objects a job printed (its own id only)."""
    out = []
    for line in (text or "").split("\n"):
        if line.startswith("BROADWAY-%s " % tag):
            try:
                o = json.loads(line.split(" ", 1)[1])
            except ValueError:
                continue        # a student's program printed the tag
            if isinstance(o, dict) and o.get("job") == job_id:
                out.append(o)
    return out


def worker_reason(stderr):
    """The worker's own note on a stage it killed, if any."""
    for line in (stderr or "").split("\n"):
        if line.startswith("[broadway-worker] "):
            return line[len("[broadway-worker] "):]
    return None


def outcome(job):
    """{score, max, reason, suite} of a finished job, from its log."""
    o = {"score": 0, "max": max_points(), "reason": "", "suite": None}
    if job.kind == "student":
        scores = machine_lines(job.stdout, "SCORE", job.id)
        if scores:
            s = scores[-1]
            o.update(score=s["score"], max=s["max"], reason=s["reason"],
                     suite=s.get("suite"))
        else:
            # Killed before the grader could say: what it did score,
            # and the worker's reason.
            o["score"] = sum(r.get("points", 0) for r in
                             machine_lines(job.stdout, "RESULT", job.id))
            o["reason"] = "stage " + (worker_reason(job.stderr) or
                                      "failed without a score line")
        w = worker_reason(job.stderr)
        if w and scores and job.state == "FAILED" and "out of memory" in w \
                and "out of memory" not in o["reason"]:
            o["reason"] += "; " + w
    elif job.kind == "pre":
        suite = machine_lines(job.stdout, "SUITE", job.id)
        if suite:
            s = suite[-1]
            o["suite"] = s["suite"]
            if s.get("problems"):
                o["reason"] = "suite %s is broken: %s" % (
                    s["suite"], "; ".join(s["problems"]))
            else:
                o["reason"] = "suite %s checked: %d tests, %d points" % (
                    s["suite"], s["tests"], s["max"])
        else:
            o["reason"] = worker_reason(job.stderr) or "the suite check failed"
    else:
        roster = machine_lines(job.stdout, "ROSTER", job.id)
        if roster:
            o["roster"] = roster[-1]
            o["suite"] = roster[-1]["suite"]
            o["reason"] = "roster of %d students published" % len(
                roster[-1]["students"])
        else:
            o["reason"] = worker_reason(job.stderr) or "no roster"
    return o


def scoreboard(w, run_id, env, roster):
    """Print the table, save it as CSV; the number of surprises."""
    by_name = {}
    post = pre = None
    for j in w.jobs.values():
        if j.kind == "student":
            by_name.setdefault(j.label, []).append(j)
        elif j.kind == "post":
            post = j
        else:
            pre = j
    names = [r["student"] for r in roster]
    surprises = []
    if post and post.outcome and "roster" in post.outcome:
        published = post.outcome["roster"]["students"]
        if published != names:
            surprises.append("the post job's roster %r is not the class" % published)
    suites = {j.outcome["suite"] for js in by_name.values() for j in js
              if j.outcome and j.outcome["suite"]}
    if pre and pre.outcome and pre.outcome["suite"]:
        suites.add(pre.outcome["suite"])
    if len(suites) > 1:
        surprises.append("jobs were graded with different suites: %s" %
                         ", ".join(sorted(suites)))
    rows = []
    print()
    if not by_name and pre is not None and pre.state == "FAILED":
        print("Nobody was graded: the pre-processing job failed (%s)." % (
            pre.outcome["reason"] if pre.outcome else "?"))
        print("Its log: %s/pre.stdout and pre.stderr" % w.logdir)
        return ["the pre-processing job failed"]
    print("Scoreboard  (course %s, assignment %s, run %s)" % (
        w.course, w.args.assignment, run_id))
    print()
    hdr = "%-8s %-10s %7s %6s  %-56s %s" % ("student", "state", "score",
                                            "time", "reason", "expected")
    print(hdr)
    print("-" * len(hdr))
    for r in roster:
        js = by_name.get(r["student"], [])
        if len(js) != 1:
            surprises.append("%s has %d jobs" % (r["student"], len(js)))
            print("%-8s %-10s %7s  %s" % (r["student"], "-", "-", "no job"))
            continue
        j = js[0]
        o = j.outcome or {"score": 0, "max": max_points(), "reason": "?"}
        want_ok = r["expect"] == "all tests passed"
        good = (o["reason"].find(r["expect"]) >= 0 and o["score"] == r["score"]
                and (j.state == "SUCCEEDED") == want_ok)
        if not good:
            surprises.append("%s: %s %d/%d %r, expected %r %d" % (
                r["student"], j.state, o["score"], o["max"], o["reason"],
                r["expect"], r["score"]))
        reason = o["reason"]
        if len(reason) > 56:
            reason = reason[:53] + "..."
        took = "%5.1fs" % (j.ended - j.started) if j.started and j.ended \
            else "-"
        print("%-8s %-10s %3d/%-3d %6s  %-56s %s" % (
            r["student"], j.state, o["score"], o["max"], took, reason,
            "yes" if good else "NO (%s, %d)" % (r["expect"], r["score"])))
        rows.append((r["student"], j.id, j.state, o["score"], o["max"],
                     o["reason"]))
    with open(os.path.join(w.logdir, "scoreboard.csv"), "w") as f:
        f.write("student,job,state,score,max,reason\n")
        for row in rows:
            f.write(",".join('"%s"' % str(x).replace('"', '""') for x in row)
                    + "\n")
    print()
    for j in (pre, post):
        if j is not None:
            print("%-8s %-10s %s" % (j.label, j.state,
                                     j.outcome["reason"] if j.outcome else "?"))
    return surprises


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stack-env", help="DIR/stack.env of the stack")
    ap.add_argument("--image", help="the grading image")
    ap.add_argument("--out", help="where job logs are saved (one folder per run)")
    ap.add_argument("--course", default="demo")
    ap.add_argument("--assignment", default="rpn")
    ap.add_argument("--timeout", type=int, default=600,
                    help="seconds to wait for the run")
    ap.add_argument("--print-config", metavar="IMAGE",
                    help="print the grading config and exit")
    args = ap.parse_args()
    if args.print_config:
        json.dump(make_config(args.print_config), sys.stdout, indent=2)
        print()
        return 0
    if not args.stack_env or not args.image:
        ap.error("--stack-env and --image are required")
    env = StackEnv.load(args.stack_env)
    args.out = args.out or os.path.join(env["BROADWAY_STACK_DIR"], "demo", "runs")
    api = Api(env)
    admin = env["BROADWAY_DEMO_ADMIN_TOKEN"]
    roster = load_roster()

    config = make_config(args.image)
    body = make_run(roster)
    path = "/grading_config/%s/%s" % (args.course, args.assignment)
    st, data = api.call("POST", path, admin, config)
    if st != 200:
        print("watch.py: uploading the config: %d %s" % (st, data), file=sys.stderr)
        return 1
    print("uploaded the grading config of %s/%s: pre-processing 1 stage,"
          " students %d stages, post-processing 1 stage; assignment bundle"
          " %.1f KiB in its env" % (
              args.course, args.assignment, len(config["student_pipeline"]),
              len(config["env"]["ASSIGNMENT_TGZ_B64"]) / 1024.0))
    st, data = api.call("POST", "/grading_run/%s/%s" % (
        args.course, args.assignment), admin, body)
    if st != 200:
        print("watch.py: starting the run: %d %s" % (st, data), file=sys.stderr)
        return 1
    run_id = data["grading_run_id"]
    print("started run %s: %d students, their files in their job env"
          " (%.1f KiB in all)" % (run_id, len(roster), sum(
              len(s["SUBMISSION_TGZ_B64"]) for s in body["students_env"]) / 1024.0))
    print("following every job on its own stream: %s/stream/%s/<job>"
          " (query token)" % (env["BROADWAY_URL"], args.course))
    print()

    w = Watch(api, args, env, roster)
    try:
        w.run(run_id, time.time() + args.timeout)
    except KeyboardInterrupt:
        w.stop.set()
        print("\nwatch.py: interrupted; the run %s goes on without us" % run_id)
        return 130
    surprises = scoreboard(w, run_id, env, roster)
    total = time.time() - w.t0
    print()
    print("run %s %s in %.1fs" % (run_id, w.run_state, total))
    print("logs: %s/<student>.stdout and .stderr (scoreboard.csv too)" % w.logdir)
    print("      or from the API: curl --cacert %s -H 'Authorization: Bearer"
          " <admin token>' %s/grading_job_log/%s/<job>" % (
              env["BROADWAY_CA"], env["BROADWAY_URL"], args.course))
    if w.run_state != "FINISHED":
        surprises.append("the run ended %s" % w.run_state)
    if surprises:
        print()
        print("UNEXPECTED:")
        for s in surprises:
            print("  " + s)
        return 1
    print("every outcome is the one demo/submissions/ROSTER expects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
