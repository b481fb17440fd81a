"""The bundled guest boots to userspace under tcg and hybrid, -smp 1 and 4,
through the PVH vmlinux and (once) through the bzImage users boot."""
from hybridtest import Tap, Guest, READY

t = Tap()
cases = [(accel, smp, 'vmlinux') for accel in ('tcg', 'hybrid')
         for smp in (1, 4)] + [('hybrid', 1, 'vmlinuz')]
for accel, smp, kernel in cases:
    g = Guest(accel, smp=smp, kernel=kernel, run='sysinfo')
    up = g.wait_for(READY, timeout=240)
    rc = g.wait_exit(timeout=120)
    out = g.output()
    g.kill()
    name = '%s -smp %d %s' % (accel, smp, kernel)
    t.ok(up, '%s: boots to userspace' % name, out)
    t.ok(rc == 0 and 'hybrid-guest: sysinfo exited 0' in out,
         '%s: runs a program and powers off' % name, 'rc=%s\n%s' % (rc, out))
    t.ok('sysinfo: cpus=%d' % smp in out,
         '%s: the guest sees %d vCPUs' % (name, smp), out)
t.done()
