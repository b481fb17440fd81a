"""The tier's QEMU trace events (the project's trace-events file):
-trace 'hybrid_*' with the log backend, on a guest that forms, compiles,
enters and invalidates traces (guest/programs/smc.c rewrites its own
loop). Every event the file declares is known to QEMU (HMP `info
trace-events`); each step of a trace's life is logged, in order for each
trace (queued after formed, installed after compiled, freed after
invalidated); the busiest event can be switched off at run time
(`trace-event NAME off`) and then stays quiet; and the output equals
-accel tcg's."""
import os
import re
import shutil
import tempfile
import time
from hybridtest import Tap, Guest

t = Tap()
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, '..', '..', 'trace-events')) as f:
    declared = re.findall(r'^(hybrid_\w+)\(', f.read(), re.M)
t.ok(len(declared) >= 10, 'the trace-events file declares the events',
     declared)

JIT = 'hybrid,jit=1,hot=8,jit-hot=8,threads=1'
EVENT = re.compile(r'^(?:\d+@[\d.]+:)?(hybrid_\w+) (.*)$', re.M)


def lines(text):
    return re.findall(r'^smc: .*$', text, re.M)


g = Guest('tcg', run='smc', extra=('-no-shutdown',))
done, _, _ = g.watch('hybrid-guest: smc exited')
want = lines(g.output())
g.kill()
t.ok(done and len(want) == 4, 'smc runs under tcg', want)

log = os.path.join(tempfile.mkdtemp(prefix='hybrid-events-'), 'events.log')
g = Guest(JIT, run='smc', extra=('-no-shutdown', '-trace', 'hybrid_*',
                                 '-D', log))
listing = g.hmp.hmp('info trace-events hybrid_*')
known = dict(re.findall(r'^(hybrid_\w+) : state (\d)', listing, re.M))
t.ok(set(declared) <= set(known) and
     all(known[e] == '1' for e in declared),
     'QEMU knows every declared event, and -trace enabled them all',
     '%s\n%s' % (declared, listing))

# the busiest event: seen once, then switched off while the guest runs
quiet_from = None
for _ in range(300):
    if os.path.exists(log):
        with open(log, errors='replace') as f:
            if 'hybrid_trace_exit ' in f.read():
                break
    g.wait_for('hybrid-guest: smc exited', timeout=0.1)
g.hmp.hmp('trace-event hybrid_trace_exit off')
with open(log, errors='replace') as f:
    quiet_from = len(f.read())
listing = g.hmp.hmp('info trace-events hybrid_trace_exit')
t.ok(re.search(r'^hybrid_trace_exit : state 0', listing, re.M),
     'trace-event NAME off switches an event off at run time', listing)

done, _, r = g.watch('hybrid-guest: smc exited', installed_only=False)
got = lines(g.output())
# stopped, the vCPUs form nothing more; the optimizer drains its queue:
# then the counters are final and every event is in the log
g.qmp.cmd('stop')
last = None
for _ in range(100):
    c = g.qmp.cmd('query-hybrid-traces').get('return', {}).get('counters', {})
    key = tuple(sorted((k, v) for k, v in c.items() if isinstance(v, int)))
    if key == last:
        break
    last = key
    time.sleep(0.5)
g.kill()
t.ok(done and got == want, 'output equals tcg\'s with the events on',
     '%s\nvs\n%s' % (got, want))

with open(log, errors='replace') as f:
    text = f.read()
events = EVENT.findall(text)
kinds = {}
for name, args in events:
    kinds.setdefault(name, []).append(args)
for name in ('hybrid_trace_formed', 'hybrid_trace_queued',
             'hybrid_trace_compiled', 'hybrid_trace_installed',
             'hybrid_head_patched', 'hybrid_trace_exit',
             'hybrid_trace_invalidated', 'hybrid_head_restored',
             'hybrid_trace_freed', 'hybrid_trace_aborted'):
    t.ok(name in kinds, '%s is logged' % name,
         sorted((k, len(v)) for k, v in kinds.items()))
t.ok(any(re.search(r'patched 1$', a) for a in kinds.get('hybrid_trace_exit', [])),
     'a trace entered through its patched head is seen leaving',
     kinds.get('hybrid_trace_exit', [])[:5])
t.ok(all(re.match(r'reason [a-z0-9-]+$', a)
         for a in kinds.get('hybrid_trace_aborted', [])),
     'aborts name their reason', kinds.get('hybrid_trace_aborted', [])[:5])
t.ok('hybrid_trace_exit ' not in text[quiet_from:],
     'an event switched off stays quiet')


def order(first, then):
    """Every trace with a @then event had a @first event before it."""
    seen = set()
    bad = []
    for name, args in events:
        m = re.match(r'(?:trace|region) (\d+)', args)
        if not m:
            continue
        if name == first:
            seen.add(m.group(1))
        elif name == then and m.group(1) not in seen:
            bad.append(args)
    return bad


for first, then in (('hybrid_trace_compiled', 'hybrid_trace_installed'),
                    ('hybrid_trace_installed', 'hybrid_head_patched'),
                    ('hybrid_head_patched', 'hybrid_head_restored'),
                    ('hybrid_trace_invalidated', 'hybrid_trace_freed')):
    bad = order(first, then)
    t.ok(not bad, '%s comes after %s for each trace' % (then, first), bad[:5])
# traces are formed and queued before they are compiled; regions are
# formed by merging (hybrid_region_formed), traces by recording
formed = {m for m in re.findall(r'^hybrid_(?:trace|region)_formed '
                                r'(?:trace|region) (\d+)',
                                '\n'.join('%s %s' % e for e in events), re.M)}
compiled = {re.match(r'trace (\d+)', a).group(1)
            for a in kinds.get('hybrid_trace_compiled', [])}
t.ok(compiled and compiled <= formed, 'every compiled trace was formed',
     sorted(compiled - formed)[:5])
n = {k: len(v) for k, v in kinds.items()}
t.ok(n.get('hybrid_trace_compiled', 0) == c.get('compiled') and
     n.get('hybrid_trace_installed', 0) == c.get('installed') and
     n.get('hybrid_trace_invalidated', 0) == c.get('invalidated') and
     n.get('hybrid_trace_aborted', 0) == c.get('aborted') and
     n.get('hybrid_head_patched', 0) == c.get('entry-patched') and
     n.get('hybrid_trace_formed', 0) + n.get('hybrid_region_formed', 0) ==
     c.get('formed'),
     'one event per step query-hybrid-traces counts', '%s vs %s' % (n, c))
shutil.rmtree(os.path.dirname(log), ignore_errors=True)
t.done()
