#!/usr/bin/env python3
"""The graphical console (`make run-gui`): the bundled guest in an SDL
window with a standard VGA, on an Xvfb server.

For tcg and hybrid alike: boot with `make run-gui`'s command line, type a
command into the window (X key events, so through SDL's keyboard), take
screenshots of the real QEMU window (xwd of that X window, not QMP's
screendump), and read them with OCR (tesseract) until the command's
output is on them: the guest's shell prompt, the typed line and its
result, which only the guest can compute. A blank, black or frozen window
fails. Under hybrid, QMP shows compiled traces entered while the window
was up.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hybridtest import GUEST, Guest, Tap  # noqa: E402

TOOLS = ('Xvfb', 'xwd', 'xwininfo', 'xdotool', 'xwdtopnm', 'tesseract')


def make_run_gui_args(accel):
    """The Makefile's run-gui command line (with the test's monitors)."""
    return ['-accel', accel, '-M', 'q35', '-nodefaults', '-m', '1G',
            '-display', 'sdl', '-device', 'VGA', '-serial', 'stdio',
            '-no-reboot', '-net', 'none',
            '-kernel', os.path.join(GUEST, 'vmlinuz'),
            '-initrd', os.path.join(GUEST, 'initrd.gz'),
            '-append', 'console=ttyS0 console=tty0 panic=-1']


class Xvfb:
    def __init__(self):
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ['Xvfb', '-displayfd', str(w), '-screen', '0', '1024x768x24',
             '-nolisten', 'tcp'], pass_fds=(w,),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num:
            raise RuntimeError('Xvfb did not start')
        self.display = ':' + num

    def env(self):
        env = dict(os.environ)
        env['DISPLAY'] = self.display
        return env

    def close(self):
        self.proc.kill()
        self.proc.wait()


def qemu_window(env, timeout=30):
    """The X id of QEMU's SDL window (title 'QEMU...'), or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(['xwininfo', '-root', '-tree'], env=env,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r'\s*(0x[0-9a-f]+) "QEMU[^"]*": \(.*\)\s+(\d+)x(\d+)',
                         line)
            if m and int(m.group(2)) > 100 and int(m.group(3)) > 100:
                return m.group(1)
        time.sleep(0.3)
    return None


def screenshot(env, wid, path):
    """The window's pixels as a PPM file at @path; (width, height, the
    fraction of pixels that are not black)."""
    xwd = subprocess.run(['xwd', '-silent', '-id', wid], env=env,
                         capture_output=True, check=True).stdout
    ppm = subprocess.run('xwdtopnm | pamdepth 255', shell=True, input=xwd,
                         capture_output=True, check=True).stdout
    with open(path, 'wb') as f:
        f.write(ppm)
    # binary PPM: P6 width height maxval (255), then RGB triples
    m = re.match(rb'P6\s+(\d+)\s+(\d+)\s+(\d+)\s', ppm)
    w, h = int(m.group(1)), int(m.group(2))
    pix = ppm[m.end():]
    lit = sum(1 for i in range(0, len(pix) - 2, 3 * 7)
              if pix[i] | pix[i + 1] | pix[i + 2] > 40)
    return w, h, lit / max(1, len(pix) // (3 * 7))


def ocr(path):
    """The text tesseract reads off a screenshot: inverted (dark text on
    light) and scaled up, which suits the VGA font."""
    pgm = subprocess.run(
        'ppmtopgm %s | pnminvert | pamscale 3' % path, shell=True,
        capture_output=True, check=True).stdout
    # one thread: its OpenMP threads spin (10x the time on 2 cores)
    env = dict(os.environ, OMP_THREAD_LIMIT='1')
    return subprocess.run(['tesseract', 'stdin', 'stdout', '--psm', '6'],
                          input=pgm, capture_output=True,
                          env=env).stdout.decode(errors='replace')


def type_keys(env, wid, text):
    subprocess.run(['xdotool', 'mousemove', '--window', wid, '50', '50'],
                   env=env, capture_output=True)
    subprocess.run(['xdotool', 'windowfocus', '--sync', wid], env=env,
                   capture_output=True)
    subprocess.run(['xdotool', 'type', '--delay', '60', text], env=env,
                   capture_output=True)
    subprocess.run(['xdotool', 'key', 'Return'], env=env, capture_output=True)


def wait_screen(env, wid, path, pattern, timeout):
    """Screenshot and OCR until @pattern is read; (match or None, the
    last OCR text, the last non-black fraction)."""
    deadline = time.time() + timeout
    text, lit = '', 0.0
    while time.time() < deadline:
        _, _, lit = screenshot(env, wid, path)
        text = ocr(path)
        m = re.search(pattern, text)
        if m:
            return m, text, lit
        time.sleep(1)
    return None, text, lit


def main():
    t = Tap()
    missing = [x for x in TOOLS if not shutil.which(x)]
    if missing:
        t.ok(False, 'GUI test tools present', 'missing: ' + ' '.join(missing)
             + ' (scripts/setup-host.sh installs them)')
        t.done()
    work = tempfile.mkdtemp(prefix='hybrid-gui-')
    x = Xvfb()
    os.environ['DISPLAY'] = x.display      # the QEMUs Guest starts
    try:
        for accel in ('tcg', 'hybrid,hot=20,jit-hot=20'):
            name = accel.split(',')[0]
            env = x.env()
            g = Guest(accel, args=make_run_gui_args(accel))
            with g:
                wid = qemu_window(env)
                if not t.ok(wid is not None, '%s: QEMU opened an SDL window'
                            % name, g.output()):
                    continue
                shot = os.path.join(work, name + '.ppm')
                # kernel messages go to the serial port too: no OCR before
                # init starts
                g.wait_for('Run /init', 120)
                # the shell is on the window once init printed its hint
                m, text, lit = wait_screen(env, wid, shot,
                                           r'poweroff|leave with', 120)
                t.ok(m is not None, '%s: the guest console is on the window'
                     % name, 'OCR:\n%s\nlit fraction %.3f' % (text, lit))
                w, h, lit = screenshot(env, wid, shot)
                t.ok(w >= 640 and h >= 350 and 0.002 < lit < 0.9,
                     '%s: the window shows text, not a blank one (%dx%d, '
                     '%.1f%% lit)' % (name, w, h, 100 * lit))
                time.sleep(1)
                # a loop the shell runs hot (user-mode traces under hybrid);
                # its result is not on the typed line, only in its output
                type_keys(env, wid, 'i=0; while [ $i -lt 3000 ]; do '
                          'i=$((i+1)); done; echo gui-$((i*14+49))-ok')
                m, text, _ = wait_screen(env, wid, shot, r'42049-ok', 90)
                t.ok(m is not None, '%s: keys typed into the window ran in '
                     'the guest and its output is on the window' % name,
                     'OCR:\n' + text)
                if g.hybrid:
                    r = g.qmp.cmd('query-hybrid-traces').get('return', {})
                    entries = sum(tr['entries'] for tr in r.get('traces', [])
                                  if tr['state'] == 'installed')
                    t.ok(entries > 0 and r['counters']['user-entries'] > 0,
                         'hybrid: compiled traces were entered (%d entries, '
                         '%d in user mode)' % (entries,
                                               r['counters']['user-entries']),
                         r.get('counters'))
                g.kill()
    finally:
        x.close()
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == '__main__':
    main()
