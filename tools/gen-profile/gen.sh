#!/bin/sh
# Regenerates crates/profile/data/helpers-6.1.txt and helpers-6.12.txt from
# the kernel sources and the Debian kernel configs (fetched with
# tools/vm/fetch-kernel.sh bookworm generic, and
# BPFCHECK_KERNEL_SERIES=6.12 tools/vm/fetch-kernel.sh bookworm generic).
#   tools/gen-profile/gen.sh [KSRC_ROOT]
set -eu
ksrc=${1:-/work/ksrc}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/bpfcheck/kernels
here=$(dirname "$0")
out=$here/../../crates/profile/data
gen() {
    python3 "$here/gen_helpers.py" --ksrc "$ksrc/linux-source-$1" --name "$1" \
        --source "Debian linux-source-$1 ($2)" \
        --config "$cache/$3/config" --config-label "$(head -n 1 "$cache/$3/package.txt")" \
        --out "$out/helpers-$1.txt"
}
gen 6.1 "bookworm" bookworm-generic
gen 6.12 "bookworm-security" bookworm-6.12-generic
# 7.2: Debian sid's source (apt-get download linux-source-7.2 with a
# private sources list, as tools/vm/fetch-kernel.sh does for images) and
# its cloud image's config (BPFCHECK_KERNEL_SERIES=7.2 tools/vm/fetch-kernel.sh sid).
python3 "$here/gen_helpers.py" --ksrc "$ksrc/linux-source-7.2" --name 7.2 \
    --source "Debian linux-source-7.2 (sid, 7.2.13-1)" \
    --config "$cache/sid-7.2/config" \
    --config-label "linux-binary-unsigned-7.2.13+deb14-cloud-amd64 7.2.13-1" \
    --out "$out/helpers-7.2.txt"
# Attach-target data (LSM hooks, iterator targets): crates/profile/data/attach-*.txt.
# 7.2's source must be the full tree (its iterator targets live under net/
# and kernel/kallsyms.c): the tarball of Debian's linux-source-7.2.
attach() {
    python3 "$here/gen_attach.py" --ksrc "$1" --config "$2" --name "$3" --source "$4" \
        --config-label "$5" --out "$out/attach-$3.txt"
}
attach "$ksrc/linux-source-6.1" "$cache/bookworm/config" 6.1 \
    "Debian linux-source-6.1 (bookworm; its subset: kernel/, net/core, net/ipv4, include/)" \
    "$(head -n 1 "$cache/bookworm/package.txt")"
attach "$ksrc/linux-source-6.12" "$cache/bookworm-backports/config" 6.12 \
    "Debian linux-source-6.12 (bookworm-security; its subset: kernel/, net/core, net/ipv4, include/)" \
    "$(head -n 1 "$cache/bookworm-backports/package.txt")"
attach "${KSRC_7_2_FULL:-$ksrc/linux-source-7.2}" "$cache/bookworm-backports/config" 7.2 \
    "Debian linux-source-7.2 (sid, 7.2.13-1)" \
    "6.12's ($(head -n 1 "$cache/bookworm-backports/package.txt")) standing in: sid's image config was not fetched"
python3 "$here/gen_attach.py" --intersect "$out/attach-6.12.txt" "$out/attach-7.2.txt" --name 6.18 \
    --source "no Debian linux-source-6.18 package exists: the records 6.12's and 7.2's data share" \
    --out "$out/attach-6.18.txt"
