"""docs/deploy.md followed on one machine: the API side from a private
install prefix, two broadway-worker processes as two lab machines.

What stands in for the real thing, and why:
- MariaDB is the private one of `scripts/stack.sh up` (the machine's
  own must not be touched); its root user over the socket plays
  Debian's root.  The stack's own API and nginx run beside ours unused.
- systemd is not PID 1 here, so units.py does what systemd would: the
  units' Environment/EnvironmentFile, RuntimeDirectory and ExecStart,
  and for the workers the unit's sandbox (see units.sandbox_argv).
- Users: the API runs as `daemon` and nginx's workers as nobody:nogroup,
  so nginx reaches the sockets only through their group, as www-data
  does on a server.
"""

import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import stat
import subprocess
import time

import units

PROCS = []              # (name, Popen) to stop in teardown
DOC = "docs/deploy.md"
API_USER, API_GROUP, NGINX_GROUP = "daemon", "daemon", "nogroup"
IMAGE = "localhost/bb:1"
LABS = ("lab-01", "lab-02")
STUDENTS = 8


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(argv, env=None, check=True, input=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, input=input)
    if check:
        assert p.returncode == 0, "%s: exit %d\n%s%s" % (
            " ".join(argv), p.returncode, p.stdout[-1500:], p.stderr[-1500:])
    return p


