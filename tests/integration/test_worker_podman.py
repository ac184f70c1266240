"""The worker's podman runner on real podman, through `broadway-worker -R`
(one job from a file, no API): stage options, limits, output capture."""

import re

import test_worker_lib as wl
from test_worker_lib import run_local, stage

MARKER = re.compile(r"\n\[\.\.\. (\d+) bytes truncated \.\.\.\]\n")


def only(res):
    assert len(res["results"]) == 1, res["results"]
    return res["results"][0]


def t_pipeline_shares_job(env):
    res, _ = run_local(env, [
        stage("sleep 1; echo $NETID > /job/student", env={"NETID": "student-id"}),
        stage("cat /job/student > /job/copy"),
        stage("cat /job/copy; echo to-stderr >&2")])
    assert res["success"] is True, res
    assert [r["stage"] for r in res["results"]] == [0, 1, 2]
    assert all(r["success"] and r["exit_code"] == 0 for r in res["results"])
    assert res["logs"]["stdout"] == "student-id\n", res["logs"]
    assert res["logs"]["stderr"] == "to-stderr\n", res["logs"]
    assert res["results"][0]["duration_ms"] >= 1000


def t_first_failure_stops(env):
    res, _ = run_local(env, [stage("echo one"), stage("echo two; exit 3"),
                             stage("echo three")])
    assert res["success"] is False
    assert [r["exit_code"] for r in res["results"]] == [0, 3], res["results"]
    assert res["results"][1]["error"] is None
    assert res["logs"]["stdout"] == "one\ntwo\n", res["logs"]


def t_env_and_entrypoint(env):
    e = {"SPACES": " a  b ", "EQ": "x=y=z", "NL": "line1\nline2",
         "#HASH": "h", "A B": "c", "CR": "ends\r", "EMPTY": "",
         "UNI": "h\u00e9llo \u20ac"}
    res, _ = run_local(env, [{
        "image": wl.IMAGE, "env": e,
        "entrypoint": ["/bin/sh", "-c", 'for v in SPACES EQ NL CR EMPTY UNI; do'
                       ' eval "printf \'%s=[%s]\\n\' $v \\"\\$$v\\""; done;'
                       ' echo "$0|$1|$2"', "arg0", "$HOME", "a 'q' b"]},
        {"image": wl.IMAGE, "env": e, "entrypoint": ["/bin/env"]}])
    assert res["success"], res
    out = res["logs"]["stdout"]
    for k in ("SPACES", "EQ", "NL", "CR", "EMPTY", "UNI"):
        assert "%s=[%s]\n" % (k, e[k]) in out, (k, out)
    # busybox sh hides names that are not identifiers: env(1) shows them.
    assert "\n#HASH=h\n" in out and "\nA B=c\n" in out, out
    assert "arg0|$HOME|a 'q' b\n" in out, out


def t_hostname_cpuset(env):
    res, _ = run_local(env, [stage(
        "hostname; grep Cpus_allowed_list /proc/self/status",
        hostname="grader-7", cpuset_cpus="0")])
    assert res["success"], res
    assert res["logs"]["stdout"].split("\n")[0] == "grader-7", res["logs"]
    assert re.search(r"Cpus_allowed_list:\s+0\n", res["logs"]["stdout"]), res


def t_timeout(env):
    jid = wl.work_dir(env, "tmo").rsplit("-", 1)[-1]
    res, dt = run_local(env, [stage(None, entrypoint=["sleep", "600"],
                                    timeout=2)], job_id="tmo" + jid)
    r = only(res)
    assert r["timed_out"] is True and r["success"] is False, r
    assert "timed out" in r["error"], r
    assert r["duration_ms"] < 3000, r
    assert dt < 3.0 + 1.0, "the job took %.1fs" % dt
    assert wl.containers(env, "broadway.job=tmo" + jid) == []


def t_timeout_fraction(env):
    res, dt = run_local(env, [stage("sleep 5", timeout=0.5)])
    r = only(res)
    assert r["timed_out"] and r["duration_ms"] < 1500, r


def t_oom(env):
    res, _ = run_local(env, [stage(
        'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived',
        memory="32m")])
    r = only(res)
    assert r["oom_killed"] is True and r["success"] is False, r
    assert r["exit_code"] == 137, r
    assert "survived" not in res["logs"]["stdout"]


def t_memory_fits(env):
    res, _ = run_local(env, [stage(
        'x=$(head -c 1000000 /dev/zero | tr "\\0" a); echo ${#x}',
        memory="64m")])
    assert res["success"] and res["logs"]["stdout"] == "1000000\n", res


def t_fork_bomb(env):
    res, dt = run_local(env, [stage(
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null ||"
        " cat /sys/fs/cgroup/pids.max; b() { b | b & }; b 2>/dev/null;"
        # exec: a shell at the pids limit may fail to fork a plain sleep.
        " exec sleep 30", timeout=4)], extra=["-o", "pids_limit=128"])
    r = only(res)
    assert res["logs"]["stdout"].startswith("128\n"), res["logs"]["stdout"][:200]
    assert r["timed_out"], r
    assert dt < 4 + 3, "fork bomb job took %.1fs" % dt
    # The machine still runs containers.
    res, _ = run_local(env, [stage("echo alive")])
    assert res["logs"]["stdout"] == "alive\n"


