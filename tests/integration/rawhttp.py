#!/usr/bin/python3
"""Raw-socket HTTP client for the gateway's request-smuggling and slowloris
tests: sends exactly the bytes a test wrote, however malformed, and prints
exactly what came back. Python standard library only.

usage: rawhttp.py [--tls] [--ca F] [--cert F --key F] [--timeout S]
                  [--slow-ms N] [--expect-close] HOST PORT < request

stdin is the request; the two-character sequences \\r \\n \\t \\0 \\\\ and \\xHH
become those bytes, everything else is sent as it is, so a test can write
    printf '%s' 'GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n' | rawhttp.py 127.0.0.1 8443
  --tls          TLS; the server is verified against --ca when given (name or
                 IP = HOST), not verified at all without it
  --cert/--key   client certificate and key
  --timeout S    connect timeout, and how long to wait for the peer after the
                 last byte was sent (default 5)
  --slow-ms N    send one byte every N ms; stops quietly (and reads) as soon as
                 the peer answers or closes
  --expect-close exit 0 only if the peer closed the connection within the timeout

Everything received goes to stdout. Exit status: 0 response bytes received,
1 closed with no bytes (a TLS alert counts as a close), 2 timed out with no
bytes (with --expect-close: not closed in time), 3 could not connect (or the
server's certificate failed verification).
"""
import argparse
import os
import re
import select
import socket
import ssl
import sys
import time

ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[rnt0\\])")
SIMPLE = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}


def unescape(data):
    return ESCAPE.sub(lambda m: SIMPLE.get(m[1]) or bytes([int(m[1][1:], 16)]), data)


def connect(a):
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
    if not a.tls:
        return sock
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if a.ca:
        ctx.load_verify_locations(a.ca)
    else:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    return ctx.wrap_socket(sock, server_hostname=a.host)


def peek(sock):
    """After select said readable: bytes, b"" on close, None if nothing for the
    application (a TLS 1.3 session ticket, say)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    except OSError as e:               # reset, or a TLS alert
        print(f"rawhttp: {e}", file=sys.stderr)
        return b""
    finally:
        sock.setblocking(True)


def send_slowly(sock, data, pause):
    """Returns what the peer sent meanwhile, and whether it closed."""
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:                # the peer is gone: the reads will say how
            return b"", False
        end = time.monotonic() + pause
        while (left := end - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                continue
            got = peek(sock)
            if got is not None:
                return got, got == b""
    return b"", False


def main():
    ap = argparse.ArgumentParser(description="send raw HTTP bytes, print the answer")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--slow-ms", type=int, default=0)
    ap.add_argument("--expect-close", action="store_true")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    if bool(a.cert) != bool(a.key):
        ap.error("--cert and --key go together")
    data = unescape(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        sock = connect(a)
    except ssl.SSLCertVerificationError as e:
        print(f"rawhttp: {e}", file=sys.stderr)
        return 3
    except ssl.SSLError as e:          # handshake refused: the peer closed on us
        print(f"rawhttp: TLS handshake: {e}", file=sys.stderr)
        return 0 if a.expect_close else 1
    except OSError as e:
        print(f"rawhttp: connect: {e}", file=sys.stderr)
        return 3

    received, closed = 0, False
    if a.slow_ms > 0:
        got, closed = send_slowly(sock, data, a.slow_ms / 1000)
        out.write(got)
        received += len(got)
    else:
        try:
            sock.sendall(data)
        except OSError:                # e.g. refused early: read what it answered
            pass
    end = time.monotonic() + a.timeout
    while not closed:
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            got = sock.recv(65536)
        except TimeoutError:
            break
        except OSError as e:           # reset, or a TLS alert (certificate refused)
            print(f"rawhttp: {e}", file=sys.stderr)
            got = b""
        closed = got == b""
        out.write(got)
        out.flush()
        received += len(got)
    sock.close()
    if a.expect_close:
        return 0 if closed else 2
    return 0 if received else (1 if closed else 2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:            # the reader (grep -q, head) has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
