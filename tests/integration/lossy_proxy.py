"""A TCP proxy in front of Redis for test_pawld_redis.sh that loses one
answer. While the file DROP exists, the first client chunk holding a SET is
passed on to Redis, then the client's connection is closed before Redis's
answer can reach it, and DROP is removed: Redis runs the command and the
client sees the connection closed, as through a tunnel or a proxy that
fails at the wrong moment. While the file DELAY exists, that chunk is held
2.5 s before it goes on (DELAY removed; DELAY.sent made once it went), its
answer dropped: the client times out and the SET lands late, as after a
retransmission or a stalled tunnel.

MATCH (default SET) names the chunk instead: every one of its
comma-separated words in it (test_pawld_windows_redis.sh:
"XADD,pawl:blocks:events").

usage: lossy_proxy.py LISTEN_PORT REDIS_PORT DROP DELAY [MATCH]"""
import os
import socket
import sys
import threading
import time

WORDS = [w.encode() for w in (sys.argv[5] if len(sys.argv) > 5 else "SET").split(",")]


def matches(data):
    return all(w in data for w in WORDS)


def pipe(src, dst, lost, watch):
    """src to dst; from the client (watch), the SET that DROP asks to lose
    sets lost, goes on to Redis, and the client's connection is closed;
    from Redis, nothing is relayed once lost is set."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if watch and matches(data) and os.path.exists(sys.argv[4]):
                os.remove(sys.argv[4])
                lost.set()
                time.sleep(2.5)
                dst.sendall(data)
                time.sleep(0.1)
                open(sys.argv[4] + ".sent", "w").close()
                dst.close()
                return
            if watch and matches(data) and os.path.exists(sys.argv[3]):
                os.remove(sys.argv[3])
                lost.set()
                dst.sendall(data)
                src.shutdown(socket.SHUT_RDWR)
                src.close()
                time.sleep(0.1)  # Redis runs it; its answer goes nowhere
                dst.close()
                return
            if not watch and lost.is_set():
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.close()
        except OSError:
            pass


def main():
    lsn = socket.socket()
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind(("127.0.0.1", int(sys.argv[1])))
    lsn.listen(16)
    while True:
        cli, _ = lsn.accept()
        up = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        lost = threading.Event()
        threading.Thread(target=pipe, args=(cli, up, lost, True), daemon=True).start()
        threading.Thread(target=pipe, args=(up, cli, lost, False), daemon=True).start()


main()