def t_network(env):
    cmd = "ip -o link | cut -d: -f2 | tr -d ' ' | sort | tr '\\n' , ; echo"
    res, _ = run_local(env, [stage(cmd)])
    assert res["logs"]["stdout"] == "lo,\n", res["logs"]
    res, _ = run_local(env, [stage(cmd, networking=True)])
    assert res["logs"]["stdout"] == "lo,\n", "network not allowed, yet: %r" % (
        res["logs"],)
    res, _ = run_local(env, [stage(cmd, networking=True)], extra=["-n"])
    links = res["logs"]["stdout"].strip(",\n").split(",")
    assert "lo" in links and len(links) >= 2, res["logs"]
    res, _ = run_local(env, [stage(cmd)], extra=["-n"])
    assert res["logs"]["stdout"] == "lo,\n", res["logs"]


def t_privileged(env):
    res, _ = run_local(env, [stage("echo ran", privileged=True)])
    r = only(res)
    assert r["success"] is False and "privileged" in r["error"], r
    assert "privileged" in res["logs"]["stderr"], res["logs"]
    assert res["logs"]["stdout"] == ""
    res, _ = run_local(env, [stage("grep CapEff /proc/self/status",
                                   privileged=True)], extra=["-P"])
    assert res["success"], res
    caps = int(re.search(r"CapEff:\t([0-9a-f]+)", res["logs"]["stdout"]).group(1), 16)
    assert caps & (1 << 21), "no CAP_SYS_ADMIN when privileged: %x" % caps
    res, _ = run_local(env, [stage("grep -E 'CapEff|NoNewPrivs' /proc/self/status")])
    out = res["logs"]["stdout"]
    assert "NoNewPrivs:\t1" in out, out
    caps = int(re.search(r"CapEff:\t([0-9a-f]+)", out).group(1), 16)
    assert caps & (1 << 13) == 0 and caps & (1 << 27) == 0, "NET_RAW/MKNOD: %x" % caps


def t_truncation(env):
    cmd = ("echo HEAD-START; head -c 3000000 /dev/zero | tr '\\0' x; echo;"
           " echo TAIL-END; head -c 3000000 /dev/zero | tr '\\0' y >&2;"
           " echo ERR-END >&2")
    res, _ = run_local(env, [stage(cmd)])
    cap = 1024 * 1024
    for name, first, last in (("stdout", "HEAD-START\nxxx", "xxx\nTAIL-END\n"),
                              ("stderr", "yyy", "yyyERR-END\n")):
        s = res["logs"][name]
        assert len(s.encode()) <= cap, (name, len(s))
        assert s.startswith(first) and s.endswith(last), (name, s[:20], s[-20:])
        m = MARKER.search(s)
        assert m, name
        kept = len(s) - len(m.group(0))
        assert kept + int(m.group(1)) == (3000000 + 21 if name == "stdout"
                                          else 3000000 + 8), (name, kept, m.group(1))
    res, _ = run_local(env, [stage("head -c 5000 /dev/zero | tr '\\0' z")],
                       extra=["-l", "1k"])
    s = res["logs"]["stdout"]
    assert len(s) <= 1024 and MARKER.search(s), s


def t_invalid_utf8(env):
    res, _ = run_local(env, [stage(
        "printf 'ok \\377\\376 \\300\\257 nul\\000 cut\\342\\202 euro\\342\\202\\254\\n';"
        " printf '\\355\\240\\200 err\\n' >&2")])
    assert res["success"], res
    assert res["logs"]["stdout"] == \
        "ok \ufffd\ufffd \ufffd\ufffd nul\ufffd cut\ufffd euro\u20ac\n", \
        ascii(res["logs"]["stdout"])
    assert "\ufffd" in res["logs"]["stderr"] and "err\n" in res["logs"]["stderr"]


def t_unknown_image(env):
    res, _ = run_local(env, [{"image": "localhost/no-such-image:1"}])
    r = only(res)
    assert r["success"] is False and r["exit_code"] == 125, r
    assert "image not known" in r["error"], r
    assert "image not known" in res["logs"]["stderr"], res["logs"]
    res, _ = run_local(env, [{"image": "-v"}])
    assert only(res)["success"] is False


def t_logs_false(env):
    res, _ = run_local(env, [stage("echo secret; echo secret2 >&2", logs=False),
                             stage("echo shown")])
    assert res["success"], res
    assert res["logs"] == {"stdout": "shown\n", "stderr": ""}, res["logs"]
    res, _ = run_local(env, [{"image": "localhost/nope:2", "logs": False}])
    r = only(res)
    assert "image not known" in r["error"] and res["logs"]["stderr"] == "", res


def t_invalid_stage(env):
    res, _ = run_local(env, [stage("echo x", timeout=-1)])
    r = only(res)
    assert r["success"] is False and "invalid stage" in r["error"], r


def tests(env):
    return [(n[2:], f) for n, f in sorted(globals().items())
            if n.startswith("t_") and callable(f)]
