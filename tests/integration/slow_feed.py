#!/usr/bin/python3
"""Writes an events file to stdout in two parts, for a test that changes
something in between: the lines before the first event at or after SPLIT_MS,
then creates HALF_FILE and waits (at most 60 s) for RESUME_FILE, then the
rest, a little at a time.

usage: slow_feed.py EVENTS SPLIT_MS HALF_FILE RESUME_FILE
"""
import json
import os
import sys
import time


def main():
    path, split, half, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out = sys.stdout
    waited = False
    for n, line in enumerate(open(path)):
        if not waited and json.loads(line)["time"] >= split:
            out.flush()
            open(half, "w").close()
            for _ in range(600):
                if os.path.exists(resume):
                    break
                time.sleep(0.1)
            waited = True
        out.write(line)
        if waited and n % 2000 == 0:
            out.flush()
            time.sleep(0.05)
    out.flush()


if __name__ == "__main__":
    main()
