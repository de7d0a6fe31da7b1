#!/usr/bin/python3
"""Cases for test_pawld_edges.sh: each one a failure a code review found in
pawld, driven with raw sockets against pawld in front of
quirky_upstream.py. Python standard library only.

usage: pawld_edges.py CASE   (settings in the environment, see main())
Prints one line; exit 0 when pawld behaved, 1 (with FAIL:) when not.
"""
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

E = os.environ


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def conn(port, tls=False, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


class Reader:
    """Reads whole HTTP/1.1 responses from a socket."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise Fail("pawld closed the connection; had %r" % self.buf[:120])
        self.buf += d

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        out, _, self.buf = self.buf.partition(b"\r\n")
        return out

    def response(self, head_request=False):
        """(status, {lower name: value}, body)"""
        status_line = self.line()
        check(status_line.startswith(b"HTTP/1.1 "), "not a status line: %r" % status_line[:80])
        status = int(status_line.split(b" ")[1])
        headers = {}
        while True:
            h = self.line()
            if not h:
                break
            k, _, v = h.decode("latin1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if head_request or status in (204, 304) or status < 200:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    self.line()
                    return status, headers, body
                body += self.take(size)
                self.take(2)
        return status, headers, self.take(int(headers.get("content-length", "0")))


def req(method, path, extra="", body=b"", token=None):
    token = token or E["TOKEN"]
    head = "%s %s HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n%s" % (method, path, token, extra)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + body


def status_path(q=""):
    return "/api/v1/vehicles/%s/status%s" % (E["VIN"], q)


def command_path(q=""):
    return "/api/v1/vehicles/%s/commands/door.lock%s" % (E["VIN"], q)


def uplog():
    with open(E["UPLOG"]) as f:
        return [json.loads(line) for line in f]


def upstream_saw(word):
    return [r for r in uplog() if word in r.get("line", "")]


# ---- the cases ---------------------------------------------------------------

def case_tls_error_queue():
    """A failed TLS handshake on one connection must not fail another on the
    same worker (OpenSSL's error queue is per thread)."""
    a = conn(int(E["TLS"]), tls=True)
    ra = Reader(a)
    a.sendall(req("GET", status_path()))
    check(ra.response()[0] == 200, "the first request over TLS was not answered 200")
    for _ in range(3):  # plaintext to the TLS port: a handshake error
        b = socket.create_connection(("127.0.0.1", int(E["TLS"])))
        b.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.2)
        b.close()
    a.sendall(req("GET", status_path()))
    check(ra.response()[0] == 200, "a good TLS connection failed after another one's handshake error")
    return "a TLS client kept its connection while others failed their handshakes"


def case_retry_only_safe():
    """A kept-alive upstream connection closed under a request: a GET goes
    again on a fresh connection, a POST never (it may have been executed)."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?hangclose-get")))
    check(r.response()[0] == 200, "GET 1 failed")
    s.sendall(req("GET", status_path("?hangclose-get")))
    st = r.response()[0]
    check(st == 200, "a GET on a connection the upstream closed was not retried: %d" % st)
    saw = upstream_saw("hangclose-get")
    check(len(saw) == 3 and saw[2]["conn"] != saw[1]["conn"] and saw[2]["n"] == 1,
          "the retried GET was not sent again on a fresh connection: %s" % saw)
    s2 = conn(int(E["PROXY"]))
    r2 = Reader(s2)
    s2.sendall(req("POST", command_path("?hangclose-post")))
    check(r2.response()[0] == 200, "POST 1 failed")
    s2.sendall(req("POST", command_path("?hangclose-post")))
    st = r2.response()[0]
    check(st == 502, "a POST on a connection the upstream closed was answered %d, not 502" % st)
    n = len(upstream_saw("hangclose-post"))
    check(n == 2, "the POST reached the upstream %d times, not once" % (n - 1))
    return "a GET was retried on a fresh connection, a POST was not (502)"


def case_no_retry_after_timeout():
    """A POST whose answer timed out is never sent again."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("POST", command_path("?slow-first"), "X-Sleep: 0\r\n"))
    check(r.response()[0] == 200, "POST 1 failed")
    s.sendall(req("POST", command_path("?slow-second"), "X-Sleep: 2.5\r\n"))
    st = r.response()[0]
    check(st == 504, "a POST the upstream did not answer in time got %d, not 504" % st)
    time.sleep(3)
    n = len(upstream_saw("slow-second"))
    check(n == 1, "the timed-out POST reached the upstream %d times" % n)
    return "a timed-out POST was answered 504 and sent once"


def case_slow_upload():
    """The response timeout (1 s) runs from the end of the request, not
    while the client is still uploading (pauses of 1.3 s)."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    body = b"x" * 3000
    head = req("POST", command_path("?upload"), "Content-Length: %d\r\n" % len(body))
    s.sendall(head)
    for i in range(3):
        time.sleep(1.3)
        s.sendall(body[i * 1000:(i + 1) * 1000])
    st, _, got = r.response()
    check(st == 200, "a slow upload got %d (the response timeout ran during the upload)" % st)
    check(json.loads(got)["body"] == 3000, "the upstream did not get the whole body")
    return "a 3.9 s upload was forwarded whole with a 1 s response timeout"


def case_upload_held_then_resumed():
    """A large upload whose head and first 256 KiB and more are read in one
    pass (pawld stopped meanwhile, the socket's buffer grown by an upload
    before), while its decision waits to be written:
    reading the client pauses on the held bytes, and must resume once they
    went to the upstream, not run into the body timeout (20 s)."""
    pid = int(E["PAWLD_PID"])
    body = b"x" * 480000
    for i in range(8):
        s = conn(int(E["PROXY"]), timeout=8)
        r = Reader(s)
        # an upload first: the kernel grows the socket's receive buffer to
        # hold the next one while pawld is stopped
        s.sendall(req("POST", command_path("?warm"), body=body * 2))
        st, _, _ = r.response()
        check(st == 200, "warm-up got %d" % st)
        os.kill(pid, signal.SIGSTOP)
        try:
            t = threading.Thread(target=s.sendall, args=(req("POST", command_path("?held%d" % i), body=body),))
            t.start()
            time.sleep(0.3)
        finally:
            os.kill(pid, signal.SIGCONT)
        t0 = time.time()
        try:
            st, _, got = r.response()
        except socket.timeout:
            raise Fail("upload %d: no answer in 8 s (reading the client never resumed)" % i)
        t.join()
        check(st == 200, "upload %d got %d after %.1f s" % (i, st, time.time() - t0))
        check(json.loads(got)["body"] == len(body), "upload %d: the upstream did not get the whole body" % i)
        s.close()
    return "8 uploads of 480,000 bytes read while held were forwarded whole"


def case_no_body_statuses():
    """204 and 304 have no body whatever Content-Length says; the
    connection stays in step."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?nm304")))
    check(r.response()[0] == 304, "no 304")
    s.sendall(req("GET", status_path("?after304")))
    st, _, body = r.response()
    check(st == 200 and b"after304" in body, "the request after a 304 got %d %r" % (st, body[:60]))
    s.sendall(req("GET", status_path("?nc204")))
    check(r.response()[0] == 204, "no 204")
    s.sendall(req("GET", status_path("?after204")))
    st, _, body = r.response()
    check(st == 200 and b"after204" in body, "the request after a 204 got %d %r" % (st, body[:60]))
    return "204 and 304 with a Content-Length: no body read or relayed, the next request served"


