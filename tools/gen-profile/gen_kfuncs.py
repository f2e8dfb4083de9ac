#!/usr/bin/env python3
"""Generates a profile's kfunc table (crates/profile/data/kfuncs-NAME.txt)
from a kernel source tree and that kernel's BTF.

What is read from the source (kernel/ and net/ of the tree):
  - every kfunc set: BTF_KFUNCS_START(set) ... BTF_ID_FLAGS(func, name, KF_A | KF_B)
    ... BTF_KFUNCS_END(set) (BTF_SET8_START too, for older trees);
  - every `struct btf_kfunc_id_set X = { .set = &set, .filter = f }`;
  - every register_btf_kfunc_id_set(BPF_PROG_TYPE_T, &X) and
    register_btf_fmodret_id_set(&X);
  - bpf_prog_type_to_kfunc_hook() in kernel/bpf/btf.c: which hook a
    program type's registrations land in, and which hook it looks in.

What the BTF decides: only kfuncs the kernel's BTF has are kept. When the
BTF tags kfuncs (`bpf_kfunc` decl tags, pahole >= 1.25), a kfunc must be
tagged; otherwise it must be a FUNC. `#ifdef` blocks inside sets are not
evaluated: the BTF stands in for the configuration.

Output, sorted and stable (one registration per line):
  hook PROG_TYPE HOOK          the program type's kfunc hook
  kfunc NAME HOOK FLAGS [filter=FN]
(HOOK `none`: a kfunc registered for no program type.) FLAGS is `-` or KF_ names without the prefix joined by `|`.
  trusted_args listed          only the kfuncs listed with TRUSTED_ARGS are
                               known to have it (--trusted-args)

  gen_kfuncs.py --ksrc DIR --btf FILE --name NAME --source TEXT --out FILE
"""

import argparse
import os
import re
import struct
import sys

KIND_FUNC = 12
KIND_DECL_TAG = 17


def btf_funcs(path):
    """(FUNC names, names of FUNCs tagged `bpf_kfunc`) of a BTF file."""
    data = open(path, "rb").read()
    magic, = struct.unpack_from("<H", data, 0)
    if magic != 0xEB9F:
        sys.exit(f"{path}: not little-endian BTF")
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", data, 4)
    types = data[hdr_len + type_off: hdr_len + type_off + type_len]
    strs = data[hdr_len + str_off: hdr_len + str_off + str_len]

    def name(off):
        end = strs.index(b"\0", off)
        return strs[off:end].decode()

    # Fixed trailing sizes per kind (vlen multiples for the others).
    extra = {1: 4, 3: 12, 14: 4, 17: 4}
    per_vlen = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    funcs = {}  # id -> name
    tags = []  # (target id, tag name, component_idx)
    off, tid = 0, 1
    while off < len(types):
        name_off, info, size_type = struct.unpack_from("<III", types, off)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        rec = 12 + extra.get(kind, 0) + per_vlen.get(kind, 0) * vlen
        if kind == KIND_FUNC:
            funcs[tid] = name(name_off)
        elif kind == KIND_DECL_TAG:
            comp, = struct.unpack_from("<i", types, off + 12)
            tags.append((size_type, name(name_off), comp))
        off += rec
        tid += 1
    tagged = {funcs[t] for t, n, c in tags if n == "bpf_kfunc" and c == -1 and t in funcs}
    return set(funcs.values()), tagged


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand_xdp_metadata(ksrc):
    """Kfunc names of XDP_METADATA_KFUNC_xxx (include/net/xdp.h)."""
    path = os.path.join(ksrc, "include/net/xdp.h")
    if not os.path.exists(path):
        return []
    text = strip_comments(open(path).read())
    m = re.search(r"#define XDP_METADATA_KFUNC_xxx(.*?)\n\s*\n", text, re.S)
    if not m:
        return []
    body = m.group(1).replace("\\\n", " ")
    return re.findall(r"XDP_METADATA_KFUNC\(\s*\w+\s*,\s*\w+\s*,\s*(\w+)\s*,", body)


def parse_tree(ksrc):
    sets = {}  # (file, set) -> [(name, flags)]
    idsets = {}  # (file, id_set) -> (set, filter)
    regs = []  # (file, prog type or FMODRET, id_set)
    for top in ("kernel", "net"):
        for root, _, files in os.walk(os.path.join(ksrc, top)):
            for f in sorted(files):
                if not f.endswith(".c"):
                    continue
                path = os.path.join(root, f)
                rel = os.path.relpath(path, ksrc)
                text = open(path, errors="replace").read()
                if "btf_kfunc_id_set" not in text and "BTF_KFUNCS_START" not in text:
                    continue
                text = strip_comments(text)
                for m in re.finditer(
                    r"BTF_(?:KFUNCS|SET8)_START\((\w+)\)(.*?)BTF_(?:KFUNCS|SET8)_END\(\1\)", text, re.S
                ):
                    body = m.group(2)
                    items = []
                    for it in re.finditer(r"BTF_ID_FLAGS\(\s*func\s*,\s*(\w+)\s*(?:,([^)]*))?\)", body):
                        flags = sorted(
                            x.strip()[3:] for x in (it.group(2) or "").split("|") if x.strip().startswith("KF_")
                        )
                        items.append((it.group(1), flags))
                    if "XDP_METADATA_KFUNC_xxx" in body:
                        items += [(n, []) for n in expand_xdp_metadata(ksrc)]
                    sets[(rel, m.group(1))] = items
                for m in re.finditer(r"struct\s+btf_kfunc_id_set\s+(\w+)\s*=\s*\{(.*?)\}", text, re.S):
                    body = m.group(2)
                    s = re.search(r"\.set\s*=\s*&(\w+)", body)
                    flt = re.search(r"\.filter\s*=\s*(\w+)", body)
                    if s:
                        idsets[(rel, m.group(1))] = (s.group(1), flt.group(1) if flt else None)
                for m in re.finditer(r"register_btf_kfunc_id_set\(\s*BPF_PROG_TYPE_(\w+)\s*,\s*&(\w+)\s*\)", text):
                    regs.append((rel, m.group(1), m.group(2)))
                for m in re.finditer(r"register_btf_fmodret_id_set\(\s*&(\w+)\s*\)", text):
                    regs.append((rel, "FMODRET", m.group(1)))
    return sets, idsets, regs


