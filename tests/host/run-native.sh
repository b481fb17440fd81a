#!/bin/sh
# Build and run the tcg-host unit test for the build host without meson
# (for iterating on tcg-host/ while QEMU is not configured):
#
#   tests/host/run-native.sh [OUTDIR] [-- test arguments]
#
# OUTDIR defaults to build/host. Picks tcg-host/<arch>/ from `uname -m`,
# as tcg-host/meson.build does from host_machine.cpu_family().
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/build/host}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

case $(uname -m) in
x86_64) ARCH=x86_64 ;;
loongarch64) ARCH=loongarch64 ;;
*) echo "run-native.sh: no tcg-host layer for $(uname -m)" >&2; exit 1 ;;
esac

CC=${CC:-gcc}
mkdir -p "$OUT"
# shellcheck disable=SC2046
$CC -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
    -Wmissing-prototypes -Wstrict-prototypes -Wundef -Wvla \
    -I"$TOP" $(pkg-config --cflags glib-2.0) \
    -o "$OUT/test-tcg-host" \
    "$TOP/tests/host/test-tcg-host.c" "$TOP/tcg-host/$ARCH/tcg-host.c" \
    $(pkg-config --libs glib-2.0) -lpthread
exec "$OUT/test-tcg-host" "${@:---tap}"
