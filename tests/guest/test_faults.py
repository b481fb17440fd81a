"""Exceptions and interrupts inside compiled traces (guest/programs/faults.c).

- A division by zero, a load from an unmapped page, ud2, and a store to an
  unmapped page in the last iteration of rep movsq (after a branch of the
  same insn that writes the pc: the fault must report the rep's own
  state), each raised at the last iteration of a hot loop that runs as a
  compiled trace: the
  signal, its code and address and every register the guest's handler
  sees equal -accel tcg's (threads=0 and threads=2).
- A loop that spins until SIGALRM ends: timer interrupts are taken inside
  compiled code.
- A guest spinning in a compiled trace stops promptly on QMP 'stop',
  resumes on 'cont', reboots on 'system_reset' (and spins again) and
  exits promptly on 'quit'.
"""
import re
import time
from hybridtest import Tap, Guest, wait_trace

t = Tap()
JIT = 'jit=1,hot=8,jit-hot=8'


def run(accel):
    g = Guest(accel, run='faults', extra=('-no-shutdown',))
    done, seen, r = g.watch('hybrid-guest: faults exited')
    out = g.output()
    g.kill()
    return done, re.findall(r'^faults: .*$', out, re.M), r, seen, out


done, want, _, _, out = run('tcg')
t.ok(done and len(want) == 5 and 'spin saw the alarm' in want[-1],
     'faults runs under tcg', out[-2000:])
for opts in ('threads=0', 'threads=2'):
    done, got, r, seen, out = run('hybrid,%s,%s' % (JIT, opts))
    t.ok(done and got == want, '%s: signals and registers equal tcg\'s' % opts,
         '\n'.join(got) + '\nvs\n' + '\n'.join(want) + '\n' + out[-1500:])
    t.ok(len(seen) >= 4, '%s: the loops ran as compiled traces (%d seen)'
         % (opts, len(seen)), r.get('counters'))

for accel in ('tcg', 'hybrid,' + JIT + ',threads=2'):
    g = Guest(accel, run='spin-forever', reboot=True)
    up = g.wait_for('faults: spinning', timeout=120)
    if accel != 'tcg':
        tr, _ = wait_trace(g.qmp, lambda tr: tr['mode'] == 'user' and
                           tr['state'] == 'installed' and
                           tr['entries'] > 0, timeout=60)
        t.ok(up and tr, '%s: the spin loop runs as a compiled trace' % accel)
    t0 = time.time()
    r1 = g.qmp.cmd('stop')
    status = g.qmp.cmd('query-status').get('return', {}).get('status')
    stop_s = time.time() - t0
    t.ok(up and 'return' in r1 and status == 'paused' and stop_s < 2,
         '%s: stop while spinning takes effect at once (%.2f s)'
         % (accel, stop_s), status)
    g.qmp.cmd('cont')
    time.sleep(0.5)
    status = g.qmp.cmd('query-status').get('return', {}).get('status')
    # system_reset while spinning: the guest boots again and spins again
    t0 = time.time()
    r2 = g.qmp.cmd('system_reset')
    again = False
    while time.time() - t0 < 60 and not again:
        again = g.output().count('faults: spinning') >= 2
        time.sleep(0.1)
    t.ok('return' in r2 and again,
         '%s: system_reset while spinning reboots the guest (spinning '
         'again after %.1f s)' % (accel, time.time() - t0), g.output()[-1500:])
    t0 = time.time()
    g.qmp.cmd('quit')
    rc = g.wait_exit(timeout=10)
    quit_s = time.time() - t0
    t.ok(status == "running" and rc is not None and quit_s < 2,
         '%s: cont resumes, quit exits at once (%.2f s)' % (accel, quit_s))
    g.kill()
t.done()
