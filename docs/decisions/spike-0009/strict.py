#!/usr/bin/python3
"""Spike 0009: send parsing and smuggling cases on raw sockets and record what each
server does on its own. Usage: strict.py NAME=PORT [NAME=PORT ...]  (prints a Markdown table)
Each case is sent on a fresh connection, most followed by a pipelined "GET /next" so that
a framing disagreement shows up as a missing or extra response. Not part of the project build."""
import re
import socket
import sys

NEXT = b"GET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
H = b"POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def req(extra, body=b"", nxt=True):
    return H + extra + b"\r\n" + body + (NEXT if nxt else b"")


CASES = [
    ("baseline POST, CL 3", req(b"Content-Length: 3\r\n", b"abc")),
    ("CL + TE (CL 3, chunked 0)", req(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n")),
    ("TE + CL (order swapped)", req(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"0\r\n\r\n")),
    ("two CL, same (3, 3)", req(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc")),
    ("two CL, different (3, 5)", req(b"Content-Length: 3\r\nContent-Length: 5\r\n", b"abcde")),
    ("CL list \"3, 3\"", req(b"Content-Length: 3, 3\r\n", b"abc")),
    ("CL \"+3\"", req(b"Content-Length: +3\r\n", b"abc")),
    ("CL \"3a\"", req(b"Content-Length: 3a\r\n", b"abc")),
    ("CL \"-1\"", req(b"Content-Length: -1\r\n", b"abc")),
    ("CL 2^64+3 (overflow)", req(b"Content-Length: 18446744073709551619\r\n", b"abc")),
    ("TE \"gzip, chunked\"", req(b"Transfer-Encoding: gzip, chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n")),
    ("TE \"chunked, gzip\"", req(b"Transfer-Encoding: chunked, gzip\r\n", b"3\r\nabc\r\n0\r\n\r\n")),
    ("TE \"chunkedx\"", req(b"Transfer-Encoding: chunkedx\r\n", b"3\r\nabc\r\n0\r\n\r\n")),
    ("TE \"identity\" + CL 3", req(b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n", b"abc")),
    ("two TE: chunked, chunked", req(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                    b"3\r\nabc\r\n0\r\n\r\n")),
    ("TE chunked on HTTP/1.0", b"POST /p HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"3\r\nabc\r\n0\r\n\r\n"),
    ("obs-fold in X-A", req(b"X-A: a\r\n b\r\nContent-Length: 3\r\n", b"abc")),
    ("obs-fold in Content-Length", req(b"X-A: a\r\nContent-Length:\r\n 3\r\n", b"abc")),
    ("chunk size \"zz\"", req(b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n")),
    ("chunk size \"-3\"", req(b"Transfer-Encoding: chunked\r\n", b"-3\r\nabc\r\n0\r\n\r\n")),
    ("chunk size \"0x3\"", req(b"Transfer-Encoding: chunked\r\n", b"0x3\r\nabc\r\n0\r\n\r\n")),
    ("chunk size 2^64+3 (overflow)", req(b"Transfer-Encoding: chunked\r\n", b"10000000000000003\r\nabc\r\n0\r\n\r\n")),
    ("chunk without CRLF after data", req(b"Transfer-Encoding: chunked\r\n", b"3\r\nabcX\r\n0\r\n\r\n")),
    ("200 headers", req(b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"Content-Length: 0\r\n")),
    ("64 KiB header value", req(b"X-Big: " + b"a" * 65536 + b"\r\nContent-Length: 0\r\n")),
    ("NUL in header value", req(b"X-A: a\x00b\r\nContent-Length: 0\r\n")),
    ("bare CR in header value", req(b"X-A: a\rb\r\nContent-Length: 0\r\n")),
    ("bare LF line ends (whole request)", b"GET /lf HTTP/1.1\nHost: 127.0.0.1\n\n" + NEXT),
    ("space before colon", req(b"Content-Length : 3\r\n", b"abc")),
    ("bad header name \"X@Y\"", req(b"X@Y: 1\r\nContent-Length: 0\r\n")),
    ("no Host (HTTP/1.1)", b"GET /nohost HTTP/1.1\r\n\r\n" + NEXT),
    ("two Host", b"GET /twohost HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n" + NEXT),
    ("absolute-form target", b"GET http://evil.example/abs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + NEXT),
    ("asterisk-form GET *", b"GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + NEXT),
    ("byte 0x80 in path", b"GET /a\x80b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + NEXT),
    ("space in path", b"GET /a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + NEXT),
    ("unknown method FOO", b"FOO /m HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + NEXT),
    ("HTTP/1.1 Upgrade: h2c", b"GET /up HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
    ("h2c prior knowledge", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
]


def observe(port, data, timeout=1.0):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out, state = b"", "open"
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            state = "reset"
            break
        if not chunk:
            state = "closed"
            break
        out += chunk
    s.close()
    return summarize(out, state)


def summarize(out, state):
    if out.startswith(b"\x00\x00"):
        types = []
        i = 0
        while i + 9 <= len(out):
            ln = int.from_bytes(out[i:i + 3], "big")
            types.append({4: "SETTINGS", 7: "GOAWAY", 1: "HEADERS", 0: "DATA", 8: "WINDOW_UPDATE"}.get(out[i + 3], "t%d" % out[i + 3]))
            i += 9 + ln
        return "h2: " + ",".join(types) + "; " + state
    parts = []
    for m in re.finditer(rb"HTTP/1\.[01] (\d{3})", out):
        code = m.group(1).decode()
        tail = out[m.end():m.end() + 2000]
        body = tail.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in tail else b""
        echo = re.match(rb"(method=\S+ (?:path|url|uri)=(\S+)[^\n]*?entity=(-?\d+))", body)
        if echo:
            parts.append("%s %s e=%s" % (code, echo.group(2).decode("latin1"), echo.group(3).decode()))
        else:
            parts.append(code)
    if not parts:
        parts = ["no response" if out == b"" else "junk %r" % out[:20]]
    return ", ".join(parts) + "; " + state


def main():
    servers = [a.split("=") for a in sys.argv[1:]]
    print("| case | " + " | ".join(n for n, _ in servers) + " |")
    print("|---|" + "---|" * len(servers))
    for name, data in CASES:
        cells = [observe(int(p), data) for _, p in servers]
        print("| %s | %s |" % (name, " | ".join(cells)))


if __name__ == "__main__":
    main()
