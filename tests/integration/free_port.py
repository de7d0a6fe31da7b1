"""Prints a TCP port on 127.0.0.1 that nothing listens on now, chosen at
random below the kernel's ephemeral range (ip_local_port_range): the
kernel gives the ports in that range to outgoing connections, so a port
taken from it (bind to port 0) can become some client's local port before
the test's server binds it, and the server then fails with "Address
already in use" (or pawld refuses to start).

usage: free_port.py [OWNER_PID]
With OWNER_PID (the test script's $$), the ports handed to that process
are remembered (in $TMPDIR/pawl-free-ports.PID, removed once the process
is gone) and never handed to it twice: a test that takes several ports
before it starts anything would otherwise get the same one twice now and
then."""
import glob
import os
import random
import socket
import sys
import tempfile

try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
top = max(low, 12000)  # ports 10000 .. top-1

state = None
given = set()
if len(sys.argv) > 1:
    d = tempfile.gettempdir()
    for old in glob.glob(os.path.join(d, "pawl-free-ports.*")):
        try:
            os.kill(int(old.rsplit(".", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            try:
                os.unlink(old)
            except OSError:
                pass
        except PermissionError:
            pass
    state = os.path.join(d, f"pawl-free-ports.{int(sys.argv[1])}")
    try:
        with open(state) as f:
            given = {int(x) for x in f.read().split()}
    except (OSError, ValueError):
        given = set()

for _ in range(500):
    port = random.randrange(10000, top)
    if port in given:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    if state:
        with open(state, "a") as f:
            f.write(f"{port}\n")
    print(port)
    break
else:
    raise SystemExit("free_port: no free port found below the ephemeral range")
