"""The LLVM tier (-accel hybrid,jit=1): the bundled guest boots and runs a
CPU-bound program with compiled traces installed and entered (checked
through QMP), with the same result as -accel tcg, with compiles on the
vCPU (threads=0) and on optimizer threads (threads=2).

Regions: the hot loop has a data-dependent branch, so its body has two
paths; the trace of one grows by the other (its hot side path) and the
loop runs in one compiled region (QMP: a user trace with paths >= 2 in
the loop's function, installed and entered); with region-max-tbs=0 no
trace grows."""
import os
import re
import tempfile
from hybridtest import Tap, Guest, wait_trace

t = Tap()


def result(text):
    m = re.search(r'hotloop: result=([0-9a-f]+)', text)
    return m.group(1) if m else None


g = Guest('tcg', run='hotloop')
g.wait_exit(timeout=240)
want = result(g.output())
g.kill()
t.ok(want, 'hotloop runs under tcg')

logfile = os.path.join(tempfile.mkdtemp(prefix='hybrid-log-'), 'hybrid.log')
for opts in ('jit=1,threads=0', 'jit=1,threads=2'):
    # the second run also logs its compiled traces (-d hybrid)
    extra = ('-d', 'hybrid', '-D', logfile) if 'threads=2' in opts else ()
    g = Guest('hybrid,' + opts, run='hotloop', extra=extra)
    started = g.wait_for('hotloop: func=', timeout=240)
    r = g.qmp.cmd('query-hybrid-traces') if started else {}
    g.wait_exit(timeout=240)
    out = g.output()
    c = r.get('return', {}).get('counters', {})
    entered = sum(tr['entries'] for tr in r.get('return', {}).get('traces', []))
    g.kill()
    t.ok(started, '%s: the guest boots to userspace' % opts, out)
    t.ok(c.get('compiled', 0) > 0 and c.get('installed', 0) > 0 and entered > 0,
         '%s: traces were compiled, installed and entered' % opts, r)
    if opts.endswith('threads=0'):
        t.ok(c.get('compile-ms-vcpu') == c.get('compile-ms'),
             '%s: compiles run on the vCPU' % opts, c)
    else:
        t.ok(c.get('compile-ms', 0) > 0 and c.get('compile-ms-vcpu') == 0,
             '%s: compile time is spent in optimizer threads, not vCPUs'
             % opts, c)
    # boot forms hundreds of traces whose heads are hot only in a burst:
    # they cool down in the queue and are dropped, not compiled (with
    # threads=0 too: vCPUs drain the queue for at most half their time)
    cold = {a['reason']: a['count'] for a in c.get('aborts', [])}
    t.ok(cold.get('cold', 0) > 0 and
         cold.get('cold', 0) + c.get('compiled', 0) <= c.get('formed', 0),
         '%s: queued traces that cooled down were dropped (%s)'
         % (opts, cold.get('cold')), c)
    compiled = [tr for tr in r.get('return', {}).get('traces', [])
                if tr['state'] == 'installed']
    t.ok(compiled and all(tr['code-size'] > 0 and tr['compile-us'] > 0
                          for tr in compiled),
         '%s: installed traces show compile time and code size' % opts, r)
    t.ok(result(out) == want, '%s: hotloop result equals tcg\'s' % opts,
         '%s vs %s\n%s' % (result(out), want, out[-3000:]))
for opts, grow in (('jit=1,threads=0', True),
                   ('jit=1,threads=0,region-max-tbs=0', False)):
    g = Guest('hybrid,' + opts, run='hotloop')
    started = g.wait_for('hotloop: func=', timeout=240)
    m = re.search(r'hotloop: func=(0x[0-9a-f]+) end=(0x[0-9a-f]+)',
                  g.output())
    lo, hi = (int(m.group(1), 16), int(m.group(2), 16)) if m else (0, 0)
    if grow:
        tr, r = wait_trace(g.qmp, lambda tr: tr['mode'] == 'user' and
                           lo <= tr['pc'] < hi and tr['paths'] >= 2 and
                           tr['state'] == 'installed' and
                           tr['entries'] > 0, timeout=60)
    else:
        tr, r = wait_trace(g.qmp, lambda tr: tr['paths'] >= 2, timeout=5)
    c = r.get('return', {}).get('counters', {})
    g.wait_exit(timeout=240)
    out = g.output()
    g.kill()
    if grow:
        t.ok(started and tr and c.get('regions', 0) > 0,
             '%s: the hot loop runs as one region of its two paths (%s)'
             % (opts, tr and '%d TBs, %d paths' % (tr['tbs'], tr['paths'])),
             r)
    else:
        t.ok(started and tr is None and c.get('regions') == 0,
             '%s: no trace grows' % opts, r)
    t.ok(result(out) == want, '%s: hotloop result equals tcg\'s' % opts,
         '%s vs %s\n%s' % (result(out), want, out[-3000:]))


def perf_map_of(g):
    return '/tmp/perf-%d.map' % g.proc.pid


