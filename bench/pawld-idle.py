"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on
each and reads its answer, then holds them idle until killed; touches the
file named by $PAWLD_IDLE_READY once all are open (bench/pawld-bench.sh).
usage: pawld-idle.py PORT N PATH HEADER"""
import os
import resource
import socket
import sys
import time

port, n, path, header = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
if hard != resource.RLIM_INFINITY and hard < want:
    print(f"pawld-idle: the open-file limit {hard} allows only {hard - 64} connections", file=sys.stderr)
    n, want = hard - 64, hard
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{header}\r\n\r\n".encode()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
for s in socks:
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
time.sleep(1.0)
open(os.environ["PAWLD_IDLE_READY"], "w").close()
while True:
    time.sleep(60)
