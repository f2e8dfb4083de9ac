#!/bin/sh
# Builds rejections.c into rejections.o with line info (-g), paths mapped
# to `.` so the object is reproducible, then (as root) records the running
# kernel's answer for every program in recorded.json.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
INC=""
MULTIARCH="$(uname -m)-linux-gnu"
if [ -d "/usr/include/$MULTIARCH/asm" ]; then
	INC="-I/usr/include/$MULTIARCH"
fi
# shellcheck disable=SC2086
"$CLANG" -target bpf -O2 -g -mcpu=v3 $INC -fdebug-prefix-map="$PWD"=. \
	-c rejections.c -o rejections.o
if [ "${RECORD:-0}" = 1 ]; then
	BPFCHECK=${BPFCHECK:-bpfcheck}
	"$BPFCHECK" kernel rejections.o --log-level 1 --format json > recorded.json || true
fi
