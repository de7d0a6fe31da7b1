"""One TLS connection with a client certificate, kept alive: a request,
then, once the file WAITFILE exists, two more on the same connection.
Prints 'before:', 'after:' and 'then:' lines, each the status line and
body, or 'closed' (tests/integration/test_pawld.sh).
usage: tls_keepalive.py PORT CERT KEY WAITFILE"""
import os
import socket
import ssl
import sys
import time

port, cert, key, waitfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile="certs/ca.pem")
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")


def ask():
    s.sendall(b"GET /api/v1/ota/campaigns HTTP/1.1\r\nHost: a\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        try:
            d = s.recv(65536)
        except (ssl.SSLError, OSError):
            d = b""
        if not d:
            return "closed"
        got += d
    head, body = got.split(b"\r\n\r\n", 1)
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    while n and len(body) < n[0]:
        body += s.recv(65536)
    return head.split(b"\r\n")[0].decode() + " " + body.decode(errors="replace")


print("before:", ask(), flush=True)
while not os.path.exists(waitfile):
    time.sleep(0.05)
print("after:", ask(), flush=True)
print("then:", ask(), flush=True)
