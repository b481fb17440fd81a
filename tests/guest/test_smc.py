"""Self-modifying, remapped and cross-modifying code under compiled traces
(guest/programs/smc.c): the output equals -accel tcg's, with -smp 1 and
-smp 4, compiling on the vCPU (threads=0) and on optimizer threads; and
QMP shows the tier was really there: traces compiled, entered through
their patched head entries, then invalidated by the rewrites, their
entries given back to TCG."""
import re
from hybridtest import Tap, Guest

t = Tap()
# low thresholds: each version of the rewritten loop is compiled
JIT = 'jit=1,hot=8,jit-hot=8'


def lines(text):
    return re.findall(r'^smc: .*$', text, re.M)


def run(accel, smp):
    g = Guest(accel, smp=smp, run='smc', extra=('-no-shutdown',))
    # its traces are invalidated by design: watched while it runs
    done, seen, r = g.watch('hybrid-guest: smc exited',
                            installed_only=False)
    out = g.output()
    g.kill()
    return done, lines(out), r, seen, out


for smp in (1, 4):
    done, want, _, _, out = run('tcg', smp)
    t.ok(done and len(want) == 4 and 'FAILED' not in ' '.join(want),
         'smp %d: smc runs under tcg' % smp, out[-2000:])
    for opts in ('threads=0', 'threads=2'):
        accel = 'hybrid,%s,%s' % (JIT, opts)
        done, got, r, seen, out = run(accel, smp)
        c = r.get('counters', {})
        t.ok(done and got == want, 'smp %d %s: output equals tcg\'s'
             % (smp, opts), '%s\nvs\n%s\n%s' % (got, want, out[-2000:]))
        # (entries counted in user-entries even once the trace is gone:
        # a rewritten loop's traces may all be gone when QMP looks)
        t.ok(c.get('installed', 0) > 0 and c.get('entry-patched', 0) > 0
             and c.get('user-entries', 0) > 0,
             'smp %d %s: user traces were compiled and entered' % (smp, opts),
             c)
        t.ok(c.get('invalidated', 0) > 0 and c.get('entry-restored', 0) > 0,
             'smp %d %s: rewriting code dropped traces and gave their '
             'entries back' % (smp, opts), c)
t.done()
