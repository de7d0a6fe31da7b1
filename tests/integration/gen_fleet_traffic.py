#!/usr/bin/python3
"""Synthetic OEM backend traffic for the detectors' quality test: two days of
API Activity lines (docs/formats/ocsf-profile.md) from benign populations that
look like the attacks (fleet managers commanding hundreds of their own
vehicles, dealers servicing many cars, owners travelling, cars changing
hands, a backend service touching every car, users mistyping passwords),
mixed with attacks modelled on public incidents. Deterministic (seeded).

usage: gen_fleet_traffic.py OUT_DIR [SEED]
writes OUT_DIR/events.jsonl (time order), OUT_DIR/grants.jsonl and
OUT_DIR/labels.json: {"attackers": {subject: scenario}, "benign": [principals]}
(a subject is a principal, or "ip:ADDR" for address-level attacks).
"""
import json
import os
import random
import sys

T0 = 1795000000000  # ms
HOUR = 3600 * 1000
DAY = 24 * HOUR
MIDNIGHT = T0 - T0 % DAY + DAY  # the first UTC midnight of the traffic (T0 is at 11:06 UTC)
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9]))


def vin(prefix, serial):
    """A VIN with a valid check digit: WMI+VDS (8 chars) prefix, year/plant, serial."""
    body = prefix[:8] + "0" + prefix[8:10] + "%06d" % serial
    s = sum((int(c) if c.isdigit() else VALUES[c]) * w for c, w in zip(body, WEIGHTS))
    c = s % 11
    return body[:8] + ("X" if c == 10 else str(c)) + body[9:]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.events, self.grants, self.telemetry = [], [], []
        self.attackers, self.benign, self.start = {}, [], {}

    def ip(self):
        return "%d.%d.%d.%d" % (self.r.randint(11, 220), self.r.randint(0, 255), self.r.randint(0, 255),
                                self.r.randint(1, 254))

    def ev(self, t, who, roles, method, path, code, ip, country="DE", utype="User", session=None, length=None):
        e = {"class_uid": 6003, "category_uid": 6, "activity_id": 2 if method == "GET" else 1,
             "time": int(t), "severity_id": 1, "metadata": {"version": "1.3.0", "product": {"name": "gen"}},
             "src_endpoint": {"ip": ip, "location": {"country": country}},
             "http_request": {"http_method": method, "url": {"path": path}},
             "http_response": {"code": code, "length": length or self.r.randint(80, 900)},
             "status_id": 1 if code < 400 else 2}
        if getattr(self, "in_attack", False):
            e["attack"] = True
        if who:
            e["actor"] = {"user": {"uid": who, "type": utype, "groups": [{"name": r} for r in roles]}}
            if session:
                e["actor"]["session"] = {"uid": session}
        self.events.append(e)

    def car_of(self, who):
        """The last car granted to who (the attacks borrow a benign owner's)."""
        return [x["vin"] for x in self.grants if x["principal"] == who][-1]

    def grant(self, who, v, role, since, until=None, org=None):
        self.grants.append({"principal": who, "vin": v, "role": role, "since": since, "until": until, "org": org})

    def fleet(self, nvins_prefix):
        return [vin(nvins_prefix, self.r.randint(100000, 999999)) for _ in range(1)]


