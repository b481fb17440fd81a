"""query-hybrid-traces (QMP) and info hybrid-traces (HMP) report the tier's
real state under hybrid and refuse clearly under tcg.

The guest is stopped (QMP stop) and the optimizer left to drain its
queue, so that nothing changes between two questions: then the counters
must be consistent with each other and with the trace list, and HMP must
print exactly what QMP answers."""
import re
import time
from hybridtest import Tap, Guest, READY

t = Tap()
STATES = {'recorded', 'queued', 'compiling', 'installed', 'invalidated',
          'failed'}


def query(g, **args):
    return g.qmp.cmd('query-hybrid-traces', **args).get('return', {})


g = Guest('hybrid', smp=2, run='hotloop')
t.ok(g.wait_for('hotloop: func=', timeout=240), 'hybrid guest boots and runs '
     'hotloop', g.output())
time.sleep(2)
g.qmp.cmd('stop')
# the optimizer goes on while the vCPUs are stopped: wait for it to finish
deadline = time.time() + 60
prev = None
while time.time() < deadline:
    ret = query(g)
    c = ret.get('counters', {})
    key = (c.get('compiled'), c.get('installed'), c.get('queued'))
    if c.get('queued') == 0 and key == prev:
        break
    prev = key
    time.sleep(1)
traces = ret.get('traces', [])
live = [tr for tr in traces if tr['state'] != 'invalidated']
t.ok(c.get('tbs-translated', 0) > 1000 and c.get('formed', 0) > 0 and
     0 < c.get('installed', 0) <= c.get('compiled', 0) <= c.get('formed', 0),
     'counters: TBs translated, traces formed >= compiled >= installed > 0',
     c)
t.ok(c.get('aborted') == sum(a['count'] for a in c.get('aborts', [])),
     'aborted is the sum of the per-reason counts', c)
t.ok(c.get('entry-patched', 0) > 0 and
     c.get('entry-restored', 0) <= c.get('entry-patched', 0) and
     c.get('compile-ms', 0) > 0 and
     c.get('compile-ms-vcpu', 0) <= c.get('compile-ms', 0) and
     c.get('user-entries', 0) > 0,
     'counters: heads patched, compile time spent, user traces entered', c)
t.ok(traces and all(tr['state'] in STATES and tr['mode'] in ('user', 'kernel')
                    and tr['tbs'] >= 1 and tr['insns'] >= tr['tbs'] and
                    tr['pages'] >= 1 and tr['paths'] >= 1 for tr in traces),
     'every trace has sensible fields', traces[:5])
installed = [tr for tr in traces if tr['state'] == 'installed']
t.ok(installed and all(tr['code-size'] > 0 and tr['compile-us'] > 0
                       for tr in installed) and
     len(installed) <= c.get('installed', 0),
     'installed traces show code size and compile time', installed[:5])
t.ok(all(live[i]['entries'] >= live[i + 1]['entries']
         for i in range(len(live) - 1)),
     'live traces come hottest first', [tr['entries'] for tr in live[:20]])
t.ok(ret.get('llvm-version', '').startswith('19.'),
     'the tier is linked with LLVM 19', ret.get('llvm-version'))
t.ok(query(g, count=0).get('traces') == [], 'count=0 returns no traces')
top3 = query(g, count=3).get('traces', [])
t.ok(top3 == traces[:3], 'count=3 returns the 3 first traces', top3)

# HMP prints exactly QMP's answer (the guest is stopped)
text = g.hmp.hmp('info hybrid-traces 3')
summary = dict(kv.split('=', 1) for kv in text.splitlines()[0].split())
want = {k: str(c[k]) for k in ('formed', 'compiled', 'installed',
                              'invalidated', 'aborted', 'tbs-translated',
                              'entry-patched', 'user-entries', 'regions')}
want.update({'abort.' + a['reason']: str(a['count']) for a in c['aborts']})
t.ok(all(summary.get(k) == v for k, v in want.items()),
     'HMP summary line: the same counters as QMP',
     '%s\nvs QMP %s' % (text, want))
rows = [l.split() for l in text.splitlines()
        if re.match(r'\s*\d+\s+(user|kernel)\s', l)]
t.ok(len(rows) == 3 and
     [(int(r[0]), r[1], int(r[2], 16), int(r[7]), r[9]) for r in rows] ==
     [(tr['id'], tr['mode'], tr['pc'], tr['entries'], tr['state'])
      for tr in traces[:3]],
     'HMP rows: the first 3 traces, as QMP lists them', text)
t.ok(re.search(r'^\s*id\s+mode\s+pc\s+tbs\s+insns\s+pages\s+paths\s+entries'
               r'\s+samples\s+state\s+end\s+compile-us\s+bytes', text, re.M),
     'HMP prints the trace table header', text)
help_text = g.hmp.hmp('help info')
t.ok('info hybrid-traces' in help_text, 'HMP help lists the command',
     help_text)
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