def wait_for(what, fn, timeout=30, interval=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < end, "timed out waiting for " + what
        time.sleep(interval)


def start(name, argv, log, env):
    f = open(log, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                         env=env, start_new_session=True, close_fds=True)
    f.close()
    PROCS.append((name, p))
    return p


def tail(path, n=20):
    try:
        return "".join(open(path, errors="replace").readlines()[-n:])
    except OSError:
        return ""


def doc_block(tag):
    """The fenced block right after <!-- deploy-test: TAG --> in the doc."""
    text = open(os.path.join(CTX["root"], DOC)).read()
    m = re.search(r"<!-- deploy-test: %s -->\n```[a-z]*\n(.*?)\n```" %
                  re.escape(tag), text, re.S)
    assert m, "%s: no block marked %s" % (DOC, tag)
    return m.group(1)


CTX = {}


def paths(ctx):
    p = ctx["prefix"]
    return {"sbin": p + "/usr/local/sbin", "share": p + "/usr/local/share/broadway",
            "units": p + "/usr/local/lib/systemd/system", "etc": p + "/etc/broadway",
            "site": p + "/etc/nginx/sites-available/broadway", "run": p + "/run",
            "tls": p + "/etc/broadway/tls", "nginx": ctx["top"] + "/nginx"}


# ------------------------------------------------------------ steps

def t_prefix_install(ctx):
    """make install into a prefix of its own: the units' paths exist."""
    CTX.update(ctx)
    ctx["port"] = free_port()
    P = paths(ctx)
    ctx["paths"] = P
    os.makedirs(P["nginx"] + "/logs", exist_ok=True)
    p = run(["make", "--no-print-directory", "-C", ctx["root"],
             "BUILD=" + ctx["build"], "install",
             "PREFIX=%s/usr/local" % ctx["prefix"],
             "SYSCONFDIR=%s/etc" % ctx["prefix"], "RUNDIR=" + P["run"],
             "STATEDIR=%s/var/lib" % ctx["prefix"],
             "BROADWAY_USER=" + API_USER, "BROADWAY_GROUP=" + API_GROUP,
             "NGINX_GROUP=" + NGINX_GROUP, "NGINX_LOG_DIR=%s/logs" % P["nginx"],
             "LISTEN=127.0.0.1:%d" % ctx["port"], "SERVER_NAME=localhost",
             "TLS_CERT=%s/server.crt" % P["tls"],
             "TLS_KEY=%s/server.key" % P["tls"]])
    assert os.access(P["sbin"] + "/broadway-admin", os.X_OK), p.stdout[-800:]


def t_database(ctx):
    """The doc's database SQL, as root, then its migrate command."""
    stack = ctx["top"] + "/stack"
    env = dict(os.environ, BUILD=ctx["paths"]["sbin"], BROADWAY_WORKER="0")
    run([ctx["root"] + "/scripts/stack.sh", "up", stack], env=env)
    ctx["stack"] = stack
    sock = stack + "/run/mysqld.sock"
    ctx["db_sock"] = sock
    ctx["db_password"] = secrets.token_hex(24)
    sql = doc_block("database")
    assert "'CHANGE-ME'" in sql and "GRANT ALL" not in sql.upper(), sql
    # Same statements, on a database of our own name next to the stack's.
    sql = re.sub(r"\bbroadway\b", "bwdeploy", sql).replace(
        "CHANGE-ME", ctx["db_password"])
    run(["mariadb", "--no-defaults", "--socket=" + sock, "-uroot"], input=sql)
    cmd = doc_block("migrate").replace("\\\n", " ")
    cmd = cmd.replace("/run/mysqld/mysqld.sock", sock).replace(
        "BROADWAY_DB_NAME=broadway", "BROADWAY_DB_NAME=bwdeploy").replace(
        "/usr/local/", ctx["prefix"] + "/usr/local/").replace(
        "broadway-admin ", ctx["paths"]["sbin"] + "/broadway-admin ", 1)
    out = run(["bash", "-c", cmd]).stdout
    assert "applied 001_init.sql" in out, out
    out = run(["bash", "-c", cmd]).stdout
    assert "schema up to date" in out, out
    # The API's user really is limited to rows.
    grants = run(["mariadb", "--no-defaults", "--socket=" + sock, "-uroot",
                  "-N", "-e", "SHOW GRANTS FOR 'bwdeploy'@'localhost'"]).stdout
    assert "ALL PRIVILEGES" not in grants and "CREATE" not in grants, grants


def api_env_file(ctx):
    """api.env from the installed example, edited as the doc says."""
    P = ctx["paths"]
    text = open(P["etc"] + "/api.env.example").read()
    want = {"BROADWAY_DB_SOCKET": ctx["db_sock"], "BROADWAY_DB_USER": "bwdeploy",
            "BROADWAY_DB_PASSWORD": ctx["db_password"],
            "BROADWAY_DB_NAME": "bwdeploy", "BROADWAY_FCGI_CHILDREN": "2",
            "BROADWAY_HEARTBEAT": "2"}
    for k, v in want.items():
        text, n = re.subn(r"(?m)^%s=.*$" % k, "%s=%s" % (k, v), text)
        assert n == 1, "api.env.example has no %s line" % k
    path = P["etc"] + "/api.env"
    with open(path, "w") as f:
        f.write(text)
    # install -m 0640 -g broadway api.env.example api.env
    os.chown(path, 0, int(run(["getent", "group", API_GROUP]).stdout.split(":")[2]))
    os.chmod(path, 0o640)
    return path


def start_unit(ctx, name):
    P = ctx["paths"]
    u = units.parse("%s/%s.service" % (P["units"], name))
    env = dict(PATH=os.environ["PATH"])
    env.update(units.environment(u))
    for d in units.values(u, "RuntimeDirectory"):
        mode = int((units.values(u, "RuntimeDirectoryMode") or ["0755"])[0], 8)
        os.makedirs(P["run"] + "/" + d, exist_ok=True)
        os.chmod(P["run"] + "/" + d, mode)
    return start(name, units.exec_argv(u, env),
                 "%s/%s.log" % (ctx["top"], name), env)


def t_api_units(ctx):
    """broadway-fcgi and broadway-sse started from their installed units:
    sockets in nginx's group, mode 0660, programs not running as root."""
    os.chmod(ctx["prefix"], 0o755)
    api_env_file(ctx)
    P = ctx["paths"]
    socks = {"broadway-fcgi": P["run"] + "/broadway-fcgi/api.sock",
             "broadway-sse": P["run"] + "/broadway-sse/sse.sock"}
    gid = int(run(["getent", "group", NGINX_GROUP]).stdout.split(":")[2])
    uid = int(run(["id", "-u", API_USER]).stdout)
    for name, sock in socks.items():
        p = start_unit(ctx, name)
        wait_for(sock, lambda: p.poll() is not None or os.path.exists(sock))
        assert p.poll() is None, "%s exited:\n%s" % (
            name, tail("%s/%s.log" % (ctx["top"], name)))
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 \
            and st.st_gid == gid, "%s: mode %o gid %d" % (sock, st.st_mode, st.st_gid)
        # The program itself (multiwatch's children for the pool).
        pids = wait_for("%s processes" % name, lambda: [
            int(x) for x in run(["pgrep", "-s", str(p.pid), "-x", name],
                                check=False).stdout.split()], timeout=15)
        for pid in pids:
            owner = os.stat("/proc/%d" % pid).st_uid
            assert owner == uid, "%s pid %d runs as uid %d" % (name, pid, owner)


def own_ca(ctx):
    """A CA of the operator's and a server certificate it signed."""
    P = ctx["paths"]
    ca = ctx["top"] + "/ca"
    os.makedirs(ca, exist_ok=True)
    os.makedirs(P["tls"], exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=Deploy test CA",
         "-keyout", ca + "/ca.key", "-out", ca + "/ca.crt"])
    run(["openssl", "req"] + ec + ["-subj", "/CN=localhost",
         "-keyout", P["tls"] + "/server.key", "-out", ca + "/server.csr"])
    with open(ca + "/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(["openssl", "x509", "-req", "-in", ca + "/server.csr", "-CA", ca + "/ca.crt",
         "-CAkey", ca + "/ca.key", "-CAcreateserial", "-days", "2",
         "-extfile", ca + "/ext", "-out", P["tls"] + "/server.crt"])
    os.chmod(P["tls"] + "/server.key", 0o600)
    ctx["ca"] = ca + "/ca.crt"


