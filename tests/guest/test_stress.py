"""MTTCG stress (guest/programs/stress.c): four threads on four vCPUs
write fresh loop functions every round, run them hot, rewrite half of them
in place and unmap or mprotect their region, all at once; every result is
checked in the guest, and the per-thread checksums must equal -accel
tcg's. Repeated (HYBRID_STRESS_REPEAT runs, default 4, plus one with a
single optimizer thread), each a fresh boot, with no crash, no hang and
the same output; QMP shows traces compiled, entered and invalidated in
every run.
"""
import os
import re
from hybridtest import Tap, Guest

t = Tap()
JIT = 'jit=1,hot=8,jit-hot=8'
REPEAT = int(os.environ.get('HYBRID_STRESS_REPEAT', '4'))


def run(accel):
    g = Guest(accel, smp=4, run='stress', extra=('-no-shutdown',))
    done, seen, r = g.watch('hybrid-guest: stress exited',
                            installed_only=False, timeout=240)
    out = g.output()
    g.kill()
    return done, re.findall(r'^stress: .*$', out, re.M), r, seen, out


done, want, _, _, out = run('tcg')
t.ok(done and len(want) == 5 and want[-1] == 'stress: ok',
     'stress runs under tcg with -smp 4', out[-2000:])

for i, opts in enumerate(['threads=2'] * REPEAT + ['threads=1']):
    done, got, r, seen, out = run('hybrid,%s,%s' % (JIT, opts))
    c = r.get('counters', {})
    t.ok(done and got == want,
         'run %d (%s): no crash, no hang, output equals tcg\'s' % (i + 1, opts),
         '%s\nvs\n%s\n%s' % (got, want, out[-3000:]))
    t.ok(c.get('compiled', 0) >= 50 and c.get('invalidated', 0) >= 50 and
         c.get('entry-restored', 0) > 0 and seen,
         'run %d: traces compiled (%s), entered and invalidated (%s) '
         'on four vCPUs' % (i + 1, c.get('compiled'), c.get('invalidated')),
         str(c))
t.done()
