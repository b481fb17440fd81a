#!/bin/sh
# Unpack QEMU 10.0.2 into build/qemu-10.0.2, apply patches/qemu-10.0.2/*,
# and link the project tree into it (hybrid/ and qapi/hybrid.json).
#
# The tarball comes from, in order: $QEMU_TARBALL, ../shared/third-party/
# (beside the project), the Debian archive (bookworm-backports). Its SHA256
# is always checked. Re-running is cheap: the tree is re-made only when the
# patch series changed, so a rebuild recompiles only what changed.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$TOP/build
SRC=$BUILD/qemu-10.0.2
NAME=qemu_10.0.2+ds.orig.tar.xz
SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
DL=$BUILD/downloads

mkdir -p "$BUILD" "$DL"

stamp=$(cat "$TOP"/patches/qemu-10.0.2/*.patch | sha256sum | cut -d' ' -f1)
if [ -f "$SRC/.hybrid-patches" ] && [ "$(cat "$SRC/.hybrid-patches")" = "$stamp" ]; then
    exit 0
fi

verify() {
    [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status
}

tarball=
for cand in "${QEMU_TARBALL:-}" "$TOP/../shared/third-party/$NAME" "$DL/$NAME"; do
    [ -n "$cand" ] || continue
    if [ -f "$cand" ]; then
        if verify "$cand"; then tarball=$cand; break; fi
        echo "get-qemu: $cand: SHA256 mismatch, ignored" >&2
        [ -n "${QEMU_TARBALL:-}" ] && [ "$cand" = "$QEMU_TARBALL" ] && exit 1
    fi
done
if [ -z "$tarball" ]; then
    echo "get-qemu: downloading $NAME from the Debian archive"
    uri=$(cd "$DL" && apt-get source --print-uris -t bookworm-backports qemu 2>/dev/null |
          grep -o "'[^']*$NAME'" | tr -d "'" | head -n1)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian/pool/main/q/qemu/$NAME
    curl -fsSL -o "$DL/$NAME.part" "$uri"
    mv "$DL/$NAME.part" "$DL/$NAME"
    verify "$DL/$NAME" || { echo "get-qemu: $uri: SHA256 mismatch" >&2; exit 1; }
    tarball=$DL/$NAME
fi

echo "get-qemu: unpacking $tarball and applying the patch series"
rm -rf "$SRC.new"
mkdir -p "$SRC.new"
tar -xJf "$tarball" -C "$SRC.new" --strip-components=1
for p in "$TOP"/patches/qemu-10.0.2/*.patch; do
    patch -d "$SRC.new" -p1 -s --no-backup-if-mismatch < "$p"
done
ln -s ../.. "$SRC.new/hybrid"
ln -s ../hybrid/hw-glue/qapi/hybrid.json "$SRC.new/qapi/hybrid.json"
echo "$stamp" > "$SRC.new/.hybrid-patches"
rm -rf "$SRC"
mv "$SRC.new" "$SRC"
