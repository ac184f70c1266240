"""grading_config: round trips, replacement, validation (nothing stored on
a bad upload), course privacy, ids and methods."""

import json
import time

import lib
from lib import call, eq, fail, ok


def cpath(course, assignment):
    return "/grading_config/%s/%s" % (course.id, assignment)


def get_cfg(course, assignment):
    return call("GET", cpath(course, assignment), course.admin)


VALID = [
    # every stage option
    {"student_pipeline": [{
        "image": "localhost/bb:1", "env": {"A": "1", "B": "two words"},
        "entrypoint": ["/bin/sh", "-c", "echo hi"], "networking": True,
        "privileged": False, "hostname": "grader-1", "timeout": 2.5,
        "memory": "512m", "cpuset_cpus": "0", "logs": False}]},
    # a student pipeline alone
    {"student_pipeline": [{"image": "localhost/bb:1"}]},
    # global env, pre and post, several stages
    {"env": {"GLOBAL": "g", "UNICODE": "h\u00e9llo \u2603"},
     "pre_processing_pipeline": [{"image": "localhost/bb:1", "env": {"P": "p"}}],
     "student_pipeline": [{"image": "localhost/bb:1", "timeout": 10},
                          {"image": "docker.io/library/busybox:latest",
                           "memory": "2g"}],
     "post_processing_pipeline": [{"image": "localhost/bb:1", "logs": True}]},
    # explicit nulls mean "no such pipeline" and are stored as uploaded
    {"student_pipeline": [{"image": "localhost/bb:1"}],
     "pre_processing_pipeline": None, "post_processing_pipeline": None,
     "env": None},
    # empty env objects
    {"student_pipeline": [{"image": "localhost/bb:1", "env": {}}], "env": {}},
]


def nothing_changed(c, kept, fresh, problems):
    """After refused uploads to kept (holding VALID[2]) and fresh: kept
    unchanged, nothing stored for fresh, and no problem at all."""
    r = get_cfg(c, kept)
    if r[0] != 200 or r[2].get("data") != VALID[2]:
        problems.append("existing config changed: %r" % (r,))
    r = get_cfg(c, fresh)
    if r[0] != 404:
        problems.append("something was stored for the fresh assignment: %r" % (r,))
    assert not problems, "%d problem(s):\n  " % len(problems) + "\n  ".join(problems)


def t_get_before_upload(env):
    c = lib.new_course()
    fail(get_cfg(c, "never-uploaded"), 404)


def t_valid_roundtrip(env):
    c = lib.new_course()
    for i, cfg in enumerate(VALID):
        a = "valid-%d" % i
        r = call("POST", cpath(c, a), c.admin, body=cfg)
        d = ok(r)
        eq(d, None, "POST data for config %d" % i)
        eq(ok(get_cfg(c, a)), cfg, "GET of config %d" % i)


def t_replacement(env):
    c = lib.new_course()
    a = lib.unique("a")
    ok(call("POST", cpath(c, a), c.admin, body=VALID[2]))
    eq(ok(get_cfg(c, a)), VALID[2], "first upload")
    ok(call("POST", cpath(c, a), c.admin, body=VALID[1]))
    # the whole config is replaced: no pre/post/env left over
    eq(ok(get_cfg(c, a)), VALID[1], "after replacement")


def t_raw_bytes_and_whitespace(env):
    """A body with odd whitespace and escapes is accepted; GET returns the
    same JSON value."""
    c = lib.new_course()
    a = lib.unique("a")
    raw = ' \n{ "student_pipeline" :\t[ {"image":"localhost/bb:1",' \
          '"env":{"Q":"a\\"b\\\\c\\u00e9\\n"}} ] }\n '
    ok(call("POST", cpath(c, a), c.admin, raw=raw))
    eq(ok(get_cfg(c, a)), json.loads(raw), "GET")


BASE_STAGE = {"image": "localhost/bb:1"}


def bad(**top):
    cfg = {"student_pipeline": [dict(BASE_STAGE)]}
    cfg.update(top)
    return cfg


def bad_stage(**kw):
    s = dict(BASE_STAGE)
    s.update(kw)
    return {"student_pipeline": [s]}


