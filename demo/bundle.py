"""What `make demo` uploads (Python 3 standard library only): the
assignment bundle in the grading config, the reference solution in the
pre-processing env, each student's files in their own env, all as
base64 tar.gz values (the API's limit is 64 KiB a value); and the
ROSTER that says how each submission must end.  demo/watch.py sends
them; tests/integration/test_demo.py checks them."""

import base64
import gzip
import io
import json
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ASSIGNMENT_DIR = os.path.join(HERE, "assignment")
SUBMISSIONS_DIR = os.path.join(HERE, "submissions")
ENV_VALUE_MAX = 64 * 1024          # the API's limit on one env value
SOURCE_MAX = 32 * 1024             # a student's files, before packing


def tgz(root, names):
    """A tar.gz of root's files `names` (relative paths), the same bytes
    every time: sorted, owner 0, mtime 0, a gzip header without a date.
    The suite digest the jobs print depends on it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        dirs = set()
        for name in sorted(names):
            parts = name.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    t.addfile(ti)
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return out.getvalue()


def b64(data, what):
    v = base64.b64encode(data).decode()
    if len(v) > ENV_VALUE_MAX:
        raise ValueError("%s is %d bytes in base64, over the API's %d-byte"
                         " limit on an env value" % (what, len(v), ENV_VALUE_MAX))
    return v


def files_under(root, sub):
    out = []
    for dp, dns, fns in os.walk(os.path.join(root, sub)):
        dns.sort()
        for fn in sorted(fns):
            out.append(os.path.relpath(os.path.join(dp, fn), root))
    return out


def load_roster(path=None):
    """[{student, expect, score, note}] from demo/submissions/ROSTER."""
    path = path or os.path.join(SUBMISSIONS_DIR, "ROSTER")
    roster = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4 or not cols[2].isdigit():
                raise ValueError("%s:%d: want 4 tab-separated columns"
                                 " (student, expect, score, note)" % (path, n))
            roster.append({"student": cols[0], "expect": cols[1],
                           "score": int(cols[2]), "note": cols[3]})
    return roster


def submission_b64(student):
    d = os.path.join(SUBMISSIONS_DIR, student)
    names = sorted(n for n in os.listdir(d)
                   if os.path.isfile(os.path.join(d, n)))
    size = sum(os.path.getsize(os.path.join(d, n)) for n in names)
    if size > SOURCE_MAX:
        raise ValueError("%s: %d bytes of files, over %d" % (d, size, SOURCE_MAX))
    return b64(tgz(d, names), "the submission of " + student)


def max_points():
    total = 0
    with open(os.path.join(ASSIGNMENT_DIR, "tests", "POINTS")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                total += int(line.split()[1])
    return total


def make_config(image):
    """The grading config, with the bundle and the image filled in."""
    bundle = tgz(ASSIGNMENT_DIR, files_under(ASSIGNMENT_DIR, "grader") +
                 files_under(ASSIGNMENT_DIR, "tests"))
    with open(os.path.join(ASSIGNMENT_DIR, "config.json")) as f:
        config = json.load(f)
    subst = {"@IMAGE@": image,
             "@ASSIGNMENT_TGZ_B64@": b64(bundle, "the assignment bundle")}

    def fill(v):
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return subst.get(v, v) if isinstance(v, str) else v
    return fill(config)


def make_run(roster):
    """The grading_run body: each student's files in their own env."""
    ref = os.path.join(ASSIGNMENT_DIR, "reference")
    return {
        "pre_processing_env": {
            "REFERENCE_TGZ_B64": b64(tgz(ref, sorted(os.listdir(ref))),
                                     "the reference solution")},
        "students_env": [{"STUDENT_ID": r["student"],
                          "SUBMISSION_TGZ_B64": submission_b64(r["student"])}
                         for r in roster],
        "post_processing_env": {
            "ROSTER": " ".join(r["student"] for r in roster)},
    }
