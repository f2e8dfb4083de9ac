#!/bin/sh
# Downloads a Debian kernel image package and extracts its vmlinuz and config
# into the bpfcheck kernel cache, without touching the system's apt state.
#
#   tools/vm/fetch-kernel.sh RELEASE [FLAVOUR]
#
# RELEASE   bullseye            5.10 (bullseye + bullseye-security)
#           bookworm            6.1  (bookworm + bookworm-updates + bookworm-security)
#           bookworm-backports  6.12 (bookworm-backports)
#           trixie              6.12 (trixie + trixie-security)
#           sid                 the newest kernel in unstable
# FLAVOUR   cloud (default) or generic (the -cloud-amd64 / -amd64 images)
#
# Package layouts: up to trixie the image and its config are in
# linux-image-<abi>-<flavour>-unsigned (boot/vmlinuz-*, boot/config-*).
# From 2026 unstable splits them: linux-binary-unsigned-<abi>-<flavour> has
# usr/lib/modules/<ver>/vmlinuz.unsigned and linux-base-<abi>-<flavour> the
# config. Both are understood; unsigned images are preferred, a signed one
# (which boots the same under QEMU's -kernel) is the fallback.
#
# Environment: BPFCHECK_KERNEL_SERIES=X.Y restricts the choice to one kernel
# series (bookworm defaults to 6.1, so that the 6.12 it also carries since
# 12.11 does not shadow its own kernel; BPFCHECK_KERNEL_SERIES=6.12 with
# bookworm fetches that one into bookworm-6.12/).
#
# Cache: ${XDG_CACHE_HOME:-~/.cache}/bpfcheck/kernels/RELEASE[-SERIES][-generic]/
# with vmlinuz, config and package.txt.
#
# apt runs with a private sources list, list directory, cache and archive
# directory under a temporary directory (removed on exit), and an empty dpkg
# status; the system's sources, lists, caches, preferences and installed
# packages are read-only inputs or not used at all. Nothing is installed.
# The mirror is the one the system's sources already name.
#
# Output (stdout, last lines): `package NAME VERSION`, `vmlinuz PATH`, and the
# BPF-relevant config options of the image.

set -eu

usage() {
    echo "usage: $0 bullseye|bookworm|bookworm-backports|trixie|sid [cloud|generic]" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
release=$1
flavour=${2:-cloud}

case $flavour in
    cloud) suffix='-cloud-amd64' ;;
    generic) suffix='-amd64' ;;
    *) usage ;;
esac

series=${BPFCHECK_KERNEL_SERIES:-}
explicit_series=$series
case $release in
    bullseye) suites="bullseye"; security="bullseye-security"; series=${series:-5.10} ;;
    bookworm) suites="bookworm bookworm-updates"; security="bookworm-security"; series=${series:-6.1} ;;
    bookworm-backports) suites="bookworm-backports"; security="" ;;
    trixie) suites="trixie trixie-updates"; security="trixie-security" ;;
    sid | unstable) suites="sid"; security="" ;;
    *) usage ;;
esac

for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool not found" >&2; exit 1; }
done

# The mirror URIs the system already uses: one-line `deb URI suite …` entries
# in sources.list / *.list and `URIs:` fields of deb822 *.sources files.
configured_uris() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n'
    done
}

archive=$(configured_uris | grep -E '/debian/?$' | head -n 1 | sed 's:/*$::')
security_uri=$(configured_uris | grep -E '/debian-security/?$' | head -n 1 | sed 's:/*$::')
if [ -z "$archive" ]; then
    echo "$0: no Debian archive URI (…/debian) in /etc/apt/sources.list or /etc/apt/sources.list.d" >&2
    exit 1
fi
if [ -n "$security" ] && [ -z "$security_uri" ]; then
    echo "$0: note: no …/debian-security URI configured; $security is not searched" >&2
    security=""
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "$0: $keyring missing (package debian-archive-keyring)" >&2; exit 1; }

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/bpfcheck/kernels
dest=$cache_root/$release
[ -z "$explicit_series" ] || dest=$dest-$explicit_series
[ "$flavour" = cloud ] || dest=$dest-$flavour

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpfcheck-fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/cache"
: >"$tmp/status"
{
    for suite in $suites; do
        echo "deb [signed-by=$keyring] $archive $suite main"
    done
    [ -z "$security" ] || echo "deb [signed-by=$keyring] $security_uri $security main"
} >"$tmp/sources.list"

set -- \
    -o Dir::Etc::SourceList="$tmp/sources.list" \
    -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null \
    -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State::Lists="$tmp/lists" \
    -o Dir::State::status="$tmp/status" \
    -o Dir::Cache="$tmp/cache" \
    -o Dir::Cache::Archives="$tmp/archives" \
    -o APT::Architecture=amd64 \
    -o APT::Architectures::=amd64 \
    -o Acquire::Languages=none \
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false \
    -o APT::Sandbox::User=root \
    -o Acquire::Retries=3 \
    -o Acquire::http::Timeout=60