# (label, raw body or JSON value, substrings the message must contain)
INVALID = [
    ("malformed JSON", '{"student_pipeline": [', None),
    ("trailing garbage", '{"student_pipeline": [{"image": "x"}]} x', None),
    ("empty body", '', None),
    ("not an object: array", '[]', None),
    ("not an object: string", '"config"', None),
    ("not an object: null", 'null', None),
    ("duplicate top-level key",
     '{"student_pipeline": [{"image": "a"}], "student_pipeline": [{"image": "b"}]}',
     "duplicate"),
    ("duplicate stage key",
     '{"student_pipeline": [{"image": "a", "image": "b"}]}', "duplicate"),
    ("invalid UTF-8", b'{"student_pipeline": [{"image": "a\xff"}]}', None),
    ("{}", {}, "student_pipeline"),
    ("student_pipeline missing", {"env": {"A": "1"}}, "student_pipeline"),
    ("student_pipeline null", {"student_pipeline": None}, "student_pipeline"),
    ("student_pipeline empty", {"student_pipeline": []}, "student_pipeline"),
    ("student_pipeline string", {"student_pipeline": "x"}, "student_pipeline"),
    ("null stage", {"student_pipeline": [None]}, "student_pipeline"),
    ("stage is a string", {"student_pipeline": ["localhost/bb:1"]}, None),
    ("stage without image", {"student_pipeline": [{"env": {}}]}, "image"),
    ("image not a string", bad_stage(image=5), "image"),
    ("image empty", bad_stage(image=""), "image"),
    ("unknown top-level key", bad(bogus_top_key=1), "bogus_top_key"),
    ("unknown stage key", bad_stage(bogus_stage_key=True), "bogus_stage_key"),
    ("unknown key in a pre stage",
     bad(pre_processing_pipeline=[{"image": "a", "pre_bogus_key": 1}]),
     "pre_bogus_key"),
    ("unknown key in a post stage",
     bad(post_processing_pipeline=[{"image": "a", "post_bogus_key": 1}]),
     "post_bogus_key"),
    ("pre stage without image", bad(pre_processing_pipeline=[{}]), "image"),
    ("post stage without image", bad(post_processing_pipeline=[{"env": {}}]),
     "image"),
    ("empty pre pipeline", bad(pre_processing_pipeline=[]),
     "pre_processing_pipeline"),
    ("empty post pipeline", bad(post_processing_pipeline=[]),
     "post_processing_pipeline"),
    ("null pre stage", bad(pre_processing_pipeline=[None]),
     "pre_processing_pipeline"),
    ("pre pipeline object", bad(pre_processing_pipeline={"image": "a"}),
     "pre_processing_pipeline"),
    ("privileged string", bad_stage(privileged="true"), "privileged"),
    ("networking number", bad_stage(networking=1), "networking"),
    ("logs string", bad_stage(logs="no"), "logs"),
    ("timeout string", bad_stage(timeout="30"), "timeout"),
    ("timeout negative", bad_stage(timeout=-1), "timeout"),
    ("timeout zero", bad_stage(timeout=0), "timeout"),
    ("memory number", bad_stage(memory=512), "memory"),
    ("memory garbage", bad_stage(memory="lots"), "memory"),
    ("entrypoint string", bad_stage(entrypoint="/bin/sh"), "entrypoint"),
    ("entrypoint with a number", bad_stage(entrypoint=["/bin/sh", 1]),
     "entrypoint"),
    ("hostname number", bad_stage(hostname=3), "hostname"),
    ("cpuset_cpus number", bad_stage(cpuset_cpus=0), "cpuset_cpus"),
    ("stage env array", bad_stage(env=["A=1"]), "env"),
    ("stage env number value", bad_stage(env={"A": 1}), "A"),
    ("stage env object value", bad_stage(env={"OBJ_VAL": {"x": 1}}), "OBJ_VAL"),
    ("stage env name with =", bad_stage(env={"A=B": "1"}), None),
    ("stage env empty name", bad_stage(env={"": "1"}), None),
    ("stage env NUL in value", bad_stage(env={"NULVAL": "a\u0000b"}), None),
    ("global env string", bad(env="A=1"), "env"),
    ("global env null value", bad(env={"NULL_VALUED": None}), "NULL_VALUED"),
    ("global env bool value", bad(env={"BOOL_VALUED": True}), "BOOL_VALUED"),
]


