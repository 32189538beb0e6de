"""A small client of the web console's HTTP API (CONTRACT §8) for the tests:
a session that logs in, keeps its cookie and CSRF token, posts protocol
messages, and reads the server-sent event stream over a raw socket (so the
tests see exactly what a browser would: chunked, line by line)."""

import http.client
import json
import socket
import time

from harness import _log_traffic, secs


class Response:
    """Status, headers (lower-cased names; Set-Cookie kept as a list) and
    the JSON body (None when there is none)."""

    def __init__(self, status, headers, cookies, body):
        self.status = status
        self.headers = headers
        self.cookies = cookies
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r>" % (self.status, self.raw[:200])


class Web:
    """One browser: its cookie jar holds the session cookie."""

    def __init__(self, port, name="web"):
        self.port = port
        self.name = name
        self.cookie = None
        self.csrf = None
        self.streams = []

    def request(self, method, path, body=None, headers=None, csrf=None):
        """One request on a fresh connection; a Response."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=secs(10000))
        h = dict(headers or {})
        if self.cookie is not None:
            h["Cookie"] = "crisisd_session=" + self.cookie
        if csrf is not None:
            h["X-CSRF-Token"] = csrf
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(
                body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read().decode("utf-8", "replace")
        cookies = r.msg.get_all("Set-Cookie") or []
        headers = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        _log_traffic(self.name, ">", "%s %s -> %d %s" % (method, path,
                                                          r.status, raw[:160]))
        return Response(r.status, headers, cookies, raw)

    def login(self, principal, password, expect=200):
        r = self.request("POST", "/api/login",
                         {"principal": principal, "password": password})
        assert r.status == expect, "login %s: %r" % (principal, r)
        if r.status == 200:
            for c in r.cookies:
                if c.startswith("crisisd_session="):
                    self.cookie = c.split(";", 1)[0].split("=", 1)[1]
            self.csrf = r.json["csrf"]
        return r

    def message(self, msg, expect=None):
        """POST one protocol message with the CSRF token; the Response."""
        r = self.request("POST", "/api/messages", msg, csrf=self.csrf)
        if expect is not None:
            assert r.json is not None and r.json.get("type") == expect, (
                "%s: expected %s, got %r" % (msg.get("type"), expect, r))
        return r

    def events(self, last_id=None, query=""):
        """GET /api/events (query: "?lastEventId=N" and the like), with
        Last-Event-ID: last_id when given."""
        s = EventStream(self, last_id, query)
        self.streams.append(s)
        return s

    def close(self):
        for s in self.streams:
            s.close()


class EventStream:
    """GET /api/events, read as the bytes come: chunked SSE."""

    def __init__(self, web, last_id=None, query=""):
        self.web = web
        self.sock = socket.create_connection(("127.0.0.1", web.port),
                                             timeout=5)
        lines = ["GET /api/events%s HTTP/1.1" % query, "Host: 127.0.0.1",
                 "Accept: text/event-stream"]
        if web.cookie is not None:
            lines.append("Cookie: crisisd_session=" + web.cookie)
        if last_id is not None:
            lines.append("Last-Event-ID: %s" % last_id)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.text = ""
        self.status = None
        self.headers = {}
        self.closed = False
        self._read_head()

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _read_head(self):
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in self.buf and time.monotonic() < deadline:
            if not self._fill(deadline) and self.closed:
                break
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        first, *rest = head.decode().split("\r\n")
        self.status = int(first.split()[1])
        for h in rest:
            k, _, v = h.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def _dechunk(self):
        """Move whole chunks from buf to text."""
        while True:
            line, sep, rest = self.buf.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.closed = True
            self.text += rest[:size].decode()
            self.buf = rest[size + 2:]

    def next(self, timeout=None, type=None):
        """The next event (id, message) whose message type is type (others
        skipped), or None when none came in time."""
        deadline = time.monotonic() + (secs(2000) if timeout is None
                                       else timeout)
        while True:
            self._dechunk()
            while "\n\n" in self.text:
                block, self.text = self.text.split("\n\n", 1)
                ev = parse_event(block)
                if ev is None:
                    continue
                _log_traffic(self.web.name, "<", "event %s %s" % ev)
                if type is None or ev[1].get("type") == type:
                    return ev
            if time.monotonic() >= deadline or self.closed:
                return None
            self._fill(deadline)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True


def parse_event(block):
    """(id, message) of one SSE block; None for a comment."""
    eid, data = None, []
    for line in block.split("\n"):
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        v = v[1:] if v.startswith(" ") else v
        if k == "id":
            eid = int(v)
        elif k == "data":
            data.append(v)
    if not data:
        return None
    return eid, json.loads("\n".join(data))
