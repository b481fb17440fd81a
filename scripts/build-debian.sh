#!/bin/sh
# Build a real Debian userland guest into $1 (default build/guest/debian):
#   initrd-debian.gz   gzip'd newc cpio initramfs of a Debian bookworm
#                      minbase + systemd userland (mmdebstrap, from
#                      deb.debian.org), /init -> /lib/systemd/systemd,
#                      the scripts in guest/debian/ in /opt/hybrid
#   packages.txt       the packages in it, with versions
# Boot it with the bundled kernel (build/guest/vmlinux or vmlinuz), -m 2G:
#   -append "console=ttyS0 panic=-1 quiet [hybrid.run=NAME]"
# With hybrid.run=NAME, hybrid-run.service runs /opt/hybrid/NAME with its
# output on ttyS0, prints "hybrid-guest: NAME exited RC" and powers off;
# without it, systemd boots to a root shell on ttyS0 (autologin).
#
# Cached: the userland (work/rootfs) is rebuilt only when mmdebstrap's
# arguments below change (packages, suite, mirror, excludes: 1.5 to 2
# minutes here, mmdebstrap downloads and installs ~120 packages), the image
# (a configured copy of it, packed) when this script or guest/debian/*
# change (about 15 s); a run with nothing changed does nothing. Needs root (or passwordless sudo): mmdebstrap's
# root mode and the root-owned tree.
#
# Size: docs, man pages, info, locales, apt lists and caches, udev's
# hardware database (not used: no real hardware) and perl (see PACKAGES)
# are left out or removed: 130 MB unpacked, 44 MB packed. python3-minimal
# (the interpreter and the core of its standard library) is 18 MB of that,
# and is kept: tests use it.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SELF=$TOP/scripts/build-debian.sh
OUT=${1:-$TOP/build/guest/debian}
SCRIPTS=$TOP/guest/debian
WORK=$OUT/work
ROOT=$WORK/rootfs
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# systemd as init, udev, D-Bus (systemctl and logind use it), and ordinary
# dynamically linked programs for tests
# (usr-is-merged: the tree is merged-/usr already; apt picks usrmerge for
# the essential set, which pulls in perl, ~50 MB: purged again ($PURGE))
PACKAGES="usr-is-merged,systemd-sysv,udev,dbus,procps,kmod,lua5.4,xz-utils,7zip,bzip2,gzip,busybox,python3-minimal"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi

