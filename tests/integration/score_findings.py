#!/usr/bin/python3
"""Scores pawl analyze's findings against gen_fleet_traffic.py's labels:
recall (attacks with a finding), how many of the attacker's own events came
before the first finding, and false positives (benign principals with a
finding). Also checks every line is a Detection Finding per the profile.

usage: score_findings.py DIR MAX_EVENTS_TO_DETECT MAX_FP_PERCENT
DIR holds events.jsonl, labels.json and findings.jsonl. Exit 1 when recall
is below 100 %, an attack needs more events, or the false positives exceed.
"""
import collections
import json
import sys


def subject_of_event(e):
    uid = e.get("actor", {}).get("user", {}).get("uid")
    return uid, "ip:" + e.get("src_endpoint", {}).get("ip", "")


def main():
    d, max_events, max_fp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    labels = json.load(open(d + "/labels.json"))
    findings = [json.loads(l) for l in open(d + "/findings.jsonl")]
    first = {}
    for f in findings:
        assert f["class_uid"] == 2004 and f["category_uid"] == 2 and f["type_uid"] == 200401, f
        assert f["is_alert"] is True and f["finding_info"]["types"] and f["attacks"][0]["technique"]["uid"].startswith("API"), f
        assert 1 <= f["severity_id"] <= 6 and f["confidence_id"] in (1, 2, 3), f
        subj = f.get("actor", {}).get("user", {}).get("uid") or "ip:" + f.get("src_endpoint", {}).get("ip", "")
        first.setdefault(subj, f)
    counts = collections.Counter()
    needed = {}
    for line in open(d + "/events.jsonl"):
        e = json.loads(line)
        for s in subject_of_event(e):
            if s in labels["attackers"] and s not in needed and e["time"] >= labels["start"][s]:
                counts[s] += 1
                if s in first and e["time"] >= first[s]["time"]:
                    needed[s] = counts[s]
    ok = True
    for s, scenario in sorted(labels["attackers"].items(), key=lambda x: x[1]):
        f = first.get(s)
        print("  %-32s %-24s %s" % (scenario, f["finding_info"]["analytic"]["name"] if f else "MISSED",
                                     "after %d of its events" % needed.get(s, 0) if f else ""))
        ok &= f is not None and needed.get(s, 10 ** 9) <= max_events
    fp = [b for b in labels["benign"] if b in first]
    rate = 100.0 * len(fp) / len(labels["benign"])
    recall = 100.0 * sum(1 for s in labels["attackers"] if s in first) / len(labels["attackers"])
    print("  recall %.0f %% (%d attacks), false positives %d of %d benign principals (%.2f %%) %s" %
          (recall, len(labels["attackers"]), len(fp), len(labels["benign"]), rate, fp[:5]))
    sys.exit(0 if ok and rate <= max_fp else 1)


if __name__ == "__main__":
    main()
