"""A real Debian userland (scripts/build-debian.sh: bookworm, systemd, -m 2G,
the bundled kernel) under -accel tcg and -accel hybrid, compared.

Its programs are dynamically linked and randomised (ASLR): every process
maps ld.so, libc and its other libraries at addresses of its own over the
same physical pages, so the same guest code runs at many virtual
addresses, in many processes, on several vCPUs at once.

a. systemd boots to the autologin root shell on ttyS0 (-smp 1 and 2); the
   shell runs commands; the system state and failed units equal tcg's;
   `poweroff` ends QEMU.
b. /opt/hybrid/runseq (guest/debian/: lua5.4, coreutils, xz, bzip2, gzip,
   7zz, python3, awk, busybox, many short-lived processes) at -smp 1 and 2,
   and runpar (the same two at a time) at -smp 2: RESULT lines equal tcg's.
c. runseq at -smp 2 with low thresholds (hot=5,jit-hot=5): far more code is
   compiled; RESULT lines equal tcg's.
Every run: no kernel report of a killed process (segfault, general
protection, trap) and no panic in the serial log; under hybrid, compiled
user traces were entered (QMP user-entries > 0). TCG runs each workload
once; its results are the reference for every hybrid variant.

Serial logs stay in /tmp/hybrid-test-*/serial.log (named in the output)."""
import os
import re
import time
from hybridtest import (Tap, GUEST, DebianGuest, DEBIAN_INITRD as INITRD,
                        debian_results as results, debian_times as times)

PROMPT = 'root@hybrid:~#'
BAD = re.compile(r'segfault|Segmentation fault|general protection|traps:|'
                 r'invalid opcode|Attempted to kill init|Kernel panic|'
                 r'BUG:|Oops|Illegal instruction|Bus error|core dumped')
LOW = 'hybrid,hot=5,jit-hot=5'

t = Tap()


def note(text):
    for line in text.splitlines():
        print('# ' + line)


def bad_lines(out):
    return [l for l in out.splitlines() if BAD.search(l)]


def tail(out, n=25):
    return '\n'.join(out.splitlines()[-n:])


def name_of(accel, smp, what):
    return '%s -smp %d %s' % (accel, smp, what)


# --- a. boot to the autologin shell ---------------------------------------

# typed into the shell; the patterns are bracketed so that the echo of
# the command line does not match what it looks for
SHELL_CMDS = (
    'echo hybrid-shell-$((6*7)) $(systemctl is-system-running --wait); '
    'systemctl --failed --no-legend --plain | sort | sed "s/^/failed-unit: /"; '
    'echo bad-dmesg: $(dmesg | grep -cE "seg[f]ault|general [p]rotection|trap[s]:"); '
    'systemd-analyze time | sed -n "1s/^/analyze: /p"; '
    'echo hybrid-shell-done-$((1+1))\n')


def boot(accel, smp):
    g = DebianGuest(accel, smp)
    up = g.wait_poll(PROMPT, timeout=300)
    t_up = time.time() - g.start
    done = False
    if up:
        g.type(SHELL_CMDS)
        done = g.wait_poll('hybrid-shell-done-2', timeout=300)
    g.poll_counters()
    g.type('poweroff\n')
    rc = g.wait_exit(timeout=120)
    out = g.output()
    g.kill()
    state = re.findall(r'^hybrid-shell-42 (\S*)', out, re.M)
    failed = sorted(re.findall(r'^failed-unit: (.*)$', out, re.M))
    analyze = re.findall(r'^analyze: (.*)$', out, re.M)
    return dict(up=up, t_up=t_up, done=done, rc=rc, out=out,
                state=state[-1] if state else None, failed=failed,
                analyze=analyze[-1] if analyze else '',
                bad=bad_lines(out),
                dmesg=re.findall(r'^bad-dmesg: (\d+)', out, re.M),
                user_entries=g.user_entries, log=g.log_path)


