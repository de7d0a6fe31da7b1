#!/usr/bin/python3
"""Spike 0009: resident memory of a server holding N idle keep-alive connections.
Usage: idle.py PORT N PID [PID...]  Opens N connections, sends one GET / on each and
reads the reply, then (connections still open) sums VmRSS of the PIDs and their
children. Not part of the project build."""
import os
import socket
import sys


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            kids = open("/proc/%s/task/%s/children" % (pid, pid)).read().split()
        except OSError:
            kids = []
        for p in [pid] + kids:
            for line in open("/proc/%s/status" % p):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def main():
    port, n, pids = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    before = rss_kib(pids)
    socks = []
    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 1024:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        socks.append(s)
    after = rss_kib(pids)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
    print("port %d: %d connections (%d still open), RSS %d KiB before, %d KiB with them: %.1f KiB per connection"
          % (port, n, alive, before, after, (after - before) / n))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
