#!/usr/bin/env python3
"""Turns two `bpfcheck-vm run-fixtures` reports of one kernel, one run with
`--log-level 1` and one with `--log-level 2`, into the log recording
committed under fixtures/kernels/: each fixture's level-1 and level-2 log
on that real kernel (statistics lines of log level 4 left out), so that
`cargo test` can compare bpfcheck's logs for that kernel's profile byte for
byte without booting it.

Usage: record-logs.py LEVEL1.json LEVEL2.json OUT.json PROFILE
"""
import json
import sys

l1, l2, out, profile = sys.argv[1:5]
runs = {}
release = None
for level, path in (("l1", l1), ("l2", l2)):
    r = json.load(open(path))
    if r["log_level"] != int(level[1]):
        sys.exit(f"{path}: log level {r['log_level']}, expected {level[1]}")
    if release not in (None, r["release"]):
        sys.exit(f"{path}: release {r['release']}, the other run was {release}")
    release = r["release"]
    for p in r["programs"]:
        k = p.get("kernel")
        if k and k.get("log") is not None:
            runs.setdefault(p["name"], {})[level] = k["log"]
logs = {name: v for name, v in sorted(runs.items()) if len(v) == 2}
doc = {"release": release, "profile": profile, "logs": logs}
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{out}: {len(logs)} programs' logs from {release}")
