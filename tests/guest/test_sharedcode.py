"""Code shared at different virtual addresses (guest/programs/sharedcode.c):
one loop in a memfd, mapped at three addresses, run by one process at
two of them and by two processes at the same time, taking page faults in
the middle of its compiled trace. One compiled trace serves every alias
(x86 system TBs are PC-relative): while a child runs the loop alone at
an address the trace was not recorded at, the trace's entries grow (QMP),
and every checksum, and the child's exit, equal tcg's."""
import re
import time
from hybridtest import Tap, Guest

t = Tap()
PAGES = (0x500000000000, 0x5a0000003000, 0x6b7000011000)


def results(text):
    return re.findall(r'^sharedcode: (.*(?:sum=[0-9a-f]+|child exited 0).*)$',
                      text, re.M)


def alias_entries(r):
    """Entries into user traces whose head is in the loop's code page."""
    return sum(tr['entries'] for tr in r.get('traces', [])
               if tr['mode'] == 'user' and tr['pc'] & ~0xfff in PAGES)


def query(g):
    """query-hybrid-traces, or {} if QEMU is gone."""
    try:
        return g.qmp.cmd('query-hybrid-traces').get('return', {})
    except (OSError, EOFError):
        return {}


want = {}
for smp in (1, 2):
    g = Guest('tcg', smp=smp, run='sharedcode')
    g.wait_exit(timeout=300)
    want[smp] = results(g.output())
    g.kill()
    t.ok(len(want[smp]) == 4, 'tcg -smp %d: sharedcode runs' % smp, want[smp])

for accel, smp in (('hybrid', 1), ('hybrid', 2), ('hybrid,threads=0', 2),
                   ('hybrid,hot=5,jit-hot=5', 2)):
    name = '%s -smp %d' % (accel, smp)
    g = Guest(accel, smp=smp, run='sharedcode')
    at_c = g.wait_for('sharedcode: child at C', timeout=300)
    r0 = query(g) if at_c else {}
    done = g.wait_for('sharedcode: child done', timeout=120)
    r1 = query(g) if done else {}
    g.wait_exit(timeout=300)
    out = g.output()
    g.kill()
    e0, e1 = alias_entries(r0), alias_entries(r1)
    t.ok(at_c and done and e1 > e0,
         '%s: a process at another address enters the compiled trace '
         '(%d -> %d entries)' % (name, e0, e1), out[-3000:])
    t.ok(results(out) == want[smp], '%s: checksums and exit equal tcg\'s'
         % name, '%s\nvs tcg %s\n%s' % (results(out), want[smp], out[-3000:]))
    t.ok('segfault' not in out and 'Segmentation' not in out,
         '%s: no segfault' % name, out[-3000:])
t.done()
