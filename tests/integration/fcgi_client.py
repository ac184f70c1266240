"""A FastCGI client for the integration tests: one request straight to a
handler's socket, past nginx, to check the handler's own limits and the
headers nginx consumes (X-Accel-Buffering).  Python 3 stdlib only."""

import struct
import socket
import threading

from broadway_client import Resp

FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = \
    1, 3, 4, 5, 6, 7
def _fcgi_rec(typ, content, rid=1):
    out = b""
    if not content:
        return struct.pack("!BBHHBB", 1, typ, rid, 0, 0, 0)
    for i in range(0, len(content), 65535):
        chunk = content[i:i + 65535]
        pad = (8 - len(chunk) % 8) % 8
        out += struct.pack("!BBHHBB", 1, typ, rid, len(chunk), pad, 0) + \
            chunk + b"\0" * pad
    return out

def _fcgi_nv(name, value):
    def ln(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    n, v = name.encode(), value.encode()
    return ln(len(n)) + ln(len(v)) + n + v

def fcgi_call(sock_path, method, path, token=None, body=b"",
              content_length=None, timeout=60):
    """One request straight to a FastCGI socket (bypassing nginx), for
    checking the handler's own limits.  Returns (status, headers, json).
    body may be bytes or an int (that many spaces, streamed)."""
    blen = body if isinstance(body, int) else len(body)
    params = {
        "REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
        "SCRIPT_NAME": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(content_length if content_length is not None else blen),
        "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    if token is not None:
        params["HTTP_AUTHORIZATION"] = "Bearer " + token
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(_fcgi_rec(FCGI_BEGIN, struct.pack("!HB5x", 1, 0)) +
              _fcgi_rec(FCGI_PARAMS, b"".join(_fcgi_nv(k, v) for k, v in params.items())) +
              _fcgi_rec(FCGI_PARAMS, b""))

    def feed():
        try:
            if isinstance(body, int):
                chunk = b" " * 65528
                left = body
                while left > 0:
                    c = chunk[:min(left, len(chunk))]
                    s.sendall(_fcgi_rec(FCGI_STDIN, c))
                    left -= len(c)
            elif body:
                s.sendall(_fcgi_rec(FCGI_STDIN, body))
            s.sendall(_fcgi_rec(FCGI_STDIN, b""))
        except OSError:
            pass            # the app answered early and closed
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    out = b""
    buf = b""
    done = False
    while not done:
        try:
            d = s.recv(65536)
        except OSError:
            break       # reset by an app that closed with our stdin unread
        if not d:
            break
        buf += d
        while len(buf) >= 8:
            ver, typ, rid, clen, pad, _ = struct.unpack("!BBHHBB", buf[:8])
            if len(buf) < 8 + clen + pad:
                break
            content = buf[8:8 + clen]
            buf = buf[8 + clen + pad:]
            if typ == FCGI_STDOUT:
                out += content
            elif typ == FCGI_END:
                done = True
    s.close()
    t.join(5)
    head, _, payload = out.partition(b"\r\n\r\n")
    status = 200
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        if k.lower() == "status":
            status = int(v.strip().split()[0])
        elif k:
            hdrs[k.lower()] = v.strip()
    return Resp.parse(status, hdrs.items(), payload, join=False)