def t_invalid_configs(env):
    """Each bad upload is 400 with a message, and nothing is stored: a fresh
    assignment still has no config, an existing one keeps its config."""
    c = lib.new_course()
    kept = lib.unique("kept")
    ok(call("POST", cpath(c, kept), c.admin, body=VALID[2]))
    fresh = lib.unique("fresh")
    problems = []
    for label, body, must in INVALID:
        for a in (kept, fresh):
            if isinstance(body, (str, bytes)):
                r = call("POST", cpath(c, a), c.admin, raw=body,
                         headers={"Content-Type": "application/json"})
            else:
                r = call("POST", cpath(c, a), c.admin, body=body)
            try:
                fail(r, 400, must)
            except AssertionError as e:
                problems.append("%s: %s" % (label, e))
                break
    nothing_changed(c, kept, fresh, problems)


def t_deep_nesting(env):
    """Pathological JSON gets a 400, and the API keeps answering."""
    c = lib.new_course()
    a = lib.unique("a")
    fail(call("POST", cpath(c, a), c.admin, raw="[" * 200000), 400)
    fail(call("POST", cpath(c, a), c.admin,
              raw='{"student_pipeline": ' + "[" * 100000 + "]" * 100000 + "}"), 400)
    ok(call("POST", cpath(c, a), c.admin, body=VALID[1]))


def t_course_private(env):
    """The same assignment name in two courses: independent configs."""
    c1 = lib.new_course()
    c2 = lib.new_course()
    a = lib.unique("same")
    ok(call("POST", cpath(c1, a), c1.admin, body=VALID[0]))
    fail(get_cfg(c2, a), 404)
    ok(call("POST", cpath(c2, a), c2.admin, body=VALID[1]))
    eq(ok(get_cfg(c1, a)), VALID[0], "course 1 config")
    eq(ok(get_cfg(c2, a)), VALID[1], "course 2 config")
    # a run through course 2 uses course 2's config only
    c3 = lib.new_course()
    fail(call("POST", "/grading_run/%s/%s" % (c3.id, a), c3.admin,
              body={"students_env": [{}]}), 404)


def t_ids(env):
    c = lib.new_course()
    # all allowed characters, max length
    a128 = ("Az09_.-" * 19)[:128]
    assert len(a128) == 128
    ok(call("POST", cpath(c, a128), c.admin, body=VALID[1]))
    eq(ok(get_cfg(c, a128)), VALID[1], "128-char assignment id")
    a129 = "a" * 129
    fail(call("POST", cpath(c, a129), c.admin, body=VALID[1]), 400)
    fail(call("GET", cpath(c, a129), c.admin), 400)
    for bad_id in ("sp%20ace", "%C3%A9t%C3%A9", "a%2Bb", "a%00b", "a+b", "a~b",
                   "a%3Bb", "a%22b"):
        r = call("GET", cpath(c, bad_id), c.admin)
        assert r[0] in (400, 404), "%s: %r" % (bad_id, r)
        fail(r, r[0])
        r = call("POST", cpath(c, bad_id), c.admin, body=VALID[1])
        assert r[0] in (400, 404), "%s: %r" % (bad_id, r)
        fail(r, r[0])
    # the course id too
    r = call("GET", "/grading_config/%s/%s" % ("c" * 129, "a"), c.admin)
    fail(r, 400)


def t_methods(env):
    c = lib.new_course()
    a = lib.unique("a")
    for m in ("PUT", "DELETE", "PATCH"):
        fail(call(m, cpath(c, a), c.admin, body=VALID[1]), 405)


def t_large_config(env):
    """A big but legal config (many env vars) round-trips intact."""
    c = lib.new_course()
    a = lib.unique("a")
    big = {"student_pipeline": [{"image": "localhost/bb:1",
                                 "env": {"V%04d" % i: "x" * 1000
                                         for i in range(1000)}}]}
    ok(call("POST", cpath(c, a), c.admin, body=big))
    eq(ok(get_cfg(c, a)), big, "GET of a 1 MB config")


