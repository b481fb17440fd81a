"""Traces are formed from hot loops in user code (a program inside the
bundled Linux guest) and in kernel code (a bare-metal CPL 0 program), at
the loops' addresses, and shown by QMP and HMP; results match -accel tcg."""
import re
from hybridtest import (Tap, Guest, READY, system_test_args, run_system_test,
                        wait_trace)

t = Tap()


def loop_range(text, tag):
    m = re.search(tag + r': func=(?:0x)?([0-9a-f]+) end=(?:0x)?([0-9a-f]+)', text)
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else None


def result(text, tag):
    m = re.search(tag + r': result=([0-9a-f]+)', text)
    return m.group(1) if m else None


# -- user mode: hotloop inside Linux --------------------------------------
g = Guest('tcg', run='hotloop')
g.wait_exit(timeout=240)
tcg_out = g.output()
g.kill()
t.ok(result(tcg_out, 'hotloop'), 'hotloop runs under tcg', tcg_out)

# the trace layer alone (jit=0): traces stay 'recorded'
g = Guest('hybrid,jit=0', run='hotloop')
t.ok(g.wait_for('hotloop: func=', timeout=240), 'hotloop starts under hybrid',
     g.output())
rng = loop_range(g.output(), 'hotloop')
tr, reply = wait_trace(g.qmp, lambda tr: tr['mode'] == 'user' and rng and
                       rng[0] <= tr['pc'] < rng[1])
t.ok(tr is not None, 'a user trace is formed at the hot loop (%s)' %
     (rng and '%x..%x' % rng), reply)
if tr:
    t.ok(tr['state'] == 'recorded' and tr['tbs'] >= 1 and tr['insns'] >= 5 and
         tr['pages'] >= 1 and tr['end'] in ('loop', 'trace-head'),
         'the loop trace has sensible fields', tr)
# let the loop run a while, then it must be among the hottest traces
import time
time.sleep(1.5)
r = g.qmp.cmd('query-hybrid-traces', count=3)
top = r.get('return', {}).get('traces', [])
t.ok(any(x['mode'] == 'user' and rng[0] <= x['pc'] < rng[1] for x in top),
     'the loop trace is among the 3 hottest', r)
t.ok(len(top) <= 3, 'count limits the rows', r)
c = r.get('return', {}).get('counters', {})
t.ok(c.get('formed', 0) > 0 and c.get('formed', 0) >= len(top),
     'formed counts the traces', c)
kinds = {x['mode'] for x in g.qmp.cmd('query-hybrid-traces')['return']['traces']}
t.ok(kinds == {'user', 'kernel'}, 'both user and kernel traces exist while '
     'Linux runs', kinds)
# a Linux boot takes interrupts while recording: some recordings abort
# with 'event'; every reason of the abort table is listed with its text
reasons = {a['reason']: a for a in c.get('aborts', [])}
t.ok(reasons.get('event', {}).get('count', 0) > 0 and
     all(a['text'] for a in reasons.values()) and
     {'event', 'no-page', 'tb-invalidated', 'flush', 'lost', 'snapshot',
      'not-pcrel', 'cold', 'queue-full'} <= set(reasons),
     'aborts are counted per reason (event: %s)'
     % reasons.get('event', {}).get('count'), c)
text = g.hmp.hmp('info hybrid-traces 2')
rows = [l for l in text.splitlines() if re.match(r'\s*\d+\s+(user|kernel)\s', l)]
t.ok(len(rows) == 2 and re.search(r'formed=\d+ .*abort\.event=\d+', text),
     'HMP: summary line and N rows', text)
g.wait_exit(timeout=240)
hyb_out = g.output()
g.kill()
t.ok(result(hyb_out, 'hotloop') == result(tcg_out, 'hotloop'),
     'hotloop result is the same under tcg and hybrid',
     '%s vs %s' % (result(tcg_out, 'hotloop'), result(hyb_out, 'hotloop')))

# -- kernel mode: a CPL 0 loop on QEMU's tests/tcg boot stub ---------------
rc, tcg_k = run_system_test('tcg', 'kloop')
t.ok(rc == 0 and result(tcg_k, 'kloop'), 'kloop runs under tcg', tcg_k)
import os, tempfile
out = tempfile.mktemp(prefix='hybrid-kloop-')
g = Guest('hybrid,jit=0', args=system_test_args('hybrid,jit=0', 'kloop', out))
import time as _t
deadline = _t.time() + 60
rng = None
while _t.time() < deadline and not rng:
    try:
        rng = loop_range(open(out).read(), 'kloop')
    except OSError:
        pass
    _t.sleep(0.05)
tr, reply = wait_trace(g.qmp, lambda tr: tr['mode'] == 'kernel' and rng and
                       rng[0] <= tr['pc'] < rng[1], timeout=60)
t.ok(tr is not None, 'a kernel trace is formed at the CPL 0 loop (%s)' %
     (rng and '%x..%x' % rng), reply)
g.wait_exit(timeout=120)
g.kill()
hyb_k = open(out).read()
os.unlink(out)
t.ok(result(hyb_k, 'kloop') == result(tcg_k, 'kloop'),
     'kloop result is the same under tcg and hybrid', hyb_k)
t.done()
