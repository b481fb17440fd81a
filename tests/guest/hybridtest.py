"""Shared harness of hybrid's guest tests (and of make bench): start the
emulator, talk QMP/HMP, wait for the guest's markers, report TAP.

    with Guest('hybrid', run='hotloop') as g:   # killed however the block ends
        g.wait_for('hotloop: result=')

Every QEMU a test starts is also killed when the test's process exits,
whatever happened (a Guest left running never outlives its test).

Environment (set by tests/meson.build): HYBRID_QEMU, HYBRID_QEMU_SELFTEST
(the self-test emulator: the product plus tests/selftest/), HYBRID_GUEST_DIR.
"""
import atexit
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

QEMU = os.environ.get('HYBRID_QEMU', 'build/qemu-system-x86_64')
QEMU_SELFTEST = os.environ.get('HYBRID_QEMU_SELFTEST',
                               QEMU + '-hybrid-selftest')
GUEST = os.environ.get('HYBRID_GUEST_DIR', 'build/guest')
READY = 'hybrid-guest: userspace up'


class Tap:
    """Minimal TAP producer; exit status 1 if any check failed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, detail=''):
        self.n += 1
        print(('ok %d - %s' if cond else 'not ok %d - %s') % (self.n, what))
        if not cond:
            self.failed += 1
            for line in str(detail).splitlines()[-40:]:
                print('#   ' + line)
        sys.stdout.flush()
        return cond

    def done(self):
        print('1..%d' % self.n)
        sys.exit(1 if self.failed else 0)


# AddressSanitizer's one-line notice about QEMU's coroutines (builds of
# `make check SANITIZE=1`): not QEMU's output, so never compared
_ASAN_NOTICE = re.compile(r'^==\d+==WARNING: ASan doesn\'t fully support '
                          r'makecontext/swapcontext.*\n', re.M)


def qemu_text(text):
    """QEMU's output without the sanitizer's notice."""
    return _ASAN_NOTICE.sub('', text)


def run_qemu(args, timeout=60, input=None):
    """Run QEMU to completion; return (exit status, stdout+stderr)."""
    p = subprocess.run([QEMU] + args, input=input, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, qemu_text(p.stdout + p.stderr)


def guest_args(accel, smp=1, kernel='vmlinux', run=None, mem=512, extra=(),
               initrd='initrd.gz', cmdline='', reboot=False):
    append = 'console=ttyS0 panic=-1 quiet'
    if run:
        append += ' hybrid.run=' + run
    if cmdline:
        append += ' ' + cmdline
    return ['-accel', accel, '-M', 'q35', '-nodefaults', '-m', str(mem),
            '-smp', str(smp), '-display', 'none', '-serial', 'stdio',
            '-net', 'none',
            '-kernel', os.path.join(GUEST, kernel),
            '-initrd', os.path.join(GUEST, initrd),
            '-append', append] + ([] if reboot else ['-no-reboot']) + \
        list(extra)


class Monitor:
    """A QMP or HMP client on a unix socket."""

    def __init__(self, path, qmp=True, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buf = b''
        self.qmp = qmp
        if qmp:
            self._read_json()                      # greeting
            self.cmd('qmp_capabilities')
        else:
            self._read_until(b'(qemu) ')

    def _read_until(self, token):
        while token not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError('monitor closed')
            self.buf += data
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode(errors='replace')

    def _read_json(self):
        while True:
            line = self._read_until(b'\n')
            msg = json.loads(line)
            if 'event' not in msg:
                return msg

    def cmd(self, name, **args):
        """QMP: return the reply dict ('return' or 'error')."""
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        return self._read_json()

    def hmp(self, line):
        """HMP: return the text the command printed."""
        self.sock.sendall(line.encode() + b'\n')
        out = self._read_until(b'(qemu) ')
        out = out[:-len('(qemu) ')]
        # the monitor echoes the command line first
        return out.split('\n', 1)[1] if '\n' in out else ''

    def close(self):
        self.sock.close()


_live = set()     # Guests whose QEMU may still run


@atexit.register
def _kill_live():
    for g in list(_live):
        g.kill()


class Guest:
    """A running guest with its serial output, QMP and HMP sockets; a
    context manager that kills it on leaving."""

    def __init__(self, accel, smp=1, kernel='vmlinux', run=None, extra=(),
                 args=None, initrd='initrd.gz', cmdline='', reboot=False,
                 qemu=None, mem=512, stdin=False):
        """Boot the bundled guest, or start QEMU with @args if given
        (the emulator @qemu, by default the product's); with @stdin, the
        serial console's input is a pipe (type())."""
        self.dir = tempfile.mkdtemp(prefix='hybrid-test-')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.hmp_path = os.path.join(self.dir, 'hmp.sock')
        self.log_path = os.path.join(self.dir, 'serial.log')
        if args is None:
            args = guest_args(accel, smp, kernel, run, mem=mem, extra=extra,
                              initrd=initrd, cmdline=cmdline, reboot=reboot)
        args = list(args) + [
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
            '-monitor', 'unix:%s,server=on,wait=off' % self.hmp_path]
        self.hybrid = accel.startswith('hybrid')
        self.log = open(self.log_path, 'w+')
        self.start = time.time()
        self.proc = subprocess.Popen([qemu or QEMU] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE if stdin
                                     else subprocess.DEVNULL)
        self._qmp = None
        self._hmp = None
        _live.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def type(self, text):
        """Type @text on the serial console (a Guest made with stdin)."""
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (OSError, AttributeError):
            pass

    def output(self):
        with open(self.log_path, errors='replace') as f:
            return qemu_text(f.read())

    def wait_for(self, text, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            time.sleep(0.1)
        return False

    def watch(self, done_text, timeout=300, every=0.2, installed_only=True):
        """Wait for @done_text in the output (or for QEMU to end); under
        hybrid, poll QMP meanwhile, since a program's traces may be gone
        once it is. Returns (done, ids of the user-mode traces seen
        entered (and installed, with @installed_only), the last
        query-hybrid-traces result or {})."""
        seen = set()
        deadline = time.time() + timeout
        done = False
        r = {}
        while time.time() < deadline:
            done = done_text in self.output()
            if self.proc.poll() is not None:
                break           # QEMU is gone: the caller shows why
            if self.hybrid:
                try:
                    r = self.qmp.cmd('query-hybrid-traces').get('return', {})
                except (OSError, EOFError):
                    break
                seen |= {tr['id'] for tr in r.get('traces', [])
                         if tr['mode'] == 'user' and tr['entries'] > 0 and
                         (tr['state'] == 'installed' or not installed_only)}
            if done:
                break
            time.sleep(every)
        if self.hybrid and self.proc.poll() is None:
            try:
                r = self.qmp.cmd('query-hybrid-traces').get('return', {})
            except (OSError, EOFError):
                pass
        return done, seen, r

    def wait_exit(self, timeout=120):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def qmp(self):
        if not self._qmp:
            self._qmp = Monitor(self.qmp_path, qmp=True)
        return self._qmp

    @property
    def hmp(self):
        if not self._hmp:
            self._hmp = Monitor(self.hmp_path, qmp=False)
        return self._hmp

    def kill(self):
        """Stop QEMU (if it still runs) and close what talks to it; once
        or more. The serial log stays, for output() and for people."""
        for m in (self._qmp, self._hmp):
            if m:
                m.close()
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        _live.discard(self)


DEBIAN_INITRD = os.path.join('debian', 'initrd-debian.gz')
DEBIAN_MEM = 2048


class DebianGuest(Guest):
    """The Debian userland (scripts/build-debian.sh: systemd, autologin
    root shell on ttyS0; with @run, /opt/hybrid/RUN then poweroff), the
    serial console's input on a pipe (type())."""

    def __init__(self, accel, smp=1, run=None):
        super().__init__(accel, smp, run=run, mem=DEBIAN_MEM,
                         initrd=DEBIAN_INITRD, stdin=True)
        self.user_entries = None

    def output(self):
        return super().output().replace('\r', '')

    def poll_counters(self):
        """Under hybrid, remember the last user-entries seen (it counts
        entries into invalidated traces too, so the last one is the
        total)."""
        if not self.hybrid or self.proc.poll() is not None:
            return
        try:
            r = self.qmp.cmd('query-hybrid-traces', count=1).get('return', {})
            c = r.get('counters', {})
            if 'user-entries' in c:
                self.user_entries = c['user-entries']
        except (OSError, EOFError, ValueError):
            pass

    def wait_poll(self, text, timeout, every=2.0):
        """wait_for(), polling QMP counters meanwhile."""
        deadline = time.time() + timeout
        last = 0
        while time.time() < deadline:
            if text in self.output():
                self.poll_counters()
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            if time.time() - last >= every:
                self.poll_counters()
                last = time.time()
            time.sleep(0.2)
        return False


def debian_results(out):
    """The RESULT lines of guest/debian/workloads.sh: name -> value."""
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r'^RESULT (\S+) (.*)$', out, re.M)}


