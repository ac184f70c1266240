"""nginx in front: its own errors are JSON envelopes, body limits agree
with the handler (checked straight on the FastCGI socket too), TLS."""

import http.client
import json
import os
import socket
import ssl

import lib
from lib import call, eq, fail, ok

PAD_CFG = '{"student_pipeline": [{"image": "localhost/bb:1"}]}'


def padded(total):
    """A valid config padded with trailing spaces to exactly total bytes."""
    return PAD_CFG.encode() + b" " * (total - len(PAD_CFG))


def t_unknown_routes(env):
    c = lib.new_course()
    cases = [
        ("/nope", True),
        ("/", True),
        ("/api", True),
        ("/api/v2/queue/x/length", True),
        ("/api/v1", True),
        ("/api/v1/", True),
        ("/api/v1/nope", False),
        ("/api/v1/grading_config/%s/a/extra" % c.id, True),
        ("/api/v1/grading_config/%s/a/" % c.id, True),
        ("/api/v1/grading_config/%s" % c.id, True),
        ("/api/v1/queue/%s/x/y/position" % c.id, True),
        ("/api/v1/grading_config/%s/a?x=1&y=2" % c.id, True),
    ]
    problems = []
    for path, absolute in cases:
        r = call("GET", path, c.admin, absolute=absolute)
        try:
            fail(r, 404)
            eq(r[1].get("access-control-allow-origin"), "*", "CORS header")
        except AssertionError as e:
            problems.append("%s: %s" % (path, e))
    assert not problems, "\n  ".join(problems)


def t_decoded_once(env):
    """nginx percent-decodes the path once and the API takes it as it
    is: %2541 reaches the API as the five characters %41 (not a valid
    id: 400), never as "A".  Once-encoded characters still work."""
    prefix = lib.unique("pd")
    cid = prefix + "A"
    lib.admin("course-add", cid)
    tok = lib.new_token()
    lib.admin("token-add", "admin", cid, "--token", tok)
    lib.admin("token-add", "query", cid, "--token", tok + "q")
    ok(call("GET", "/queue/%s/length" % cid, tok))
    ok(call("GET", "/queue/%s%%41/length" % prefix, tok))
    problems = []
    for enc in ("%2541", "%252541", "%25%34%31"):
        p = "/queue/%s%s/length" % (prefix, enc)
        r = call("GET", p, tok)
        try:
            fail(r, 400, "invalid id")
        except AssertionError as e:
            problems.append("%s: %s" % (p, e))
    # the same for a job stream (broadway-sse parses paths the same way)
    c = lib.Course(cid, tok, tok + "q")
    _, _, run = lib.new_run(course=c)
    job = list(lib.run_status(c, run)["student_jobs"])[0]
    r = call("GET", "/stream/%s%%2541/%s" % (prefix, job), c.query, timeout=5)
    if r[0] != 404:
        problems.append("stream with %%2541: %r" % (r,))
    lib.drain()
    assert not problems, "\n  ".join(problems)


def raw_request(method, path, headers, body=b""):
    """Send a request whose Content-Length may lie; return (status, body)."""
    ctx = lib.ssl_context()
    s = socket.create_connection((env_host(), lib.ENV.port), timeout=30)
    s = ctx.wrap_socket(s, server_hostname=env_host())
    req = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, env_host())
    for k, v in headers.items():
        req += "%s: %s\r\n" % (k, v)
    req += "\r\n"
    s.sendall(req.encode() + body)
    r = http.client.HTTPResponse(s, method=method)
    r.begin()
    data = r.read()
    s.close()
    return lib.Resp.parse(r.status, r.getheaders(), data, join=False)


def env_host():
    return lib.ENV.host


def t_413_nginx(env):
    """A body over 16 MiB is refused by nginx with a JSON 413, announced
    by Content-Length alone (nothing stored)."""
    c = lib.new_course()
    asg = lib.unique("a")
    path = lib.full_path("/grading_config/%s/%s" % (c.id, asg))
    r = raw_request("POST", path, {
        "Authorization": "Bearer " + c.admin,
        "Content-Type": "application/json",
        "Content-Length": str(lib.BODY_MAX + 1)}, b"{")
    fail(r, 413)
    eq(r[1].get("access-control-allow-origin"), "*", "CORS header on 413")
    fail(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin), 404)


def t_413_nginx_real_body(env):
    """The same with the whole oversized body really sent."""
    c = lib.new_course()
    asg = lib.unique("a")
    try:
        r = call("POST", "/grading_config/%s/%s" % (c.id, asg), c.admin,
                 raw=padded(lib.BODY_MAX + 1))
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        # nginx may answer and close before reading it all; then ask with
        # the announced length only (t_413_nginx) - the point here is
        # that it is not accepted
        lib.drop_connection()
        r = None
    if r is not None:
        fail(r, 413)
    fail(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin), 404)


def t_limit_exact(env):
    """Exactly 16 MiB passes nginx and the handler."""
    c = lib.new_course()
    asg = lib.unique("a")
    ok(call("POST", "/grading_config/%s/%s" % (c.id, asg), c.admin,
            raw=padded(lib.BODY_MAX)))
    eq(ok(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin)),
       json.loads(PAD_CFG), "stored config")


