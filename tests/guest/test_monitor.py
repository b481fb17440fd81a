"""query-hybrid-traces (QMP) and info hybrid-traces (HMP) report the tier's
real state under hybrid and refuse clearly under tcg."""
import re
from hybridtest import Tap, Guest, READY

t = Tap()

g = Guest('hybrid', smp=2)
t.ok(g.wait_for(READY, timeout=240), 'hybrid guest boots', g.output())
r = g.qmp.cmd('query-hybrid-traces')
ret = r.get('return', {})
c = ret.get('counters', {})
t.ok('return' in r and isinstance(ret.get('traces'), list),
     'QMP query-hybrid-traces answers with a trace list', r)
for key in ('formed', 'compiled', 'installed', 'invalidated', 'aborted',
            'tbs-translated', 'tbs-invalidated', 'flushes', 'aborts',
            'unsupported-ops', 'compile-ms', 'compile-ms-vcpu', 'queued'):
    t.ok(key in c, 'counters has %s' % key, r)
t.ok(c.get('tbs-translated', 0) > 1000,
     'counters reflect real translation work', r)
t.ok(ret.get('llvm-version', '').startswith('19.'),
     'the tier is linked with LLVM 19', r)
r2 = g.qmp.cmd('query-hybrid-traces', count=0)
t.ok(r2.get('return', {}).get('traces') == [], 'count=0 returns no traces', r2)

text = g.hmp.hmp('info hybrid-traces')
m = re.search(r'tbs-translated=(\d+)', text)
t.ok(m and int(m.group(1)) >= c.get('tbs-translated', 0),
     'HMP info hybrid-traces prints the same counters', text)
t.ok(re.search(r'^\s*id\s+mode\s+pc\s+tbs\s+insns\s+pages\s+paths\s+entries\s+samples\s+state\s+end\s+compile-us\s+bytes',
               text, re.M), 'HMP prints the trace table header', text)
text = g.hmp.hmp('info hybrid-traces 3')
t.ok('formed=' in text, 'HMP accepts a row limit', text)
help_text = g.hmp.hmp('help info')
t.ok('info hybrid-traces' in help_text, 'HMP help lists the command', help_text)
g.kill()

g = Guest('tcg')
t.ok(g.wait_for(READY, timeout=240), 'tcg guest boots', g.output())
r = g.qmp.cmd('query-hybrid-traces')
t.ok('error' in r and 'not in use' in r['error'].get('desc', ''),
     'QMP refuses clearly under tcg', r)
text = g.hmp.hmp('info hybrid-traces')
t.ok('not in use' in text, 'HMP refuses clearly under tcg', text)
g.kill()
t.done()
