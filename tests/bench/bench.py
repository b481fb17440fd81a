#!/usr/bin/env python3
"""make bench: the same guest workloads under -accel tcg and -accel hybrid
(and, where they are programs of the Debian userland, natively on the
host), interleaved, N runs each; min/median/max, ratios, geometric mean.

  bench.py [--runs N] [--quick] [--hybrid-opts threads=2,hot=50]
           [--only boot,hotloop,...] [--no-native] [--out build/bench]

  make bench            3 runs of everything (about 6 minutes here)
  make bench QUICK=1    1 run (about 2 minutes)

Workloads (1 vCPU; times in seconds, lower is better):
  bundled guest (busybox initramfs, 512 MiB):
    boot        wall time from start to the guest's userspace marker
    shloop      busybox sh loop, 100k iterations (guest clock)
    hotloop     a CPU-bound C loop (static), wall time between its lines
  Debian userland (systemd, dynamically linked programs, ASLR, 2 GiB):
    debian-boot wall time from start to /opt/hybrid/runseq's first line
    lua, coreutils, xz, bzip2-gzip, 7zz, python3, awk, busybox,
    fork-exec  guest/debian/runseq's workloads (guest clock, TIME lines;
               fork-exec is its `many`: 40 rounds of short-lived
               processes); natively: the same script in a chroot of the
               same userland (build/guest/debian/work/rootfs)

Per tier and run it also records: traces compiled, compile time (ms, on
optimizer threads and vCPUs), host code of installed traces (bytes),
peak resident memory (VmHWM) and host CPU seconds of the QEMU process.

Results: a table on the terminal, build/bench/results.json (every run),
build/bench/results.svg (speed-up over tcg per workload). Nothing else
may run meanwhile: these machines are noisy (30% between runs of the
same thing), so one run proves nothing.
"""
import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'guest'))
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
os.environ.setdefault('HYBRID_QEMU',
                      os.path.join(TOP, 'build', 'qemu-system-x86_64'))
os.environ.setdefault('HYBRID_GUEST_DIR', os.path.join(TOP, 'build', 'guest'))
import hybridtest  # noqa: E402
from hybridtest import Guest, DebianGuest, debian_times  # noqa: E402

BUNDLED = ('boot', 'shloop', 'hotloop')
# runseq's TIME names -> workload
DEBIAN_GROUPS = [
    ('lua', r'lua\.\d+$'),
    ('coreutils', r'(sha256sum|sort|sort-keys|uniq|base64|tr-md5sum|'
                  r'wc-cksum)\.seq$'),
    ('xz', r'xz\.seq$'),
    ('bzip2-gzip', r'bzip2-gzip\.seq$'),
    ('7zz', r'7zz\.seq$'),
    ('python3', r'python3\.seq$'),
    ('awk', r'awk\.seq$'),
    ('busybox', r'busybox-\w+\.seq$'),
    ('fork-exec', r'many\.seq$'),
]
DEBIAN = ('debian-boot',) + tuple(g for g, _ in DEBIAN_GROUPS)
# the CPU-bound ones: what the geometric mean is taken over
CPU_BOUND = ('shloop', 'hotloop', 'lua', 'coreutils', 'xz', 'bzip2-gzip',
             '7zz', 'python3', 'awk', 'busybox')
ROOTFS = os.path.join(TOP, 'build', 'guest', 'debian', 'work', 'rootfs')


