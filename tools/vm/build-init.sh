#!/bin/sh
# Builds the oracle's PID 1, bpfcheck-vm-init, as a static (static-pie)
# executable with the gnu target and Debian's static glibc (libc6-dev):
#
#   tools/vm/build-init.sh            -> $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bpfcheck-vm-init
#
# `--target` is required: with +crt-static and no explicit target, RUSTFLAGS
# would also apply to proc-macro crates (serde_derive, clap_derive), which
# cannot be linked statically. bpfcheck-vm looks for the result there.
set -eu
cd "$(dirname "$0")/../.."
target=x86_64-unknown-linux-gnu
# Debug info is stripped: it would quadruple the initramfs (8 MB -> 1.5 MB).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C strip=debuginfo" \
    cargo build --release --locked --target "$target" -p bpfcheck-vmoracle --bin bpfcheck-vm-init >&2
out=${CARGO_TARGET_DIR:-target}/$target/release/bpfcheck-vm-init
if readelf -lW "$out" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "$0: $out is dynamically linked" >&2
    exit 1
fi
echo "$out"