MMDEBSTRAP_ARGS="--mode=root --variant=minbase --include=$PACKAGES
 --dpkgopt=path-exclude=/usr/share/man/*
 --dpkgopt=path-exclude=/usr/share/info/*
 --dpkgopt=path-exclude=/usr/share/doc/*
 --dpkgopt=path-include=/usr/share/doc/*/copyright
 --dpkgopt=path-exclude=/usr/share/locale/*
 --dpkgopt=path-include=/usr/share/locale/locale.alias
 --dpkgopt=path-exclude=/usr/share/lintian/*
 --dpkgopt=path-exclude=/usr/lib/udev/hwdb.d/*
 --dpkgopt=path-exclude=/lib/udev/hwdb.d/*"

# what the userland is made of: mmdebstrap's arguments; what the image is
# made of: this script (configuration) and the guest scripts (names, modes
# and contents)
PERL_PKGS="usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl libperl5.36 perl-modules-5.36"
PURGE="chroot \"\$1\" apt-get -y -qq purge $PERL_PKGS >/dev/null"
base_key=$(echo "$SUITE $MIRROR $MMDEBSTRAP_ARGS $PURGE" | sha256sum | cut -d' ' -f1)
image_key=$( (sha256sum < "$SELF"; cd "$SCRIPTS" && for f in $(ls | LC_ALL=C sort); do
                 echo "$f $(stat -c %a "$f") $(sha256sum < "$f")"; done) |
             sha256sum | cut -d' ' -f1)
if [ -f "$OUT/initrd-debian.gz" ] && [ "$(cat "$OUT/image.key" 2>/dev/null)" = "$image_key" ]; then
    exit 0
fi
mkdir -p "$OUT" "$WORK"

if [ ! -d "$ROOT" ] || [ "$(cat "$WORK/rootfs.key" 2>/dev/null)" != "$base_key" ]; then
    echo "build-debian: mmdebstrap $SUITE ($PACKAGES)"
    command -v mmdebstrap >/dev/null || { echo "build-debian: mmdebstrap missing (scripts/setup-host.sh installs it)" >&2; exit 1; }
    start=$(date +%s)
    $SUDO rm -rf "$ROOT" "$ROOT.new" "$WORK/rootfs.key"
    # the mirror is given explicitly: only deb.debian.org is reachable
    # here, whatever the host's own apt sources are
    # (no globbing: the patterns are for dpkg)
    set -f
    $SUDO mmdebstrap $MMDEBSTRAP_ARGS --customize-hook="$PURGE" "$SUITE" "$ROOT.new" \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $MIRROR-security $SUITE-security main"
    set +f
    $SUDO mv "$ROOT.new" "$ROOT"
    echo "$base_key" > "$WORK/rootfs.key"
    echo "build-debian: userland built in $(( $(date +%s) - start )) s"
fi

# the image: a copy of the userland, configured, with the guest scripts
echo "build-debian: initramfs"
IMG=$WORK/image
$SUDO rm -rf "$IMG"
$SUDO cp -a "$ROOT" "$IMG"
# configure (all as files, no chroot)
$SUDO sh -eu -s "$IMG" <<'CONF'
r=$1
ln -sfn /lib/systemd/systemd "$r/init"
# no first-boot questions on the console, the same id in every boot
echo 6879627269642d64656269616e2d3031 > "$r/etc/machine-id"
echo hybrid > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thybrid\n' > "$r/etc/hosts"
# root logs in without a password
sed -i 's/^root:[^:]*:/root::/' "$r/etc/shadow"
printf 'hybrid Debian guest: leave with "poweroff" (or Ctrl-A X)\n' > "$r/etc/motd"
# a root shell on the serial console
d=$r/etc/systemd/system/serial-getty@ttyS0.service.d
mkdir -p "$d"
cat > "$d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 - $TERM
EOF
# the kernel's KERN_INFO messages (a process's "segfault at", "traps:")
# on the console once the system is up, so test logs show them
mkdir -p "$r/etc/sysctl.d"
echo 'kernel.printk = 7 4 1 7' > "$r/etc/sysctl.d/50-hybrid-console.conf"
# hybrid.run=NAME: run /opt/hybrid/NAME on ttyS0, then power off.
# Before the getty: agetty hangs the tty up when it starts, which would
# silently end our output
cat > "$r/etc/systemd/system/hybrid-run.service" <<'EOF'
[Unit]
Description=hybrid: run /opt/hybrid/NAME given by hybrid.run=NAME
ConditionKernelCommandLine=hybrid.run
Before=getty.target serial-getty@ttyS0.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hybrid-run
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
ln -sfn /etc/systemd/system/hybrid-run.service \
    "$r/etc/systemd/system/multi-user.target.wants/hybrid-run.service"
mkdir -p "$r/usr/local/sbin"
cat > "$r/usr/local/sbin/hybrid-run" <<'EOF'
#!/bin/sh
# hybrid-run.service: run /opt/hybrid/NAME (kernel option hybrid.run=NAME),
# print its end marker, power off (hybrid.after=reboot: reboot)
name= after=poweroff
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        hybrid.run=*) name=${arg#hybrid.run=} ;;
        hybrid.after=*) after=${arg#hybrid.after=} ;;
    esac
done
export PATH=/opt/hybrid:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C
cd /root
echo "hybrid-guest: userspace up"
case "$name" in
    ''|*/*) echo "hybrid-guest: bad hybrid.run=$name"; rc=2 ;;
    *) /opt/hybrid/"$name"; rc=$? ;;
esac
# anything the kernel said about killed processes since boot
dmesg | grep -E 'segfault|general protection|traps:|invalid opcode|Attempted to kill' |
    sed 's/^/hybrid-guest: dmesg: /'
echo "hybrid-guest: $name exited $rc"
if [ "$after" = reboot ]; then
    systemctl reboot --force || reboot -f
else
    systemctl poweroff --force || poweroff -f
fi
EOF
chmod 755 "$r/usr/local/sbin/hybrid-run"
# nothing that starts at random times (daily timers) or waits for answers
rm -f "$r"/etc/systemd/system/timers.target.wants/*
# (binfmt_misc's automount needs autofs4, a module: none in the image)
for u in systemd-firstboot.service proc-sys-fs-binfmt_misc.automount apt-daily.timer apt-daily-upgrade.timer \
         dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
    ln -sfn /dev/null "$r/etc/systemd/system/$u"
done
# smaller: no hardware database, logs, backups of dpkg's and debconf's state
rm -f "$r/etc/udev/hwdb.bin" "$r/usr/lib/udev/hwdb.bin"
rm -rf "$r"/var/log/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
       "$r"/var/cache/apt/*.bin
CONF
$SUDO mkdir -p "$IMG/opt/hybrid"
$SUDO cp -p "$SCRIPTS"/* "$IMG/opt/hybrid/"
$SUDO chown -R 0:0 "$IMG/opt/hybrid"
$SUDO dpkg-query --admindir="$IMG/var/lib/dpkg" -W -f='${Package} ${Version}\n' > "$OUT/packages.txt"
rm -f "$OUT/initrd-debian.gz.new"
(cd "$IMG" && $SUDO find . -mindepth 1 | LC_ALL=C sort | $SUDO cpio -o -H newc --quiet) |
    gzip -6 > "$OUT/initrd-debian.gz.new"
mv "$OUT/initrd-debian.gz.new" "$OUT/initrd-debian.gz"
echo "$image_key" > "$OUT/image.key"
echo "build-debian: $OUT/initrd-debian.gz: $(du -sm "$IMG" | cut -f1) MB unpacked, $(du -m "$OUT/initrd-debian.gz" | cut -f1) MB packed"
$SUDO rm -rf "$IMG"
