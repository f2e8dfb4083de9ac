#!/usr/bin/env bash
# Issue 8's speed claim: answering for five kernels at once
# (`bpfcheck check OBJ --kernel 5.10,6.1,6.12,6.18,7.2`) against booting
# one of them under QEMU to ask it (`bpfcheck-vm run`, the same object's
# programs, 6.12). Medians of repeated runs (hyperfine).
#   tools/bench/matrix-vs-boot.sh [OBJ]
set -euo pipefail
cd "$(dirname "$0")/../.."
obj=${1:-crates/cli/example/example.bpf.o}
command -v hyperfine >/dev/null || { echo "hyperfine missing (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release -q -p bpfcheck -p bpfcheck-vmoracle
init=$(tools/vm/build-init.sh 2>/dev/null | tail -1)
vmlinuz=$(tools/vm/fetch-kernel.sh bookworm-backports 2>/dev/null | sed -n 's/^vmlinuz //p' | tail -1)
[ -n "$vmlinuz" ] || { echo "cannot fetch the 6.12 kernel" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=target/release/bpfcheck
target/release/bpfcheck-vm requests --out "$work/req.json" "$obj" >/dev/null
hyperfine -N --warmup 3 --runs 30 -i \
  "$bin check $obj --kernel 5.10,6.1,6.12,6.18,7.2" \
  --export-json "$work/matrix.json" >/dev/null
hyperfine -N --warmup 1 --runs 5 -i \
  "target/release/bpfcheck-vm run --kernel $vmlinuz --init $init --requests $work/req.json --out $work/out.json" \
  --export-json "$work/boot.json" >/dev/null
python3 - "$work/matrix.json" "$work/boot.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))['results'][0]
b = json.load(open(sys.argv[2]))['results'][0]
print(f"five-kernel check, median of {len(m['times'])}: {m['median']*1000:.1f} ms")
print(f"one QEMU boot (6.12) asking the same programs, median of {len(b['times'])}: {b['median']*1000:.0f} ms")
print(f"ratio: {b['median']/m['median']:.0f}x")
PY
