"""Real traces on loongarch64 (issue: host layer). The bundled guest boots
under -accel hybrid with x-export=DIR: QEMU writes the portable LLVM
IR of the first traces that only touch guest memory (the project's own
lowering, hybrid_lower_portable()) and the vCPU state at each trace's
head. The same IR is compiled with clang-19 for loongarch64 (run under
qemu-loongarch64, freestanding) and for x86_64 (native), linked with
tests/host/port-harness.c, and run on the recorded states: every trace
must end in the same guest state, memory writes and exit on both hosts."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
from hybridtest import Tap, Guest

t = Tap()
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
HOST = os.path.join(TOP, 'tests', 'host')
CLANG = os.environ.get('CLANG', 'clang-19')
LLD = os.environ.get('LLD', 'ld.lld-19')
QEMU_LA64 = os.environ.get('QEMU_LOONGARCH64', 'qemu-loongarch64')

work = tempfile.mkdtemp(prefix='hybrid-port-')
g = Guest('hybrid,jit=1,threads=1,hot=8,jit-hot=8,x-export=' + work,
          run='sysinfo')
g.wait_exit(timeout=300)
out = g.output()
g.kill()
ids = sorted(int(re.search(r'trace-(\d+)\.ll$', p).group(1))
             for p in glob.glob(os.path.join(work, 'trace-*.ll')))
t.ok(len(ids) >= 4, 'QEMU exported %d real traces with their state'
     % len(ids), out[-1500:])

# the table of traces: recorded states as C arrays
with open(os.path.join(work, 'port-traces.c'), 'w') as f:
    f.write('#include "port-harness.h"\n')
    for i in ids:
        data = open(os.path.join(work, 'trace-%d.env' % i), 'rb').read()
        f.write('uint64_t trace_%d(void *env, uint64_t from_tb);\n' % i)
        f.write('static const uint8_t env_%d[] = {\n' % i)
        for k in range(0, len(data), 24):
            f.write(','.join(str(b) for b in data[k:k + 24]) + ',\n')
        f.write('};\n')
    f.write('const PortTrace port_traces[] = {\n')
    for i in ids:
        f.write('    { %d, trace_%d, env_%d, sizeof(env_%d) },\n' % (i, i, i, i))
    f.write('};\nconst size_t port_ntraces = %d;\n' % len(ids))
lls = [os.path.join(work, 'trace-%d.ll' % i) for i in ids]
common = ['-O2', '-w', '-I', HOST, os.path.join(HOST, 'port-harness.c'),
          os.path.join(work, 'port-traces.c')] + lls


def build(args, what):
    p = subprocess.run(args, capture_output=True, text=True)
    t.ok(p.returncode == 0, 'the traces build for %s' % what, p.stderr[-3000:])
    return p.returncode == 0


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout


x86 = os.path.join(work, 'port-x86_64')
la64 = os.path.join(work, 'port-la64')
res = subprocess.run([CLANG, '-print-resource-dir'], capture_output=True,
                     text=True).stdout.strip()
ok_x86 = build([CLANG] + common + ['-o', x86], 'x86_64')
ok_la = build([CLANG, '--target=loongarch64-linux-gnu', '-march=la464',
               '-ffreestanding', '-nostdlib', '-nostdinc', '-isystem',
               os.path.join(res, 'include'), '-static', '-fuse-ld=lld',
               '--ld-path=' + shutil.which(LLD),
               os.path.join(HOST, 'la64', 'la64-rt.c')] + common +
              ['-o', la64], 'loongarch64')
rc1, out1 = run([x86]) if ok_x86 else (1, '')
rc2, out2 = run([QEMU_LA64, la64]) if ok_la else (1, '')
lines1 = re.findall(r'^port: trace .*$', out1, re.M)
lines2 = re.findall(r'^port: trace .*$', out2, re.M)
t.ok(rc1 == 0 and len(lines1) == len(ids), 'they run on x86_64', out1)
t.ok(rc2 == 0 and len(lines2) == len(ids),
     'they run on loongarch64 (qemu-loongarch64)', out2)
t.ok(lines1 == lines2 and lines1,
     'every trace ends in the same guest state on both hosts',
     '\n'.join('%s\n%s' % (a, b) for a, b in zip(lines1, lines2)))
t.ok(any(' loads=0 ' not in l for l in lines1) and
     any(' stores=0 ' not in l for l in lines1),
     'the traces read and write guest memory', '\n'.join(lines1))
for l in lines1:
    print('# ' + l)
shutil.rmtree(work, ignore_errors=True)
t.done()
