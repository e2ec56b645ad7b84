#!/usr/bin/env python3
"""Builds the evaluation plant for one seed in network namespaces, records three captures
(train, clean, test with labelled attacks) with tcpdump, and writes the work plan and labels.

Run as root:  run.py --seed 1 --out /tmp/ot-eval/seed1
Namespaces oe<seed>{sw,hmi,plc1,plc2,atk}; addresses 10.77.<seed>.0/24 exist only inside them;
the switch namespace holds a bridge in hub mode (ageing 0) that tcpdump records.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOSTS = {"hmi": 2, "plc1": 11, "plc2": 12, "atk": 66}

# (kind, offset in the test phase in s, actors, expected causes, key offsets, allowed offsets, grace s)
ATTACKS = [
    ("new_device", 30, ["atk", "plc1"], ["new_device"], None, None, 10),
    ("fc_scan", 55, ["hmi", "plc1"], ["not_standard_command"], [7], [7, 8, 9, 10, 11], 10),
    ("unit_id_scan", 80, ["hmi", "plc1"], ["not_standard_command"], [6], [6], 10),
    ("port_scan", 105, ["atk", "plc2"], ["new_link"], None, None, 10),
    ("out_of_range_write", 130, ["hmi", "plc1"], ["unusual_value"], [10, 11], [10, 11], 10),
    ("unusual_register_write", 150, ["hmi", "plc1"], ["unusual_value"], [8, 9], [8, 9], 10),
    ("unusual_fc", 170, ["hmi", "plc1"], ["not_standard_command"], [7], [4, 5, 7, 8, 9, 10, 11], 10),
    ("replay", 190, ["hmi", "plc1"], ["not_in_work_plan"], [7], [7], 10),
    ("polling_change", 215, ["hmi", "plc1"], ["timing", "volume"], None, None, 90),
    ("arp_spoof", 275, ["atk", "plc1"], ["address_change"], None, None, 60),
]
ATTACKER_NS = {"new_device": "atk", "port_scan": "atk", "arp_spoof": "atk"}
TARGET = {"new_device": "plc1", "port_scan": "plc2", "arp_spoof": "plc1"}


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Plant:
    def __init__(self, seed, out, python):
        self.seed, self.out, self.py = seed, Path(out), python
        self.sw = f"oe{seed}sw"
        self.ns = {h: f"oe{seed}{h}" for h in HOSTS}
        self.ip = {h: f"10.77.{seed}.{n}" for h, n in HOSTS.items()}
        self.windows = []

    def setup(self):
        self.teardown()
        for ns in [self.sw, *self.ns.values()]:
            sh("ip", "netns", "add", ns)
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", "ageing_time", "0")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        for h, n in HOSTS.items():
            sh("ip", "-n", self.sw, "link", "add", f"p{h}", "type", "veth", "peer", "name", "eth0", "netns", self.ns[h])
            sh("ip", "-n", self.ns[h], "link", "set", "eth0", "address", f"02:77:{self.seed:02x}:00:00:{n:02x}")
            sh("ip", "-n", self.ns[h], "addr", "add", f"{self.ip[h]}/24", "dev", "eth0")
            sh("ip", "-n", self.sw, "link", "set", f"p{h}", "master", "br0", "up")
            if h != "atk":
                sh("ip", "-n", self.ns[h], "link", "set", "eth0", "up")

    def teardown(self):
        for ns in [self.sw, *self.ns.values()]:
            sh("ip", "netns", "del", ns, check=False)

    def run_in(self, host, *args):
        return subprocess.Popen(["ip", "netns", "exec", self.ns[host], self.py, str(HERE / "gen.py"), *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def phase(self, name, duration, attacks=False):
        pcap = self.out / f"{name}.pcap"
        tcpdump = subprocess.Popen(["ip", "netns", "exec", self.sw, "tcpdump", "-i", "br0", "-U", "-q", "-w", str(pcap)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        plcs = [self.run_in(h, "plc", "--ip", self.ip[h], "--seed", str(self.seed * 10 + i)) for i, h in enumerate(["plc1", "plc2"])]
        time.sleep(2.0)
        start = time.time() + 0.5
        wins = [(start + 20 + 60 * k, start + 32 + 60 * k) for k in range(int(duration // 60) + 1)]
        self.windows += wins
        plan = self.out / f"hmi-plan-{name}.json"
        plan.write_text(json.dumps({"windows": [{"from_s": a, "to_s": b} for a, b in wins]}))
        sched = self.out / f"hmi-schedule-{name}.json"
        fast = []
        if attacks:
            pc = [a for a in ATTACKS if a[0] == "polling_change"][0]
            fast = [{"from_s": start + pc[1], "to_s": start + pc[1] + 25, "period": 0.2}]
        sched.write_text(json.dumps(fast))
        while time.time() < start:
            time.sleep(0.01)
        hmi = self.run_in("hmi", "hmi", "--plc1", self.ip["plc1"], "--plc2", self.ip["plc2"], "--plan", str(plan),
                          "--schedule", str(sched), "--duration", str(duration), "--seed", str(self.seed))
        labels = []
        if attacks:
            for kind, at, actors, causes, key, allowed, grace in ATTACKS:
                while time.time() < start + at:
                    time.sleep(0.01)
                t0 = time.time()
                if kind == "polling_change":
                    time.sleep(25)
                else:
                    host = ATTACKER_NS.get(kind, "hmi")
                    if host == "atk":
                        sh("ip", "-n", self.ns["atk"], "link", "set", "eth0", "up")
                    target = self.ip[TARGET.get(kind, "plc1")]
                    p = self.run_in(host, "attack", "--kind", kind, "--target", target)
                    p.wait(timeout=60)
                t1 = time.time()
                labels.append({"kind": kind, "start": t0, "end": t1, "grace": grace,
                               "actors": [self.ip[a] for a in actors], "causes": causes,
                               "key_offsets": key, "allowed_offsets": allowed})
        hmi.wait()
        for p in plcs:
            p.send_signal(signal.SIGTERM)
            p.wait()
        time.sleep(1.0)
        tcpdump.send_signal(signal.SIGTERM)
        tcpdump.wait()
        sh("ip", "-n", self.ns["atk"], "link", "set", "eth0", "down", check=False)
        return {"name": name, "start": start, "end": start + duration, "attacks": labels}

    def work_plan(self):
        entries = [{"name": f"set point window {i}", "device": self.ip["plc1"], "port": 502,
                    "from": f"{a:.6f}", "to": f"{b:.6f}", "command": {"offset": 7, "values": [6]},
                    "address": {"offset": 8, "len": 2, "min": 40, "max": 40},
                    "value": {"offset": 10, "len": 2, "min": 100, "max": 140}}
                   for i, (a, b) in enumerate(self.windows)]
        return {"version": 1, "entries": entries}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=float, default=240)
    ap.add_argument("--clean", type=float, default=240)
    ap.add_argument("--test", type=float, default=330)
    ap.add_argument("--python", default=os.environ.get("SHINRAI_PYTHON", str(HERE.parent.parent / ".venv/bin/python")))
    a = ap.parse_args()
    if not 1 <= a.seed <= 250:
        sys.exit("seed must be 1..250 (it is the third octet of 10.77.<seed>.0/24)")
    random.seed(a.seed)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    plant = Plant(a.seed, a.out, a.python)
    try:
        plant.setup()
        phases = [plant.phase("train", a.train), plant.phase("clean", a.clean)]
        if a.test > 0:
            phases.append(plant.phase("test", a.test, attacks=True))
    finally:
        plant.teardown()
    (Path(a.out) / "work-plan.json").write_text(json.dumps(plant.work_plan(), indent=1))
    (Path(a.out) / "labels.json").write_text(json.dumps({"seed": a.seed, "phases": phases}, indent=1))


if __name__ == "__main__":
    main()
