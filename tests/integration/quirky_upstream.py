#!/usr/bin/python3
"""An HTTP/1.1 upstream with the quirks pawld must survive, for
test_pawld_edges.sh. Every request it parses is logged (one JSON line: the
connection number, its request number on that connection, the request line
and headers) to LOG. Python standard library only.

usage: quirky_upstream.py PORT LOG

Behaviour by a word in the request target (query strings work):
  nm304      304 with Content-Length: 10 and no body (RFC 9112 6.3: none follows)
  nc204      204 with Content-Length: 5 and 5 stray bytes after it
  late204    204 with Content-Length: 40, then (0.4 s later, unasked) a whole
             200 response marked X-Poison, as a confused upstream might
  late304    the same after a 304 with Content-Length: 40
  zero204    204 with Content-Length: 0 (announces no body)
  chunkcr    a chunked 200 whose size line ends in a CR and an X ("3\rXabc")
  chunklf    a chunked 200 whose size line ends in a bare LF
  hangclose  when the connection's previous request had the same target:
             wait X-Sleep seconds (default 0), or until the file named by
             X-Wait-File exists (at most 10 s), then close without answering
  slow       wait X-Sleep seconds, then answer
  otherwise  read the body, answer 200 with JSON naming the path, the
             connection, the request number and the body length
"""
import json
import os
import socket
import sys
import threading
import time

lock = threading.Lock()


def record(log, entry):
    with lock, open(log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def read_head(f):
    line = f.readline(65536)
    while line in (b"\r\n", b"\n"):
        line = f.readline(65536)
    if not line:
        return None, None
    headers = []
    while True:
        h = f.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        headers.append(h.decode("latin1").rstrip("\r\n"))
    return line.decode("latin1").rstrip("\r\n"), headers


def read_body(f, hd):
    if "chunked" in hd.get("transfer-encoding", [""])[0]:
        n = 0
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                return n
            n += len(f.read(size))
            f.read(2)
    length = int(hd.get("content-length", ["0"])[0])
    return len(f.read(length)) if length else 0


def answer(s, target, cid, nreq, hd, body_len):
    if "nm304" in target:
        s.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nContent-Length: 10\r\n\r\n')
    elif "nc204" in target:
        s.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHELLO")
    elif "zero204" in target:
        s.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    elif "chunkcr" in target or "chunklf" in target:
        size = b"3\rX" if "chunkcr" in target else b"3\n"
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"abc\r\n0\r\n\r\n")
    elif "late204" in target or "late304" in target:
        s.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 40\r\n\r\n" if "late204" in target
                  else b"HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n")
        time.sleep(0.4)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Poison: yes\r\n\r\nPOISONED")
    elif "tegzipchunked" in target:
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n")
    elif "tegzip" in target:
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nabcdef")
    else:
        body = json.dumps({"ok": True, "path": target, "conn": cid, "n": nreq,
                           "body": body_len,
                           "principal": hd.get("x-pawl-principal")}).encode()
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def handle(s, cid, log):
    f = s.makefile("rb")
    nreq = 0
    previous = ""
    try:
        while True:
            line, headers = read_head(f)
            if line is None:
                return
            nreq += 1
            hd = {}
            for h in headers:
                k, _, v = h.partition(":")
                hd.setdefault(k.strip().lower(), []).append(v.strip())
            record(log, {"conn": cid, "n": nreq, "line": line, "headers": headers})
            target = line.split(" ")[1] if " " in line else ""
            sleep = float(hd.get("x-sleep", ["0"])[0])
            if "hangclose" in target and target == previous:
                time.sleep(sleep)
                wait_file = hd.get("x-wait-file", [""])[0]
                for _ in range(100 if wait_file else 0):
                    if os.path.exists(wait_file):
                        break
                    time.sleep(0.1)
                return
            previous = target
            body_len = read_body(f, hd)
            if "slow" in target:
                time.sleep(sleep)
            answer(s, target, cid, nreq, hd, body_len)
    except (OSError, ValueError) as e:
        record(log, {"conn": cid, "error": repr(e)})
    finally:
        s.close()


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(128)
    cid = 0
    while True:
        c, _ = ls.accept()
        cid += 1
        threading.Thread(target=handle, args=(c, cid, log), daemon=True).start()


if __name__ == "__main__":
    main()