def hotloop_entered(accel):
    """Run hotloop under @accel until an installed trace is entered; return
    (that trace or None, the last query-hybrid-traces reply, the output)."""
    global no_perfmap_written
    g = Guest(accel, run='hotloop')
    g.wait_for('hotloop: func=', timeout=240)
    tr, r = wait_trace(g.qmp, lambda tr: tr['state'] == 'installed' and
                       tr['entries'] > 0, timeout=60)
    g.wait_exit(timeout=240)
    out = g.output()
    g.kill()
    no_perfmap_written = tr and not os.path.exists(perf_map_of(g))
    return tr, r, out


# the experiment properties compile working code too
opts = ('x-state-mapping=0,x-opt-level=1,x-codegen-level=1,x-native-cpu=1,'
        'x-opt-nice=5')
tr, r, out = hotloop_entered('hybrid,' + opts)
t.ok(tr and result(out) == want, '%s: traces entered, hotloop result equals '
     'tcg\'s' % opts, '%s vs %s\n%s' % (result(out), want, out[-3000:]))

# x-compile-mode (bisecting a wrong result by privilege level): 1 compiles
# only user-mode traces, 2 only kernel-mode ones; the rest stay with TCG
for mode, want_mode in ((1, 'user'), (2, 'kernel')):
    tr, r, out = hotloop_entered('hybrid,x-compile-mode=%d' % mode)
    traces = r.get('return', {}).get('traces', [])
    other = [x for x in traces if x['state'] == 'installed' and
             x['mode'] != want_mode]
    t.ok(tr and tr['mode'] == want_mode and not other and
         result(out) == want,
         'x-compile-mode=%d: only %s-mode traces installed, hotloop result '
         'equals tcg\'s' % (mode, want_mode),
         '%s\n%s\n%s' % (tr, other[:3], out[-2000:]))

t.ok(no_perfmap_written, 'without -perfmap no perf map is written')

# W^X: with split-wx=on TCG keeps no memory writable and executable at
# once, and neither do the tier's entry thunks and compiled code. (The
# same run checks -perfmap.)
g = Guest('hybrid,split-wx=on', run='hotloop', extra=['-perfmap'])
started = g.wait_for('hotloop: func=', timeout=240)
tr, r = wait_trace(g.qmp, lambda tr: tr['patched'] and tr['entries'] > 0,
                   timeout=60)
with open('/proc/%d/maps' % g.proc.pid) as f:
    rwx = [line.strip() for line in f if line.split()[1].startswith('rwx')]
g.wait_exit(timeout=240)
out = g.output()
g.kill()
perf_map = ''
if os.path.exists(perf_map_of(g)):
    perf_map = open(perf_map_of(g)).read()
    os.unlink(perf_map_of(g))
# QEMU's -perfmap writer has TCG's code and the compiled traces, one file
# (the tier once opened its own, truncating QEMU's)
t.ok(tr and 'tcg-prologue-buffer' in perf_map
     and re.search(r'^[0-9a-f]+ [0-9a-f]+ guest-0x', perf_map, re.M)
     and re.search(r'^[0-9a-f]+ [1-9a-f][0-9a-f]* hybrid_trace_%d$'
                   % tr['id'], perf_map, re.M),
     '-perfmap names TCG\'s code and the entered trace hybrid_trace_<id>',
     '%s\n%s' % (tr, perf_map[:1500]))
t.ok(started and tr and not rwx,
     'split-wx=on: traces entered through patched heads, no mapping is '
     'writable and executable', '%s\n%s' % (rwx, r))
t.ok(result(out) == want, 'split-wx=on: hotloop result equals tcg\'s',
     '%s vs %s\n%s' % (result(out), want, out[-3000:]))

log = open(logfile, errors='replace').read() if os.path.exists(logfile) else ''
m = re.search(r'^HYBRID: trace (\d+) \(user\), head 0x4016', log, re.M)
t.ok(m, '-d hybrid logs the hot loop\'s trace', log[:2000])
if m:
    n = m.group(1)
    t.ok(re.search(r'^    0x00000000004016[0-9a-f]{2}:( [0-9a-f]{2})+$', log, re.M)
         and 'HYBRID: trace %s LLVM IR, as lowered:' % n in log
         and 'HYBRID: trace %s LLVM IR, optimised:' % n in log
         and re.search(r'^HYBRID: trace %s compiled in \d+ us: \d+ bytes'
                       % n, log, re.M),
         '-d hybrid: its guest code, IR before and after optimisation, '
         'host code size', log[:2000])

# State mapping: in the optimised IR of the hot loop's traces, a guest
# register lives in an SSA value across iterations (a phi of a promoted
# global, named after its "g" slot), not in env.
def optimised_ir(log, n):
    s = log.find('HYBRID: trace %s LLVM IR, optimised:' % n)
    e = log.find('\nHYBRID: ', s + 1)
    return log[s:e] if s >= 0 else ''
loop_ids = re.findall(r'^HYBRID: trace (\d+) \(user\), head 0x4016', log, re.M)
t.ok(any(re.search(r'^\s+%g\d*\.[\d.]+ = phi ', optimised_ir(log, n), re.M)
         for n in loop_ids),
     'state mapping: the hot loop keeps a guest register in an SSA value '
     'across iterations (traces %s)' % ', '.join(loop_ids), log[:2000])
t.done()
