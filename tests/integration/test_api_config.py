"""grading_config: round trips, replacement, validation (nothing stored on
a bad upload), course privacy, ids and methods."""

import json

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
    r = get_cfg(c, kept)
    if r[0] != 200 or r[2].get("data") != VALID[2]:
        problems.append("existing config changed: %r" % (r,))
    r = get_cfg(c, fresh)
    if r[0] != 404:
        problems.append("something was stored for the fresh assignment: %r" % (r,))
    assert not problems, "%d problem(s):\n  " % len(problems) + "\n  ".join(problems)


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


def tests(env):
    return [
        ("get_before_upload_404", t_get_before_upload),
        ("valid_configs_round_trip", t_valid_roundtrip),
        ("upload_replaces_whole_config", t_replacement),
        ("raw_body_round_trip", t_raw_bytes_and_whitespace),
        ("invalid_configs_400_nothing_stored", t_invalid_configs),
        ("deep_nesting_400", t_deep_nesting),
        ("configs_are_per_course", t_course_private),
        ("ids_in_paths", t_ids),
        ("wrong_methods_405", t_methods),
        ("large_config_round_trip", t_large_config),
        ("concurrent_uploads", t_concurrent_uploads),
    ]