def t_concurrent_uploads(env):
    """Ten uploads to one assignment at once: all 200, and the stored
    config is exactly one of them."""
    c = lib.new_course()
    a = lib.unique("a")
    cfgs = [{"student_pipeline": [{"image": "localhost/bb:1",
                                   "env": {"N": str(i)}}]} for i in range(10)]
    rs = lib.parallel([(lambda cfg=cfg: call("POST", cpath(c, a), c.admin, body=cfg))
                       for cfg in cfgs],
                      warm=[(lambda: call("GET", "/queue/%s/length" % c.id, c.admin))] * 10)
    for r in rs:
        ok(r)
    got = ok(get_cfg(c, a))
    assert got in cfgs, "stored config is none of the uploads: %r" % got


# ------------------------------------------------ what the worker can carry

JOB_STAGES_MAX = 3 * 1024 * 1024        # common/bounds.h
CLAIM_ANSWER_MAX = 4 * 1024 * 1024


def many(prefix, n, size):
    return {"%s%04d" % (prefix, i): "x" * size for i in range(n)}


def img(name, where="student_pipeline"):
    c = {"student_pipeline": [{"image": "localhost/bb:1"}]}
    c[where] = [{"image": "localhost/bb:1"}, {"image": name}]
    return c


def name_in(where, name):
    c = {"student_pipeline": [{"image": "localhost/bb:1"}]}
    if where == "env":
        c["env"] = {name: "1"}
    else:
        c["student_pipeline"][0]["env"] = {name: "1"}
    return c


# (label, config, substrings of the message)
HOSTILE = [
    # issue 10 point 6: podman transports open paths on the worker
    ("image dir:", img("dir:/etc"), ["student_pipeline[1]", "transport"]),
    ("image dir: relative", img("dir:foo"), ["student_pipeline[1]", "transport"]),
    ("image dir: host:port", img("dir:5000/x"), ["transport"]),
    ("image oci:", img("oci:foo"), ["transport"]),
    ("image oci-archive:", img("oci-archive:/etc/passwd"), ["transport"]),
    ("image docker-archive:", img("docker-archive:/etc/passwd"), ["transport"]),
    ("image containers-storage:", img("containers-storage:foo"), ["transport"]),
    ("image docker://", img("docker://busybox"), ["transport"]),
    ("image sif:", img("sif:foo"), ["transport"]),
    ("image tarball: in pre", img("tarball:x", "pre_processing_pipeline"),
     ["pre_processing_pipeline[1]", "transport"]),
    ("image oci: in post", img("oci:x", "post_processing_pipeline"),
     ["post_processing_pipeline[1]", "transport"]),
    ("image ../", img("../x"), ["student_pipeline[1]", "image"]),
    ("image absolute path", img("/etc/passwd"), ["image"]),
    ("image uppercase", img("localhost/BB:1"), ["lowercase"]),
    ("image --rm", img("--rm"), ["image"]),
    ("image leading -", img("-v"), ["image"]),
    ("image bad tag", img("a:-x"), ["tag"]),
    ("image bad digest", img("a@sha256:abc"), ["digest"]),
    ("image bad port", img("x.com:99999/a"), ["registry"]),
    ("image name too long", img("a" * 256), ["255"]),
    # env names the worker would drop or misread
    ("env name newline", name_in("env", "X\nY"), ["env:", "invalid variable name"]),
    ("env name CR", name_in("stage", "X\r"), ["student_pipeline[0].env", "\\x0d"]),
    ("env name leading #", name_in("env", "#X"), ["#X"]),
    ("env name space", name_in("stage", "A B"), ["A B"]),
    ("env name leading blank", name_in("env", " A"), ["invalid variable name"]),
    ("env name glob", name_in("env", "P*"), ["P*"]),
    ("env name digit first", name_in("stage", "9A"), ["9A"]),
    ("env name dash", name_in("stage", "A-B"), ["A-B"]),
    ("env name non-ASCII", name_in("env", "h\u00e9"), ["\\xc3\\xa9"]),
    # issue 10 point 4: each layer legal, the job too big for the worker
    ("env 70 x 60 000 bytes", {"student_pipeline": [{"image": "localhost/bb:1"}],
                               "env": many("V", 70, 60000)},
     ["student_pipeline job", "bytes", str(JOB_STAGES_MAX)]),
    ("two stages of 30 x 60 000", {"student_pipeline": [
        {"image": "localhost/bb:1", "env": many("S", 30, 60000)},
        {"image": "localhost/bb:1", "env": many("T", 30, 60000)}]},
     ["student_pipeline job", str(JOB_STAGES_MAX)]),
    ("post job too big", {"student_pipeline": [{"image": "localhost/bb:1"}],
                          "post_processing_pipeline": [
                              {"image": "localhost/bb:1", "env": many("P", 54, 60000)}]},
     ["post_processing_pipeline job"]),
    # merged variables over the worker's 1024
    ("global 600 + stage 500 variables",
     {"student_pipeline": [{"image": "localhost/bb:1", "env": many("S", 500, 1)}],
      "env": many("G", 600, 1)},
     ["student_pipeline[0]", "1102 variables", "1024"]),
    ("global 1000 + pre stage 23 variables",
     {"student_pipeline": [{"image": "localhost/bb:1"}], "env": many("G", 1000, 1),
      "pre_processing_pipeline": [{"image": "localhost/bb:1", "env": many("P", 23, 1)}]},
     ["pre_processing_pipeline[0]", "1025 variables"]),
]


