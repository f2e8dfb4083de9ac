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
