"""A client of one Broadway-C stack, shared by the integration tests
(tests/integration/lib.py), the benchmarks (tests/bench/) and the demo
(demo/watch.py).  Python 3.11 standard library only.

- StackEnv: DIR/stack.env, written by `scripts/stack.sh up DIR`, as a
  dict, with the API's address (an Endpoint) parsed out of BROADWAY_URL.
- Client: HTTPS requests with the stack's CA and a bearer token, one
  keep-alive connection per thread; each answer is a Resp.
- EventStream: one server-sent event stream (GET /stream/...) on its own
  connection, read an event at a time by an SseReader.

The scripts that use it run as `python3 path/to/script.py` from any
directory: each puts this folder on sys.path by its own __file__ first.
"""

import http.client
import json
import os
import shlex
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass


# ---------------------------------------------------------------- stack.env

@dataclass(frozen=True)
class Endpoint:
    """Where the API answers, and the CA that signed its certificate."""
    host: str
    port: int
    base: str           # the prefix of every route: "/api/v1"
    ca: str             # the CA file (BROADWAY_CA)

    @classmethod
    def from_url(cls, url, ca):
        u = urllib.parse.urlsplit(url)
        return cls(u.hostname, u.port or 443, u.path.rstrip("/"), ca)

    def ssl_context(self):
        """A new context each time: a caller may tune its own."""
        return ssl.create_default_context(cafile=self.ca)

    def connect(self, timeout=60):
        return http.client.HTTPSConnection(self.host, self.port,
                                           context=self.ssl_context(),
                                           timeout=timeout)

    def full_path(self, path, absolute=False):
        """path below the base ("/queue/c/length" -> "/api/v1/queue/c/
        length") unless it already starts with it or absolute is set."""
        if absolute or path.startswith(f"{self.base}/"):
            return path
        if not path.startswith("/"):
            path = f"/{path}"
        return f"{self.base}{path}"


def parse_env_file(path):
    """The KEY=VALUE lines of a shell file (quotes as the shell reads
    them; blank lines, comments and lines without "=" ignored; a leading
    `export ` allowed) as a dict.  path may be the folder holding it."""
    if os.path.isdir(path):
        path = os.path.join(path, "stack.env")
    vals = {}
    with open(path) as f:
        for line in f:
            line = line.strip().removeprefix("export ")
            if not line or line.startswith("#"):
                continue
            k, sep, v = line.partition("=")
            if not sep:
                continue
            parts = shlex.split(v) if v else [""]
            vals[k.strip()] = parts[0] if parts else ""
    return vals


class StackEnv(dict):
    """stack.env as a dict, plus .api (the Endpoint) and the values every
    user of it reads.  BROADWAY_URL and BROADWAY_CA must be there."""

    def __init__(self, values):
        super().__init__(values)
        self.api = Endpoint.from_url(self["BROADWAY_URL"], self["BROADWAY_CA"])
        self.stack_dir = self.get("BROADWAY_STACK_DIR", "")

    # The parts of the endpoint by the names the tests have always used.
    host = property(lambda self: self.api.host)
    port = property(lambda self: self.api.port)
    base = property(lambda self: self.api.base)
    ca = property(lambda self: self.api.ca)

    @classmethod
    def load(cls, path):
        return cls(parse_env_file(path))


# ---------------------------------------------------------------- HTTPS

