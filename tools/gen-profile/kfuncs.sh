#!/bin/sh
# Regenerates crates/profile/data/kfuncs-NAME.txt, each profile's kfunc
# registrations, from a kernel source tree and the profile's embedded BTF
# (crates/profile/data/btf/NAME.btf.zst, made by btf.sh):
#
#   6.12  Debian linux-source-6.12 (bookworm-security) + 6.12's BTF
#   6.18  Debian linux-source-7.2 (sid; no 6.18 source exists here) + the
#         6.18 BTF, which keeps only the kfuncs 6.18 has (its `bpf_kfunc`
#         decl tags); the live-kernel test `kfunc_registrations` checks
#         the result against the running 6.18 kernel
#   7.2   Debian linux-source-7.2 (sid) + 7.2's BTF
#
#   tools/gen-profile/kfuncs.sh [KSRC_ROOT]
# Needs python3 and zstd. Reruns give identical files.
set -eu
ksrc=${1:-/work/ksrc}
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../../crates/profile/data
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpfcheck-kfuncs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
gen() { # NAME SOURCE-TREE SOURCE-LABEL
    zstd -dcq "$data/btf/$1.btf.zst" > "$tmp/$1.btf"
    python3 "$here/gen_kfuncs.py" --ksrc "$ksrc/linux-source-$2" --btf "$tmp/$1.btf" \
        --name "$1" --source "$3" --btf-label "the $1 profile's BTF (data/btf/$1.btf.zst)" \
        --out "$data/kfuncs-$1.txt"
}
gen 6.12 6.12 "Debian linux-source-6.12 (bookworm-security)"
gen 6.18 7.2 "Debian linux-source-7.2 (sid, 7.2.13-1)"
gen 7.2 7.2 "Debian linux-source-7.2 (sid, 7.2.13-1)"
