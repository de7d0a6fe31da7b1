#!/usr/bin/python3
"""Example vehicle backend: the upstream pawld proxies to in the demo and in the
integration tests. Python standard library only (Debian's /usr/bin/python3).

It answers the routes of examples/policy.yaml with small JSON documents, each
carrying "principal": the X-Pawl-Principal header pawld passed on (null when
absent, a list when the header came more than once). It reads request bodies
itself, Content-Length or chunked, and is strict about framing: anything a
careful origin server would refuse (both or repeated framing headers, a bad
chunk size, obs-fold, space before a colon) gets 400 and a closed connection,
so a test sees it if pawld ever forwards such a request.

usage: vehicle-backend.py [--listen HOST:PORT] [--ready-file F] [--record F]
                          [--tls-cert F --tls-key F] [--verbose]

  --listen      address to bind (default 127.0.0.1:8080); with port 0 the
                chosen port is printed on stdout
  --ready-file  after binding, the port number is written here (F.tmp, renamed)
  --record      one JSON line per request, flushed at once: time_ms, method,
                path (raw target), version, headers ([name, value] as received,
                values decoded as Latin-1), body_len, body_sha256 (of the
                decoded body, or what was read of it), trailers; and error
                when the request was refused
  --tls-cert/--tls-key  serve HTTPS with this certificate chain and key
  --verbose     log each request to stderr (quiet otherwise)

Query parameters on any path:
  delay_ms=N  wait N ms (at most 600000) after reading the request
  size=N      answer N bytes (at most 64 MiB) of application/octet-stream, sent
              in 64 KiB pieces; byte i is PATTERN[i % 64], PATTERN being
              0-9, a-z, A-Z, "-" and "_" in that order
  status=N    answer with status N (200..599; 204 and 304 have no body)
  cut=N       answer 200 with a body delimited by the end of the connection,
              N bytes (at most 64 KiB) of it, then end the TCP connection
              without TLS close_notify: a cut anyone on the path could make
Unknown paths get 404, known paths with another method 405 (JSON both).
"""
import argparse
import hashlib
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 << 20
MAX_LINE = 4096           # chunk-size and trailer lines
MAX_TRAILERS = 64
PIECE = 64 << 10
PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
BLOCK = PATTERN * (PIECE // len(PATTERN))
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})([ \t]*;[^\r\n\x00]*)?\r\n")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class Refused(Exception):
    """A request the backend will not process: 400 and close."""


class Body:
    """What was read of a request body: length and SHA-256, never the bytes."""

    def __init__(self):
        self.n, self.sha = 0, hashlib.sha256()

    def update(self, piece):
        self.n += len(piece)
        self.sha.update(piece)


# --- the example API: (path pattern, {method: handler(match) -> (status, doc)})
def vin_status(m):
    return 200, {"vin": m["vin"], "locked": True, "ignition": "off", "speed_kph": 0,
                 "odometer_km": 48213, "battery_soc_pct": 76, "updated_at": "2025-01-01T12:00:00Z"}


def vin_location(m):
    return 200, {"vin": m["vin"], "lat": 48.1374, "lon": 11.5755, "heading_deg": 270,
                 "accuracy_m": 5}


def vin_command(m):
    return 202, {"vin": m["vin"], "command": m["cmd"], "result": "accepted",
                 "command_id": hashlib.sha256(os.urandom(16)).hexdigest()[:16]}


def key_codes(m):
    return 200, {"vin": m["vin"], "key_codes": ["K7Q2-9XLM", "K7Q2-4HRT"]}


def owners_add(m):
    return 200, {"vin": m["vin"], "result": "transferred"}


def owners_del(m):
    return 200, {"vin": m["vin"], "result": "removed"}


def campaigns_list(m):
    return 200, {"campaigns": [{"id": "camp-2025-01", "target": "tcu-fw-4.2.1",
                                "state": "active", "vehicles": 1250}]}


def campaigns_new(m):
    return 201, {"id": "camp-new", "state": "draft"}


def admin_user(m):
    return 200, {"user": m["user"], "roles": ["owner"], "active": True}