def debian_times(out):
    """Its TIME lines: name -> seconds of the guest's clock."""
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^TIME (\S+) ([0-9.]+)', out, re.M)}


def rss_kib(pid):
    """Resident memory of process @pid, KiB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def system_test_args(accel, name, out_path, extra=()):
    """A bare-metal tests/tcg-style system test: output on isa-debugcon."""
    return ['-accel', accel, '-display', 'none', '-nodefaults',
            '-chardev', 'file,path=%s,id=output' % out_path,
            '-device', 'isa-debugcon,chardev=output',
            '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x4',
            '-kernel', os.path.join(GUEST, 'system', name)] + list(extra)


def run_system_test(accel, name, timeout=120, extra=()):
    """Run a system test to completion; return (exit status, its output)."""
    fd, out = tempfile.mkstemp(prefix='hybrid-sys-')
    os.close(fd)
    try:
        p = subprocess.run([QEMU] + system_test_args(accel, name, out, extra),
                           capture_output=True, text=True, timeout=timeout)
        with open(out, errors='replace') as f:
            return p.returncode, qemu_text(f.read() + p.stderr)
    finally:
        os.unlink(out)


def wait_trace(qmp, pred, timeout=60):
    """Poll query-hybrid-traces until a trace satisfies @pred; return
    (that trace or None, the last reply)."""
    deadline = time.time() + timeout
    r = {}
    while time.time() < deadline:
        try:
            r = qmp.cmd('query-hybrid-traces')
        except (OSError, EOFError):
            break           # QEMU is gone
        for tr in r.get('return', {}).get('traces', []):
            if pred(tr):
                return tr, r
        time.sleep(0.2)
    return None, r
