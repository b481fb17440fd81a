#!/usr/bin/env python3
"""`make install PREFIX=...` (scripts/install.sh, what the Makefile target
runs after the build): install into a temporary prefix, then run the
installed binary from another directory, without -L, with the build tree
and Debian's firmware and keymap directories hidden (tmpfs mounted over
them in a private mount namespace, when the test may make one):

- `-L help` lists the prefix's share/qemu;
- the bundled guest boots under -accel hybrid from there and runs hotloop (firmware:
  SeaBIOS, the VGA BIOS of -device VGA, the -kernel option ROM) and its
  output matches the build tree's emulator under tcg; traces were entered;
- a VNC display with `-k de` loads its keymap from the prefix;
- the libvirt wrapper (bin/qemu-system-x86_64-hybrid) starts the installed
  emulator with -accel hybrid.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hybridtest import GUEST, QEMU, Guest, Tap, guest_args  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_DIR = os.path.dirname(os.path.realpath(QEMU))
HIDDEN = ['/usr/share/qemu', '/usr/share/seabios', '/usr/lib/ipxe/qemu',
          BUILD_DIR]


def can_hide():
    if os.geteuid() != 0 or not shutil.which('unshare'):
        return False
    return subprocess.run(['unshare', '-m', 'true'],
                          capture_output=True).returncode == 0


HIDE = can_hide()


def hidden_cmd(cmd):
    """@cmd run with HIDDEN covered by empty tmpfs (when possible)."""
    if not HIDE:
        return cmd
    mounts = ' && '.join('mount -t tmpfs none %s' % d for d in HIDDEN
                         if os.path.isdir(d))
    return ['unshare', '-m', 'sh', '-c', mounts + ' && exec "$@"', 'sh'] + cmd


def run(cmd, cwd, timeout=120):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def main():
    t = Tap()
    prefix = tempfile.mkdtemp(prefix='hybrid-prefix-')
    elsewhere = tempfile.mkdtemp(prefix='hybrid-cwd-')
    try:
        rc, out = run([os.path.join(TOP, 'scripts', 'install.sh'), BUILD_DIR,
                       prefix], cwd=elsewhere, timeout=600)
        t.ok(rc == 0, 'install.sh %s' % prefix, out)
        binary = os.path.join(prefix, 'bin', 'qemu-system-x86_64')
        share = os.path.join(prefix, 'share', 'qemu')
        for f in ('bin/qemu-system-x86_64', 'bin/qemu-system-x86_64-hybrid',
                  'share/qemu/bios-256k.bin', 'share/qemu/vgabios-stdvga.bin',
                  'share/qemu/linuxboot_dma.bin', 'share/qemu/keymaps/de',
                  'share/doc/hybrid/README.md'):
            p = os.path.join(prefix, f)
            t.ok(os.path.isfile(p) and not os.path.islink(p),
                 'installed %s (a file, not a link)' % f)
        print('# hiding %s: %s' % (' '.join(HIDDEN), 'yes' if HIDE else
              'no (needs root and mount namespaces): checks run with them '
              'visible'))

        rc, out = run(hidden_cmd([binary, '-L', 'help']), cwd=elsewhere)
        t.ok(rc == 0 and os.path.realpath(share) in
             [os.path.realpath(l.strip()) for l in out.splitlines()],
             'the installed binary looks in %s (-L help)' % share, out)

        rc, out = run(hidden_cmd([binary, '-accel', 'hybrid,help']),
                      cwd=elsewhere)
        t.ok(rc == 0 and 'jit-hot' in out,
             'the installed binary has the hybrid accelerator', out)

        # boot: q35 with SeaBIOS, a VGA (its option ROM), -kernel's ROM
        _, tcg_out = run([QEMU] + guest_args('tcg', run='hotloop'),
                         cwd=elsewhere)
        cmd = hidden_cmd([binary] + guest_args(
            'hybrid,hot=20,jit-hot=20', run='hotloop',
            extra=['-device', 'VGA']))
        os.chdir(elsewhere)
        with Guest('hybrid', qemu=cmd[0], args=cmd[1:]) as g:
            done, _, r = g.watch('hotloop exited', timeout=180,
                                 installed_only=False)
            g.wait_exit(60)
            out = g.output()
        want = [l for l in tcg_out.splitlines() if l.startswith('hotloop:')]
        got = [l for l in out.splitlines() if l.startswith('hotloop:')]
        t.ok(done and want and got == want,
             'the installed binary boots the guest from another directory '
             'under hybrid; output as the build\'s under tcg', out)
        entries = r.get('counters', {}).get('user-entries', 0)
        t.ok(entries > 0, 'hybrid: compiled traces were entered (%d '
             'user-mode entries)' % entries, r)

        # keymaps: a VNC server with -k de reads PREFIX/share/qemu/keymaps/de
        def vnc_de():
            sock = os.path.join(elsewhere, 'vnc.sock')
            p = subprocess.run(
                hidden_cmd([binary, '-M', 'none', '-accel', 'hybrid',
                            '-display', 'vnc=unix:' + sock, '-k', 'de',
                            '-monitor', 'stdio']),
                cwd=elsewhere, input='info vnc\nquit\n',
                capture_output=True, text=True, timeout=60)
            return p.returncode, p.stdout + p.stderr
        rc, out = vnc_de()
        t.ok(rc == 0 and 'keymap' not in out.lower() and 'Server:' in out,
             'a VNC display with -k de finds its keymap', out)
        keymap = os.path.join(share, 'keymaps', 'de')
        os.rename(keymap, keymap + '.away')
        rc, out = vnc_de()
        os.rename(keymap + '.away', keymap)
        if HIDE:
            t.ok(rc != 0 and 'keymap' in out.lower(),
                 'without the prefix\'s keymap -k de fails: it came from '
                 'the prefix', out)

        # the libvirt wrapper beside the installed binary runs it, with
        # libvirt's -accel tcg made -accel hybrid
        p = subprocess.run(
            hidden_cmd([os.path.join(prefix, 'bin',
                                     'qemu-system-x86_64-hybrid'),
                        '-M', 'none', '-accel', 'tcg', '-display', 'none',
                        '-monitor', 'stdio']),
            cwd=elsewhere, input='info hybrid-traces\nquit\n',
            capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        t.ok(p.returncode == 0 and 'formed=' in out and
             'not in use' not in out,
             'bin/qemu-system-x86_64-hybrid runs the installed emulator '
             'under hybrid', out)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
        shutil.rmtree(elsewhere, ignore_errors=True)
    t.done()


if __name__ == '__main__':
    main()