def fcgi_sock(env):
    p = os.path.join(env.stack_dir, "run", "api.sock")
    assert os.path.exists(p), "no FastCGI socket at %s" % p
    return p


def t_413_handler(env):
    """Straight to the FastCGI socket (no nginx): the handler refuses a
    body over 16 MiB with its own JSON 413, and takes exactly 16 MiB."""
    c = lib.new_course()
    asg = lib.unique("a")
    path = "/api/v1/grading_config/%s/%s" % (c.id, asg)
    r = lib.fcgi_call(fcgi_sock(env), "POST", path, c.admin,
                      body=padded(lib.BODY_MAX + 1))
    fail(r, 413)
    eq(r[1].get("access-control-allow-origin"), "*", "CORS header from the handler")
    r = lib.fcgi_call(fcgi_sock(env), "POST", path, c.admin, body=b"{",
                      content_length=lib.BODY_MAX + 1)
    fail(r, 413)
    fail(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin), 404)
    r = lib.fcgi_call(fcgi_sock(env), "POST", path, c.admin,
                      body=padded(lib.BODY_MAX))
    ok(r)
    eq(ok(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin)),
       json.loads(PAD_CFG), "stored config")


def t_handler_short_body(env):
    """A body shorter than its Content-Length: 400, nothing stored, and
    the process survives."""
    c = lib.new_course()
    asg = lib.unique("a")
    path = "/api/v1/grading_config/%s/%s" % (c.id, asg)
    r = lib.fcgi_call(fcgi_sock(env), "POST", path, c.admin,
                      body=PAD_CFG.encode(), content_length=len(PAD_CFG) + 100)
    assert r[0] == 400, r
    fail(r, 400)
    fail(call("GET", "/grading_config/%s/%s" % (c.id, asg), c.admin), 404)
    ok(call("GET", "/queue/%s/length" % c.id, c.admin))


def chunked_post(path, token, chunks):
    conn = lib.ENV.api.connect(timeout=60)
    try:
        conn.request("POST", lib.full_path(path), body=iter(chunks),
                     headers={"Authorization": "Bearer " + token,
                              "Content-Type": "application/json"},
                     encode_chunked=True)
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    return lib.Resp.parse(r.status, r.getheaders(), data, join=False)


def t_chunked(env):
    """A chunked body (no Content-Length) is accepted; a chunked body over
    16 MiB is a JSON 413 and nothing is stored."""
    c = lib.new_course()
    a = lib.unique("a")
    p = "/grading_config/%s/%s" % (c.id, a)
    ok(chunked_post(p, c.admin, [PAD_CFG[:10].encode(), PAD_CFG[10:].encode()]))
    eq(ok(call("GET", p, c.admin)), json.loads(PAD_CFG), "stored config")
    b = lib.unique("b")
    p = "/grading_config/%s/%s" % (c.id, b)
    big = padded(lib.BODY_MAX + 1)
    try:
        r = chunked_post(p, c.admin, [big[i:i + 1048576]
                                      for i in range(0, len(big), 1048576)])
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        r = None        # nginx answered and closed early; still not stored
    if r is not None:
        fail(r, 413)
    fail(call("GET", p, c.admin), 404)


def t_tls(env):
    """HTTPS only, with the stack's certificate; plain HTTP on the TLS
    port is not served."""
    ctx = ssl.create_default_context()     # system CAs only: must fail
    conn = http.client.HTTPSConnection(env.host, env.port, context=ctx, timeout=10)
    try:
        conn.request("GET", "/api/v1/queue/x/length")
        conn.getresponse().read()
        raise AssertionError("self-signed certificate accepted by the system CAs")
    except ssl.SSLError:
        pass            # the refusal this test wants
    finally:
        conn.close()
    conn = http.client.HTTPConnection(env.host, env.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/queue/x/length")
        r = conn.getresponse()
        r.read()
        assert r.status >= 400, "plain HTTP served: %d" % r.status
    except (ConnectionError, http.client.HTTPException):
        pass            # nginx hung up on plain HTTP: not served either
    finally:
        conn.close()


def t_keepalive_many(env):
    """500 requests on one keep-alive connection."""
    c = lib.new_course()
    for _ in range(500):
        eq(ok(call("GET", "/queue/%s/length" % c.id, c.admin)), {"length": 0}, "length")


def tests(env):
    return [
        ("path_percent_decoded_once", t_decoded_once),
        ("unknown_routes_json_404", t_unknown_routes),
        ("body_over_limit_413_nginx", t_413_nginx),
        ("body_over_limit_413_nginx_full_body", t_413_nginx_real_body),
        ("body_exactly_at_limit_accepted", t_limit_exact),
        ("body_over_limit_413_handler", t_413_handler),
        ("handler_short_body_400", t_handler_short_body),
        ("chunked_bodies", t_chunked),
        ("tls_only", t_tls),
        ("keepalive_500_requests", t_keepalive_many),
    ]
