#!/usr/bin/env python3
"""make bench: the same guest workloads under -accel tcg and -accel hybrid
in one run, interleaved, median of N runs each, printed as ratios.

  bench.py [--runs N] [--hybrid-opts threads=2,hot=50]

Workloads (bundled guest, q35 -nodefaults, 1 vCPU, 512 MiB):
  boot      wall time from start to the guest's userspace marker (PVH vmlinux)
  shloop    busybox sh loop, 100k iterations (guest clock, /proc/uptime)
  hotloop   a CPU-bound C loop, 600M iterations (wall time between its lines)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'guest'))
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
os.environ.setdefault('HYBRID_QEMU', os.path.join(TOP, 'build', 'qemu-system-x86_64'))
os.environ.setdefault('HYBRID_GUEST_DIR', os.path.join(TOP, 'build', 'guest'))
import hybridtest  # noqa: E402


def run_guest(accel, program):
    """Boot, run @program, return (boot wall s, lines with their wall times)."""
    args = [hybridtest.QEMU] + hybridtest.guest_args(accel, run=program)
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, bufsize=1)
    lines = []
    for line in p.stdout:
        lines.append((time.monotonic() - t0, line.rstrip()))
    p.wait()
    if p.returncode != 0:
        sys.exit('bench: %s %s failed:\n%s' % (accel, program,
                                                '\n'.join(l for _, l in lines)))
    boot = next(t for t, l in lines if hybridtest.READY in l)
    return boot, lines


def measure(accel, results):
    boot, lines = run_guest(accel, 'bench-shloop')
    results.setdefault('boot', []).append(boot)
    m = next(re.search(r'seconds=([\d.]+)', l) for _, l in lines
             if 'bench: shloop' in l)
    results.setdefault('shloop', []).append(float(m.group(1)))
    _, lines = run_guest(accel, 'hotloop')
    t_start = next(t for t, l in lines if 'hotloop: func=' in l)
    t_end = next(t for t, l in lines if 'hotloop: result=' in l)
    results.setdefault('hotloop', []).append(t_end - t_start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--hybrid-opts', default='')
    a = ap.parse_args()
    hybrid = 'hybrid' + (',' + a.hybrid_opts if a.hybrid_opts else '')
    res = {'tcg': {}, hybrid: {}}
    for i in range(a.runs):
        # interleaved, alternating which goes first: same conditions
        order = ('tcg', hybrid) if i % 2 == 0 else (hybrid, 'tcg')
        for accel in order:
            measure(accel, res[accel])
    print('%-9s %10s %10s %8s   (median of %d, seconds)' %
          ('workload', 'tcg', hybrid[:10], 'ratio', a.runs))
    for w in ('boot', 'shloop', 'hotloop'):
        mt = statistics.median(res['tcg'][w])
        mh = statistics.median(res[hybrid][w])
        print('%-9s %10.2f %10.2f %7.3fx' % (w, mt, mh, mh / mt))
    print('ratio = hybrid time / tcg time (below 1 is faster)')


if __name__ == '__main__':
    main()