def t_nginx_site(ctx):
    """The installed site in an nginx.conf like Debian's, with the
    operator's certificate: the API answers through it."""
    own_ca(ctx)
    P = ctx["paths"]
    n = P["nginx"]
    os.makedirs(n + "/tmp", exist_ok=True)
    conf = n + "/nginx.conf"
    with open(conf, "w") as f:
        f.write("""user nobody %s;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	client_body_temp_path %s/tmp/body;
	proxy_temp_path %s/tmp/proxy;
	fastcgi_temp_path %s/tmp/fastcgi;
	uwsgi_temp_path %s/tmp/uwsgi;
	scgi_temp_path %s/tmp/scgi;
	include %s;
}
""" % ((NGINX_GROUP,) + (n,) * 7 + (P["site"],)))
    argv = ["nginx", "-p", n, "-c", conf, "-e", n + "/logs/error.log"]
    run(argv + ["-t", "-q"])
    start("nginx", argv + ["-g", "daemon off;"], n + "/nginx.out", None)
    ctx["conn"] = None

    def answer():
        try:
            return call(ctx, "GET", "/")
        except OSError:
            return None
    st, body = wait_for("nginx on port %d" % ctx["port"], answer, timeout=20)
    # 404 from broadway-fcgi itself, not 502: nginx reached the socket.
    assert st == 404 and body["data"]["message"] == "no such endpoint" \
        and "X-Request-Id" in ctx["last_headers"], (st, body)
    st, body = call(ctx, "GET", "/queue/nosuchcourse/length")
    assert st == 401, (st, body)