echo "apt sources ($release):" >&2
sed 's/^/  /' "$tmp/sources.list" >&2
timeout 600 apt-get "$@" -q update >&2

# Candidates as `ABI PACKAGE` lines, in order of preference: unsigned images
# of both layouts, then signed ones.
all_names=$(apt-cache "$@" pkgnames linux- | grep -E -- "^linux-(image|binary)-.*${suffix}(-unsigned)?\$" |
    grep -v -e '-rt-' -e '-dbg' || true)
if [ "$flavour" = generic ]; then
    all_names=$(printf '%s\n' "$all_names" | grep -v -e '-cloud-' || true)
fi
candidates() {
    # $1: sed expression turning a package name into its ABI, or nothing.
    printf '%s\n' "$all_names" | sed -n "$1" | awk '{ print $1 " " $2 }' |
        grep -E "^${series:+$series[.-]}[0-9]" || true
}
unsigned=$(candidates "s/^\\(linux-image-\\([0-9].*\\)${suffix}-unsigned\\)\$/\\2 \\1/p;s/^\\(linux-binary-unsigned-\\([0-9].*\\)${suffix}\\)\$/\\2 \\1/p")
signed=$(candidates "s/^\\(linux-image-\\([0-9].*\\)${suffix}\\)\$/\\2 \\1/p;s/^\\(linux-binary-\\([0-9].*\\)${suffix}\\)\$/\\2 \\1/p")
names=$(printf '%s\n' "$unsigned" | sort -rV -k1,1)
[ -n "$unsigned" ] || names=$(printf '%s\n' "$signed" | sort -rV -k1,1)
names=$(printf '%s\n' "$names" | awk 'NF == 2 { print $2 }')
if [ -z "$names" ]; then
    echo "$0: no linux-image/linux-binary package for *${suffix}${series:+ of series $series} in $suites $security" >&2
    exit 1
fi

# Highest kernel version first. A pool file can be missing although the
# index lists it (bullseye-security after the end of LTS answers 404), so
# older packages and versions are tried next, at most six downloads in all.
download() {
    (cd "$tmp/archives" && timeout 900 apt-get "$@" -q download "$dl_name=$dl_version" >&2)
}
tries=0
pkg=""
version=""
for name in $names; do
    for v in $(apt-cache "$@" madison "$name" | awk -F'|' '{gsub(/ /, "", $2); print $2}'); do
        [ $tries -lt 6 ] || break 2
        tries=$((tries + 1))
        dl_name=$name dl_version=$v
        if download "$@"; then
            pkg=$name
            version=$v
            break 2
        fi
        echo "$0: download of $name $v failed; trying an older one" >&2
    done
done
[ -n "$pkg" ] || { echo "$0: no candidate package could be downloaded ($tries tries)" >&2; exit 1; }
case $pkg in
    linux-binary-*)
        # The split layout keeps the config in linux-base-<abi>-<flavour>.
        abi=${pkg#linux-binary-}
        base=linux-base-${abi#unsigned-}
        dl_name=$base dl_version=$version
        download "$@" || { echo "$0: cannot download $base $version (the config)" >&2; exit 1; }
        ;;
esac

for deb in "$tmp/archives"/*.deb; do
    [ -e "$deb" ] || { echo "$0: apt-get download produced no .deb" >&2; exit 1; }
    dpkg-deb -x "$deb" "$tmp/root"
done
vmlinuz=$(ls "$tmp/root/boot"/vmlinuz-* "$tmp/root/usr/lib/modules"/*/vmlinuz* 2>/dev/null | head -n 1)
config=$(ls "$tmp/root/boot"/config-* "$tmp/root/usr/lib/modules"/*/config 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || { echo "$0: $pkg contains no vmlinuz" >&2; exit 1; }
[ -n "$config" ] || { echo "$0: $pkg (and its base package) contain no kernel config" >&2; exit 1; }

mkdir -p "$dest"
cp "$vmlinuz" "$dest/vmlinuz"
cp "$config" "$dest/config"
case $vmlinuz in
    */boot/vmlinuz-*) kver=${vmlinuz##*/vmlinuz-} ;;
    *) kver=$(basename "$(dirname "$vmlinuz")") ;;
esac
printf 'package=%s\nversion=%s\nkernel=%s\nsource=%s %s %s\n' \
    "$pkg" "$version" "$kver" "$archive" "$suites" "$security" >"$dest/package.txt"

echo "package $pkg $version"
echo "kernel $kver"
echo "vmlinuz $dest/vmlinuz"
echo "config $dest/config"
# What the oracle needs built in (=y; the initramfs has no modules).
for opt in CONFIG_BPF_SYSCALL CONFIG_BPF_JIT CONFIG_DEBUG_INFO_BTF CONFIG_SERIAL_8250_CONSOLE \
    CONFIG_BLK_DEV_INITRD CONFIG_MAGIC_SYSRQ CONFIG_PROC_FS CONFIG_SYSFS CONFIG_ACPI CONFIG_BPF_LSM; do
    val=$(sed -n "s/^$opt=//p" "$dest/config")
    echo "  $opt=${val:-not set}"
done