def t_hostile_configs(env):
    """Configs whose every layer is legal but that the worker could not
    carry (issue 10: images naming podman transports, env names the worker
    drops, jobs over its answer limit or variable limit): 400 naming the
    field and the limit, and the stored config is unchanged."""
    c = lib.new_course()
    kept = lib.unique("kept")
    ok(call("POST", cpath(c, kept), c.admin, body=VALID[2]))
    fresh = lib.unique("fresh")
    problems = []
    for label, body, must in HOSTILE:
        for a in (kept, fresh):
            try:
                fail(call("POST", cpath(c, a), c.admin, body=body), 400, must)
            except AssertionError as e:
                problems.append("%s: %s" % (label, e))
                break
    nothing_changed(c, kept, fresh, problems)


GOOD_IMAGES = ["alpine", "busybox:latest", "localhost/bb:1", "ubuntu:22.04",
               "docker.io/library/busybox:1.36", "registry.example.com:5000/t/g:v1",
               "localhost:5000/a_b/c-d.e", "ghcr.io/x/y@sha256:" + "0" * 64,
               "localhost/bb:1@sha256:" + "ab" * 32, "a" * 255, "a:" + "t" * 128]


def t_carriable_configs_accepted(env):
    """The edges of the new rules are accepted and round-trip: every image
    form of the grammar, identifier env names of 256 bytes, 1022 merged
    variables (+ the two injected), overlapping layers counted once."""
    c = lib.new_course()
    for i, name in enumerate(GOOD_IMAGES):
        cfg = {"student_pipeline": [{"image": name}]}
        a = "img-%d" % i
        ok(call("POST", cpath(c, a), c.admin, body=cfg))
        eq(ok(get_cfg(c, a)), cfg, "image %r" % name)
    cfgs = [
        {"student_pipeline": [{"image": "a", "env": {"_" + "A" * 255: "v",
                                                   "lower_9": "a\nb\r", "_": ""}}]},
        {"student_pipeline": [{"image": "a", "env": many("S", 422, 1)}],
         "env": many("G", 600, 1)},
        {"student_pipeline": [{"image": "a", "env": many("G", 1000, 2)}],
         "env": many("G", 1000, 1)},
        {"student_pipeline": [{"image": "a"}], "env": many("V", 50, 60000)},
    ]
    for i, cfg in enumerate(cfgs):
        a = "edge-%d" % i
        ok(call("POST", cpath(c, a), c.admin, body=cfg))
        eq(ok(get_cfg(c, a)), cfg, "edge config %d" % i)


def stages_len(stages):
    """Bytes of a "stages" array as jansson writes it (compact, UTF-8)."""
    return len(json.dumps(stages, separators=(",", ":"),
                          ensure_ascii=False).encode())