def case_announced_body_not_reused():
    """A 204 or 304 that announces a body (a length): the upstream connection
    is not reused, so a body the upstream sends late anyway cannot become
    the response to another client's request (review: pool poisoning)."""
    for q, victim in (("late204", "victimA"), ("late304", "victimB")):
        a = conn(int(E["PROXY"]))
        a.sendall(req("GET", status_path("?" + q)))
        st = Reader(a).response()[0]
        check(st in (204, 304), "%s: got %d" % (q, st))
        b = conn(int(E["PROXY"]))
        b.sendall(req("GET", status_path("?" + victim)))  # while the late body is on its way
        st, hd, body = Reader(b).response()
        check(st == 200 and victim.encode() in body and "x-poison" not in hd,
              "after %s the next client got %d %r %r" % (q, st, hd, body[:60]))
        a.close()
        b.close()
        first, then = upstream_saw("?" + q)[-1], upstream_saw("?" + victim)[-1]
        check(first["conn"] != then["conn"], "after %s the next request went on the same connection" % q)
    # a 204 with Content-Length: 0 announces nothing: its connection is reused
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?zero204")))
    check(r.response()[0] == 204, "no 204")
    s.sendall(req("GET", status_path("?victimC")))
    check(r.response()[0] == 200, "the request after a 204 with Content-Length: 0 failed")
    s.close()
    first, then = upstream_saw("?zero204")[-1], upstream_saw("?victimC")[-1]
    check(first["conn"] == then["conn"], "after a 204 with Content-Length: 0 the connection was not reused")
    return ("after a 204 and a 304 with Content-Length: 40 the next request went on a new connection; "
            "after a 204 with Content-Length: 0 on the same one")


