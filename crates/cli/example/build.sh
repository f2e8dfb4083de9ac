#!/bin/sh
# Rebuilds the bundled example object. Needs clang-19 and libbpf-dev.
set -eu
cd "$(dirname "$0")"
command -v clang-19 >/dev/null || { echo "build.sh: clang-19 is required" >&2; exit 1; }
clang-19 -target bpf -O2 -g -mcpu=v3 -fdebug-prefix-map="$PWD"=. \
	-I/usr/include/x86_64-linux-gnu -c example.bpf.c -o example.bpf.o