def benign(g, cars):
    r = g.r
    # owners: one or two cars each, the app open a few times a day from home or phone
    owners = []
    for i in range(400):
        who = "owner-%d" % i
        mine = [cars.pop() for _ in range(1 + (r.random() < 0.2))]
        for v in mine:
            g.grant(who, v, "owner", T0 - 400 * DAY)
        owners.append((who, mine))
        g.benign.append(who)
        home, phone = g.ip(), g.ip()
        country = "DE"
        for day in range(2):
            if r.random() < 0.1:
                country = r.choice(["FR", "IT", "AT", "US"])  # travelling: a new country, one address
                phone = g.ip()
            for _ in range(r.randint(1, 5)):
                t = T0 + day * DAY + r.randint(6 * HOUR, 22 * HOUR)
                ip = r.choice([home, phone])
                for _ in range(r.randint(1, 6)):
                    v = r.choice(mine)
                    op = r.choice(["status", "status", "location", "commands/door.lock", "commands/climate.start"])
                    g.ev(t, who, ["owner"], "GET" if "/" not in op else "POST",
                         "/api/v1/vehicles/%s/%s" % (v, op), 200, ip, country)
                    t += r.randint(2000, 90000)
            if r.random() < 0.05:  # a mistyped password
                g.ev(T0 + day * DAY + r.randint(0, DAY), who, [], "POST", "/api/v1/auth/login", 401, home)
    # fleet managers: hundreds of their own vehicles, polled by a dashboard every 5 minutes, commanded in bulk
    for i in range(8):
        who = "fleet-%d" % i
        prefix = r.choice(["1FTFW1ET5", "WDB9066331", "YV2RT40A5"]) + "A"
        mine = [vin(prefix, 100000 + i * 1000 + k) for k in range(r.randint(100, 300))]
        for v in mine:
            g.grant(who, v, "fleet_manager", T0 - 100 * DAY, org="fleet-%d" % i)
        g.benign.append(who)
        ip = g.ip()
        t = T0 + 8 * HOUR
        for rnd in range(12):
            for v in mine[:60]:
                g.ev(t, who, ["fleet_manager"], "GET", "/api/v1/vehicles/%s/location" % v, 200, ip)
                t += 1000
            t += 5 * 60 * 1000
        for v in mine:
            g.ev(t, who, ["fleet_manager"], "POST", "/api/v1/vehicles/%s/commands/door.lock" % v, 200, ip)
            t += r.randint(300, 2000)
    # dealers: cars in for service during shop hours (12:00-16:00 UTC on the first day, 07:00-16:00 on
    # the second), granted for the visit
    for i in range(15):
        who = "dealer-%d" % i
        g.benign.append(who)
        ip = g.ip()
        for _ in range(r.randint(5, 20)):
            v = cars.pop()
            since = r.choice([MIDNIGHT - DAY + r.randint(12 * HOUR, 16 * HOUR), MIDNIGHT + r.randint(7 * HOUR, 16 * HOUR)])
            g.grant(who, v, "dealer", since, since + 2 * DAY, org="dealership-%d" % i)
            t = since + r.randint(1000, HOUR)
            for op in ["status", "diagnostics", "status"]:
                g.ev(t, who, ["dealer"], "GET", "/api/v1/dealer/vehicles/%s/%s" % (v, op), 200, ip)
                t += r.randint(30000, 600000)
    # cars changing hands: the old owner's grant ends, the new one's starts
    for i in range(20):
        old, mine = owners[i]
        v = mine[0]
        t = T0 + DAY + r.randint(0, 6 * HOUR)
        g.grants = [x for x in g.grants if not (x["principal"] == old and x["vin"] == v)]
        g.grant(old, v, "owner", T0 - 400 * DAY, t)
        for e in g.events:  # the old owner's app is refused the sold car from then on
            if e.get("actor", {}).get("user", {}).get("uid") == old and v in e["http_request"]["url"]["path"] \
                    and e["time"] >= t:
                e["http_response"]["code"], e["status_id"] = 403, 2
        new = "buyer-%d" % i
        g.grant(new, v, "owner", t)
        g.benign.append(new)
        ip = g.ip()
        for k in range(5):
            g.ev(t + 60000 + k * 20000, new, ["owner"], "POST" if k == 2 else "GET",
                 "/api/v1/vehicles/%s/%s" % (v, "commands/door.unlock" if k == 2 else "status"), 200, ip)
    # owners add a second driver (ownership change), who uses the car later;
    # cars report their speed, and owners unlock them when parked
    for i in range(20, 40):
        who, mine = owners[i]
        v, second = mine[0], "driver-%d" % i
        t = T0 + r.randint(8 * HOUR, 20 * HOUR)
        g.ev(t, who, ["owner"], "POST", "/api/v1/vehicles/%s/owners" % v, 200, g.ip())
        g.grant(second, v, "secondary_owner", t)
        g.benign.append(second)
        g.ev(t + 5 * 60000, second, ["secondary_owner"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % v,
             200, g.ip())
        g.telemetry.append({"time": t + 4 * 60000, "vin": v, "signals": {"Vehicle.Speed": 0.0}})
    # owners share a car with family through the app: a new account, invited, drives it at once
    for i in range(80, 100):
        who, mine = owners[i]
        v, fam = mine[0], "family-%d" % i
        t = T0 + r.randint(8 * HOUR, 30 * HOUR)
        g.ev(t, who, ["owner"], "POST", "/api/v1/vehicles/%s/drivers" % v, 201, g.ip())
        g.ev(t + 30000, None, [], "POST", "/api/v1/auth/register", 201, g.ip())
        g.grant(fam, v, "driver", t + 60000)
        g.benign.append(fam)
        ip = g.ip()
        g.ev(t + 120000, fam, ["driver"], "GET", "/api/v1/vehicles/%s/status" % v, 200, ip)
        g.ev(t + 150000, fam, ["driver"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % v, 200, ip)
    for i in range(40, 80):
        who, mine = owners[i]
        v, t = mine[0], T0 + r.randint(8 * HOUR, 20 * HOUR)
        for k in range(10):  # a drive, then parked
            g.telemetry.append({"time": t + k * 30000, "vin": v, "signals": {"Vehicle.Speed": 50.0 if k < 8 else 0.0}})
        g.ev(t + 9 * 30000 + 5000, who, ["owner"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % v, 200, g.ip())
    # support desks open around the clock
    for i in range(3):
        who = "support-desk-%d" % i
        g.benign.append(who)
        ip = g.ip()
        for k in range(60):
            g.ev(T0 + k * 48 * 60000 + r.randint(0, 600000), who, ["support"], "GET", "/api/v1/support/tickets",
                 200, ip)
    # the backend's telematics service touches every car
    for k in range(3000):
        v = r.choice([x["vin"] for x in g.grants[:2000]])
        g.ev(T0 + r.randint(0, 2 * DAY), "svc-telematics", ["service"], "GET",
             "/api/v1/vehicles/%s/status" % v, 200, "10.0.0.%d" % r.randint(1, 30), "DE", "Service")
    g.benign.append("svc-telematics")


def attacks(g, cars, victims):
    r = g.r
    g.in_attack = True
    t = T0 + 10 * HOUR
    # SiriusXM 2022: a VIN is taken as a credential; consecutive serials enumerated
    who, ip, prefix = "attacker-vin-enum", g.ip(), "5YJ3E1EA7K"
    g.attackers[who] = "vin_enumeration"
    at = t
    for k in range(40):
        at += r.randint(800, 4000)
        g.ev(at, who, ["owner"], "GET", "/api/v1/vehicles/%s/location" % vin(prefix, 317000 + k), 200, ip)
    # crAPI-style BOLA: leaked VINs read one by one at a human pace
    who, ip = "attacker-bola", g.ip()
    g.attackers[who] = "bola"
    at = t + HOUR
    for v in r.sample(victims, 6):
        at += r.randint(20000, 120000)
        g.ev(at, who, ["owner"], "GET", "/api/v1/vehicles/%s/location" % v, 200, ip)
    # Kia 2024: a self-registered dealer account adds itself as owner, then unlocks
    who, ip, v = "attacker-kia-dealer", g.ip(), r.choice(victims)
    g.attackers[who] = "ownership_change_then_command"
    g.ev(t + 2 * HOUR, who, ["dealer"], "POST", "/api/v1/vehicles/%s/owners" % v, 200, ip)
    g.ev(t + 2 * HOUR + 90000, who, ["dealer"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % v, 200, ip)
    # FCA 2016: a dealer account pulls key codes for cars that are not in its shop
    who, ip = "attacker-keycodes", g.ip()
    g.attackers[who] = "dealer_key_codes"
    for k, v in enumerate(r.sample(victims, 5)):
        g.ev(t + 3 * HOUR + k * 300000, who, ["dealer"], "GET", "/api/v1/dealer/vehicles/%s/key-codes" % v, 200, ip)
    # TeslaMate: a leaked token used from many places, on its own car only
    owner = "owner-123"
    mine = g.car_of(owner)
    g.attackers[owner] = "leaked_token"
    g.benign.remove(owner)
    for k in range(10):
        g.ev(t + 4 * HOUR + k * 120000, owner, ["owner"], "GET", "/api/v1/vehicles/%s/location" % mine, 200,
             g.ip(), r.choice(["BR", "RU", "CN", "VN", "NG"]))
    # credential stuffing: many accounts, one address, in minutes
    ip = g.ip()
    g.attackers["ip:" + ip] = "credential_stuffing"
    for k in range(60):
        g.ev(t + 5 * HOUR + k * 3000, "user-%d@mail.example" % r.randint(0, 10 ** 6), [], "POST",
             "/api/v1/auth/login", 401, ip)
    # low and slow: a partner token reads 3 vehicles an hour all night
    who, ip = "attacker-partner-slow", g.ip()
    g.attackers[who] = "low_and_slow_fan_out"
    for k in range(60):
        g.ev(t + 6 * HOUR + k * 20 * 60 * 1000, who, ["service_partner"], "GET",
             "/api/v1/vehicles/%s/status" % r.choice(victims), 200, ip)
    # unlocking a car on the move: the backend carried it out against its own state
    owner = "owner-321"
    mine = g.car_of(owner)
    g.attackers[owner] = "unlock_while_driving"
    g.benign.remove(owner)
    tt = t + 7 * HOUR
    for k in range(6):
        g.telemetry.append({"time": tt + k * 10000, "vin": mine, "signals": {"Vehicle.Speed": 80.0}})
    g.ev(tt + 45000, owner, ["owner"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % mine, 200, g.ip())
    # Subaru 2024-like: a support account, used from home until now, acts from abroad
    who = "support-7"
    g.attackers[who] = "staff_account_abroad"
    g.in_attack = False  # its ordinary work first
    for k in range(3):
        g.ev(T0 + 2 * HOUR + k * HOUR, who, ["support"], "GET", "/api/v1/support/tickets", 200, "10.20.0.7")
    g.in_attack = True
    g.ev(t + 7 * HOUR + 300000, who, ["support"], "GET", "/api/v1/support/tickets", 200, g.ip(), "BR")
    # FCA 2016-like, from inside: a dealer account that works shop hours (the first afternoon, then the
    # next day from 07:00) pulls key codes for the cars in its shop at 02:30 UTC the night after, from
    # its usual country and address (a stolen login, or an insider)
    who, ip = "dealer-night", g.ip()
    g.attackers[who] = "dealer_credential_at_night"
    g.in_attack = False  # its ordinary days
    shop = [cars.pop() for _ in range(12)]
    for v in shop:
        g.grant(who, v, "dealer", MIDNIGHT - DAY + 11 * HOUR, MIDNIGHT + 2 * DAY, org="dealership-night")
    for k in range(60):
        day_start = MIDNIGHT - DAY + 12 * HOUR if k < 20 else MIDNIGHT + 7 * HOUR
        g.ev(day_start + (k % 20 if k < 20 else k - 20) * 14 * 60000, who, ["dealer"], "GET",
             "/api/v1/dealer/vehicles/%s/status" % shop[k % 12], 200, ip)
    g.in_attack = True
    for k, v in enumerate(shop[:3]):
        g.ev(MIDNIGHT + DAY + 2 * HOUR + 30 * 60000 + k * 40000, who, ["dealer"], "GET",
             "/api/v1/dealer/vehicles/%s/key-codes" % v, 200, ip)
    # an API handing out far too much location data (the whole trip history, every call)
    owner = "owner-222"
    mine = g.car_of(owner)
    g.attackers[owner] = "bulk_location_history"
    g.benign.remove(owner)
    ip = g.ip()
    for k in range(12):
        g.ev(t + 7 * HOUR + 600000 + k * 60000, owner, ["owner"], "GET",
             "/api/v1/vehicles/%s/trips/history" % mine, 200, ip, length=3000000)
    # Hyundai 2022: an account registered with an owner's e-mail address (plus a character the
    # backend trims) is handed that owner's cars; it starts and unlocks one within minutes
    who, ip = "attacker-new-account", g.ip()
    v = r.choice([x["vin"] for x in g.grants if x["role"] == "owner" and x["until"] is None and
                  x["since"] < T0 and x["principal"].startswith("owner-")])
    g.attackers[who] = "account_takeover_registration"
    treg = t + 9 * HOUR
    g.ev(treg, None, [], "POST", "/api/v1/auth/register", 201, ip)
    g.grant(who, v, "owner", treg + 20000)
    g.ev(treg + 60000, who, ["owner"], "GET", "/api/v1/vehicles/%s/location" % v, 200, ip)
    g.ev(treg + 100000, who, ["owner"], "POST", "/api/v1/vehicles/%s/commands/engine.start" % v, 200, ip)
    g.ev(treg + 130000, who, ["owner"], "POST", "/api/v1/vehicles/%s/commands/door.unlock" % v, 200, ip)
    # a script: 2 s apart, many vehicles
    who, ip = "attacker-script", g.ip()
    g.attackers[who] = "scripted_fan_out"
    for k in range(50):
        g.ev(t + 8 * HOUR + k * 2000, who, ["owner"], "GET", "/api/v1/vehicles/%s/status" % r.choice(victims), 200, ip)


def main():
    out = sys.argv[1]
    g = Gen(int(sys.argv[2]) if len(sys.argv) > 2 else 11)
    cars = [vin(p, s) for p in ("1HGCM8263A", "JTDKB20U0A", "WVWZZZ1JZA") for s in range(200000, 201200)]
    g.r.shuffle(cars)
    benign(g, cars)
    victims = [x["vin"] for x in g.grants if x["role"] == "owner"][:300]
    attacks(g, cars, victims)
    g.events.sort(key=lambda e: e["time"])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "events.jsonl"), "w") as f:
        for e in g.events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    g.telemetry.sort(key=lambda x: x["time"])
    with open(os.path.join(out, "telemetry.jsonl"), "w") as f:
        for x in g.telemetry:
            f.write(json.dumps(x) + "\n")
    with open(os.path.join(out, "grants.jsonl"), "w") as f:
        for x in g.grants:
            f.write(json.dumps(x) + "\n")
    for e in g.events:  # when each attack began (a leaked token's owner was active before)
        for s in (e.get("actor", {}).get("user", {}).get("uid"), "ip:" + e["src_endpoint"]["ip"]):
            if s in g.attackers and e.get("attack"):
                g.start.setdefault(s, e["time"])
    for e in g.events:
        e.pop("attack", None)
    json.dump({"attackers": g.attackers, "benign": g.benign, "start": g.start},
              open(os.path.join(out, "labels.json"), "w"))
    print("%d events, %d grants, %d benign principals, %d attacks" %
          (len(g.events), len(g.grants), len(g.benign), len(g.attackers)))


if __name__ == "__main__":
    main()
