"""QEMU's tests/tcg/multiarch/system programs (hello, memory, interrupt),
bare metal on the tests/tcg x86_64 boot stub: same exit status and output
under -accel tcg and -accel hybrid (profiling only, and with the LLVM tier
compiling on the vCPU and on optimizer threads)."""
from hybridtest import Tap, run_system_test

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
t.done()
