#!/usr/bin/env bash
# Builds the BPF selftest programs of Linux 6.12 (Debian's linux-source-6.12)
# into a cache directory, for bpfcheck's selftests conformance runner
# (`cargo run -p bpfcheck-conformance --bin selftests`). KVER=6.1 builds
# 6.1's instead (linux-source-6.1), the corpus of the 6.1 profile under
# QEMU (`selftests-vm --profile 6.1 --cache …/selftests-6.1`).
#
# Usage: [KVER=6.1] tools/selftests/build.sh [CACHE_DIR]
#   CACHE_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/bpfcheck/selftests-$KVER
#
# Layout of the cache:
#   src/         the extracted subset of the kernel tree
#   include/     vmlinux.h (from the running kernel's BTF) and bpf/*.h
#                (libbpf's installed headers, bpf_helper_defs.h generated)
#   objs/NAME.bpf.o   one object per progs/NAME.c that compiled
#   logs/NAME.err     the compiler's diagnostics for each failure
#   build-summary.txt the counts and failure classes printed at the end
#
# Nothing from the kernel is committed to bpfcheck; only this script is.
#
# Environment: CLANG (default clang-19), BPFTOOL (default bpftool),
# JOBS (default 2), KSRC_TARBALL (default /usr/src/linux-source-$KVER.tar.xz),
# VMLINUX_BTF (default /sys/kernel/btf/vmlinux).
set -euo pipefail

KVER=${KVER:-6.12}
CACHE_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfcheck/selftests-$KVER}
CLANG=${CLANG:-clang-19}
BPFTOOL=${BPFTOOL:-bpftool}
JOBS=${JOBS:-2}
KSRC_TARBALL=${KSRC_TARBALL:-/usr/src/linux-source-$KVER.tar.xz}
VMLINUX_BTF=${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}
TOP=linux-source-$KVER

die() { echo "build.sh: $*" >&2; exit 1; }

command -v "$CLANG" >/dev/null || die "$CLANG not found (apt-get install clang-19)"
command -v "$BPFTOOL" >/dev/null || die "$BPFTOOL not found (apt-get install bpftool)"
command -v python3 >/dev/null || die "python3 not found (needed by scripts/bpf_doc.py)"
[ -r "$VMLINUX_BTF" ] || die "$VMLINUX_BTF not readable: the running kernel exposes no BTF"

if [ ! -r "$KSRC_TARBALL" ]; then
    echo "== $KSRC_TARBALL missing: installing linux-source-$KVER (Debian bookworm)"
    apt-get install -y "linux-source-$KVER" || die "cannot install linux-source-$KVER"
fi

mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
SRC=$CACHE_DIR/src/$TOP
SELFTESTS=$SRC/tools/testing/selftests/bpf
INC=$CACHE_DIR/include
OBJS=$CACHE_DIR/objs
LOGS=$CACHE_DIR/logs

# 1. Extract only what the BPF programs and the header generator read.
if [ ! -e "$SRC/.extracted" ]; then
    echo "== extracting the needed subset of $KSRC_TARBALL"
    rm -rf "$CACHE_DIR/src"
    mkdir -p "$CACHE_DIR/src"
    tar -xJf "$KSRC_TARBALL" -C "$CACHE_DIR/src" \
        "$TOP/tools/testing/selftests/bpf" \
        "$TOP/tools/lib/bpf" \
        "$TOP/tools/include" \
        "$TOP/tools/arch/x86/include" \
        "$TOP/include/uapi" \
        "$TOP/arch/x86/include/uapi" \
        "$TOP/scripts/bpf_doc.py"
    touch "$SRC/.extracted"
fi

# 2. Headers: libbpf's installed set (with the generated helper
#    definitions) and vmlinux.h of the running kernel.
mkdir -p "$INC/bpf" "$OBJS" "$LOGS"
if [ ! -s "$INC/bpf/bpf_helper_defs.h" ]; then
    echo "== generating bpf_helper_defs.h (scripts/bpf_doc.py, as tools/lib/bpf/Makefile does)"
    python3 "$SRC/scripts/bpf_doc.py" --header \
        --file "$SRC/tools/include/uapi/linux/bpf.h" > "$INC/bpf/bpf_helper_defs.h.tmp"
    mv "$INC/bpf/bpf_helper_defs.h.tmp" "$INC/bpf/bpf_helper_defs.h"
fi
# The header list libbpf's Makefile installs (its SRC_HDRS).
for h in bpf.h libbpf.h btf.h libbpf_common.h libbpf_legacy.h bpf_helpers.h \
         bpf_tracing.h bpf_endian.h bpf_core_read.h skel_internal.h \
         libbpf_version.h usdt.bpf.h; do
    [ -e "$SRC/tools/lib/bpf/$h" ] && cp "$SRC/tools/lib/bpf/$h" "$INC/bpf/$h"
done
echo "== dumping vmlinux.h from $VMLINUX_BTF"
"$BPFTOOL" btf dump file "$VMLINUX_BTF" format c > "$INC/vmlinux.h.tmp"
if cmp -s "$INC/vmlinux.h.tmp" "$INC/vmlinux.h"; then
    rm -f "$INC/vmlinux.h.tmp"
