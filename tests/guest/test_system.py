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
from hybridtest import Tap, Guest, run_system_test, system_test_args, \
    wait_trace

t = Tap()
# interrupt prints nothing: its exit status is the result
for name, prints in (('hello', True), ('memory', True), ('interrupt', False)):
  rc_t, out_t = run_system_test('tcg', name)
  for accel in ('hybrid', 'hybrid,jit=1,threads=0', 'hybrid,jit=1,threads=2'):
    rc_h, out_h = run_system_test(accel, name)
    t.ok(rc_t == rc_h and out_t == out_h and (len(out_t) > 0) == prints,
         '%s: %s matches tcg (exit %s)' % (name, accel, rc_t),
         'tcg rc=%s hybrid rc=%s\n--- tcg\n%s\n--- hybrid\n%s' %
         (rc_t, rc_h, out_t[-2000:], out_h[-2000:]))

smap = ('-cpu', 'max', '-no-reboot')
rc_t, out_t = run_system_test('tcg', 'smap', extra=smap)
m = re.search(r'smap: func=([0-9a-f]+) end=([0-9a-f]+)', out_t)
lo, hi = (int(m.group(1), 16), int(m.group(2), 16)) if m else (0, 0)
t.ok(rc_t == 0 and 'smap: result=' in out_t, 'smap runs under tcg', out_t)
for accel in ('hybrid,hot=2,jit-hot=2', 'hybrid,hot=2,jit-hot=2,threads=2'):
    fd, path = tempfile.mkstemp(prefix='hybrid-sys-')
    os.close(fd)
    g = Guest(accel, args=system_test_args(accel, 'smap', path, smap))
    tr, r = wait_trace(g.qmp, lambda tr: tr['mode'] == 'kernel' and
                       lo <= tr['pc'] < hi and tr['entries'] > 0, timeout=30)
    rc = g.wait_exit(timeout=120)
    out = open(path, errors='replace').read()
    os.unlink(path)
    g.kill()
    t.ok(tr, 'smap: %s: the stac/clac loop runs as a compiled trace' % accel,
         r)
    t.ok(rc == rc_t and out == out_t, 'smap: %s matches tcg' % accel,
         'rc=%s\n--- tcg\n%s\n--- hybrid\n%s' % (rc, out_t, out))
t.done()
