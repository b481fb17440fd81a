#!/bin/sh
# Build the bundled Linux guest from Debian packages into $1 (build/guest):
#   vmlinuz     the current bookworm kernel (what linux-image-amd64 depends on)
#   vmlinux     the same kernel's ELF image, bootable directly through its
#               PVH note (skips in-guest decompression: faster test boots)
#   initrd.gz   busybox-static + guest/init + the programs in guest/programs/
#               (C files built statically with the host gcc into /opt/hybrid)
#   initrd-tcg.gz  the same + QEMU's user-level TCG tests from $1/tcg-tests
#               (if built) in /opt/hybrid/tcg
# Idempotent: the kernel is fetched once; the initramfs is rebuilt when an
# input is newer than it.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$TOP/build/guest}
WORK=$OUT/work
mkdir -p "$OUT" "$WORK/debs"

fetch_deb() { # package -> path of its .deb in $WORK/debs
    f=$(ls "$WORK/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$f" ]; then
        (cd "$WORK/debs" && apt-get download "$1" >/dev/null 2>&1) ||
        { apt-get update -qq && (cd "$WORK/debs" && apt-get download "$1"); }
        f=$(ls "$WORK/debs/$1"_*.deb | head -n1)
    fi
    echo "$f"
}

if [ ! -f "$OUT/vmlinuz" ]; then
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$kpkg" ] || { echo "build-guest: cannot resolve linux-image-amd64" >&2; exit 1; }
    echo "build-guest: kernel $kpkg"
    deb=$(fetch_deb "$kpkg")
    rm -rf "$WORK/kernel" && mkdir -p "$WORK/kernel"
    dpkg-deb -x "$deb" "$WORK/kernel"
    cp "$WORK/kernel"/boot/vmlinuz-* "$OUT/vmlinuz.new"
    echo "$kpkg" > "$OUT/kernel-package"
    rm -rf "$WORK/kernel"
    mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
fi

if [ ! -f "$OUT/vmlinux" ] || [ "$OUT/vmlinuz" -nt "$OUT/vmlinux" ]; then
    # the bzImage carries an xz-compressed ELF vmlinux: find and unpack it
    /usr/bin/python3 - "$OUT/vmlinuz" "$OUT/vmlinux" <<'PY'
import lzma, sys
data = open(sys.argv[1], 'rb').read()
pos = 0
while True:
    pos = data.find(b'\xfd7zXZ\x00', pos)
    if pos < 0:
        sys.exit('build-guest: no xz payload in ' + sys.argv[1])
    try:
        out = lzma.LZMADecompressor().decompress(data[pos:])
    except lzma.LZMAError:
        pos += 1
        continue
    if out[:4] == b'\x7fELF':
        open(sys.argv[2], 'wb').write(out)
        break
    pos += 1
PY
fi

init=$TOP/guest/init
progs=$TOP/guest/programs
if [ ! -f "$OUT/initrd.gz" ] || [ "$init" -nt "$OUT/initrd.gz" ] ||
   [ "$0" -nt "$OUT/initrd.gz" ] ||
   [ -n "$(find "$progs" -newer "$OUT/initrd.gz" 2>/dev/null | head -n1)" ] ||
   [ -n "$(find "$OUT/tcg-tests" -newer "$OUT/initrd.gz" 2>/dev/null | head -n1)" ]; then
    echo "build-guest: initramfs"
    bb=$(fetch_deb busybox-static)
    root=$WORK/root
    rm -rf "$root" "$WORK/bb"
    mkdir -p "$WORK/bb" "$root/bin" "$root/proc" "$root/sys" "$root/dev" \
             "$root/tmp" "$root/opt/hybrid" "$root/root"
    dpkg-deb -x "$bb" "$WORK/bb"
    cp "$WORK/bb/bin/busybox" "$root/bin/busybox"
    cp "$init" "$root/init"
    chmod 755 "$root/init"
    # test and benchmark programs: C built statically, scripts copied
    for src in "$progs"/*; do
        [ -e "$src" ] || continue
        name=$(basename "$src")
        case "$name" in
            *.c) gcc -static -O2 -Wall -I"$progs" -o "$root/opt/hybrid/${name%.c}" "$src" -lpthread ;;
            *.h) ;;
            *) cp "$src" "$root/opt/hybrid/$name"; chmod 755 "$root/opt/hybrid/$name" ;;
        esac
    done
    (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -9 > "$OUT/initrd.gz.new"
    # the same plus QEMU's user-level TCG tests, if built
    # (scripts/build-tcg-tests.sh): a second image, so that other boots
    # do not pay for unpacking them
    if [ -d "$OUT/tcg-tests" ]; then
        mkdir -p "$root/opt/hybrid/tcg"
        find "$OUT/tcg-tests" -maxdepth 1 -type f -perm -u+x \
            -exec cp {} "$root/opt/hybrid/tcg/" \;
        (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -6 > "$OUT/initrd-tcg.gz"
    fi
    mv "$OUT/initrd.gz.new" "$OUT/initrd.gz"
fi
