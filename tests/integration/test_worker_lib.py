"""Helpers for the broadway-worker tests (no tests of its own).

A private podman store lives in $BROADWAY_STACK_DIR/podman (or a temp
dir), made with worker/storage.conf.in and used with worker/containers.conf
only, holding localhost/bb:1 built from busybox-static by
tests/images/build-busybox.sh.
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

IMAGE = "localhost/bb:1"
_lock = threading.Lock()
_store = {}


def tests(env):
    return []


def root(env):
    return env.get("BROADWAY_ROOT") or os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def binary(env):
    b = os.path.join(root(env), os.environ.get("BUILD", "build"),
                     "broadway-worker")
    assert os.access(b, os.X_OK), "%s is not built" % b
    return b


def store(env):
    """(containers_conf, storage_conf) of the test store, built once."""
    with _lock:
        if "conf" in _store:
            return _store["conf"]
        base = env.get("BROADWAY_STACK_DIR") or tempfile.mkdtemp(prefix="bw-")
        d = os.path.join(base, "podman")
        p = subprocess.run([os.path.join(root(env), "tests", "images",
                                         "build-busybox.sh"), d, IMAGE],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        assert p.returncode == 0, "build-busybox.sh: %s" % p.stderr
        vals = dict(l.split("=", 1) for l in p.stdout.split("\n") if "=" in l)
        _store["conf"] = (vals["CONTAINERS_CONF"],
                          vals["CONTAINERS_STORAGE_CONF"])
        _store["base"] = base
        return _store["conf"]


def podman(env, *args, check=True):
    cc, sc = store(env)
    e = dict(os.environ, CONTAINERS_CONF=cc, CONTAINERS_STORAGE_CONF=sc)
    p = subprocess.run(["podman"] + list(args), env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    if check:
        assert p.returncode == 0, "podman %s: %s" % (args, p.stderr)
    return p.stdout


def containers(env, label):
    """Container ids (running or not) carrying the label k=v."""
    return podman(env, "ps", "-a", "-q", "--filter", "label=" + label).split()


def work_dir(env, prefix="w"):
    store(env)
    base = _store["base"]
    return tempfile.mkdtemp(prefix=prefix + "-", dir=base)


def common_args(env, wd, extra=()):
    cc, sc = store(env)
    return ["-w", wd, "-C", cc, "-S", sc, "-o", "pull=never"] + list(extra)


def run_local(env, stages, extra=(), job_id="local", timeout=120):
    """Run one job with `broadway-worker -R`; (result dict, seconds)."""
    wd = work_dir(env, "local")
    jf = os.path.join(wd, "job.json")
    with open(jf, "w") as f:
        json.dump({"grading_job_id": job_id, "attempt": 1, "stages": stages}, f)
    t0 = time.time()
    p = subprocess.run([binary(env)] + common_args(env, wd, extra) +
                       ["-o", "worker_id=local", "-R", jf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    dt = time.time() - t0
    assert p.returncode == 0, "worker -R exit %d: %s" % (
        p.returncode, p.stderr.decode(errors="replace")[-2000:])
    res = json.loads(p.stdout)
    left = os.listdir(os.path.join(wd, "jobs"))
    assert left == [], "job directory left behind: %r" % left
    return res, dt


def stage(cmd=None, **kw):
    s = {"image": IMAGE}
    if cmd is not None:
        s["entrypoint"] = ["/bin/sh", "-c", cmd]
    s.update(kw)
    return s


class Worker:
    """A real broadway-worker process (-d) against the stack."""

    def __init__(self, env, wid, slots=1, extra=(), wd=None):
        self.env = env
        self.id = wid
        self.wd = wd or work_dir(env, "worker")
        tf = os.path.join(self.wd, "token")
        with open(tf, "w") as f:
            f.write(env["BROADWAY_CLUSTER_TOKEN"] + "\n")
        os.chmod(tf, 0o600)     # the worker warns about a looser mode
        self.args = [binary(env), "-d"] + common_args(env, self.wd, extra) + [
            "-u", env["BROADWAY_URL"], "-c", env["BROADWAY_CA"], "-t", tf,
            "-i", wid, "-s", str(slots)]
        self.log = os.path.join(self.wd, "worker.log")
        self.p = None
        self.mark = 0

    def start(self):
        """Start the process; logtext() shows only what it writes."""
        self.mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        lf = open(self.log, "ab")
        self.p = subprocess.Popen(self.args, stdout=lf, stderr=lf,
                                  stdin=subprocess.DEVNULL)
        lf.close()
        return self

    def logtext(self):
        with open(self.log, errors="replace") as f:
            f.seek(self.mark)
            return f.read()

    def wait_log(self, text, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.logtext():
                return
            time.sleep(0.05)
        raise AssertionError("worker %s: no %r in its log:\n%s" % (
            self.id, text, self.logtext()[-3000:]))

    def signal(self, sig):
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, timeout=60):
        """SIGTERM (drain) and wait; SIGKILL if it hangs."""
        if self.p is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGTERM)
            try:
                return self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError("worker %s did not stop" % self.id)

    def kill9(self):
        self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        if self.p is not None and self.p.poll() is None:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
