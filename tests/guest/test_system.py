"""QEMU's tests/tcg/multiarch/system programs (hello, memory, interrupt),
bare metal on the tests/tcg x86_64 boot stub: same exit status and output
under -accel tcg and -accel hybrid (profiling only, and with the LLVM tier
compiling on the vCPU and on optimizer threads).

tests/system/smap.c: a kernel loop reading and writing a user page
between stac and clac under CR4.SMAP, compiled (low thresholds, QMP shows
its kernel trace entered): x86's MMU index depends on EFLAGS.AC, so each
TB of a trace must be translated for its own flags, not for the state
the vCPU is in when the trace is compiled."""
import os
import re
import tempfile
import time
from hybridtest import Tap, Guest, run_system_test, system_test_args

t = Tap()
# each passes under tcg (exit 0, its success line; interrupt prints
# nothing: its exit status is the result), and the same under hybrid
for name, success in (('hello', 'Hello World'),
                      ('memory', 'Test complete: PASSED'),
                      ('interrupt', '')):
  rc_t, out_t = run_system_test('tcg', name)
  t.ok(rc_t == 0 and success in out_t and bool(out_t) == bool(success),
       '%s passes under tcg' % name, 'rc=%s\n%s' % (rc_t, out_t[-2000:]))
  for accel in ('hybrid', 'hybrid,jit=1,threads=0', 'hybrid,jit=1,threads=2',
                'hybrid,hot=2,jit-hot=2'):
    rc_h, out_h = run_system_test(accel, name)
    t.ok(rc_h == rc_t and out_h == out_t,
         '%s: %s matches tcg (exit %s)' % (name, accel, rc_t),
         'tcg rc=%s hybrid rc=%s\n--- tcg\n%s\n--- hybrid\n%s' %
         (rc_t, rc_h, out_t[-2000:], out_h[-2000:]))

smap = ('-cpu', 'max', '-no-reboot')


def run_smap(accel):
    """Run smap until it printed its result (then it halts); return its
    output and, under hybrid, the last query-hybrid-traces reply."""
    fd, path = tempfile.mkstemp(prefix='hybrid-sys-')
    os.close(fd)
    g = Guest(accel, args=system_test_args(accel, 'smap', path, smap))
    deadline = time.time() + 120
    out = ''
    while time.time() < deadline and 'smap: result=' not in out and \
            g.proc.poll() is None:
        time.sleep(0.2)
        out = open(path, errors='replace').read()
    r = g.qmp.cmd('query-hybrid-traces') if g.hybrid and \
        g.proc.poll() is None else {}
    g.kill()
    os.unlink(path)
    return out, r


out_t, _ = run_smap('tcg')
m = re.search(r'smap: func=([0-9a-f]+) end=([0-9a-f]+)', out_t)
lo, hi = (int(m.group(1), 16), int(m.group(2), 16)) if m else (0, 0)
t.ok('smap: result=' in out_t, 'smap runs under tcg', out_t)
for accel in ('hybrid,hot=2,jit-hot=2', 'hybrid,hot=2,jit-hot=2,threads=2'):
    out, r = run_smap(accel)
    tr = [tr for tr in r.get('return', {}).get('traces', [])
          if tr['mode'] == 'kernel' and lo <= tr['pc'] < hi and
          tr['entries'] > 0]
    t.ok(tr, 'smap: %s: the stac/clac loop ran as a compiled trace' % accel,
         r)
    t.ok(out == out_t, 'smap: %s matches tcg' % accel,
         '--- tcg\n%s\n--- hybrid\n%s' % (out_t, out))
t.done()
