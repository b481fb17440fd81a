#!/bin/sh
# Build bare-metal x86_64 system tests (CPL 0, no OS) with the host gcc on
# QEMU's own tests/tcg boot stub (tests/tcg/x86_64/system/boot.S,
# kernel.ld) and minilib: QEMU's tests/tcg/multiarch/system programs and
# the project's tests/system/*.c.
#
#   build-system-tests.sh QEMU_SRC OUT_DIR
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=$1
OUT=$2
T=$SRC/tests/tcg
mkdir -p "$OUT"

# the flags upstream's tests/tcg/x86_64/Makefile.softmmu-target uses
CFLAGS="-nostdlib -ggdb -O0 -I$T/minilib"
LDFLAGS="-Wl,-T$T/x86_64/system/kernel.ld -Wl,-melf_x86_64 -static -nostdlib"

stamp=$OUT/.stamp
newest=$(ls -t "$0" "$TOP"/tests/system/*.c "$TOP"/guest/programs/*.h \
         "$T"/multiarch/system/*.c | head -n1)
if [ -f "$stamp" ] && [ "$stamp" -nt "$newest" ]; then
    exit 0
fi

gcc $CFLAGS -Wa,--noexecstack -c "$T/x86_64/system/boot.S" -o "$OUT/boot.o"
gcc $CFLAGS -c "$T/minilib/printf.c" -o "$OUT/printf.o"
for src in "$T"/multiarch/system/*.c "$TOP"/tests/system/*.c; do
    name=$(basename "$src" .c)
    opt=
    [ "$name" = memory ] && opt=-DCHECK_UNALIGNED=1
    gcc $CFLAGS $opt "$src" -o "$OUT/$name" $LDFLAGS "$OUT/boot.o" "$OUT/printf.o" -lgcc 2>&1 |
        grep -v 'build-id section discarded' >&2 || true
done
touch "$stamp"
