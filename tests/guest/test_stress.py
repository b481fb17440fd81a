"""MTTCG stress (guest/programs/stress.c): four threads on four vCPUs
write fresh loop functions every round, run them hot, rewrite half of them
in place and unmap or mprotect their region, all at once; every result is
checked in the guest, and the per-thread checksums must equal -accel
tcg's. Repeated (HYBRID_STRESS_REPEAT runs, default 4, plus one with a
single optimizer thread), each a fresh boot, with no crash, no hang and
the same output; QMP shows traces compiled, entered and invalidated in
every run.

Then memory: one boot runs stress six times (guest/programs/stress-repeat);
the emulator's resident memory after each run must stop growing with the
thousands of traces each run compiles and invalidates (their code,
thunks and records are freed): from the second run to the sixth it grows
at most 12 MiB more than stock TCG's does over the same runs.
"""
import os
import re
import time
from hybridtest import Tap, Guest, rss_kib

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

linked_indirect = []
for i, opts in enumerate(['threads=2'] * REPEAT + ['threads=1']):
    done, got, r, seen, out = run('hybrid,%s,%s' % (JIT, opts))
    c = r.get('counters', {})
    t.ok(done and got == want,
         'run %d (%s): no crash, no hang, output equals tcg\'s' % (i + 1, opts),
         '%s\nvs\n%s\n%s' % (got, want, out[-3000:]))
    # (a run's traces may all be gone by the time QMP looks: their
    # entries are counted in user-entries even so)
    t.ok(c.get('compiled', 0) >= 50 and c.get('invalidated', 0) >= 50 and
         c.get('entry-restored', 0) > 0 and c.get('user-entries', 0) > 0,
         'run %d: traces compiled (%s), entered (%s) and invalidated (%s) '
         'on four vCPUs' % (i + 1, c.get('compiled'), c.get('user-entries'),
                            c.get('invalidated')),
         str(c))
    # the functions are called through pointers and return: indirect
    # exits linked to the traces of code that is then rewritten and
    # remapped (the inline caches' checks, the unlinking); a run makes a
    # handful (0-10), so they are counted over all runs
    linked_indirect.append(c.get('linked-indirect', 0))
    # (the kernel's cmpxchg16b calls an Int128 helper under MTTCG)
    t.ok(done and not c.get('unsupported-ops') and
         any(a['reason'] == 'unsupported-op' and a['count'] == 0
             for a in c.get('aborts', [])),
         'run %d: no TCG op or helper kept a trace from being compiled'
         % (i + 1), str(c.get('unsupported-ops')))


def repeat(accel):
    g = Guest(accel, smp=4, run='stress-repeat', extra=('-no-shutdown',))
    rss, inval = [], []
    deadline = time.time() + 400
    while time.time() < deadline and len(rss) < 6:
        n = len(re.findall(r'^stress: (ok|FAILED)', g.output(), re.M))
        if n > len(rss):
            rss.append(rss_kib(g.proc.pid))
            if accel != 'tcg':
                c = g.qmp.cmd('query-hybrid-traces', count=1)['return']
                inval.append(c['counters']['invalidated'])
        if g.proc.poll() is not None:
            break
        time.sleep(0.1)
    out = g.output()
    g.kill()
    return re.findall(r'^stress: .*$', out, re.M), rss, inval


t.ok(sum(linked_indirect) > 0,
     'indirect exits were linked to traces (per run: %s)' % linked_indirect)

want, rss_tcg, _ = repeat('tcg')
got, rss, inval = repeat('hybrid,%s' % JIT)
t.ok(len(rss) == 6 and got == want and 'stress: ok' in got,
     'six stress runs in one boot: output equals tcg\'s', '%s\n%s' % (got, want))
t.ok(len(inval) == 6 and inval[-1] - inval[1] >= 3000,
     'traces invalidated from run 2 to 6: %s' %
     (inval[-1] - inval[1] if len(inval) == 6 else None), inval)
if len(rss) == 6 and len(rss_tcg) == 6:
    extra = ((rss[-1] - rss[1]) - (rss_tcg[-1] - rss_tcg[1])) / 1024
else:
    extra = 1e9
t.ok(extra < 12, 'resident memory after each run: hybrid %s MiB, tcg %s MiB; '
     '%.1f MiB more growth than tcg from run 2 to 6' %
     ([r // 1024 for r in rss], [r // 1024 for r in rss_tcg], extra))
t.done()
