#!/bin/sh
# The loongarch64 proof of the tcg-host layer: cross-compile
# tests/host/la64/ (freestanding: there is no LoongArch libc here) with
# tcg-host/loongarch64/, then run it under qemu-loongarch64 (directly on
# a loongarch64 host). Emits TAP on stdout; exits non-zero on failure.
#
#   scripts/check-loongarch64.sh [OUTDIR]      (default: build/la64)
#
# Run by `make check-loongarch64` and as the meson test 'loongarch64'.
# Tools, overridable from the environment: CLANG (clang-19), LLD
# (ld.lld-19), QEMU_LOONGARCH64 (qemu-loongarch64); scripts/setup-host.sh
# installs them (clang-19, lld-19, qemu-user).
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$TOP/build/la64}
CLANG=${CLANG:-clang-19}
LLD=${LLD:-ld.lld-19}
QEMU_LA64=${QEMU_LOONGARCH64:-qemu-loongarch64}

bail() {
    # TAP readers (meson) show the reason; people read stderr
    echo "Bail out! check-loongarch64: $*"
    echo "check-loongarch64: $*" >&2
    exit 1
}

native=false
[ "$(uname -m)" = loongarch64 ] && native=true

missing=
command -v "$CLANG" >/dev/null 2>&1 || missing="$missing $CLANG"
command -v "$LLD" >/dev/null 2>&1 || missing="$missing $LLD"
if ! $native; then
    command -v "$QEMU_LA64" >/dev/null 2>&1 || missing="$missing $QEMU_LA64"
fi
if [ -n "$missing" ]; then
    bail "missing tool(s):$missing (install clang-19 lld-19 qemu-user, e.g. scripts/setup-host.sh)"
fi

mkdir -p "$OUT" || bail "cannot create $OUT"
LOG=$OUT/build.log
BIN=$OUT/test-la64

# -nostdinc: only the compiler's own freestanding headers (stdint.h and
# friends), never the build host's /usr/include.
RESDIR=$("$CLANG" -print-resource-dir) || bail "$CLANG -print-resource-dir failed"
if ! "$CLANG" --target=loongarch64-linux-gnu -march=la464 \
        -ffreestanding -nostdlib -nostdinc -isystem "$RESDIR/include" \
        -static -fuse-ld=lld --ld-path="$(command -v "$LLD")" \
        -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
        -Wno-sign-compare -Wmissing-prototypes -Wstrict-prototypes \
        -I"$TOP" -o "$BIN" \
        "$TOP/tests/host/la64/test-la64.c" \
        "$TOP/tests/host/la64/la64-rt.c" \
        "$TOP/tcg-host/loongarch64/tcg-host.c" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    bail "build failed, see $LOG"
fi
# warnings are not fatal, but shown
[ -s "$LOG" ] && cat "$LOG" >&2

if $native; then
    exec "$BIN"
fi
exec "$QEMU_LA64" "$BIN"
