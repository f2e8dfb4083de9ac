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
gen() { # NAME SOURCE-TREE SOURCE-LABEL [--hook PROG_TYPE=HOOK]…
    name=$1 tree=$2 label=$3
    shift 3
    zstd -dcq "$data/btf/$name.btf.zst" > "$tmp/$name.btf"
    python3 "$here/gen_kfuncs.py" --ksrc "$ksrc/linux-source-$tree" --btf "$tmp/$name.btf" \
        --name "$name" --source "$label" --btf-label "the $name profile's BTF (data/btf/$name.btf.zst)" \
        --out "$data/kfuncs-$name.txt" "$@"
}
gen 6.12 6.12 "Debian linux-source-6.12 (bookworm-security)"
# 6.18 looks sock_ops programs up in the cgroup hook as 7.2 does, but raw
# tracepoints in no hook, as 6.12 does (the live kernel refuses
# bpf_task_from_pid to a raw tracepoint: `calling kernel function … is not
# allowed`), and it registers the arena kfuncs for no program type
# (kernel/bpf/arena.c registers them for all in 7.2).
# 7.2 made trusted arguments the rule and dropped KF_TRUSTED_ARGS; 6.18
# still has the flag: the kfuncs the live kernel proved to have it are
# named (bpf_cpumask_acquire: `Possibly NULL pointer passed to trusted
# arg0`, fixture kfunc_cpumask_acquire_null.s), the others stay unknown.
# crates/verifier/tests/kfunc_live.rs keeps checking both.
gen 6.18 7.2 "Debian linux-source-7.2 (sid, 7.2.13-1)" --hook raw_tracepoint=max \
    --unregistered bpf_arena_alloc_pages --unregistered bpf_arena_free_pages \
    --unregistered bpf_arena_reserve_pages --trusted-args bpf_cpumask_acquire
gen 7.2 7.2 "Debian linux-source-7.2 (sid, 7.2.13-1)"
