#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<harness>/ (committed; run
again only when a harness's input format changes).  The config seeds are
the bodies the integration tests send (test_api_config.py, test_api_run.py),
the capture and wire seeds scripts of the calls the worker and broadway-sse
make; each harness's header says how its input is read."""

import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import test_api_config as tc  # noqa: E402  (stdlib only, no stack needed)


def write(harness, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def raw(body):
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def config_seeds():
    for cfg in tc.VALID:
        write("config", raw(cfg))
    for label, body, _ in tc.INVALID[::3]:
        write("config", raw(body))
    full = tc.VALID[2]
    runs = [
        {"students_env": [{}]},
        {"students_env": [{"STUDENT": "s1", "GLOBAL": "override"},
                          {"GRADING_JOB_ID": "from-student"}]},
        {"students_env": [{"I": str(i)} for i in range(4)],
         "pre_processing_env": {"P": "run"},
         "post_processing_env": {"Q": "run", "GRADING_RUN_ID": "x"}},
        {"students_env": [{"NUMVAL": 1}]},
        {"students_env": [{"A=B": "1"}]},
        {"students_env": [{}], "bogus_run_key": {}},
        '{"students_env": [{"A": "1", "A": "2"}]}',
    ]
    for r in runs:
        write("config", raw(full) + b"\0" + raw(r))
    write("config", raw(tc.VALID[0]) + b"\0" + raw(runs[1]))
    # every layer names the ids env_layer sets itself
    ids = {"GRADING_RUN_ID": "cfg", "GRADING_JOB_ID": "cfg"}
    layered = {"env": dict(ids, G="g"),
               "student_pipeline": [{"image": "a", "env": {"GRADING_RUN_ID": "stage"}},
                                    {"image": "b", "env": dict(ids, S="s")}]}
    write("config", raw(layered))
    write("config", raw(layered) + b"\0" + raw({"students_env": [ids, {"G": "run"}]}))


def cap_script(cap, ops):
    out = struct.pack("<H", cap)
    for op in ops:
        kind = op[0]
        if kind == "w":
            out += bytes([0, len(op[1])]) + op[1]
        elif kind == "r":
            out += bytes([1, op[2], len(op[1])]) + op[1]
        elif kind == "p":
            out += bytes([2, len(op[1])]) + op[1]
        else:
            out += bytes([3])
    return out


def capture_seeds():
    euro = "\u20ac".encode()
    emoji = "\U0001F600".encode()
    seeds = [
        (4096, [("w", b"plain\n")]),
        (4096, [("w", b"a\xff" b"b\xc0\xaf" b"c\xed\xa0\x80" b"d\0e\xe2\x82")]),
        (4096, [("w", euro[:1]), ("w", euro[1:2]), ("w", euro[2:]), ("e",),
                ("w", b"x")]),
        (4096, [("w", b"no newline"), ("e",), ("e",), ("w", b"next\n"), ("e",)]),
        (1024, [("r", b"0123456789abcdef", 80)]),
        (1024, [("r", euro, 255), ("w", b"end\n")]),
        (1024, [("r", emoji, 200), ("e",), ("r", emoji + b"x", 30)]),
        (300, [("r", b"\xe2\x82", 40)]),
        (0, [("w", b"tiny cap"), ("r", b"\xff", 20)]),
        (256, [("r", b"y" * 200, 3), ("w", b"\xf0\x9f")]),
        (2048, [("p", b"[broadway-worker] stage timed out\n\0ignored")]),
        (8191, [("w", b"\xf4\x8f\xbf\xbf\xf4\x90\x80\x80\xf5")]),
        (1500, [("r", b"ab\n", 100), ("e",), ("p", b"tail"), ("e",)]),
        (4096, [("w", b"\r\n\t\x7f\x01")]),
    ]
    for cap, ops in seeds:
        write("capture", cap_script(cap, ops))


def be(v, k):
    return (v % (1 << (8 * k))).to_bytes(k, "big")


def wire_seeds():
    def rec(size, ln, t, rid):
        if ln > 1000:   # at the limit: offsets from 64 KiB - 16
            return bytes([0, 1]) + be(size - 65535 - 8 + 16, 1) + be(ln - 65535 + 16, 1) + be(t, 1) + be(rid, 4)
        return bytes([0, 0]) + be(size, 2) + be(ln, 2) + be(t, 1) + be(rid, 4)
    end = lambda size, rid: bytes([1]) + be(size, 1) + be(rid, 2)
    state = lambda size, i, st: bytes([2]) + be(size, 1) + be(i, 8) + be(st, 1)
    pos = lambda size, i, p: bytes([3]) + be(size, 1) + be(i, 8) + be(0, 1) + be(p, 8)
    find = lambda n, base, hit: bytes([4]) + be(n, 1) + be(base, 4) + bytes(range(n - 1 if n else 0)) + bytes([1 if hit else 0, 3 if hit else 7])
    seen_new = lambda delta, shift: bytes([5, 0]) + be(delta, 5) + be(shift, 1)
    seen_old = lambda back: bytes([5, 1]) + be(back, 2)
    tick = lambda ms, default: bytes([6]) + be(ms, 2) + (bytes([1]) if default else bytes([0]) + be(ms // 2, 2))
    hi = be(100, 4)
    seeds = [
        hi + rec(4096, 60, 6, 1) + rec(8, 0, 6, 65535) + rec(100, 93, 6, 7),
        hi + rec(65535 + 8, 65535, 6, 2) + rec(65535 + 8, 65536, 6, 2),
        hi + end(24, 1) + end(23, 1) + end(47, 65535),
        hi + state(255, 42, 2) + state(255, 43, 3) + state(255, 44, 4) + state(90, 45, 2),
        hi + state(255, (1 << 63) - 1, 3) + state(255, 1 << 63, 2),
        hi + pos(255, 7, 0) + pos(255, 8, 12345) + pos(40, 9, (1 << 63) - 1),
        hi + find(0, 0, False) + find(5, 10, True) + find(200, 1 << 30, True) + find(9, 3, False),
        hi + seen_new(0, 0) + seen_new(3, 0) + seen_old(1) + seen_old(2) + seen_old(3),
        hi + seen_new(1000, 0) + seen_old(5) + tick(6000, True) + seen_old(6),
        hi + seen_new(1 << 39, 0) + seen_old(1) + seen_new(10, 0) + tick(100, False),
        hi + seen_new(300, 0) + seen_new(300, 0) + seen_old(250) + seen_old(400),
        hi + seen_new(2, 0) + tick(4999, True) + seen_old(1) + tick(1, True) + seen_old(2),
    ]
    for s in seeds:
        write("wire", s)


if __name__ == "__main__":
    config_seeds()
    capture_seeds()
    wire_seeds()
