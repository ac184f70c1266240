#!/usr/bin/python3
"""The README's walkthrough, run verbatim against a fresh stack.

    tests/readme/walkthrough.py [README]

The README marks what a newcomer types with a line `<!-- walkthrough -->`
right before a ```sh block, and what comes back with
`<!-- walkthrough-output -->` right before the block after it.  This
script:

1. checks that no link in the README leaves the repository;
2. starts a stack in a temporary directory T as `make up` does
   (BROADWAY_WORKER=1 scripts/stack.sh up T/var) with T/build pointing at
   the build directory, so `var/...` and `build/...` in the README mean
   what they mean in a checkout;
3. runs every walkthrough block, in order, in one bash in T (the blocks
   share their variables as they would in one terminal);
4. compares what each block printed with the output shown after it, with
   ids, numbers and job/run states wildcarded (records are JSON values or
   blank-line separated text; the shown ones must appear in that order);
5. asks the API itself that the run the walkthrough started ($RUN) is
   FINISHED with every job SUCCEEDED and that job $JOB's log is readable;
6. stops the stack (always).

Prints `ok NAME` / `FAIL NAME: why` and ends with `N passed, N failed`.
Environment: BUILD (default build), BROADWAY_KEEP=1 keeps T,
WALKTHROUGH_SHOW=1 prints what every block printed (to update the README).
"""

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MARK_CMD = "<!-- walkthrough -->"
MARK_OUT = "<!-- walkthrough-output -->"
SEP = "@@walkthrough-block@@"
STATES = ("QUEUED", "STARTED", "FAILED", "SUCCEEDED", "FINISHED", "READY",
          "PRE_PROCESSING_STAGE", "STUDENTS_STAGE", "POST_PROCESSING_STAGE")
ID_RE = re.compile(r"\b[0-9a-f]{16,64}\b")
STATE_RE = re.compile(r"\b(%s)\b" % "|".join(sorted(STATES, key=len,
                                                     reverse=True)))
NUM_RE = re.compile(r"\b\d+\b")
RUN_TIMEOUT = 300       # seconds for the whole walkthrough


# ---------------------------------------------------------------- README

def fenced_after(lines, i):
    """(body, index after the block) of the fence starting at or after i."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not lines[i].startswith("```"):
        raise ValueError("line %d: a marker must be followed by a fenced block"
                         % (i + 1))
    body = []
    i += 1
    while i < len(lines) and not lines[i].startswith("```"):
        body.append(lines[i])
        i += 1
    if i >= len(lines):
        raise ValueError("unterminated fenced block")
    return "\n".join(body) + "\n", i + 1


def blocks(text):
    """[(command, shown output or None)] in README order."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s == MARK_CMD:
            cmd, i = fenced_after(lines, i + 1)
            out.append([cmd, None])
        elif s == MARK_OUT:
            if not out or out[-1][1] is not None:
                raise ValueError("line %d: output marker without a command "
                                 "block before it" % (i + 1))
            out[-1][1], i = fenced_after(lines, i + 1)
        else:
            i += 1
    return out


def bad_links(text):
    """Links that leave the repository or point at nothing in it."""
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        path = target.split("#", 1)[0]
        if re.match(r"^[a-z]+:", target) or path.startswith("/"):
            bad.append(target)
        elif path and not os.path.realpath(os.path.join(ROOT, path)) \
                .startswith(ROOT + os.sep):
            bad.append(target)
        elif path and not os.path.exists(os.path.join(ROOT, path)):
            bad.append(target + " (missing)")
    # Plain mentions of files outside the tree, as `../x` or shared/.
    bad += re.findall(r"`\.\./[^`]*`", text)
    return bad


# ---------------------------------------------------------------- shapes

def norm_str(s):
    s = ID_RE.sub("<id>", s)
    s = STATE_RE.sub("<state>", s)
    s = NUM_RE.sub("<n>", s)
    return " ".join(s.split())


def shape(v):
    """A JSON value with what changes from run to run wildcarded (ids,
    states, numbers, booleans, the machine's hostname); an object keyed
    by ids (job -> state) keeps one entry per distinct value shape, so
    the count of jobs may differ."""
    if isinstance(v, dict):
        items = {norm_str(k): "<host>" if k == "hostname" else shape(x)
                 for k, x in v.items()}
        if v and all(norm_str(k) == "<id>" for k in v):
            vals = sorted({json.dumps(shape(x), sort_keys=True)
                           for x in v.values()})
            return {"<id>": vals}
        return items
    if isinstance(v, list):
        return [shape(x) for x in v]
    if isinstance(v, bool):
        return "<bool>"
    if isinstance(v, (int, float)):
        return "<n>"
    if isinstance(v, str):
        return norm_str(v)
    return v


def records(text):
    """JSON values if the text is only JSON, else blank-line separated
    chunks in which a `data: {...}` line (SSE) or a line that is JSON is
    compared by shape."""
    dec = json.JSONDecoder()
    vals = []
    i = 0
    t = text.strip()
    try:
        while i < len(t):
            v, i = dec.raw_decode(t, i)
            vals.append(json.dumps(shape(v), sort_keys=True))
            while i < len(t) and t[i].isspace():
                i += 1
        if vals:
            return vals
    except ValueError:
        pass
    out = []
    for chunk in re.split(r"\n\s*\n", t):
        lines = []
        for ln in chunk.split("\n"):
            pre = "data: " if ln.startswith("data: ") else ""
            try:
                ln = pre + json.dumps(shape(json.loads(ln[len(pre):])),
                                      sort_keys=True)
            except ValueError:
                ln = norm_str(ln)
            lines.append(ln)
        out.append("\n".join(lines))
    return [r for r in out if r]