def check_boot(accel, smp, b, ref=None):
    name = name_of(accel, smp, 'boot')
    note('%s: login shell after %.1f s wall; %s; serial log %s'
         % (name, b['t_up'], b['analyze'] or 'no systemd-analyze', b['log']))
    t.ok(b['up'] and b['done'],
         '%s: systemd boots to the autologin shell, which runs commands'
         % name, tail(b['out'], 40))
    t.ok(b['rc'] == 0, '%s: poweroff from the shell ends QEMU (status 0)'
         % name, 'rc=%s\n%s' % (b['rc'], tail(b['out'])))
    t.ok(not b['bad'] and b['dmesg'] in ([], ['0']),
         '%s: no killed process or panic in the serial log' % name,
         tail(b['out'], 15) + '\n--- matching lines:\n' + '\n'.join(b['bad'][:20]))
    if ref is None:
        t.ok(b['state'] in ('running', 'degraded'),
             '%s: system state %s, failed units %s'
             % (name, b['state'], b['failed'] or 'none'), tail(b['out']))
    else:
        t.ok(b['state'] == ref['state'] and b['failed'] == ref['failed'],
             '%s: system state and failed units equal tcg\'s (%s, %s)'
             % (name, b['state'], b['failed'] or 'none'),
             'tcg: %s %s\nhybrid: %s %s\n%s' % (ref['state'], ref['failed'],
                                               b['state'], b['failed'],
                                               tail(b['out'])))
        t.ok((b['user_entries'] or 0) > 0,
             '%s: compiled user traces were entered (user-entries %s)'
             % (name, b['user_entries']), tail(b['out']))


# --- b, c. the workloads ----------------------------------------------------

def run(accel, smp, prog, timeout):
    g = DebianGuest(accel, smp, run=prog)
    marker = 'hybrid-guest: %s exited' % prog
    done = g.wait_poll(marker, timeout=timeout)
    rc = g.wait_exit(timeout=120)
    wall = time.time() - g.start
    out = g.output()
    g.kill()
    m = re.search(r'^hybrid-guest: %s exited (\d+)' % prog, out, re.M)
    return dict(done=done, rc=rc, prog_rc=m and int(m.group(1)), out=out,
                wall=wall, results=results(out), times=times(out),
                bad=bad_lines(out), user_entries=g.user_entries,
                log=g.log_path)


def check_run(accel, smp, prog, r, ref=None):
    name = name_of(accel, smp, prog)
    total = sum(r['times'].values())
    note('%s: %.1f s wall, workloads %.1f s guest time; serial log %s'
         % (name, r['wall'], total, r['log']))
    t.ok(r['done'] and r['prog_rc'] == 0 and r['rc'] == 0,
         '%s: runs to the end and powers off' % name,
         'exit line rc=%s, QEMU rc=%s\n%s' % (r['prog_rc'], r['rc'],
                                            tail(r['out'], 40)))
    t.ok(not r['bad'], '%s: no killed process or panic in the serial log'
         % name, tail(r['out'], 15) + '\n--- matching lines:\n' +
         '\n'.join(r['bad'][:20]))
    if ref is None:
        failed = [k for k, v in r['results'].items() if v.startswith('FAILED')]
        t.ok(len(r['results']) >= 10 and not failed,
             '%s: %d results, none failed' % (name, len(r['results'])),
             '\n'.join('%s %s' % (k, r['results'][k]) for k in failed) or
             tail(r['out']))
        return
    want, got = ref['results'], r['results']
    diffs = ['%s:\n    tcg    %s\n    hybrid %s' % (k, want.get(k), got.get(k))
             for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    t.ok(want and not diffs,
         '%s: RESULT lines equal tcg\'s (%d of %d differ)'
         % (name, len(diffs), len(want)),
         tail(r['out'], 10) + '\n--- differing results:\n' + '\n'.join(diffs))
    t.ok((r['user_entries'] or 0) > 0,
         '%s: compiled user traces were entered (user-entries %s)'
         % (name, r['user_entries']), tail(r['out']))


if not os.path.exists(os.path.join(GUEST, INITRD)):
    t.ok(False, 'the Debian image is built',
         '%s missing: make guest (scripts/build-debian.sh) builds it'
         % os.path.join(GUEST, INITRD))
    t.done()

t_start = time.time()
for smp in (1, 2):
    ref = boot('tcg', smp)
    check_boot('tcg', smp, ref)
    check_boot('hybrid', smp, boot('hybrid', smp), ref)

seq = run('tcg', 2, 'runseq', timeout=900)
check_run('tcg', 2, 'runseq', seq)
limit = max(600, 6 * seq['wall'])
for accel, smp in (('hybrid', 1), ('hybrid', 2), (LOW, 2)):
    check_run(accel, smp, 'runseq', run(accel, smp, 'runseq', limit), seq)

par = run('tcg', 2, 'runpar', timeout=900)
check_run('tcg', 2, 'runpar', par)
check_run('hybrid', 2, 'runpar',
          run('hybrid', 2, 'runpar', max(600, 6 * par['wall'])), par)
note('test_debian: %.0f s' % (time.time() - t_start))
t.done()
