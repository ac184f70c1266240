"""broadway-worker's command line manners (issue 9): --help and
--version, a warning for a token file others can read, a refusal of an
http:// API URL, and a first registration failure that says what curl
saw (nothing listening, not TLS) and what to check."""

import os
import re
import signal
import socket
import subprocess
import threading

import lib
import test_worker_lib as wl
from test_worker_lib import Worker


def run(env, args, timeout=30):
    return subprocess.run([wl.binary(env)] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def t_help(env):
    for flag in ("-h", "--help"):
        p = run(env, [flag])
        assert p.returncode == 0, (flag, p.returncode, p.stderr)
        assert p.stdout.startswith("usage: broadway-worker"), p.stdout
        assert "--version" in p.stdout and "-R job.json" in p.stdout
        assert p.stderr == "", p.stderr
    # A wrong command line still answers on stderr with status 2.
    p = run(env, ["--no-such-flag"])
    assert p.returncode == 2, p.returncode
    assert "usage: broadway-worker" in p.stderr and p.stdout == ""


def t_version(env):
    p = run(env, ["--version"])
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert re.fullmatch(r"broadway-worker \d+\.\d+\S*\n", p.stdout), p.stdout


def token_file(env, wd, mode):
    tf = os.path.join(wd, "token-%o" % mode)
    with open(tf, "w") as f:
        f.write(env["BROADWAY_CLUSTER_TOKEN"] + "\n")
    os.chmod(tf, mode)
    return tf


def t_http_url_refused(env):
    wd = wl.work_dir(env, "cli")
    url = env["BROADWAY_URL"].replace("https://", "http://", 1)
    p = run(env, wl.common_args(env, wd) + [
        "-d", "-u", url, "-c", env["BROADWAY_CA"],
        "-t", token_file(env, wd, 0o600), "-i", lib.unique("wk")])
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "the API is HTTPS only" in p.stderr, p.stderr
    assert "use " + env["BROADWAY_URL"] in p.stderr, p.stderr


def t_token_file_mode(env):
    w = Worker(env, lib.unique("wk"))
    os.chmod(w.args[w.args.index("-t") + 1], 0o644)
    with w:
        w.wait_log("registered as", timeout=60)
        log = w.logtext()
        assert "open to group or others (mode 0644)" in log, log
        assert "chmod 600 " + w.args[w.args.index("-t") + 1] in log, log
        assert w.stop() == 0
    # The mode Worker gives its token file: no warning.
    with Worker(env, lib.unique("wk")) as w2:
        w2.wait_log("registered as", timeout=60)
        assert "open to group or others" not in w2.logtext()
        assert w2.stop() == 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unreachable(env, url, want):
    """A worker pointed at url: its first register failure names what
    curl saw (want, a regex) and what to check; SIGTERM ends it (0)."""
    w = Worker(env, lib.unique("wk"))
    w.args[w.args.index("-u") + 1] = url
    with w:
        w.wait_log("register failed: cannot reach the API at " + url,
                   timeout=30)
        log = w.logtext()
        line = [l for l in log.splitlines() if "cannot reach" in l][0]
        assert re.search(want, line, re.I), line
        assert "check api_url" in line and "port" in line, line
        w.signal(signal.SIGTERM)
        assert w.p.wait(30) == 0, w.logtext()[-2000:]
    assert "signal 15 before registering" in w.logtext()


def t_wrong_port(env):
    """Nothing listens there."""
    unreachable(env, "https://127.0.0.1:%d/api/v1" % free_port(),
                r"connect")


def t_not_tls(env):
    """Something listens there, but it speaks HTTP in clear."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            try:
                c.settimeout(2)
                c.recv(4096)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0"
                          b"\r\nConnection: close\r\n\r\n")
            except OSError:
                pass        # the worker hung up first: nothing to answer
            finally:
                c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        unreachable(env, "https://127.0.0.1:%d/api/v1" % port,
                    r"SSL|TLS|wrong version")
    finally:
        stop.set()
        t.join(5)
        srv.close()


def tests(env):
    return [(n[2:], f) for n, f in sorted(globals().items())
            if n.startswith("t_") and callable(f)]