def matches(shown, got):
    """'' if the shown records appear in got, in order; else why not."""
    want = records(shown)
    have = records(got)
    j = 0
    for r in have:
        if j < len(want) and r == want[j]:
            j += 1
    if j == len(want):
        return ""
    return "shown record %d not printed:\n  %s\nprinted:\n  %s" % (
        j + 1, want[j], "\n  ".join(have) or "(nothing)")


# ---------------------------------------------------------------- stack

def read_env(path):
    env = {}
    with open(path) as f:
        for ln in f:
            k, sep, v = ln.strip().partition("=")
            if sep and not k.startswith("#") and " " not in k:
                env[k] = v
    return env


def api_get(env, path):
    u = urllib.parse.urlsplit(env["BROADWAY_URL"])
    ctx = ssl.create_default_context(cafile=env["BROADWAY_CA"])
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                    timeout=30)
    try:
        c.request("GET", u.path + path, headers={
            "Authorization": "Bearer " + env["BROADWAY_DEMO_ADMIN_TOKEN"]})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, why):
        if why:
            self.failed += 1
            print("FAIL %s: %s" % (name, why))
        else:
            self.passed += 1
            print("ok %s" % name)
        sys.stdout.flush()


def run_blocks(tmp, cmds):
    """Run the blocks in one bash; [stdout of each block], exit status."""
    script = ["set -eu -o pipefail"]
    for i, c in enumerate(cmds):
        script.append("printf '\\n%s %d\\n'" % (SEP, i))
        script.append(c)
    script.append("printf '\\n%s ids\\n%%s %%s\\n' \"$RUN\" \"$JOB\"" % SEP)
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=RUN_TIMEOUT,
                       env=dict(os.environ, HOME=tmp))
    parts = p.stdout.split("\n" + SEP + " ")
    got = {}
    for part in parts[1:]:
        tag, _, body = part.partition("\n")
        got[tag] = body
    return got, p.returncode, p.stdout


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT,
                                                                "README.md")
    rep = Report()
    with open(readme) as f:
        text = f.read()
    links = bad_links(text)
    rep.check("readme.links", "links leaving the repository: %s" % links
              if links else "")
    try:
        wb = blocks(text)
    except ValueError as e:
        rep.check("readme.blocks", str(e))
        wb = []
    rep.check("readme.blocks", "" if len(wb) >= 4 else
              "only %d walkthrough blocks" % len(wb))
    if not wb:
        print("%d passed, %d failed" % (rep.passed, rep.failed))
        return 1

    build = os.environ.get("BUILD", "build")
    build = build if os.path.isabs(build) else os.path.join(ROOT, build)
    tmp = tempfile.mkdtemp(prefix="broadway-readme.")
    os.symlink(build, os.path.join(tmp, "build"))
    stack = os.path.join(ROOT, "scripts", "stack.sh")
    senv = dict(os.environ, BUILD=build, BROADWAY_WORKER="1")
    ok_all = False
    try:
        p = subprocess.run([stack, "up", os.path.join(tmp, "var")], env=senv,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=600)
        rep.check("readme.stack_up", "" if p.returncode == 0 else
                  "stack.sh up: exit %d\n%s" % (p.returncode, p.stdout[-3000:]))
        if p.returncode != 0:
            return 1
        env = read_env(os.path.join(tmp, "var", "stack.env"))
        got, rc, whole = run_blocks(tmp, [c for c, _ in wb])
        rep.check("readme.runs", "" if rc == 0 and "ids" in got else
                  "the walkthrough exited %d; its output:\n%s" % (rc,
                                                              whole[-4000:]))
        for i, (_, shown) in enumerate(wb):
            if os.environ.get("WALKTHROUGH_SHOW") == "1":
                print("---- block %d printed:\n%s----" % (i + 1,
                                                        got.get(str(i), "")))
            if shown is None:
                continue
            why = matches(shown, got.get(str(i), ""))
            rep.check("readme.output_%d" % (i + 1), why)
        ids = got.get("ids", "").split()
        if len(ids) == 2:
            run, job = ids
            st, body = api_get(env, "/grading_run_status/demo/" + run)
            data = (body or {}).get("data") or {}
            jobs = {}
            for k in ("pre_processing_job", "post_processing_job",
                      "student_jobs"):
                jobs.update(data.get(k) or {})
            rep.check("readme.run_succeeded", "" if st == 200 and
                      data.get("state") == "FINISHED" and
                      len(data.get("student_jobs") or {}) == 3 and
                      set(jobs.values()) == {"SUCCEEDED"} else
                      "run %s: %d %s" % (run, st, body))
            st, body = api_get(env, "/grading_job_log/demo/" + job)
            log = ((body or {}).get("data") or {}).get("stdout")
            rep.check("readme.log_readable", "" if st == 200 and log else
                      "log of %s: %d %s" % (job, st, body))
        ok_all = rep.failed == 0
    finally:
        subprocess.run([stack, "down", os.path.join(tmp, "var")], env=senv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=300)
        if ok_all and os.environ.get("BROADWAY_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("walkthrough directory kept: %s" % tmp)
        print("%d passed, %d failed" % (rep.passed, rep.failed))
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