def t_job_size_limit_exact(env):
    """A job of exactly JOB_STAGES_MAX bytes as the worker receives it is
    accepted, one byte more is refused; the claim of the accepted one is
    that size and fits the worker's 4 MiB answer limit."""
    lib.drain()
    c = lib.new_course()
    a = lib.unique("a")
    ids = {"GRADING_RUN_ID": "0" * 24, "GRADING_JOB_ID": "0" * 24}
    genv = many("V", 52, 60000)
    genv["PAD"] = ""
    stage = {"image": "localhost/bb:1", "entrypoint": ["/bin/true"]}
    base = stages_len([dict(stage, env=dict(genv, **ids))])
    need = JOB_STAGES_MAX - base        # bytes of PAD; it ends in ASCII
    genv["PAD"] = "\u00e9" * ((need - 1) // 2) + "p" * (1 + (need - 1) % 2)
    cfg = {"student_pipeline": [stage], "env": genv}
    eq(stages_len([dict(stage, env=dict(genv, **ids))]), JOB_STAGES_MAX, "test setup")
    over = dict(cfg, env=dict(genv, PAD=genv["PAD"] + "x"))
    fail(call("POST", cpath(c, a), c.admin, body=over), 400, str(JOB_STAGES_MAX + 1))
    fail(get_cfg(c, a), 404)
    ok(call("POST", cpath(c, a), c.admin, body=cfg))
    # the run: one byte more in a student's env is refused, naming it
    r = call("POST", "/grading_run/%s/%s" % (c.id, a), c.admin,
             body={"students_env": [{}, {"PAD": genv["PAD"] + "y"}]})
    fail(r, 400, ["students_env[1]", str(JOB_STAGES_MAX)])
    eq(lib.queue_length(c), 0, "queue after the refused run")
    run = lib.start_run(c, a, [{"PAD": genv["PAD"][:-1] + "z"}])
    w = lib.FakeWorker()
    w.register()
    deadline = time.time() + 15
    while True:
        resp = w.claim()
        assert resp[0] in (200, 204), resp
        if resp[0] == 200:
            job = lib.Job(ok(resp))
            w.finish(job, True)
            if job.run_id == run:
                break
        assert time.time() < deadline, "no job of run %s" % run
        time.sleep(0.05)
    eq(stages_len(job.stages), JOB_STAGES_MAX, "bytes of the claimed stages")
    eq(job.stages[0]["env"]["PAD"][-1], "z", "the student's value")
    assert JOB_STAGES_MAX < len(resp.raw) < CLAIM_ANSWER_MAX, len(resp.raw)

def t_messages_name_non_ascii(env):
    """A refused name or key with non-ASCII characters still gets a message
    (shown as \\xNN): a name cut in the middle of a UTF-8 sequence made
    the message unsendable, so the 400 came with "data": null."""
    c = lib.new_course()
    a = lib.unique("a")
    long_name = "a" + "\u00e9" * 40          # byte 64 falls inside a character
    for body, must in [
            ({"student_pipeline": [{"image": "a"}], "env": {long_name: 1}},
             ["a\\xc3\\xa9", "must be a string"]),
            ({"student_pipeline": [{"image": "a", long_name: 1}]},
             ["unknown key", "a\\xc3\\xa9"]),
            ({"student_pipeline": [{"image": "a", "env": {long_name: "v"}}]},
             ["invalid variable name", "..."])]:
        fail(call("POST", cpath(c, a), c.admin, body=body), 400, must)
    fail(get_cfg(c, a), 404)


def tests(env):
    return [
        ("get_before_upload_404", t_get_before_upload),
        ("valid_configs_round_trip", t_valid_roundtrip),
        ("upload_replaces_whole_config", t_replacement),
        ("raw_body_round_trip", t_raw_bytes_and_whitespace),
        ("invalid_configs_400_nothing_stored", t_invalid_configs),
        ("hostile_configs_400_nothing_stored", t_hostile_configs),
        ("carriable_configs_accepted", t_carriable_configs_accepted),
        ("job_size_limit_exact", t_job_size_limit_exact),
        ("messages_name_non_ascii", t_messages_name_non_ascii),
        ("deep_nesting_400", t_deep_nesting),
        ("configs_are_per_course", t_course_private),
        ("ids_in_paths", t_ids),
        ("wrong_methods_405", t_methods),
        ("large_config_round_trip", t_large_config),
        ("concurrent_uploads", t_concurrent_uploads),
    ]