def parse_json(raw):
    """The body as JSON, or None: not every answer is JSON (nginx's own
    error pages are HTML, a 204 has no body)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class Resp(tuple):
    """(status, headers, json) with .raw (the body's bytes) and .hlist
    (every header as a (lower-cased name, value) pair, in order)."""

    def __new__(cls, status, headers, data, raw=b"", hlist=()):
        t = tuple.__new__(cls, (status, headers, data))
        t.raw = raw
        t.hlist = list(hlist)
        return t

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    json = property(lambda self: self[2])

    @classmethod
    def parse(cls, status, pairs, raw, join=True):
        """From the status, the header pairs and the body.  In .headers
        names are lower-cased and a repeated header's values joined with
        ", " (join=False: the last one counts)."""
        hl = [(k.lower(), v) for k, v in pairs]
        headers = {}
        for k, v in hl:
            headers[k] = f"{headers[k]}, {v}" if join and k in headers else v
        return cls(status, headers, parse_json(raw), raw, hl)

    def __repr__(self):
        return f"<{self[0]} {self.raw[:400]!r}>"


# A reused keep-alive connection the server has closed in the meantime
# fails with one of these; the request is then sent again on a new one.
STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.CannotSendRequest,
                    http.client.ResponseNotReady, ssl.SSLEOFError)


class Client:
    """HTTPS to one stack's API, one keep-alive connection per thread."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self._local = threading.local()

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self.endpoint.connect()
            self._local.used = 0
        return c

    def close(self):
        """Forget this thread's connection (the next request opens one)."""
        c = getattr(self._local, "conn", None)
        self._local.conn = None
        if c is not None:
            c.close()

    def request(self, method, path, token=None, body=None, raw=None,
                headers=None, absolute=False, timeout=60):
        """One request on this thread's connection.

        path is below the endpoint's base (Endpoint.full_path).  body is
        sent as JSON; raw (bytes or str) as it is.  token becomes
        "Authorization: Bearer <token>"; headers adds or overrides any.
        A reused connection the server had closed is reopened once;
        every other network error propagates.  Returns a Resp."""
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        payload = None
        if raw is not None:
            payload = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if payload is None and method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", "0")
        p = self.endpoint.full_path(path, absolute)
        for attempt in (0, 1):
            c = self._conn()
            reused = self._local.used > 0
            try:
                c.timeout = timeout
                if c.sock is not None:
                    c.sock.settimeout(timeout)
                c.request(method, p, body=payload, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self._local.used += 1
            except STALE_CONNECTION:
                self.close()
                if attempt == 0 and reused:
                    continue
                raise
            except BaseException:
                self.close()            # half a request: never reuse it
                raise
            if r.will_close:
                self.close()
            return Resp.parse(r.status, r.getheaders(), data)


# ---------------------------------------------------------------- SSE

class SseError(ValueError):
    """The stream broke the text/event-stream format, or was cut off
    (not ended by the server's last chunk)."""


@dataclass
class SseEvent:
    event: str | None       # the `event:` field (the event's name)
    data: str               # its `data:` lines, joined with "\n"
    id: str | None          # the `id:` field
    at: float               # time.monotonic() when its last line came

    def json(self):
        return json.loads(self.data)


class SseReader:
    """The events of a text/event-stream response, one at a time.

    broadway-sse ends every line with "\\n" alone; a comment line (":"),
    its keep-alive, is only counted; a blank line ends an event, which
    counts if it had a data field."""

    def __init__(self, resp):
        self.resp = resp
        self.comments = 0
        self.ended = False

    def next(self):
        """The next event, or None when the server ended the response
        cleanly (the final chunk).  A cut-off or malformed stream raises
        SseError; a timeout or a reset, OSError."""
        fields = {}
        data = []
        while True:
            try:
                line = self.resp.readline()
            except http.client.IncompleteRead as e:
                raise SseError(f"stream aborted, not ended: {e!r}") from e
            if not line:
                self.ended = True
                if fields or data:
                    raise SseError(f"stream ended inside an event: "
                                   f"{dict(fields, data=data)!r}")
                return None
            if not line.endswith(b"\n"):
                raise SseError(f"unterminated line {line!r}")
            text = line[:-1].decode()
            if text == "":
                if data:
                    return SseEvent(fields.get("event"), "\n".join(data),
                                    fields.get("id"), time.monotonic())
                fields = {}
                continue
            if text.startswith(":"):
                self.comments += 1
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value


class EventStream:
    """GET one event stream on its own HTTPS connection.  .status and
    .headers (names lower-cased) come at once; next() reads an event."""

    def __init__(self, endpoint, path, token=None, last_event_id=None,
                 headers=None, timeout=30):
        h = {"Accept": "text/event-stream"}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        if headers:
            h.update(headers)
        self.conn = endpoint.connect(timeout)
        try:
            self.conn.request("GET", endpoint.full_path(path), headers=h)
            self.resp = self.conn.getresponse()
        except BaseException:
            self.conn.close()           # not to leak it on a refusal
            raise
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.reader = SseReader(self.resp)

    def next(self):
        return self.reader.next()

    def body(self):
        """The whole body: the JSON envelope of an answer that is not a
        stream (an error before any stream starts)."""
        return self.resp.read()

    def shutdown(self):
        """End the stream under a thread blocked reading it: its next()
        returns or raises at once.  Join that thread before close():
        http.client is not safe to close under a reader."""
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass            # the server hung up first: nothing to end

    def close(self):
        self.shutdown()
        self.conn.close()
