#!/usr/bin/env python3
"""Turns a `bpfcheck-vm run-fixtures --out R.json` report into the compact
recording committed under fixtures/kernels/: each fixture's verdict, errno
and error line on that real kernel, and the statistics line's counts when
the run had them (processed instructions, states), so that `cargo test`
can check bpfcheck's profile for that kernel without booting it.

Usage: record-answers.py REPORT.json OUT.json PROFILE
"""
import json
import sys

report, out, profile = sys.argv[1:4]
r = json.load(open(report))
programs = []
for p in sorted(r["programs"], key=lambda p: p["name"]):
    k = p.get("kernel")
    if not k:
        continue
    entry = {
        "name": p["name"],
        "verdict": k["verdict"],
        "errno": k.get("errno"),
        "error": k.get("error"),
    }
    for stat in ("insns_processed", "total_states", "peak_states", "max_states_per_insn"):
        if k.get(stat) is not None:
            entry[stat] = k[stat]
    programs.append(entry)
doc = {
    "release": r["release"],
    "kernel_image": r["kernel_image"].split("/")[-1] if r.get("kernel_image") else None,
    "profile": profile,
    "programs": programs,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{out}: {len(programs)} programs from {r['release']}")
