"""Soak: one QEMU process boots the guest, runs the hot loop under compiled
traces and reboots, several times over (-smp 2, threads=2). Every boot
gives tcg's result, compiled traces are entered, and the process's
resident memory stays bounded across reboots (code, traces and their
entries are freed, not accumulated)."""
import re
import time
from hybridtest import Tap, Guest

t = Tap()
BOOTS = 5


def result(text):
    return re.findall(r'hotloop: result=([0-9a-f]+)', text)


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


g = Guest('tcg', run='hotloop')
g.wait_exit(timeout=240)
want = result(g.output())
g.kill()
t.ok(len(want) == 1, 'hotloop runs under tcg')

g = Guest('hybrid,jit=1,threads=2', smp=2, run='hotloop',
          cmdline='hybrid.after=reboot', reboot=True)
rss = []
entered = []
deadline = time.time() + 600
while time.time() < deadline and len(rss) < BOOTS:
    n = g.output().count('hybrid-guest: hotloop exited')
    if n > len(rss):
        r = g.qmp.cmd('query-hybrid-traces').get('return', {})
        entered.append(any(tr['mode'] == 'user' and tr['entries'] > 0
                           for tr in r.get('traces', [])))
        rss.append(rss_kib(g.proc.pid))
    if g.proc.poll() is not None:
        break
    time.sleep(0.2)
out = g.output()
g.kill()
got = result(out)
t.ok(len(got) >= BOOTS, '%d boots in one process' % len(got), out[-2000:])
t.ok(got and all(x == want[0] for x in got) if want else False,
     'every boot gives tcg\'s result', got)
t.ok(len(entered) >= BOOTS and all(entered[1:]),
     'compiled user traces are entered after every reboot', entered)
growth = (rss[-1] - rss[1]) / 1024 if len(rss) >= 3 else 1e9
t.ok(growth < 64, 'resident memory bounded across reboots: %s MiB, '
     'growth %.1f MiB from boot 2 to %d' %
     ([r // 1024 for r in rss], growth, len(rss)), rss)
t.done()
