"""Soak: one QEMU process boots the guest, runs the hot loop under compiled
traces and reboots, several times over (-smp 2, threads=2). Every boot
gives tcg's result, compiled traces are entered, and the process's
resident memory grows across reboots no more than stock TCG's does in the
same run, within a margin (the guest touching more of its RAM and TCG's
code buffer filling up make both grow; compiled code, traces and their
thunks must not add to it)."""
import re
import time
from hybridtest import Tap, Guest, rss_kib

t = Tap()
BOOTS = 5


def result(text):
    return re.findall(r'hotloop: result=([0-9a-f]+)', text)


def soak(accel):
    g = Guest(accel, smp=2, run='hotloop', cmdline='hybrid.after=reboot',
              reboot=True)
    rss, entered = [], []
    user_entries = 0    # entries into user traces (gone ones too) so far
    deadline = time.time() + 600
    while time.time() < deadline and len(rss) < BOOTS:
        n = g.output().count('hybrid-guest: hotloop exited')
        if g.proc.poll() is not None:
            break               # QEMU is gone: the checks below show why
        if n > len(rss):
            if accel != 'tcg':
                try:
                    c = g.qmp.cmd('query-hybrid-traces', count=1)
                except (OSError, EOFError):
                    break
                now = c.get('return', {}).get('counters', {}).get(
                    'user-entries', 0)
                entered.append(now > user_entries)
                user_entries = now
            rss.append(rss_kib(g.proc.pid))
        time.sleep(0.2)
    out = g.output()
    g.kill()
    return result(out), rss, entered, out


want, rss_tcg, _, out = soak('tcg')
t.ok(len(want) >= BOOTS and len(set(want)) == 1,
     '%d boots in one process under tcg' % len(want), out[-2000:])
got, rss, entered, out = soak('hybrid,jit=1,threads=2')
t.ok(len(got) >= BOOTS, '%d boots in one process under hybrid' % len(got),
     out[-4000:])
t.ok(got and want and all(x == want[0] for x in got),
     'every boot gives tcg\'s result', got)
t.ok(len(entered) >= BOOTS and all(entered),
     'compiled user traces are entered in every boot (user-entries grows)',
     entered)
if len(rss) >= 3 and len(rss_tcg) >= 3:
    extra = ((rss[-1] - rss[1]) - (rss_tcg[-1] - rss_tcg[1])) / 1024
else:
    extra = 1e9
t.ok(extra < 64, 'resident memory across reboots: hybrid %s MiB, tcg %s '
     'MiB; %.1f MiB more growth than tcg from boot 2 to %d' %
     ([r // 1024 for r in rss], [r // 1024 for r in rss_tcg], extra,
      len(rss)))
t.done()
