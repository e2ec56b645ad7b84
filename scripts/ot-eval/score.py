#!/usr/bin/env python3
"""Scores Shinrai monitor alerts against the labels written by run.py.

score.py SEED_DIR [SEED_DIR ...] [--json out.json] [--markdown out.md]

Each SEED_DIR holds labels.json, alerts-clean.jsonl and alerts-test.jsonl. An alert belongs to an
attack when its time lies in [start - 1 s, end + grace] and one of its IPs is an actor of the
attack (ARP alerts: the claimed IP is in the detail). Per attack type: detected, time to detect
(first matching alert - attack start), cause correct (a matching alert carries an expected cause),
offsets correct (for content attacks: an alert with the expected cause whose payload_offsets are
non-empty, all allowed, and include a key offset). False alerts: every alert of the clean capture
plus every test alert that belongs to no attack, per hour of clean traffic.
"""
import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def load(path):
    p = Path(path)
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def info(a):
    return a.get("anomaly") or a.get("config_change") or {}


def ips(a):
    out = {a.get("src_ip"), a.get("dest_ip")}
    d = info(a).get("detail", "")
    out.update(w for w in d.replace(",", " ").replace(":", " ").split() if w.count(".") == 3)
    return out


def score_seed(d):
    labels = json.loads((d / "labels.json").read_text())
    phases = {p["name"]: p for p in labels["phases"]}
    test = phases["test"]
    alerts = load(d / "alerts-test.jsonl")
    clean_alerts = load(d / "alerts-clean.jsonl")
    used = set()
    res = {}
    for atk in test["attacks"]:
        lo, hi = atk["start"] - 1.0, atk["end"] + atk["grace"]
        m = [i for i, a in enumerate(alerts) if lo <= ts(a["timestamp"]) <= hi and ips(a) & set(atk["actors"])]
        used.update(m)
        ms = [alerts[i] for i in m]
        r = {"detected": bool(ms)}
        if ms:
            r["ttd"] = max(0.0, min(ts(a["timestamp"]) for a in ms) - atk["start"])
            with_cause = [a for a in ms if set(info(a).get("causes", [])) & set(atk["causes"])]
            r["cause"] = bool(with_cause)
            if atk["key_offsets"] is not None:
                r["offsets"] = any(
                    info(a).get("payload_offsets")
                    and set(info(a)["payload_offsets"]) <= set(atk["allowed_offsets"])
                    and set(info(a)["payload_offsets"]) & set(atk["key_offsets"])
                    for a in with_cause
                )
        res[atk["kind"]] = r
    attack_time = sum(a["end"] + a["grace"] - a["start"] + 1.0 for a in test["attacks"])
    clean_s = (phases["clean"]["end"] - phases["clean"]["start"]) + max(0.0, (test["end"] - test["start"]) - attack_time)
    false = len(clean_alerts) + sum(1 for i in range(len(alerts)) if i not in used)
    unmatched = [alerts[i] for i in range(len(alerts)) if i not in used][:5] + clean_alerts[:5]
    return res, false, clean_s, unmatched


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    per = {}
    false_total, clean_total = 0, 0.0
    examples = []
    for d in a.dirs:
        res, false, clean_s, unmatched = score_seed(Path(d))
        false_total += false
        clean_total += clean_s
        examples += unmatched
        for k, r in res.items():
            per.setdefault(k, []).append(r)
    rows = []
    content = ("fc_scan", "unit_id_scan", "out_of_range_write", "unusual_register_write", "unusual_fc", "replay")
    for k, rs in per.items():
        n = len(rs)
        det = sum(r["detected"] for r in rs)
        ttd = [r["ttd"] for r in rs if r["detected"]]
        cause = sum(r.get("cause", False) for r in rs)
        offs = sum(r.get("offsets", False) for r in rs) if k in content else None
        rows.append({"attack": k, "runs": n, "detected": det, "median_ttd_s": statistics.median(ttd) if ttd else None,
                     "cause_correct": cause, "offsets_correct": offs})
    fph = false_total / (clean_total / 3600.0) if clean_total else None
    content_rows = [r for r in rows if r["attack"] in content]
    cc = sum(r["cause_correct"] for r in content_rows) / max(1, sum(r["runs"] for r in content_rows))
    oc = sum(r["offsets_correct"] for r in content_rows) / max(1, sum(r["runs"] for r in content_rows))
    summary = {"seeds": len(a.dirs), "rows": rows, "false_alerts": false_total, "clean_hours": clean_total / 3600.0,
               "false_alerts_per_hour": fph, "content_cause_correct": cc, "content_offsets_correct": oc,
               "false_alert_examples": [info(e).get("detail", "") for e in examples[:5]]}
    md = ["| attack | detected | median time to detect | cause correct | offsets correct |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        t = f"{r['median_ttd_s']:.2f} s" if r["median_ttd_s"] is not None else "-"
        o = f"{r['offsets_correct']}/{r['runs']}" if r["offsets_correct"] is not None else "n/a"
        md.append(f"| {r['attack']} | {r['detected']}/{r['runs']} | {t} | {r['cause_correct']}/{r['runs']} | {o} |")
    md.append("")
    md.append(f"False alerts on clean traffic: {false_total} in {clean_total / 3600.0:.2f} h = {fph:.2f} per hour. "
              f"Content attacks: cause correct {cc:.0%}, offsets correct {oc:.0%}.")
    text = "\n".join(md)
    print(text)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1))
    if a.markdown:
        Path(a.markdown).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
