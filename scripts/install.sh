#!/bin/sh
# Install the built emulator into a prefix: `make install PREFIX=DIR`.
#
#   scripts/install.sh QEMU_BUILD_DIR PREFIX
#
#   PREFIX/bin/qemu-system-x86_64          with the hybrid accelerator
#   PREFIX/bin/qemu-system-x86_64-hybrid   the emulator for libvirt domains
#                                           (scripts/libvirt-emulator)
#   PREFIX/share/qemu/                      keymaps, trace-events-all, ... (QEMU's
#                                           own `meson install`) and the x86
#                                           firmware a PC guest needs, copied
#                                           from Debian's seabios, ipxe-qemu and
#                                           qemu-system-data packages
#   PREFIX/share/doc/hybrid/                the project's documentation
#
# QEMU is built relocatable (its default): the installed binary finds
# PREFIX/share/qemu relative to its own location, so it runs from any
# directory and from any prefix without -L, and without the build tree or
# Debian's firmware directories (tests/guest/test_install.py hides both).
set -eu

BLD=${1:?usage: install.sh QEMU_BUILD_DIR PREFIX}
PREFIX=${2:-}
[ -n "$PREFIX" ] || { echo "install: PREFIX is empty (make install PREFIX=/opt/hybrid)" >&2; exit 1; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
case "$PREFIX" in /*) ;; *) PREFIX=$(pwd)/$PREFIX ;; esac

# QEMU's install, staged: its configured prefix (/usr/local) is replaced by
# PREFIX when the staged tree is copied
# what QEMU installs but `make build` does not build (trace-events-all,
# keymaps): build those first
missing=$(meson introspect --installed "$BLD" | /usr/bin/python3 -c 'import json, os, sys
b = sys.argv[1]
print(" ".join(os.path.relpath(s, b) for s in json.load(sys.stdin)
               if not os.path.exists(s) and s.startswith(b + "/")))' "$BLD")
[ -z "$missing" ] || ninja -C "$BLD" $missing >/dev/null

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$BLD" --no-rebuild --quiet --destdir "$stage" >/dev/null
configured=$(meson introspect --buildoptions "$BLD" |
    /usr/bin/python3 -c 'import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
[ -x "$stage$configured/bin/qemu-system-x86_64" ] ||
    { echo "install: meson install left no qemu-system-x86_64" >&2; exit 1; }
mkdir -p "$PREFIX"
cp -R "$stage$configured/." "$PREFIX/"
cp "$TOP/scripts/libvirt-emulator" "$PREFIX/bin/qemu-system-x86_64-hybrid"
chmod 755 "$PREFIX/bin/qemu-system-x86_64-hybrid"

# firmware: what -M pc / -M q35 load (BIOS, VGA BIOS, option ROMs for
# -kernel, NIC boot ROMs), dereferenced so the prefix owns real files
fw=$PREFIX/share/qemu
mkdir -p "$fw"
for f in /usr/share/seabios/*.bin /usr/share/seabios/*.aml \
         /usr/lib/ipxe/qemu/*.rom \
         /usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot.bin \
         /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/multiboot.bin \
         /usr/share/qemu/multiboot_dma.bin /usr/share/qemu/pvh.bin \
         /usr/share/qemu/qboot.rom; do
    [ -e "$f" ] || { echo "install: missing firmware $f (scripts/setup-host.sh installs it)" >&2; exit 1; }
    cp -L "$f" "$fw/"
done
# keymaps, if QEMU's install did not bring them (it does when it can
# generate them)
if [ ! -d "$fw/keymaps" ]; then
    cp -RL /usr/share/qemu/keymaps "$fw/"
fi

doc=$PREFIX/share/doc/hybrid
mkdir -p "$doc"
cp "$TOP/README.md" "$doc/"
cp "$TOP"/docs/*.md "$doc/"

echo "install: $PREFIX/bin/qemu-system-x86_64 (firmware and keymaps in $fw)"
