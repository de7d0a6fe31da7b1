#!/usr/bin/python3
"""Traffic for the discovery test: every operation of the crAPI OpenAPI
document (../shared/data/crapi/), called several times with realistic object
ids, written as nginx combined log lines; and the list of operations the
document declares, one "METHOD /path/{param}" per line.

usage: crapi_traffic.py SPEC.json LOG_OUT OPS_OUT
"""
import json
import random
import string
import sys
import uuid

rnd = random.Random(7)


def value(name):
    n = name.lower()
    if "vehicle" in n:
        return str(uuid.UUID(int=rnd.getrandbits(128)))
    if n.endswith("postid"):
        return "".join(rnd.choice(string.ascii_letters) for _ in range(19)) + str(rnd.randint(100, 999))
    return str(rnd.randint(1, 99999))


def main():
    spec = json.load(open(sys.argv[1]))
    lines, ops = [], []
    t = 0
    for path, item in sorted(spec["paths"].items()):
        for method in ("get", "post", "put", "delete", "patch"):
            if method not in item:
                continue
            ops.append("%s %s" % (method.upper(), path))
            for _ in range(5):
                concrete = path
                while "{" in concrete:
                    a, b = concrete.index("{"), concrete.index("}")
                    concrete = concrete[:a] + value(concrete[a + 1:b]) + concrete[b + 1:]
                user = rnd.choice(["-", "alice@example.com", "bob@example.com"])
                status = rnd.choice([200, 200, 200, 401, 403, 404])
                t += 1
                lines.append('10.1.%d.%d - %s [22/Nov/2026:10:%02d:%02d +0000] "%s %s?page=1 HTTP/1.1" %d %d "-" "crapi-test"'
                             % (rnd.randint(0, 9), rnd.randint(1, 250), user, (t // 60) % 60, t % 60,
                                method.upper(), concrete, status, rnd.randint(10, 5000)))
    rnd.shuffle(lines)
    open(sys.argv[2], "w").write("\n".join(lines) + "\n")
    open(sys.argv[3], "w").write("\n".join(ops) + "\n")


if __name__ == "__main__":
    main()