else
    mv "$INC/vmlinux.h.tmp" "$INC/vmlinux.h"
fi

# 3. Compile. Flags of the selftests Makefile's test_progs runner
#    (BPF_CFLAGS + CLANG_SYS_INCLUDES + -DENABLE_ATOMICS_TESTS, -mcpu=v3;
#    -fno-strict-aliasing, which it gives a dozen files, for all). Its
#    `-I$(OUTPUT)/../usr/include` (a headers_install tree) is not built:
#    the system's UAPI headers, reached through CLANG_SYS_INCLUDES'
#    -idirafter, stand in for it. No -Werror: the headers of 6.12 meet a
#    newer kernel's vmlinux.h, and the warnings that provokes say nothing
#    about the programs.
#    BPF_NO_KFUNC_PROTOTYPES keeps a newer bpftool's kfunc prototypes out of
#    vmlinux.h, so the selftests' own extern declarations (bpf_kfuncs.h,
#    bpf_experimental.h) are the only ones the compiler sees.
SYS_INCLUDES=$("$CLANG" -v -E - </dev/null 2>&1 \
    | sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
CFLAGS=(-g -O2 --target=bpfel -mcpu=v3 -c
        -D__TARGET_ARCH_x86 -mlittle-endian -std=gnu11
        -fno-strict-aliasing -Wall -Wno-compare-distinct-pointer-types
        -DENABLE_ATOMICS_TESTS -DBPF_NO_KFUNC_PROTOTYPES
        -I"$INC" -I"$SELFTESTS" -I"$SRC/tools/include/uapi")
# shellcheck disable=SC2206
CFLAGS+=($SYS_INCLUDES)

export CLANG OBJS LOGS
# Objects newer than this file and than their source are up to date; it
# is rewritten only when the flags change, so a rerun compiles nothing.
printf '%s\n' "${CFLAGS[@]}" > "$CACHE_DIR/cflags.tmp"
if cmp -s "$CACHE_DIR/cflags.tmp" "$CACHE_DIR/cflags"; then
    rm -f "$CACHE_DIR/cflags.tmp"
else
    mv "$CACHE_DIR/cflags.tmp" "$CACHE_DIR/cflags"
fi
export CFLAGS_FILE=$CACHE_DIR/cflags VMLINUX_H=$INC/vmlinux.h

compile_one() {
    local src=$1 name
    name=$(basename "$src" .c)
    local out=$OBJS/$name.bpf.o err=$LOGS/$name.err
    if [ -s "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$CFLAGS_FILE" ] \
        && [ "$out" -nt "$VMLINUX_H" ]; then
        return 0
    fi
    mapfile -t flags < "$CFLAGS_FILE"
    if "$CLANG" "${flags[@]}" "$src" -o "$out.tmp" 2> "$err.tmp"; then
        mv "$out.tmp" "$out"; rm -f "$err.tmp" "$err"
    else
        rm -f "$out.tmp" "$out"; mv "$err.tmp" "$err"
    fi
}
export -f compile_one

# The selftests Makefile compiles every progs/*.c (btf_dump_test_case_*.c
# hold only types, for the BTF dumper's tests; they have no programs).
mapfile -t SOURCES < <(find "$SELFTESTS/progs" -maxdepth 1 -name '*.c' | sort)
echo "== compiling ${#SOURCES[@]} programs with $CLANG ($JOBS jobs)"
printf '%s\n' "${SOURCES[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$1"' _ {}

# 4. Summary: counts and one line per failure class (the first error
#    line of each failing file, with the file-specific part removed).
{
    ok=0; failed=0
    for src in "${SOURCES[@]}"; do
        name=$(basename "$src" .c)
        if [ -s "$OBJS/$name.bpf.o" ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    done
    echo "selftests $KVER BPF programs: ${#SOURCES[@]} sources, $ok compiled, $failed failed"
    echo "cache: $CACHE_DIR"
    if [ "$failed" -gt 0 ]; then
        echo "failure classes (count, first error line; example file):"
        for src in "${SOURCES[@]}"; do
            name=$(basename "$src" .c)
            [ -s "$OBJS/$name.bpf.o" ] && continue
            line=$(grep -m1 -E 'error:' "$LOGS/$name.err" 2>/dev/null || echo 'no error line')
            # file:line:col: error: msg  ->  the message, prefixed with the
            # header's name when the error is in a shared header.
            class=$(echo "$line" | sed -E \
                -e 's|^.*/([^/:]+\.h):[0-9]+:[0-9]+: |\1: |' \
                -e 's|^.*/[^/:]+\.c:[0-9]+:[0-9]+: ||')
            printf '%s\t%s\n' "$class" "$name"
        done | sort | awk -F'\t' '
            { n[$1]++; if (!($1 in ex)) ex[$1] = $2 }
            END { for (c in n) printf "%5d  %s   (e.g. %s)\n", n[c], c, ex[c] }' | sort -rn
    fi
} | tee "$CACHE_DIR/build-summary.txt"