class Sampler:
    """Peak RSS and CPU time of a running QEMU, read while it runs."""

    def __init__(self, pid):
        self.pid = pid
        self.hwm_kib = 0
        self.cpu_s = 0.0

    def sample(self):
        try:
            with open('/proc/%d/status' % self.pid) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        self.hwm_kib = max(self.hwm_kib, int(line.split()[1]))
            with open('/proc/%d/stat' % self.pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            tick = os.sysconf('SC_CLK_TCK')
            self.cpu_s = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass


def tier_counters(g):
    """What the second tier did, from QMP (hybrid only)."""
    try:
        r = g.qmp.cmd('query-hybrid-traces', count=100000).get('return', {})
    except (OSError, EOFError, ValueError):
        return {}
    c = r.get('counters', {})
    return {
        'compiled': c.get('compiled', 0),
        'installed': c.get('installed', 0),
        'compile_ms': c.get('compile-ms', 0),    # includes compile-ms-vcpu
        'code_bytes': sum(t.get('code-size', 0) for t in r.get('traces', [])
                          if t.get('state') == 'installed'),
        'user_entries': c.get('user-entries', 0),
    }


def follow(g, until, timeout, hybrid, lines):
    """Read @g's output as it comes, with host times, until a line
    matches @until or QEMU ends; sample its memory and CPU meanwhile and
    the tier's counters last. Returns (sampler, counters)."""
    s = Sampler(g.proc.pid)
    seen = 0
    counters = {}
    deadline = time.monotonic() + timeout
    next_poll = time.monotonic() + 2
    done = False
    while time.monotonic() < deadline and not done:
        s.sample()
        text = g.output()
        new = text.splitlines()[seen:]
        if text and not text.endswith('\n') and new:
            new = new[:-1]          # a line still being written
        for line in new:
            lines.append((time.monotonic() - g.t0, line))
            if re.search(until, line):
                done = True
        seen += len(new)
        if g.proc.poll() is not None:
            break
        # the tier's counters now and then, and last: the guest powers
        # off right after its last line, and with it QMP
        if hybrid and (done or time.monotonic() >= next_poll):
            counters = tier_counters(g) or counters
            next_poll = time.monotonic() + 2
        time.sleep(0.1)
    return s, counters


def start(cls, accel, **kw):
    g = cls(accel, **kw)
    g.t0 = time.monotonic()
    return g


def run_bundled(accel, program, until):
    lines = []
    with start(Guest, accel, run=program) as g:
        s, counters = follow(g, until, 900, g.hybrid, lines)
        g.wait_exit(60)
        out = g.output()
    if not any(re.search(until, l) for _, l in lines):
        sys.exit('bench: %s %s did not finish:\n%s'
                 % (accel, program, out[-3000:]))
    return lines, s, counters


def measure_bundled(accel, only):
    """Times of the bundled guest's workloads under @accel."""
    res, meta = {}, {}
    if {'boot', 'shloop'} & only:
        lines, s, c = run_bundled(accel, 'bench-shloop', r'bench: shloop')
        res['boot'] = next(t for t, l in lines if hybridtest.READY in l)
        m = next(re.search(r'seconds=([\d.]+)', l) for _, l in lines
                 if 'bench: shloop' in l)
        res['shloop'] = float(m.group(1))
        meta['shloop'] = dict(c, hwm_kib=s.hwm_kib, cpu_s=s.cpu_s)
    if 'hotloop' in only:
        lines, s, c = run_bundled(accel, 'hotloop', r'hotloop: result=')
        t_start = next(t for t, l in lines if 'hotloop: func=' in l)
        t_end = next(t for t, l in lines if 'hotloop: result=' in l)
        res['hotloop'] = t_end - t_start
        meta['hotloop'] = dict(c, hwm_kib=s.hwm_kib, cpu_s=s.cpu_s)
    return res, meta


def group_times(times):
    res = {}
    for name, pat in DEBIAN_GROUPS:
        vals = [v for k, v in times.items() if re.match(pat, k)]
        if vals:
            res[name] = sum(vals)
    return res


def measure_debian(accel, only):
    if not (set(DEBIAN) & only):
        return {}, {}
    lines = []
    with start(DebianGuest, accel, run='runseq') as g:
        s, c = follow(g, r'^runseq: done', 1800, g.hybrid, lines)
        g.wait_exit(120)
        out = g.output()
    if 'runseq: done' not in out:
        sys.exit('bench: %s runseq did not finish:\n%s' % (accel, out[-3000:]))
    res = group_times(debian_times(out))
    res['debian-boot'] = next(t for t, l in lines if 'runseq: start' in l)
    return res, {'debian': dict(c, hwm_kib=s.hwm_kib, cpu_s=s.cpu_s)}


def measure_native(only):
    """runseq natively, in a chroot of the Debian userland (root only)."""
    if not (set(DEBIAN) & only) or os.geteuid() != 0 or \
            not os.path.isdir(ROOTFS) or not shutil.which('unshare'):
        return None
    scripts = os.path.join(TOP, 'guest', 'debian')
    sh = ('set -e; R=%s; mount -t proc proc $R/proc; '
          'mount -t tmpfs tmpfs $R/tmp; mount -t tmpfs tmpfs $R/opt; '
          'mkdir $R/opt/hybrid; mount --bind %s $R/opt/hybrid; '
          'mount --bind /dev $R/dev; '
          'exec chroot $R /bin/bash /opt/hybrid/runseq' % (ROOTFS, scripts))
    p = subprocess.run(['unshare', '--mount', '--propagation', 'private',
                        'sh', '-c', sh], capture_output=True, text=True,
                       timeout=1800)
    if 'runseq: done' not in p.stdout:
        print('bench: native runseq failed (left out):\n%s%s'
              % (p.stdout[-1500:], p.stderr[-1500:]), file=sys.stderr)
        return None
    return group_times(debian_times(p.stdout))


def stats(vals):
    return {'min': min(vals), 'median': statistics.median(vals),
            'max': max(vals), 'runs': vals}


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else 0


def svg_chart(rows, path, title):
    """Horizontal bars: speed-up over tcg (tcg time / time), per workload;
    hybrid, and native where measured; a line at 1 (tcg)."""
    bar_h, gap, left, width = 12, 10, 110, 520
    top = 40
    top_val = max([2.0] + [r[k] for r in rows for k in ('hybrid', 'native')
                           if r.get(k)])
    scale = (width - 20) / min(top_val, 40)
    h = top + len(rows) * (2 * bar_h + gap) + 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">'
           % (left + width + 60, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-size="13">%s</text>' % title]
    y = top
    for r in rows:
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                   % (left - 6, y + bar_h + 4, r['workload']))
        for k, colour, dy in (('hybrid', '#3366cc', 0),
                              ('native', '#999999', bar_h)):
            v = r.get(k)
            if not v:
                continue
            w = min(v, 40) * scale
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" '
                       'fill="%s"/>' % (left, y + dy, w, bar_h - 1, colour))
            out.append('<text x="%.1f" y="%d">%.2fx</text>'
                       % (left + w + 3, y + dy + bar_h - 2, v))
        y += 2 * bar_h + gap
    x1 = left + scale
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#cc3333"/>'
               % (x1, top - 6, x1, y))
    out.append('<text x="%.1f" y="%d" fill="#cc3333">tcg = 1</text>'
               % (x1 + 3, top - 8))
    out.append('<text x="10" y="%d">blue: -accel hybrid, grey: native '
               '(same programs on the host); speed-up over -accel tcg, '
               'median of runs</text>' % (y + 20))
    out.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--hybrid-opts', default='')
    ap.add_argument('--only', default='')
    ap.add_argument('--no-native', action='store_true')
    ap.add_argument('--out', default=os.path.join(TOP, 'build', 'bench'))
    a = ap.parse_args()
    runs = a.runs or (1 if a.quick else 3)
    only = set(a.only.split(',')) if a.only else set(BUNDLED + DEBIAN)
    hybrid = 'hybrid' + (',' + a.hybrid_opts if a.hybrid_opts else '')
    tiers = ('tcg', hybrid)
    times = {k: {} for k in tiers + ('native',)}
    meta = {k: [] for k in tiers}
    t_all = time.monotonic()
    for i in range(runs):
        # interleaved, alternating which goes first: same conditions
        for accel in (tiers if i % 2 == 0 else tiers[::-1]):
            r1, m1 = measure_bundled(accel, only)
            r2, m2 = measure_debian(accel, only)
            for w, v in {**r1, **r2}.items():
                times[accel].setdefault(w, []).append(v)
            meta[accel].append({**m1, **m2})
            print('bench: run %d/%d %s done (%.0f s so far)'
                  % (i + 1, runs, accel, time.monotonic() - t_all),
                  file=sys.stderr)
        if not a.no_native:
            n = measure_native(only)
            for w, v in (n or {}).items():
                times['native'].setdefault(w, []).append(v)

    workloads = [w for w in BUNDLED + DEBIAN if w in times['tcg']]
    rows = []
    print('%-12s %22s %22s %8s %8s' % ('workload', 'tcg min/med/max',
                                       'hybrid min/med/max', 'speedup',
                                       'native'))
    for w in workloads:
        st, sh = stats(times['tcg'][w]), stats(times[hybrid][w])
        row = {'workload': w, 'tcg': st, 'hybrid_times': sh,
               'hybrid': st['median'] / sh['median']}
        nat = times['native'].get(w)
        if nat:
            row['native_times'] = stats(nat)
            row['native'] = st['median'] / row['native_times']['median']
        rows.append(row)
        print('%-12s %6.2f/%6.2f/%7.2f %6.2f/%6.2f/%7.2f %7.2fx %7s'
              % (w, st['min'], st['median'], st['max'], sh['min'],
                 sh['median'], sh['max'], row['hybrid'],
                 '%.1fx' % row['native'] if nat else '-'))
    cpu = [r['hybrid'] for r in rows if r['workload'] in CPU_BOUND]
    gm = geomean(cpu)
    print('geometric mean speed-up of hybrid over tcg, CPU-bound '
          'workloads (%d): %.2fx' % (len(cpu), gm))
    print('speed-up = tcg median time / hybrid median time (above 1: '
          'hybrid is faster); %d runs each, interleaved' % runs)
    for accel in tiers:
        for part in ('shloop', 'hotloop', 'debian'):
            ms = [m[part] for m in meta[accel] if part in m]
            if not ms:
                continue
            med = {k: statistics.median(m.get(k, 0) for m in ms)
                   for k in ('hwm_kib', 'cpu_s', 'compiled', 'compile_ms',
                             'code_bytes')}
            print('%-7s %-8s peak RSS %5.0f MiB, CPU %6.1f s, traces '
                  'compiled %5d, compile %6.0f ms, code %7.0f KiB'
                  % (accel[:7], part, med['hwm_kib'] / 1024, med['cpu_s'],
                     med['compiled'], med['compile_ms'],
                     med['code_bytes'] / 1024))

    os.makedirs(a.out, exist_ok=True)
    machine = {'host': platform.node(), 'cpus': os.cpu_count(),
               'cpu': next((l.split(':', 1)[1].strip()
                            for l in open('/proc/cpuinfo')
                            if l.startswith('model name')), '?'),
               'kernel': platform.release()}
    result = {'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
              'machine': machine, 'runs': runs, 'hybrid': hybrid,
              'quick': a.quick, 'workloads': rows,
              'geomean_cpu_bound': gm, 'tiers': meta}
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        json.dump(result, f, indent=1)
    svg_chart(rows, os.path.join(a.out, 'results.svg'),
              'hybrid vs tcg, %s, %d run(s), %s'
              % (result['date'][:10], runs, machine['cpu'][:40]))
    print('bench: %s/results.json, results.svg (%.0f s)'
          % (a.out, time.monotonic() - t_all))


if __name__ == '__main__':
    main()
