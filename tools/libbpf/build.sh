#!/bin/sh
# Builds the libbpf of the Linux 6.12 sources (libbpf 1.5, the version
# bpfcheck-obj follows) as a static library with its headers, for the
# libbpf oracle of crates/obj (tests/oracle.rs, examples/libbpf_corpus.rs):
#
#   tools/libbpf/build.sh [ROOT]
#   BPFCHECK_LIBBPF_ROOT=ROOT cargo test -p bpfcheck-obj --test oracle
#
# ROOT defaults to ~/.cache/bpfcheck/libbpf-1.5; it gets usr/include/bpf/*.h
# and usr/lib64/libbpf.a. The sources are those tools/selftests/build.sh
# extracted (SRC, default ~/.cache/bpfcheck/selftests-6.12/src/linux-source-6.12),
# which lack tools/build, so libbpf's Makefile cannot be used: the sources
# are compiled directly. Needs cc, ar, libelf-dev and zlib1g-dev.
set -eu
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/bpfcheck
ROOT=${1:-$CACHE/libbpf-1.5}
SRC=${SRC:-$CACHE/selftests-6.12/src/linux-source-6.12}
LIB=$SRC/tools/lib/bpf
[ -r "$LIB/libbpf.c" ] || {
	echo "build.sh: no libbpf sources at $LIB (run tools/selftests/build.sh first, or set SRC=)" >&2
	exit 1
}
OBJ=$(mktemp -d)
trap 'rm -rf "$OBJ"' EXIT
for f in bpf btf libbpf libbpf_errno netlink nlattr str_error libbpf_probes \
	bpf_prog_linfo btf_dump hashmap ringbuf strset linker gen_loader \
	relo_core usdt zip elf features btf_iter btf_relocate; do
	[ -r "$LIB/$f.c" ] || continue
	cc -O2 -fPIC -I"$LIB" -I"$SRC/tools/include" -I"$SRC/tools/include/uapi" \
		-D_LARGEFILE64_SOURCE -D_FILE_OFFSET_BITS=64 \
		-c "$LIB/$f.c" -o "$OBJ/$f.o"
done
mkdir -p "$ROOT/usr/include/bpf" "$ROOT/usr/lib64"
rm -f "$ROOT/usr/lib64/libbpf.a"
ar rcs "$ROOT/usr/lib64/libbpf.a" "$OBJ"/*.o
for h in bpf.h libbpf.h btf.h libbpf_common.h libbpf_legacy.h libbpf_version.h; do
	cp "$LIB/$h" "$ROOT/usr/include/bpf/"
done
echo "libbpf $(sed -n 's/#define LIBBPF_MAJOR_VERSION //p' "$LIB/libbpf_version.h").$(sed -n 's/#define LIBBPF_MINOR_VERSION //p' "$LIB/libbpf_version.h") in $ROOT"
echo "use it: BPFCHECK_LIBBPF_ROOT=$ROOT"