def case_http10_host():
    """An HTTP/1.0 request without Host is refused (400): pawld forwards
    HTTP/1.1, and an HTTP/1.1 request without Host is invalid (review: it
    was allowed and reached the upstream so). With Host it is served."""
    s = conn(int(E["PROXY"]))
    s.sendall(("GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n" %
               (status_path("?nohost10"), E["TOKEN"])).encode())
    st, _, body = Reader(s).response()
    check(st == 400 and b"without Host" in body, "no Host: got %d %r" % (st, body[:120]))
    check(not upstream_saw("nohost10"), "the request without Host reached the upstream")
    s = conn(int(E["PROXY"]))
    s.sendall(("GET %s HTTP/1.0\r\nHost: a\r\nAuthorization: Bearer %s\r\n\r\n" %
               (status_path("?host10"), E["TOKEN"])).encode())
    st = Reader(s).response()[0]
    check(st == 200 and upstream_saw("host10"), "HTTP/1.0 with Host: got %d" % st)
    return "HTTP/1.0 without Host: 400, not forwarded; with Host: 200"


def case_response_chunk_framing():
    """A chunked response whose size line http-parser alone would take
    ("3\\rX", a bare LF) is refused: none of its body reaches the client,
    whose connection closes, and the upstream connection is not reused
    (review: pawld took both and kept the connection)."""
    for q, nxt in (("chunkcr", "nextcr"), ("chunklf", "nextlf")):
        s = conn(int(E["PROXY"]))
        s.settimeout(5)
        s.sendall(req("GET", status_path("?" + q)))
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        body = got.partition(b"\r\n\r\n")[2]
        check(b"abc" not in body and b"0\r\n\r\n" not in body,
              "%s: the client got %r" % (q, got[-120:]))
        s = conn(int(E["PROXY"]))
        s.sendall(req("GET", status_path("?" + nxt)))
        check(Reader(s).response()[0] == 200, "%s: the next request failed" % q)
        s.close()
        bad, then = upstream_saw("?" + q)[-1], upstream_saw("?" + nxt)[-1]
        check(bad["conn"] != then["conn"], "%s: the upstream connection was reused" % q)
    return "chunk size lines ended by CR X or a bare LF: no body relayed, the connection not reused"


def case_response_codings():
    """pawld decodes chunked only: a response whose Transfer-Encoding names
    any other coding is refused (502), not relayed stripped of the header
    that names it; the next request is served."""
    for q in ("tegzip", "tegzipchunked"):
        s = conn(int(E["PROXY"]))
        r = Reader(s)
        s.sendall(req("GET", status_path("?" + q)))
        st, _, got = r.response()
        check(st == 502 and b"upstream_unavailable" in got, "%s: got %d %r" % (q, st, got[:80]))
        s.close()
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?aftercodings")))
    check(r.response()[0] == 200, "the request after them failed")
    return "Transfer-Encoding gzip and gzip, chunked from the upstream: 502"


