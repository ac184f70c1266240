"""Just enough of systemd's unit semantics to start an installed unit's
program the way systemd would on a machine where PID 1 is not systemd:
its Environment= and EnvironmentFile=, its RuntimeDirectory=, its
ExecStart= with ${VAR} expanded, and (for the worker) the sandbox
settings that can be reproduced with unshare(1) and setpriv(1)."""

import os
import re
import shlex


def parse(path):
    """{section: [(key, value), ...]} of a unit file (no continuation
    lines: the project's units have none)."""
    sections = {}
    cur = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
                continue
            k, sep, v = line.partition("=")
            assert sep and cur is not None, "%s: bad line %r" % (path, line)
            cur.append((k.strip(), v.strip()))
    return sections


def values(unit, key, section="Service"):
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit, key, section="Service"):
    v = values(unit, key, section)
    assert len(v) == 1, "%s: want one %s, got %r" % (section, key, v)
    return v[0]


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            k, sep, v = line.partition("=")
            assert sep, "%s: bad line %r" % (path, line)
            env[k.strip()] = v.strip()
    return env


def environment(unit):
    """Environment= first, then every EnvironmentFile= over it."""
    env = {}
    for v in values(unit, "Environment"):
        for word in shlex.split(v):
            k, _, val = word.partition("=")
            env[k] = val
    for v in values(unit, "EnvironmentFile"):
        optional = v.startswith("-")
        p = v.lstrip("-")
        if optional and not os.path.exists(p):
            continue
        env.update(read_env_file(p))
    return env


def exec_argv(unit, env):
    """ExecStart= split into words, ${VAR} replaced as systemd does."""
    line = one(unit, "ExecStart")

    def sub(m):
        name = m.group(1)
        assert name in env, "ExecStart uses ${%s}, which is not set" % name
        return env[name]
    return shlex.split(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, line))


def sandbox_argv(unit, argv):
    """argv wrapped so that it runs with the unit's NoNewPrivileges,
    CapabilityBoundingSet, ProtectSystem=full|yes, ProtectHome and
    PrivateTmp, in a mount namespace of its own (PrivateMounts)."""
    script = ["set -e", "mount --make-rslave /"]
    ps = values(unit, "ProtectSystem")
    if ps and ps[0] in ("yes", "full", "strict"):
        ro = {"yes": ["/usr", "/boot"], "full": ["/usr", "/boot", "/etc"],
              "strict": ["/"]}[ps[0]]
        for d in ro:
            script.append("[ ! -d %s ] || { mount --bind %s %s && "
                          "mount -o remount,bind,ro %s %s; }" % ((d,) * 5))
    if values(unit, "ProtectHome") == ["yes"]:
        for d in ("/home", "/root", "/run/user"):
            script.append("[ ! -d %s ] || mount -t tmpfs -o mode=000 tmpfs %s"
                          % (d, d))
    if values(unit, "PrivateTmp") == ["yes"]:
        for d in ("/tmp", "/var/tmp"):
            script.append("mount -t tmpfs -o mode=1777 tmpfs %s" % d)
    priv = ["setpriv"]
    if values(unit, "NoNewPrivileges") == ["yes"]:
        priv.append("--no-new-privs")
    caps = values(unit, "CapabilityBoundingSet")
    if caps:
        names = caps[0].split()
        priv += ["--bounding-set", ",".join(
            ["-all"] + ["+" + c[len("CAP_"):].lower() for c in names])]
    script.append('exec %s -- "$@"' % " ".join(shlex.quote(p) for p in priv))
    return ["unshare", "--mount", "--", "/bin/sh", "-c",
            "\n".join(script), "sandbox"] + list(argv)
