#!/usr/bin/env bash
# Makes a Debian 12 (bookworm) arm64 sysroot for cross building nicswitch: headers and libraries
# only. debootstrap --foreign downloads the base system plus the -dev packages below (with their
# dependencies) and unpacks the essential ones; the rest are unpacked here with dpkg-deb, since a
# sysroot needs files, not configured packages (no second stage, no qemu, no chroot). Absolute
# symlinks (e.g. libfoo.so -> /lib/...) are rewritten relative so they resolve inside the sysroot.
#
# Usage: deploy/cross/make-sysroot.sh [SYSROOT]
#   SYSROOT defaults to $NICSWITCH_SYSROOT, else /var/cache/nicswitch/sysroot-arm64.
#   NICSWITCH_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
# Cached: when SYSROOT is complete for this package list, it is a no-op. Needs root (debootstrap).
set -euo pipefail

SYSROOT=${1:-${NICSWITCH_SYSROOT:-/var/cache/nicswitch/sysroot-arm64}}
MIRROR=${NICSWITCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

# The arm64 counterparts of the libraries in deploy/install-deps.sh. protobuf-compiler-grpc is
# here only because gRPC's CMake config checks that its grpc_cpp_plugin file exists; the build
# runs the host's protoc and plugin.
PACKAGES=(
  libc6-dev libstdc++-12-dev
  libdpdk-dev
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev libabsl-dev
  libssl-dev zlib1g-dev libc-ares-dev libre2-dev
  libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

stamp="$SYSROOT/.nicswitch-sysroot"
want="$SUITE arm64 ${PACKAGES[*]}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "make-sysroot: $SYSROOT is complete (cached)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make-sysroot: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "make-sysroot: install debootstrap" >&2; exit 1; }

# An interrupted or older sysroot is rebuilt from scratch: half-unpacked trees are not trusted.
if [ -e "$SYSROOT" ]; then
  echo "make-sysroot: removing incomplete $SYSROOT"
  rm -rf --one-file-system "$SYSROOT"
fi
mkdir -p "$SYSROOT"

include=$(IFS=,; echo "${PACKAGES[*]}")
echo "make-sysroot: debootstrap $SUITE arm64 into $SYSROOT"
debootstrap --arch=arm64 --variant=minbase --foreign --include="$include" \
  "$SUITE" "$SYSROOT" "$MIRROR"

# First stage unpacked only the essential packages; unpack every downloaded .deb.
shopt -s nullglob
debs=("$SYSROOT"/var/cache/apt/archives/*.deb)
if [ ${#debs[@]} -eq 0 ]; then
  echo "make-sysroot: debootstrap downloaded no packages" >&2
  exit 1
fi
echo "make-sysroot: unpacking ${#debs[@]} packages"
# --keep-directory-symlink keeps bookworm's merged /usr (lib -> usr/lib) instead of replacing
# the symlinks with directories, as dpkg-deb -x (plain tar) would.
for deb in "${debs[@]}"; do
  dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$SYSROOT"
done

# Absolute symlinks (libfoo.so -> /lib/...) would point at the build host's / : make those under
# usr/ relative to their own directory.
fixed=0
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  case "$target" in
    /*)
      rel=$(realpath -m --relative-to="$(dirname "$link")" "$SYSROOT$target")
      ln -sfn "$rel" "$link"
      fixed=$((fixed + 1))
      ;;
  esac
done < <(find "$SYSROOT/usr" -xdev -type l -print0)
echo "make-sysroot: made $fixed absolute symlinks relative"

# The downloaded archives are not part of the sysroot.
rm -f "$SYSROOT"/var/cache/apt/archives/*.deb

for f in usr/include/dpdk/rte_ethdev.h usr/include/grpcpp/grpcpp.h usr/include/gtest/gtest.h \
         usr/lib/aarch64-linux-gnu/pkgconfig/libdpdk.pc \
         usr/lib/aarch64-linux-gnu/libgrpc++.so usr/lib/aarch64-linux-gnu/libprotobuf.so \
         usr/lib/aarch64-linux-gnu/libc.so usr/lib/ld-linux-aarch64.so.1; do
  if [ ! -e "$SYSROOT/$f" ]; then
    echo "make-sysroot: $SYSROOT/$f is missing" >&2
    exit 1
  fi
done
echo "$want" >"$stamp"
echo "make-sysroot: done, $(du -sh "$SYSROOT" | cut -f1) in $SYSROOT"
