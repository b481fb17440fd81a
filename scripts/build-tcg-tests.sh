#!/bin/sh
# Build QEMU's user-level TCG tests (tests/tcg/x86_64, the i386 ones
# upstream also builds for x86_64, and tests/tcg/multiarch) statically with
# the host gcc, for the bundled guest's /opt/hybrid/tcg (see
# guest/programs/tcg-tests, which runs them). Flags follow upstream's
# Makefile.target files.
#
#   build-tcg-tests.sh QEMU_SRC OUT_DIR
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=$1
OUT=$2
T=$SRC/tests/tcg
mkdir -p "$OUT"

stamp=$OUT/.stamp
if [ -f "$stamp" ] && [ "$stamp" -nt "$0" ]; then
    exit 0
fi

BASE="-Wall -O0 -fno-strict-aliasing -static"
build() { # name flags... -- sources... [-- libs...]
    name=$1
    shift
    gcc -s "$@" -o "$OUT/$name" 2>"$OUT/$name.log" ||
        { cat "$OUT/$name.log" >&2; echo "build-tcg-tests: $name failed" >&2;
          exit 1; }
    rm -f "$OUT/$name.log"
}

# tests/tcg/x86_64
build test-x86_64 $BASE "$T/i386/test-i386.c" -lm
for t in test-2413 cmpxchg test-1648 test-2175 noexec; do
    build $t $BASE "$T/x86_64/$t.c"
done
build adox -Wall -O2 -static "$T/x86_64/adox.c"
build fma $BASE "$T/x86_64/fma.c" -lm
build cross-modifying-code $BASE -pthread "$T/x86_64/cross-modifying-code.c"
# tests/tcg/i386 built for x86_64 upstream
build test-i386-adcox -Wall -O2 -static "$T/i386/test-i386-adcox.c"
build test-i386-bmi2 -Wall -O2 -fwrapv -static "$T/i386/test-i386-bmi2.c"
build test-i386-ssse3 $BASE "$T/i386/test-i386-ssse3.c"
build test-aes $BASE -O -msse2 -maes -I"$T/multiarch" "$T/i386/test-aes.c"
build sha512-sse -Wall -msse4.1 -O3 -static "$T/multiarch/sha512.c"
# tests/tcg/multiarch
for t in sha1 sha512 test-mmap overflow prot-none segfault sigbus; do
    build $t $BASE -Wno-stringop-overread "$T/multiarch/$t.c"
done
for t in float_convs float_convd float_madds; do
    build $t $BASE -I"$T/multiarch/libs" "$T/multiarch/$t.c" \
        "$T/multiarch/libs/float_helpers.c" -lm
done
for t in testthread threadcount munmap-pthread sigreturn-sigmask; do
    build $t $BASE -pthread "$T/multiarch/$t.c"
done
build signals $BASE -pthread "$T/multiarch/signals.c" -lrt
touch "$stamp"
