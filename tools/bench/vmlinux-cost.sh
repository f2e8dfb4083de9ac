#!/usr/bin/env bash
# What judging one program against the running kernel's BTF costs, compared
# with a profile without BTF: wall time (hyperfine, median of repeated runs)
# and peak RSS (/usr/bin/time -v, median of 5). Usage: vmlinux-cost.sh [OBJ]
set -euo pipefail
cd "$(dirname "$0")/../.."
obj=${1:-crates/cli/example/example.bpf.o}
cargo build --release -q -p bpfcheck
bin=target/release/bpfcheck
[ -r /sys/kernel/btf/vmlinux ] || { echo "no /sys/kernel/btf/vmlinux: nothing to compare" >&2; exit 1; }
echo "vmlinux BTF: $(stat -c %s /sys/kernel/btf/vmlinux) bytes; object: $obj"
hyperfine -N --warmup 5 --runs 50 -i \
  "$bin check $obj --kernel 6.18" \
  "$bin check $obj --kernel host" \
  --export-json /tmp/bpfcheck-vmlinux-cost.json | grep -E "Time|±|Benchmark"
python3 - <<'PY'
import json
r = json.load(open('/tmp/bpfcheck-vmlinux-cost.json'))['results']
for x in r:
    print(f"median {x['median']*1000:.2f} ms  {x['command']}")
PY
# When a query does need the BTF (a kfunc name), it is read and indexed once.
hyperfine -N --warmup 5 --runs 50 -i \
  "$bin disasm fixtures/asm/kfunc.s --kernel 6.18" \
  "$bin disasm fixtures/asm/kfunc.s --kernel host" \
  --export-json /tmp/bpfcheck-vmlinux-use.json >/dev/null
python3 - <<'PY'
import json
for x in json.load(open('/tmp/bpfcheck-vmlinux-use.json'))['results']:
    print(f"median {x['median']*1000:.2f} ms  {x['command']}")
PY
for k in 6.18 host; do
  rss=$(for i in 1 2 3 4 5; do { /usr/bin/time -f %M "$bin" check "$obj" --kernel "$k" 2>&1 >/dev/null || true; } | tail -1; done | sort -n | sed -n 3p)
  echo "peak RSS (median of 5): ${rss} KiB  check --kernel $k"
  rss=$(for i in 1 2 3 4 5; do { /usr/bin/time -f %M "$bin" disasm fixtures/asm/kfunc.s --kernel "$k" 2>&1 >/dev/null || true; } | tail -1; done | sort -n | sed -n 3p)
  echo "peak RSS (median of 5): ${rss} KiB  disasm kfunc.s --kernel $k"
done
