"""Prints a TCP port on 127.0.0.1 that nothing listens on now, chosen at
random below the kernel's ephemeral range (ip_local_port_range): the
kernel gives the ports in that range to outgoing connections, so a port
taken from it (bind to port 0) can become some client's local port before
the test's server binds it, and the server then fails with "Address
already in use" (or pawld refuses to start). usage: free_port.py"""
import random
import socket

try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
top = max(low, 12000)  # ports 10000 .. top-1
for _ in range(200):
    port = random.randrange(10000, top)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("free_port: no free port found below the ephemeral range")
