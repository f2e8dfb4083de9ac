#!/usr/bin/env bash
# The kernel matrix: boots every Debian kernel bpfcheck has a profile for
# under QEMU, asks its verifier about every assembler fixture, and checks
# the answers against the recordings in fixtures/kernels/ (which
# `cargo test` compares bpfcheck's profiles with). A recorded answer that the
# same kernel release no longer gives fails the run; fixtures added since
# the recording, and a kernel that Debian has replaced by a newer build, are
# reported, and `--bless` re-records.
#
#   tools/vm/matrix.sh [--bless]
#
# Needs qemu-system-x86_64, python3 and network access to Debian's mirror;
# without them it prints SKIPPED and succeeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
bless=0
[ "${1:-}" = --bless ] && bless=1

skip() { echo "SKIPPED ($1): kernel matrix"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
command -v python3 >/dev/null || skip "python3 missing"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A build failure is a failure of the run, with the compiler's own words
# and the disk space (a full disk is the usual reason on a CI machine).
build_failed() {
    echo "FAILED kernel matrix: $1 did not build:"
    tail -30 "$work/build.log"
    df -h "${CARGO_TARGET_DIR:-target}" . 2>/dev/null || true
    exit 1
}
cargo build --release --locked -p bpfcheck-vmoracle --bin bpfcheck-vm >"$work/build.log" 2>&1 \
    || build_failed bpfcheck-vm
# The init is linked statically against glibc (libc6-dev's libc.a): a
# machine that cannot do that cannot run the matrix, which is said loudly
# with the linker's words.
if ! init=$(tools/vm/build-init.sh 2>"$work/build.log" | tail -1) || [ ! -x "$init" ]; then
    tail -30 "$work/build.log"
    df -h "${CARGO_TARGET_DIR:-target}" . 2>/dev/null || true
    skip "the static init (tools/vm/build-init.sh) does not build on this machine; its errors are above"
fi
vm=${CARGO_TARGET_DIR:-target}/release/bpfcheck-vm

status=0
for pair in bullseye:5.10 bookworm:6.1 bookworm-backports:6.12 sid:7.2; do
    release=${pair%%:*}
    profile=${pair##*:}
    if ! tools/vm/fetch-kernel.sh "$release" >"$work/fetch-$release.log" 2>&1; then
        echo "SKIPPED (cannot fetch the $release kernel: $(tail -1 "$work/fetch-$release.log")): matrix $profile"
        continue
    fi
    vmlinuz=$(sed -n 's/^vmlinuz //p' "$work/fetch-$release.log" | tail -1)
    start=$SECONDS
    # Fixtures that reach the 1M-instruction limit take tens of seconds
    # each under TCG: the run gets a generous wall-clock budget.
    "$vm" run-fixtures --timeout 900 --kernel "$vmlinuz" --init "$init" --out "$work/$release.json" \
        fixtures/asm fixtures/btf_ids fixtures/malformed >"$work/run-$release.log" 2>&1 || true
    secs=$((SECONDS - start))
    python3 tools/vm/record-answers.py "$work/$release.json" "$work/$profile.json" "$profile" >/dev/null
    recorded=fixtures/kernels/$profile.json
    old=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['release'])" "$recorded")
    new=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['release'])" "$work/$profile.json")
    answered=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['programs']))" "$work/$profile.json")
    before=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['programs']))" "$recorded")
    if [ $bless = 1 ] && [ "$answered" -lt "$before" ]; then
        # A VM that died or ran out of time leaves programs unanswered.
        echo "FAILED matrix $profile: only $answered programs answered (recorded: $before); not re-recorded"
        tail -5 "$work/run-$release.log"
        status=1
    elif [ $bless = 1 ]; then
        cp "$work/$profile.json" "$recorded"
        echo "matrix $profile: $new recorded, $answered programs (${secs}s)"
    elif [ "$old" != "$new" ]; then
        echo "NOTICE matrix $profile: Debian's $release kernel is now $new (recorded: $old); run tools/vm/matrix.sh --bless"
    elif verdict=$(python3 - "$recorded" "$work/$profile.json" <<'PY'
import json, sys
old = {p["name"]: p for p in json.load(open(sys.argv[1]))["programs"]}
new = {p["name"]: p for p in json.load(open(sys.argv[2]))["programs"]}
# Only what the recording holds is compared: older recordings lack the
# processed-instruction and state counts later runs add.
changed = [n for n in sorted(old)
           if n not in new or any(new[n].get(k) != v for k, v in old[n].items())]
added = sorted(set(new) - set(old))
for n in changed:
    print(f"  {n}: recorded {old[n]}, now {new.get(n, 'not answered')}")
print(f"{len(old) - len(changed)} of {len(old)} recorded answers reproduced; {len(added)} fixtures not recorded yet")
sys.exit(1 if changed else 0)
PY
    ); then
        echo "matrix $profile: $new: $(echo "$verdict" | tail -1) (${secs}s)"
    else
        # A fixture the kernel answers differently than recorded: the
        # recording is stale or the fixture changed; either needs a look.
        echo "FAILED matrix $profile: $new no longer answers as recorded in $recorded:"
        echo "$verdict" | head -20 || true
        status=1
    fi
done
exit $status
