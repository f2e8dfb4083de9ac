#!/bin/sh
# Generates the light skeleton (`bpftool gen skeleton -L`) of every compiled
# selftests object and asks `bpfcheck diff` whether bpfcheck judges its
# loader program (the sleepable syscall program bpf_load_and_run loads) as
# the running kernel does, at log level 2. Needs root (it loads the
# loaders, never runs them). Prints one line per object and a summary;
# objects bpftool cannot turn into a light skeleton are counted apart.
#
#   tools/selftests/lskel.sh [OBJ_DIR] [BPFCHECK]
set -eu
OBJS=${1:-$HOME/.cache/bpfcheck/selftests-6.12/objs}
BPFCHECK=${2:-bpfcheck}
BPFTOOL=${BPFTOOL:-bpftool}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
agree=0 differ=0 nogen=0
for obj in "$OBJS"/*.o; do
	name=$(basename "$obj" .o)
	header="$WORK/$name.lskel.h"
	if ! "$BPFTOOL" gen skeleton -L "$obj" name x >"$header" 2>/dev/null; then
		nogen=$((nogen + 1))
		continue
	fi
	line=$("$BPFCHECK" diff "$header" --log-level 2 2>&1 | grep -E "agree:|cannot judge|^bpfcheck" | tr '\n' ' ' || true)
	case "$line" in
	*"=> AGREE"*) agree=$((agree + 1)) ;;
	*) differ=$((differ + 1)) ;;
	esac
	echo "$name: $line"
done
echo "light skeleton loaders: $agree agree with the kernel, $differ do not, $nogen objects bpftool could not generate"
[ "$differ" -eq 0 ]
