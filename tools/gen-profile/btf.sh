#!/bin/sh
# Regenerates the kernel BTF embedded in the built-in profiles,
# crates/profile/data/btf/NAME.btf.zst, from the kernels' own artefacts:
#
#   5.10  Debian bullseye's cloud kernel image          (tools/vm/fetch-kernel.sh bullseye)
#   6.1   Debian bookworm's cloud kernel image          (tools/vm/fetch-kernel.sh bookworm)
#   6.12  Debian bookworm-backports' cloud kernel image (tools/vm/fetch-kernel.sh bookworm-backports)
#   7.2   Debian sid's cloud kernel image               (tools/vm/fetch-kernel.sh sid)
#   6.18  the running kernel's /sys/kernel/btf/vmlinux  (only on a 6.18 host)
#
#   tools/gen-profile/btf.sh [NAME…]     (default: all five)
#
# The image's compressed payload (LZ4 or zstd, as the config chose) is
# found by its magic number and unpacked to the vmlinux ELF, whose `.BTF`
# section is the kernel's BTF, byte for byte what the booted kernel serves
# at /sys/kernel/btf/vmlinux. It is stored zstd-compressed (level 19,
# single-threaded, no checksum: the output depends only on the input and
# zstd's version) and sources.txt records each package and the SHA-256
# of the uncompressed BTF, so a rerun can be checked byte for byte.
#
# Needs: python3, lz4, zstd, llvm-objcopy-19 (or objcopy), apt-get.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=$here/../../crates/profile/data/btf
cache=${XDG_CACHE_HOME:-$HOME/.cache}/bpfcheck/kernels
objcopy=$(command -v llvm-objcopy-19 || command -v objcopy)
for tool in python3 lz4 zstd sha256sum; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpfcheck-btf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

release_of() {
    case $1 in
        5.10) echo bullseye ;;
        6.1) echo bookworm ;;
        6.12) echo bookworm-backports ;;
        7.2) echo sid ;;
        *) return 1 ;;
    esac
}

# Unpacks the vmlinux ELF from a bzImage: the first offset holding an LZ4
# legacy or zstd frame magic whose decompression starts with an ELF header.
unpack_vmlinux() {
    python3 - "$1" "$2" <<'PY'
import subprocess, sys
data = open(sys.argv[1], "rb").read()
decoders = [(b"\x02\x21\x4c\x18", ["lz4", "-dc"]), (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"])]
for magic, cmd in decoders:
    at = data.find(magic)
    while at >= 0:
        # Trailing bytes after the frame make the decoders complain; the
        # ELF they wrote before that is complete.
        out = subprocess.run(cmd, input=data[at:], capture_output=True).stdout
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            sys.exit(0)
        at = data.find(magic, at + 1)
sys.exit(f"{sys.argv[1]}: no LZ4 or zstd payload that unpacks to an ELF")
PY
}

gen() {
    name=$1
    if [ "$name" = 6.18 ]; then
        case $(uname -r) in
            6.18.*) ;;
            *) echo "$0: 6.18 comes from the running kernel, and this is $(uname -r); skipped" >&2; return 0 ;;
        esac
        cp /sys/kernel/btf/vmlinux "$tmp/btf"
        origin="running kernel $(uname -r) /sys/kernel/btf/vmlinux"
    else
        release=$(release_of "$name") || { echo "$0: no source for profile $name" >&2; exit 2; }
        if [ "$name" = 6.12 ] || [ "$name" = 7.2 ]; then series=$name; else series=; fi
        BPFCHECK_KERNEL_SERIES=$series "$here/../vm/fetch-kernel.sh" "$release" >/dev/null
        dir=$cache/$release${series:+-$series}
        unpack_vmlinux "$dir/vmlinuz" "$tmp/vmlinux"
        "$objcopy" --dump-section .BTF="$tmp/btf" "$tmp/vmlinux" "$tmp/stripped"
        origin=$(grep -v "^source=" "$dir/package.txt" | tr "\n" " " | sed "s/ *$//")
    fi
    zstd -19 --single-thread --no-check -q -f "$tmp/btf" -o "$out/$name.btf.zst"
    sum=$(sha256sum "$tmp/btf" | cut -d' ' -f1)
    size=$(wc -c <"$tmp/btf")
    grep -v "^$name " "$out/sources.txt" 2>/dev/null >"$tmp/sources" || true
    echo "$name $sum $size $origin" >>"$tmp/sources"
    sort -V "$tmp/sources" >"$out/sources.txt"
    echo "$name: $size bytes of BTF from $origin -> $(wc -c <"$out/$name.btf.zst") compressed"
}

mkdir -p "$out"
[ $# -gt 0 ] || set -- 5.10 6.1 6.12 6.18 7.2
for name in "$@"; do gen "$name"; done