def call(ctx, method, path, body=None, token=None):
    if ctx.get("conn") is None:
        ctx["conn"] = http.client.HTTPSConnection(
            "127.0.0.1", ctx["port"], timeout=30,
            context=ssl.create_default_context(cafile=ctx["ca"]))
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        ctx["conn"].request(method, "/api/v1" + path, body=data, headers=h)
        r = ctx["conn"].getresponse()
        raw = r.read()
    except (OSError, http.client.HTTPException):
        ctx["conn"].close()
        ctx["conn"] = None
        raise
    ctx["last_headers"] = dict(r.getheaders())
    return r.status, json.loads(raw) if raw else None


def admin(ctx, *args):
    """broadway-admin with api.env's settings (set -a; . api.env)."""
    env = dict(PATH=os.environ["PATH"])
    env.update(units.read_env_file(ctx["paths"]["etc"] + "/api.env"))
    return run([ctx["paths"]["sbin"] + "/broadway-admin"] + list(args),
               env=env).stdout


def t_tokens(ctx):
    """A course, its admin token, one cluster token per lab machine,
    bound to its worker id (as the doc says)."""
    admin(ctx, "course-add", "cs101")
    ctx["admin"] = admin(ctx, "token-add", "admin", "cs101",
                         "--label", "instructors").strip()
    ctx["labs"] = {}
    for lab in LABS:
        d = "%s/%s" % (ctx["top"], lab)
        os.makedirs(d, mode=0o700, exist_ok=True)
        tok = admin(ctx, "token-add", "cluster", "--worker", lab,
                    "--label", lab).strip()
        assert re.fullmatch(r"[0-9a-f]{64}", tok), tok
        fd = os.open(d + "/cluster.token", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (tok + "\n").encode())
        os.close(fd)
        ctx["labs"][lab] = {"dir": d, "token": tok}
    listed = admin(ctx, "token-list")
    for lab in LABS:
        assert re.search(r"\tcluster\t-\t%s\t.*\t%s$" % (lab, lab), listed,
                         re.M), listed
    st, _ = call(ctx, "GET", "/worker/cs101/all", token=ctx["admin"])
    assert st == 200, st


def worker_conf(ctx, lab):
    """worker.conf from the installed example with the doc's keys set."""
    L = ctx["labs"][lab]
    d = L["dir"]
    store = d + "/store"
    run([ctx["root"] + "/tests/images/build-busybox.sh", store, IMAGE])
    values = {"api_url": "https://127.0.0.1:%d/api/v1" % ctx["port"],
              "ca_file": ctx["ca"], "token_file": d + "/cluster.token",
              "worker_id": lab, "slots": None,
              "containers_conf": ctx["paths"]["etc"] + "/containers.conf",
              "storage_conf": store + "/storage.conf", "work_dir": d + "/work"}
    text = open(ctx["paths"]["etc"] + "/worker.conf.example").read()
    keys = []
    for line in doc_block("worker.conf").splitlines():
        k, sep, v = line.partition("=")
        k = k.strip()
        assert sep and k in values, "doc's worker.conf has %r" % line
        keys.append(k)
        val = values[k] if values[k] is not None else v.strip()
        text = re.sub(r"(?m)^#?%s\s*=.*\n" % k, "", text) + "%s = %s\n" % (k, val)
    assert set(keys) == set(values), "doc misses %s" % (set(values) - set(keys))
    # Not in the doc: real lab machines have host names of their own,
    # and the worker list shows host names.
    text += "hostname = %s\n" % lab
    path = d + "/worker.conf"
    with open(path, "w") as f:
        f.write(text)
    return path