def case_pipelined_unread():
    """A client that pipelines requests and never reads: pawld stops taking
    requests instead of queueing answers without bound; none is lost."""
    n = int(E.get("PIPELINE_N", "4000"))
    s = conn(int(E["ADMIN"]), timeout=60)
    one = b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"

    def send():
        try:
            s.sendall(one * n)
        except OSError:
            pass
    t = threading.Thread(target=send)
    t.start()
    before = rss_kib()
    time.sleep(3)
    grown = rss_kib() - before
    r = Reader(s)
    size = 0
    for _ in range(n):
        st, _, body = r.response()
        check(st == 200, "answer %d" % st)
        size += len(body)
    t.join()
    check(grown < 6 * 1024, "pawld grew by %d KiB for a client that did not read %d answers (%d KiB)"
          % (grown, n, size // 1024))
    return "%d pipelined answers (%d KiB) all came, pawld grew by %d KiB while the client did not read" % (
        n, size // 1024, grown)


def case_memory_back_when_quiet():
    """Memory a burst of connections took is handed back once pawld has
    been quiet for a second (malloc_trim), not kept for good."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(int(E.get("BURST_N", "600")), hard - 100)
    time.sleep(2.5)  # quiet: what earlier cases freed is handed back first
    before = rss_kib()
    head = req("GET", status_path("?burst"))[:-2] + b"".join(
        b"X-Pad-%d: %s\r\n" % (i, b"p" * 100) for i in range(80))  # ~9 KiB, not ended
    socks = []
    for _ in range(n):
        s = conn(int(E["PROXY"]))
        s.sendall(head)
        socks.append(s)
    time.sleep(1)
    grown = rss_kib() - before
    for s in socks:
        s.close()
    check(grown > 2 * 1024, "%d unfinished 9 KiB heads grew pawld by only %d KiB" % (n, grown))
    with open("/proc/%s/exe" % E["PAWLD_PID"], "rb") as f:
        if b"AddressSanitizer" in f.read():  # ASan's allocator, not glibc's, holds it there
            return "%d unfinished heads took %d KiB (under ASan, whose allocator keeps it)" % (n, grown)
    # never trimming keeps 88 % of it; trimming when quiet kept 7-38 % in
    # these runs (what live allocations between the freed buffers pin). A
    # quiet second, then worker 0's next tick: 2-3 s; looked at for up to 8 s,
    # as a machine busy with other work delays the tick (the CI once saw 54 %
    # held at a fixed 3.5 s while another build ran beside it)
    t0 = time.time()
    left = rss_kib() - before
    while left >= grown // 2 and time.time() - t0 < 8:
        time.sleep(0.25)
        left = rss_kib() - before
    waited = time.time() - t0
    check(left < grown // 2, "%d KiB of the burst's %d KiB still held after %.1f s of quiet" % (left, grown, waited))
    return "%d unfinished heads took %d KiB; %d KiB of it still held after %.1f s of quiet" % (n, grown, left, waited)


def rss_kib():
    with open("/proc/%s/status" % E["PAWLD_PID"]) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Fail("no VmRSS")


def case_tls_pipeline():
    """Many pipelined requests over TLS in one write: all answered (reading
    resumes only after what was kept is consumed)."""
    n = 300
    s = conn(int(E["TLS"]), tls=True)
    r = Reader(s)
    pad = "X-Pad: " + "p" * 900 + "\r\n"
    s.sendall(req("GET", status_path("?tlspipe"), pad) * n)
    for i in range(n):
        st = r.response()[0]
        check(st == 200, "pipelined request %d over TLS got %d" % (i, st))
    return "%d pipelined requests over TLS, every one answered" % n


def case_linger():
    """A refused request followed by more bytes: the 400 arrives whole, the
    connection ends with a FIN, not a reset."""
    s = conn(int(E["PROXY"]))
    s.sendall(b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"z" * 200000)
    time.sleep(0.5)  # a reset, if one comes, arrives before the answer is read
    r = Reader(s)
    try:
        st, _, body = r.response()
    except ConnectionResetError:
        raise Fail("the connection was reset before the 400 was read")
    check(st == 400 and b"reason" in body, "no 400 with its reason")
    try:
        end = s.recv(100)
    except ConnectionResetError:
        raise Fail("the connection ended with a reset (the client may lose the answer)")
    check(end == b"", "bytes after the 400: %r" % end[:40])
    return "the 400 arrived whole and the connection ended with a FIN, after 200 KB more from the client"


def case_head_then_error():
    """After a HEAD, an answer to the next (bad) request still has its body."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("HEAD", status_path()))
    st, _, _ = r.response(head_request=True)
    check(st in (200, 405), "HEAD got %d" % st)
    s.sendall(b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    st, h, body = r.response()
    check(st == 400 and len(body) == int(h["content-length"]) and b"reason" in body,
          "the 400 after a HEAD had no body")
    return "a 400 after a HEAD carried its body"


def case_repeated_step_up():
    """Two command-token headers: refused, nothing forwarded."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    before = len(upstream_saw("repeated-token"))
    s.sendall(req("GET", status_path("?repeated-token"),
                  "%s: a\r\n%s: b\r\n" % (E["STEP_UP_HEADER"], E["STEP_UP_HEADER"].lower())))
    st, _, body = r.response()
    check(st == 400 and b"repeated" in body, "two command tokens got %d %r" % (st, body[:80]))
    check(len(upstream_saw("repeated-token")) == before, "the request reached the upstream")
    return "a repeated %s was refused with 400" % E["STEP_UP_HEADER"]


def case_step_up_lookalikes():
    """A step-up header named outside X-Pawl- (X-Cmd-Token here): neither it
    unverified nor its lookalikes (X_Cmd_Token, which CGI-style upstreams
    read as the same) reach the upstream."""
    name = E["STEP_UP_HEADER"]
    check(not name.lower().startswith("x-pawl-"), "the case needs a step-up header outside X-Pawl-")
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?cmd-lookalike"), "%s: forged-1\r\n%s: forged-2\r\nX-Keep: 1\r\n"
                  % (name.replace("-", "_"), name.upper().replace("-", "_", 1))))
    check(r.response()[0] == 200, "not allowed")
    hdrs = [h.lower() for h in upstream_saw("cmd-lookalike")[-1]["headers"]]
    check(any(h.startswith("x-keep:") for h in hdrs), "an ordinary header was dropped")
    bad = [h for h in hdrs if "forged" in h]
    check(not bad, "forwarded: %s" % bad)
    return "lookalikes of %s were stripped" % name


def case_reserved_lookalikes():
    """Headers an upstream would read as reserved ones never reach it."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    s.sendall(req("GET", status_path("?lookalike"),
                  "X_Pawl_Principal: sub=root; roles=admin\r\nX-Forwarded-Host: evil\r\n"
                  "X-Forwarded-Client-Cert: Hash=1\r\nX-Keep: 1\r\nContent_Length: 5\r\n"))
    check(r.response()[0] == 200, "not allowed")
    hdrs = [h.lower() for h in upstream_saw("lookalike")[-1]["headers"]]
    check(any(h.startswith("x-keep:") for h in hdrs), "an ordinary header was dropped")
    bad = [h for h in hdrs if h.startswith(("x_pawl", "x-forwarded-host", "x-forwarded-client-cert",
                                            "content_length"))]
    check(not bad, "forwarded: %s" % bad)
    return "X_Pawl_Principal, X-Forwarded-Host/-Client-Cert and Content_Length were stripped"


def case_long_identity():
    """An allow in authz mode always carries the identity, however long."""
    s = conn(int(E["AUTHZ"]))
    r = Reader(s)
    s.sendall(("GET /auth HTTP/1.1\r\nHost: a\r\nX-Original-Method: GET\r\nX-Original-URI: %s\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (status_path(), E["LONG_TOKEN"])).encode())
    st, h, _ = r.response()
    check(st == 200, "authz got %d" % st)
    ident = h.get("x-pawl-principal", "")
    check(len(ident) > 512 and ident.startswith("sub=u-1042; roles=owner,"),
          "the allow came without the identity (%d bytes)" % len(ident))
    return "an allow carried a %d-byte identity" % len(ident)


def case_expect_reset():
    """A client that resets the connection right after a head asking for
    100 Continue: one decision for it, and pawld serves on."""
    with open(E["EVENTS"]) as f:
        before = sum(1 for _ in f)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", int(E["PROXY"])))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(req("POST", command_path("?expect"), "Expect: 100-continue\r\nContent-Length: 10\r\n"))
        s.close()  # linger 0: a reset
    time.sleep(1)
    with open(E["EVENTS"]) as f:
        after = sum(1 for _ in f)
    check(after - before <= 5, "5 reset requests made %d decisions" % (after - before))
    s = conn(int(E["PROXY"]))
    s.sendall(req("GET", status_path("?after-expect")))
    check(Reader(s).response()[0] == 200, "pawld stopped serving")
    return "5 requests reset after Expect: 100-continue made %d decisions" % (after - before)


def case_upstream_max_conns():
    """With max_conns 2 (patient, the location route's upstream), a third
    request while two wait on a slow answer is refused at once, 502 naming
    max_conns, and never reaches the upstream; once they are answered the
    next one is served (review: a silent upstream got one connection per
    waiting client, 3,000 of them)."""
    loc = "/api/v1/vehicles/%s/location?slow-maxconns" % E["VIN"]
    waiting = []
    for i in range(2):
        s = conn(int(E["PROXY"]))
        s.sendall(req("GET", loc + "-wait%d" % i, "X-Sleep: 2\r\n"))
        waiting.append(s)
    time.sleep(0.5)
    s3 = conn(int(E["PROXY"]))
    t0 = time.monotonic()
    s3.sendall(req("GET", loc + "-third"))
    st, _, body = Reader(s3).response()
    took = time.monotonic() - t0
    check(st == 502 and b"max_conns" in body, "the third request: %d %r" % (st, body[:200]))
    check(took < 1.0, "the third request waited %.1f s" % took)
    for s in waiting:
        st = Reader(s).response()[0]
        check(st == 200, "a waiting request got %d" % st)
    s4 = conn(int(E["PROXY"]))
    s4.sendall(req("GET", loc + "-after", "X-Sleep: 0\r\n"))
    st = Reader(s4).response()[0]
    check(st == 200, "after the two were answered: %d" % st)
    check(not upstream_saw("maxconns-third"), "the refused request reached the upstream")
    return "a third connection to a slow upstream refused at once (502, max_conns), the next served"


def case_upstream_failures_logged():
    """Failed upstream requests are logged rate-bounded: bursts of 20 lines,
    then one a second, each line counting the failures not logged before it
    (review: one line per failed request gave 27,933 lines in 3 s). The OTA
    route goes to an upstream whose port nobody listens on."""
    with open(E["PAWLD_LOG"]) as f:
        start = len(f.read())
    n = 300
    def down(q):  # pawld closes the connection after such a 502
        s = conn(int(E["PROXY"]))
        s.sendall(req("GET", "/api/v1/ota/campaigns?" + q, token=E["SERVICE_TOKEN"]))
        st, _, body = Reader(s).response()
        s.close()
        check(st == 502 and b"upstream" in body, "%s to a dead upstream: %d %r" % (q, st, body[:200]))

    t0 = time.monotonic()
    for i in range(n):
        down("down-%d" % i)
    took = time.monotonic() - t0
    time.sleep(1.1)  # one more line may be logged now, counting the rest
    down("down-last")
    with open(E["PAWLD_LOG"]) as f:
        lines = [json.loads(x) for x in f.read()[start:].splitlines()]
    failed = [x for x in lines if x.get("msg") == "upstream failed"]
    dead = [x for x in failed if x.get("upstream") == "dead"]
    check(1 <= len(dead) <= 21 + took + 1, "%d lines for %d failures in %.1f s" % (len(dead), n + 1, took))
    told = sum(1 + x["not_logged_before"] for x in failed)
    check(told >= n + 1, "the lines account for %d failures, not %d" % (told, n + 1))
    check(failed[-1]["not_logged_before"] >= n - 21 - took,
          "the line after the pause counts %d not logged" % failed[-1]["not_logged_before"])
    return "%d failures to a dead upstream in %.1f s gave %d log lines, the last counting %d not logged" % (
        n + 1, took, len(dead), failed[-1]["not_logged_before"])


def hup_and_wait():
    """SIGHUP pawld and wait until it has logged one more reload."""
    def reloads():
        with open(E["PAWLD_LOG"]) as f:
            return f.read().count('"msg":"reloaded"')
    before = reloads()
    os.kill(int(E["PAWLD_PID"]), signal.SIGHUP)
    for _ in range(100):
        if reloads() > before:
            break
        time.sleep(0.1)
    check(reloads() > before, "pawld did not reload")
    time.sleep(0.3)  # the workers switch at their next wake-up


def case_retry_after_reload():
    """A GET on a kept-alive upstream connection that the upstream closes
    unanswered is sent once more on a fresh one, also when a reload came in
    between (review: any SIGHUP, even one changing nothing, made it 502)."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    path = status_path("?hangclose-retry-reload")
    s.sendall(req("GET", path))
    check(r.response()[0] == 200, "GET 1 failed")
    go = E["CONFIG"] + ".go-retry"
    s.sendall(req("GET", path, "X-Wait-File: %s\r\n" % go))
    time.sleep(0.3)
    hup_and_wait()
    open(go, "w").close()  # the upstream closes the kept-alive connection now
    st = r.response()[0]
    check(st == 200, "the GET whose kept-alive upstream connection closed after a reload got %d" % st)
    return "a GET retried on a fresh connection after a reload: 200"


def metric(name):
    s = conn(int(E["ADMIN"]))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
    st, _, body = Reader(s).response()
    s.close()
    check(st == 200, "/metrics: %d" % st)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise Fail("/metrics has no %s" % name)


def case_idle_connections_follow_reloads():
    """A kept-alive connection moves to the newest configuration while it
    is idle (review: each held the configuration it was accepted in for its
    whole life, so clients that stayed connected across reloads kept a
    policy, grants and certificates each: RSS 117 -> 550 MB after 12)."""
    kept = []
    for i in range(3):
        s = conn(int(E["PROXY"]))
        s.sendall(req("GET", status_path("?follow-%d" % i)))
        check(Reader(s).response()[0] == 200, "request %d" % i)
        kept.append(s)
        hup_and_wait()
    live = metric("pawld_configurations_loaded")
    check(live == 1, "%d configurations in memory after 3 reloads with 3 clients connected" % live)
    for i, s in enumerate(kept):
        s.sendall(req("GET", status_path("?follow-after-%d" % i)))
        check(Reader(s).response()[0] == 200, "connection %d after the reloads" % i)
    return "3 reloads, 3 clients kept connected across them: 1 configuration in memory, all served"


def case_reload_drops_upstream():
    """A reload that removes the upstream a request is using: that request
    ends with 502 (no retry into the new configuration), pawld serves on."""
    s = conn(int(E["PROXY"]))
    r = Reader(s)
    path = "/api/v1/vehicles/%s/location?hangclose-reload" % E["VIN"]
    s.sendall(req("GET", path))
    check(r.response()[0] == 200, "GET 1 failed")
    go = E["CONFIG"] + ".go"
    s.sendall(req("GET", path, "X-Wait-File: %s\r\n" % go))
    time.sleep(0.3)
    os.replace(E["NEW_CONFIG"], E["CONFIG"])
    hup_and_wait()
    open(go, "w").close()  # the upstream closes the connection now
    st = r.response()[0]
    check(st == 502, "the request whose upstream went away got %d, not 502" % st)
    s2 = conn(int(E["PROXY"]))
    s2.sendall(req("GET", status_path("?after-reload")))
    st = Reader(s2).response()[0]
    check(st == 200, "after the reload: %d" % st)
    return "the request in flight got 502, the next one 200 from the new configuration"


def main():
    name = sys.argv[1]
    try:
        print("ok: " + globals()["case_" + name]())
        return 0
    except (Fail, OSError, ValueError) as e:
        print("FAIL: %s: %s" % (name, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
