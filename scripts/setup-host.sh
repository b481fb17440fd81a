#!/bin/sh
# Install what the build, the guest and the tests need on Debian 12 (bookworm).
# Idempotent: only missing packages are installed; runs apt only when needed.
# Must run as root (or with passwordless sudo) the first time.
set -eu

BASE_PKGS="make gcc g++ git ninja-build pkg-config flex bison ccache
 python3 python3-venv libglib2.0-dev libfdt-dev libpixman-1-dev libslirp-dev
 zlib1g-dev libsdl2-dev llvm-19-dev clang-19 lld-19 seabios ipxe-qemu
 cpio xz-utils busybox-static curl ca-certificates mmdebstrap
 xvfb x11-utils x11-apps xdotool netpbm tesseract-ocr tesseract-ocr-eng"
# bookworm's meson (1.0) is too old for QEMU 10; qemu-user gives qemu-loongarch64;
# libvirt 11 (tests/guest/test_libvirt.py) knows QEMU 10's command line
BPO_PKGS="meson python3-pycotap qemu-system-data qemu-user
 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi

missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
    done
}

bpo_missing() {
    # meson must be the backports one (>= 1.5)
    m=$(missing $BPO_PKGS)
    if command -v meson >/dev/null 2>&1; then
        v=$(meson --version)
        case "$v" in 0.*|1.[0-4].*) m="$m meson" ;; esac
    fi
    echo $m
}

BPO_LIST=/etc/apt/sources.list.d/hybrid-bookworm-backports.list
need_base=$(missing $BASE_PKGS | tr '\n' ' ')
need_bpo=$(bpo_missing)
if [ -z "$need_base$need_bpo" ] && [ -f "$BPO_LIST" -o -n "${HYBRID_NO_BPO_LIST:-}" ]; then
    exit 0
fi

if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
   ! grep -rqs '^deb-src.*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding bookworm-backports (deb and deb-src) to apt sources"
    $SUDO sh -c "printf '%s\n' \
 'deb http://deb.debian.org/debian bookworm-backports main' \
 'deb-src http://deb.debian.org/debian bookworm-backports main' > $BPO_LIST"
    UPDATED=
else
    UPDATED=
    [ -f "$BPO_LIST" ] || $SUDO touch "$BPO_LIST"
fi

if [ -n "$need_base$need_bpo" ]; then
    echo "setup: installing:$need_base $need_bpo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    [ -z "$need_base" ] || $SUDO apt-get install -y -qq --no-install-recommends $need_base
    [ -z "$need_bpo" ] || $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports $need_bpo
fi