def hook_map(ksrc):
    """{prog type: hook} from bpf_prog_type_to_kfunc_hook()."""
    text = strip_comments(open(os.path.join(ksrc, "kernel/bpf/btf.c")).read())
    m = re.search(r"bpf_prog_type_to_kfunc_hook\([^)]*\)\s*\{(.*?)\n\}", text, re.S)
    if not m:
        sys.exit("bpf_prog_type_to_kfunc_hook not found")
    out, pending = {}, []
    for tok in re.finditer(r"case\s+BPF_PROG_TYPE_(\w+)\s*:|return\s+BTF_KFUNC_HOOK_(\w+)\s*;", m.group(1)):
        if tok.group(1):
            pending.append(tok.group(1))
        else:
            for p in pending:
                out[p.lower()] = tok.group(2).lower()
            pending = []
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ksrc", required=True)
    ap.add_argument("--btf", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--btf-label", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hook", action="append", default=[], metavar="PROG_TYPE=HOOK",
                    help="a hook the live kernel proved different from the source's (max: none)")
    ap.add_argument("--unregistered", action="append", default=[], metavar="KFUNC",
                    help="a kfunc the live kernel proved registered for no program type")
    ap.add_argument("--trusted-args", action="append", default=[], metavar="KFUNC",
                    help="a kfunc the live kernel proved to have KF_TRUSTED_ARGS, for a source "
                         "that no longer has the flag (the output then says only these have it)")
    a = ap.parse_args()

    funcs, tagged = btf_funcs(a.btf)
    known = tagged if tagged else funcs
    hooks = hook_map(a.ksrc)
    for o in a.hook:
        pt, hook = o.split("=")
        if hook == "max":
            hooks.pop(pt, None)
        else:
            hooks[pt] = hook
    sets, idsets, regs = parse_tree(a.ksrc)

    rows = {}  # (name, hook) -> (flags, filter)
    for rel, prog_type, idset in regs:
        if (rel, idset) not in idsets:
            sys.exit(f"{rel}: kfunc id set {idset} not found")
        set_name, flt = idsets[(rel, idset)]
        if (rel, set_name) not in sets:
            sys.exit(f"{rel}: kfunc set {set_name} not found")
        hook = "fmodret" if prog_type == "FMODRET" else hooks.get(prog_type.lower(), "max")
        if hook == "max":
            continue
        for name, flags in sets[(rel, set_name)]:
            if name not in known or name in a.unregistered:
                continue
            if name in a.trusted_args:
                flags = sorted(set(flags) | {"TRUSTED_ARGS"})
            row = ("|".join(flags) or "-", flt)
            prev = rows.setdefault((name, hook), row)
            if prev != row:
                print(f"warning: {name} in hook {hook} twice: {prev} and {row}", file=sys.stderr)
    # A kfunc registered nowhere is still a kfunc: calls are refused at
    # the call (`calling kernel function %s is not allowed`).
    for name in a.unregistered:
        if name in known:
            rows[(name, "none")] = ("-", None)

    with open(a.out, "w") as out:
        out.write(f"# Kfunc registrations of Linux {a.name}, generated by tools/gen-profile/gen_kfuncs.py\n")
        out.write(f"# from {a.source} (kernel/, net/) and {a.btf_label}; do not edit.\n")
        for o in a.hook:
            out.write(f"# proven on the live kernel, not the source: hook {o}\n")
        for o in a.unregistered:
            out.write(f"# proven on the live kernel, not the source: {o} unregistered\n")
        for o in a.trusted_args:
            out.write(f"# proven on the live kernel, not the source: {o} has KF_TRUSTED_ARGS\n")
        out.write("# hook PROG_TYPE HOOK | kfunc NAME HOOK FLAGS [filter=FN]\n")
        if a.trusted_args:
            # KF_TRUSTED_ARGS is known only where proven: other kfuncs
            # may or may not have it.
            out.write("trusted_args listed\n")
        for pt in sorted(hooks):
            out.write(f"hook {pt} {hooks[pt]}\n")
        for (name, hook) in sorted(rows):
            flags, flt = rows[(name, hook)]
            tail = f" filter={flt}" if flt else ""
            out.write(f"kfunc {name} {hook} {flags}{tail}\n")


if __name__ == "__main__":
    main()