ROUTES = [(re.compile(p), h) for p, h in [
    (r"/api/v1/vehicles/(?P<vin>[^/]+)/status", {"GET": vin_status}),
    (r"/api/v1/vehicles/(?P<vin>[^/]+)/location", {"GET": vin_location}),
    (r"/api/v1/vehicles/(?P<vin>[^/]+)/commands/(?P<cmd>[A-Za-z0-9_.-]+)", {"POST": vin_command}),
    (r"/api/v1/dealer/vehicles/(?P<vin>[^/]+)/key-codes", {"GET": key_codes}),
    (r"/api/v1/vehicles/(?P<vin>[^/]+)/owners", {"POST": owners_add, "DELETE": owners_del}),
    (r"/api/v1/ota/campaigns", {"GET": campaigns_list, "POST": campaigns_new}),
    (r"/api/v1/admin/users/(?P<user>[^/]+)", {"GET": admin_user}),
]]


class Tap:
    """The connection's reader; keeps the raw lines of the current request head,
    because http.client's header parser hides what was actually received."""

    def __init__(self, f):
        self.f, self.lines, self.on = f, [], True

    def readline(self, limit=-1):
        line = self.f.readline(limit)
        if self.on:
            self.lines.append(line)
        return line

    def __getattr__(self, name):
        return getattr(self.f, name)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # here and delayed ACKs at the client add 40 ms to every kept-alive request.
    disable_nagle_algorithm = True
    timeout = 120

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()   # here, not in the accepting thread
        super().setup()
        self.rfile = Tap(self.rfile)

    def handle_one_request(self):
        self.rfile.lines, self.rfile.on, self.principal = [], True, None
        super().handle_one_request()

    def __getattr__(self, name):
        if name.startswith("do_"):        # every method reaches the backend
            return self.dispatch
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def send_error(self, code, message=None, explain=None):
        # http.server refused the head (too long, too many headers): record it.
        headers = self.raw_headers()[0] if self.rfile.lines else []
        self.record(headers, Body(), f"{code} {message or ''}".strip())
        super().send_error(code, message, explain)

    # --- request
    def raw_headers(self):
        """[name, value] pairs from the raw head, and why an origin must reject
        the head (None if it need not)."""
        out, error = [], None
        if self.rfile.lines[-1] == b"":
            error = "connection closed inside the head"
        elif any(not raw.endswith(b"\r\n") for raw in self.rfile.lines):
            error = "a line of the head does not end in CRLF"
        for raw in self.rfile.lines[1:]:
            line = raw.decode("latin-1").removesuffix("\n").removesuffix("\r")
            if not line:
                break
            name, colon, value = line.partition(":")
            out.append([name, value.strip(" \t")])
            if not error and (not colon or not TOKEN.fullmatch(name) or CTL.search(value)):
                error = f"bad header line {line[:80]!r}"
        return out, error

    def read_body(self, headers, body):
        """Reads the body into body; returns the trailers."""
        te = [v for n, v in headers if n.lower() == "transfer-encoding"]
        cl = [v for n, v in headers if n.lower() == "content-length"]
        if te and cl:
            raise Refused("both Transfer-Encoding and Content-Length")
        if te:
            if len(te) > 1 or te[0].lower() != "chunked":
                raise Refused(f"Transfer-Encoding {te!r}")
            return self.read_chunked(body)
        if len(cl) > 1 or (cl and not re.fullmatch(r"[0-9]{1,20}", cl[0])):
            raise Refused(f"Content-Length {cl!r}")
        n = int(cl[0]) if cl else 0
        if n > MAX_BODY:
            raise Refused(f"body of {n} bytes")
        self.read_exact(n, body)
        return []

    def read_exact(self, n, body):
        while n > 0:
            piece = self.rfile.read(min(n, PIECE))
            if not piece:
                raise Refused("connection closed inside the body")
            body.update(piece)
            n -= len(piece)

    def read_line(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE or not line.endswith(b"\r\n"):
            raise Refused(f"bad line in chunked body {line[:80]!r}")
        return line

    def read_chunked(self, body):
        while True:
            m = CHUNK_SIZE_LINE.fullmatch(self.read_line())
            if not m:
                raise Refused("bad chunk-size line")
            size = int(m[1], 16)
            if size == 0:
                break
            if body.n + size > MAX_BODY:
                raise Refused(f"chunked body over {MAX_BODY} bytes")
            self.read_exact(size, body)
            if self.rfile.read(2) != b"\r\n":
                raise Refused("chunk data not followed by CRLF")
        trailers = []
        while (line := self.read_line()) != b"\r\n":
            name, colon, value = line.decode("latin-1")[:-2].partition(":")
            if (not colon or not TOKEN.fullmatch(name) or CTL.search(value)
                    or len(trailers) >= MAX_TRAILERS):
                raise Refused("bad trailer section")
            trailers.append([name, value.strip(" \t")])
        return trailers

    def record(self, headers, body, error=None, trailers=()):
        if not self.server.record:
            return
        doc = {"time_ms": int(time.time() * 1000), "method": self.command,
               "path": getattr(self, "path", None),
               "version": self.request_version, "headers": headers, "body_len": body.n,
               "body_sha256": body.sha.hexdigest(), "trailers": list(trailers)}
        if error:
            doc["error"] = error
        with self.server.record_lock:
            self.server.record.write(json.dumps(doc) + "\n")
            self.server.record.flush()

    # --- dispatch and response
    def dispatch(self):
        self.rfile.on = False
        headers, error = self.raw_headers()
        principal = [v for k, v in headers if k.lower() == "x-pawl-principal"]
        self.principal = principal[0] if len(principal) == 1 else (principal or None)
        body = Body()
        try:
            if error:
                raise Refused(error)
            trailers = self.read_body(headers, body)
        except Refused as e:
            self.record(headers, body, str(e))
            return self.answer_json(400, {"error": str(e)}, close=True)
        self.record(headers, body, trailers=trailers)

        if self.path.startswith("/"):
            path, _, query = self.path.partition("?")
        else:                             # absolute-form
            path, query = urllib.parse.urlsplit(self.path)[2:4]
        try:
            q = {k: int(v[-1]) for k, v in urllib.parse.parse_qs(query).items()
                 if k in ("delay_ms", "size", "status", "cut")}
        except ValueError:
            return self.answer_json(400, {"error": "delay_ms, size, status and cut are integers"})
        if not (0 <= q.get("delay_ms", 0) <= 600000 and 0 <= q.get("size", 0) <= MAX_BODY
                and 200 <= q.get("status", 200) <= 599 and 0 <= q.get("cut", 0) <= PIECE):
            return self.answer_json(400, {"error": "delay_ms, size, status or cut out of range"})
        time.sleep(q.get("delay_ms", 0) / 1000)
        if "cut" in q:
            return self.answer_cut(q["cut"])

        if "size" in q:
            return self.answer_stream(q.get("status", 200), q["size"])
        status, doc = 404, {"error": "no such route"}
        for pattern, methods in ROUTES:
            m = pattern.fullmatch(path)
            if m and self.command in methods:
                status, doc = methods[self.command](m)
                break
            if m:
                status, doc = 405, {"error": "method not allowed", "allow": sorted(methods)}
                break
        self.answer_json(q.get("status", status), doc)

    def answer_json(self, status, doc, close=False):
        doc["principal"] = self.principal
        body = (json.dumps(doc) + "\n").encode()
        self.send_head(status, "application/json", len(body), close)
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(body)

    def answer_stream(self, status, size):
        self.send_head(status, "application/octet-stream", size)
        if status in (204, 304) or self.command == "HEAD":
            return
        while size > 0:
            self.wfile.write(BLOCK[:min(size, PIECE)])
            size -= PIECE

    def answer_cut(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(BLOCK[:n])
        # the TCP end (FIN) of the socket under the TLS layer, no close_notify
        raw = socket.socket(fileno=os.dup(self.connection.fileno()))
        raw.shutdown(socket.SHUT_RDWR)
        raw.close()
        self.close_connection = True

    def send_head(self, status, ctype, length, close=False):
        self.send_response(status)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(length))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="pawl example vehicle backend")
    ap.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    ap.add_argument("--ready-file", metavar="F")
    ap.add_argument("--record", metavar="F")
    ap.add_argument("--tls-cert", metavar="F")
    ap.add_argument("--tls-key", metavar="F")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        ap.error("--listen wants HOST:PORT")
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    host = host.strip("[]")
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server((host, int(port)), Handler)
    srv.verbose, srv.record_lock = a.verbose, threading.Lock()
    srv.record = open(a.record, "a", encoding="utf-8") if a.record else None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    bound = srv.socket.getsockname()[1]
    if int(port) == 0:
        print(bound, flush=True)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(f"{bound}\n")
        os.replace(a.ready_file + ".tmp", a.ready_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
