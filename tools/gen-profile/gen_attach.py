#!/usr/bin/env python3
"""Generates bpfcheck's attach-target data (LSM hooks, BPF iterator targets)
from a kernel source tree.

    gen_attach.py --ksrc DIR --config FILE --name 6.12 --source LABEL --out FILE
    gen_attach.py --intersect A.txt B.txt --name 6.18 --source LABEL --out FILE

Reads, from the kernel's own sources:
  * include/linux/lsm_hook_defs.h   every LSM_HOOK (the `bpf_lsm_hooks` set)
                                    and its return type;
  * kernel/bpf/bpf_lsm.c            the BTF id sets `bpf_lsm_disabled_hooks`,
                                    `sleepable_lsm_hooks`, `untrusted_lsm_hooks`,
                                    `bool_lsm_hooks`, and whether
                                    `bpf_lsm_get_retval_range` exists;
  * every .c file under kernel/ net/ mm/ drivers/ fs/ defining a
    `struct bpf_iter_reg` (`.target`, `.ctx_arg_info`).
Preprocessor conditionals are resolved against FILE (a kernel .config).
Iterator registrations are listed whatever their file's configuration: the
verifier only consults those whose `bpf_iter_<target>` function the
kernel's BTF has.

`--intersect` keeps the records two data files share word for word: the
data of a kernel without a source package (6.18), between two that have
one.

Output format: crates/profile/src/attach.rs.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_helpers import Config, preprocess, read_config, strip_comments  # noqa: E402

ITER_DIRS = ["kernel", "net", "mm", "drivers", "fs"]


def die(msg):
    sys.stderr.write(f"gen_attach: {msg}\n")
    sys.exit(1)


def lsm_hooks(ksrc, cfg):
    """(name, ret) of every LSM_HOOK the configuration compiles."""
    path = os.path.join(ksrc, "include/linux/lsm_hook_defs.h")
    text = preprocess(open(path).read(), cfg, path)
    hooks = []
    for m in re.finditer(r"\bLSM_HOOK\(\s*([^,]+?)\s*,\s*[^,]+?\s*,\s*(\w+)\s*[,)]", text):
        ret = re.sub(r"\s+", " ", m.group(1))
        hooks.append((m.group(2), ret))
    if len(hooks) < 100:
        die(f"{path}: only {len(hooks)} hooks")
    return hooks


def lsm_sets(ksrc, cfg):
    path = os.path.join(ksrc, "kernel/bpf/bpf_lsm.c")
    raw = open(path).read()
    text = preprocess(raw, cfg, path)
    sets = {}
    for m in re.finditer(r"BTF_SET_START\((\w+)\)(.*?)BTF_SET_END\(\1\)", text, re.S):
        sets[m.group(1)] = set(re.findall(r"BTF_ID\(func,\s*bpf_lsm_(\w+)\)", m.group(2)))
    for need in ("sleepable_lsm_hooks",):
        if need not in sets:
            die(f"{path}: no {need}")
    retval = "bpf_lsm_get_retval_range" in strip_comments(raw)
    return sets, retval


def iter_regs(ksrc):
    """target -> [(field, reg_type)] of every `struct bpf_iter_reg`."""
    regs = {}
    for d in ITER_DIRS:
        root = os.path.join(ksrc, d)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(".c"):
                    continue
                path = os.path.join(dirpath, fn)
                try:
                    text = open(path, errors="replace").read()
                except OSError:
                    continue
                if "bpf_iter_reg" not in text:
                    continue
                text = strip_comments(text)
                for m in re.finditer(r"struct\s+bpf_iter_reg\s+\w+\s*=\s*\{", text):
                    body = block(text, m.end() - 1)
                    t = re.search(r"\.target\s*=\s*\"(\w+)\"", body)
                    if not t:
                        continue
                    args = []
                    c = re.search(r"\.ctx_arg_info\s*=\s*\{", body)
                    if c:
                        info = block(body, c.end() - 1)
                        for a in re.finditer(
                            r"\{\s*offsetof\(\s*struct\s+bpf_iter__(\w+)\s*,\s*(\w+)\s*\)\s*,\s*([\w\s|]+?)\s*,?\s*\}",
                            info,
                        ):
                            flags = "|".join(s.strip() for s in a.group(3).split("|"))
                            args.append((a.group(2), flags))
                    target = t.group(1)
                    if target in regs and regs[target] != args:
                        die(f"{path}: target {target} registered twice")
                    regs[target] = args
    return regs


def block(text, start):
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    die("unbalanced braces")


def records(ksrc, cfg):
    hooks = lsm_hooks(ksrc, cfg)
    sets, retval = lsm_sets(ksrc, cfg)
    out = []
    out.append(f"rule lsm_retval_range {'yes' if retval else 'no'}")
    for name, ret in sorted(hooks):
        kind = "void" if ret == "void" else ("bool" if name in sets.get("bool_lsm_hooks", set()) else "int")
        if ret not in ("void", "int"):
            die(f"hook {name} returns {ret}")
        flags = [f"ret={kind}"]
        for s, flag in (
            ("bpf_lsm_disabled_hooks", "disabled"),
            ("sleepable_lsm_hooks", "sleepable"),
            ("untrusted_lsm_hooks", "untrusted"),
        ):
            if name in sets.get(s, set()):
                flags.append(flag)
        out.append(f"lsm {name} {' '.join(flags)}")
    for target, args in sorted(iter_regs(ksrc).items()):
        out.append(" ".join(["iter", target] + [f"{f}={t}" for f, t in args]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ksrc")
    ap.add_argument("--config")
    ap.add_argument("--intersect", nargs=2)
    ap.add_argument("--name", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--config-label", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    head = [
        f"# bpfcheck attach-target data: Linux {a.name}",
        f"# source: {a.source}",
    ]
    if a.intersect:
        sets = []
        for p in a.intersect:
            sets.append([l for l in open(p).read().split("\n") if l and not l.startswith("#") and not l.startswith("kernel ")])
        both = set(sets[1])
        recs = [l for l in sets[0] if l in both]
        head.append(f"# the records {os.path.basename(a.intersect[0])} and {os.path.basename(a.intersect[1])} share")
    else:
        if not (a.ksrc and a.config):
            die("--ksrc and --config, or --intersect")
        cfg = Config(read_config(a.config))
        recs = records(a.ksrc, cfg)
        if a.config_label:
            head.append(f"# config: {a.config_label}")
    head += [
        "# generated by tools/gen-profile/gen_attach.py; do not edit by hand",
        "# format: crates/profile/src/attach.rs",
        f"kernel {a.name}",
    ]
    with open(a.out, "w") as f:
        f.write("\n".join(head + recs) + "\n")


if __name__ == "__main__":
    main()