def t_workers(ctx):
    """Each lab machine: its store and image, its config, the installed
    unit's command line inside the unit's sandbox."""
    u = units.parse(ctx["paths"]["units"] + "/broadway-worker.service")
    cmd = units.one(u, "ExecStart").split()
    assert cmd[1:3] == ["-d", "-f"], cmd
    for lab in LABS:
        conf = worker_conf(ctx, lab)
        argv = units.sandbox_argv(u, [cmd[0], "-d", "-f", conf])
        start(lab, argv, "%s/worker.log" % ctx["labs"][lab]["dir"],
              dict(PATH=os.environ["PATH"]))

    def both():
        st, d = call(ctx, "GET", "/worker/cs101/all", token=ctx["admin"])
        alive = {n["hostname"] for n in d["data"]["worker_nodes"] if n["alive"]}
        for lab in LABS:
            p = [p for n, p in PROCS if n == lab][0]
            assert p.poll() is None, "%s exited:\n%s" % (
                lab, tail(ctx["labs"][lab]["dir"] + "/worker.log"))
        return alive >= set(LABS)
    wait_for("both workers registered", both, timeout=30, interval=0.3)


def t_grade(ctx):
    """A run of STUDENTS students graded by both lab machines."""
    stage = {"image": IMAGE, "timeout": 30, "entrypoint": [
        "/bin/sh", "-c", "sleep 2; echo graded $NETID on $(hostname)"]}
    st, b = call(ctx, "POST", "/grading_config/cs101/hw1",
                 {"student_pipeline": [stage]}, ctx["admin"])
    assert st == 200, (st, b)
    roster = [{"NETID": "s%02d" % i} for i in range(STUDENTS)]
    st, b = call(ctx, "POST", "/grading_run/cs101/hw1",
                 {"students_env": roster}, ctx["admin"])
    assert st == 200, (st, b)
    rid = b["data"]["grading_run_id"]

    def done():
        st, b = call(ctx, "GET", "/grading_run_status/cs101/" + rid,
                     token=ctx["admin"])
        assert st == 200, (st, b)
        return b["data"] if b["data"]["state"] in ("FINISHED", "FAILED") else None
    s = wait_for("run %s" % rid, done, timeout=180, interval=0.5)
    jobs = s["student_jobs"]
    assert s["state"] == "FINISHED" and len(jobs) == STUDENTS and \
        set(jobs.values()) == {"SUCCEEDED"}, s
    seen = set()
    for jid in jobs:
        st, b = call(ctx, "GET", "/grading_job_log/cs101/" + jid,
                     token=ctx["admin"])
        assert st == 200 and re.fullmatch(r"graded s\d\d on \S+\n",
                                          b["data"]["stdout"]), (st, b)
        seen.add(b["data"]["stdout"].split()[1])
    assert len(seen) == STUDENTS, seen
    st, b = call(ctx, "GET", "/worker/cs101/all", token=ctx["admin"])
    done_by = {n["hostname"]: n["jobs_processed"] for n in b["data"]["worker_nodes"]}
    assert all(done_by.get(lab, 0) >= 1 for lab in LABS) and \
        sum(done_by.get(lab, 0) for lab in LABS) == STUDENTS, done_by


TESTS = [
    ("prefix_install", t_prefix_install),
]
CLUSTER = [
    ("doc_database_and_migrate", t_database),
    ("api_units_sockets_and_users", t_api_units),
    ("nginx_site_own_certificate", t_nginx_site),
    ("tokens_per_lab_machine", t_tokens),
    ("two_lab_workers_in_unit_sandbox", t_workers),
    ("grade_run_on_both_workers", t_grade),
]


def teardown(ctx):
    for name, p in reversed(PROCS):
        if p.poll() is not None:
            continue
        try:
            os.killpg(p.pid, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        except ProcessLookupError:
            continue
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    PROCS.clear()
    if ctx.get("stack"):
        subprocess.run([ctx["root"] + "/scripts/stack.sh", "down", ctx["stack"]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for lab in (ctx.get("labs") or {}).values():
        store = lab["dir"] + "/store"
        if os.path.exists(store + "/storage.conf"):
            # The store's overlay mounts must go before its files can.
            subprocess.run(["podman", "system", "reset", "--force"],
                           env=dict(os.environ, CONTAINERS_STORAGE_CONF=store + "/storage.conf",
                                    CONTAINERS_CONF=ctx["paths"]["etc"] + "/containers.conf"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
