"""Command-line behaviour of -accel hybrid: listing, properties, bad input."""
import re
from hybridtest import Tap, run_qemu

t = Tap()

rc, out = run_qemu(['-accel', 'help'])
t.ok(rc == 0 and re.search(r'^hybrid$', out, re.M), '-accel help lists hybrid', out)

rc, out = run_qemu(['-accel', 'hybrid,help'])
for prop, rng in (('threads', '0..64'), ('hot', '1..1000000'),
                  ('trace-max-tbs', '1..256')):
    t.ok(rc == 0 and re.search(r'^\s*%s=<int>.*\(%s, default' % (prop, re.escape(rng)),
                               out, re.M),
         '-accel hybrid,help shows %s with its range' % prop, out)
# the experiment and test knobs are properties too (once environment
# variables nobody could discover)
for prop, rng in (('x-state-mapping', '0..1'), ('x-opt-level', '0..3'),
                  ('x-codegen-level', '0..3'), ('x-native-cpu', '0..1'),
                  ('x-opt-nice', '0..19'), ('x-compile-mode', '0..2')):
    t.ok(rc == 0 and re.search(r'^\s*%s=<int>.*\(%s, default' %
                               (prop, re.escape(rng)), out, re.M),
         '-accel hybrid,help shows %s with its range' % prop, out)
t.ok(re.search(r'^\s*x-export=<str>', out, re.M),
     '-accel hybrid,help shows x-export', out)
t.ok('thread=' in out and 'tb-size=' in out,
     '-accel hybrid,help keeps TCG\'s properties', out)

# A minimal machine starts and quits under hybrid with good values.
rc, out = run_qemu(['-accel', 'hybrid,threads=0,hot=100,trace-max-tbs=8',
                    '-M', 'none', '-nodefaults', '-display', 'none',
                    '-monitor', 'stdio'], input='quit\n')
t.ok(rc == 0, 'good property values are accepted', out)

def bad(arg, *needles):
    rc, out = run_qemu(['-accel', arg, '-M', 'none', '-nodefaults',
                        '-display', 'none', '-monitor', 'stdio'],
                       input='quit\n', timeout=30)
    lines = [l for l in out.splitlines() if l.strip()]
    good = (rc == 1 and len(lines) == 1 and
            all(n in lines[0] for n in needles))
    t.ok(good, '%s: exit 1 with one clear line' % arg,
         'rc=%s\n%s' % (rc, out))

bad('hybrid,threads=banana', "'threads'", "'banana'", '0..64')
bad('hybrid,threads=65', "'threads'", '0..64')
bad('hybrid,threads=', "'threads'", '0..64')
bad('hybrid,hot=-1', "'hot'", "'-1'", '1..1000000')
bad('hybrid,hot=0', "'hot'", '1..1000000')
bad('hybrid,trace-max-tbs=1000', "'trace-max-tbs'", '1..256')
bad('hybrid,x-codegen-level=-1', "'x-codegen-level'", '0..3')
bad('hybrid,x-export=', "'x-export'")
bad('hybrid,banana=1', 'banana')

for opts in (['-icount', 'shift=0'], ['-icount', 'shift=auto']):
    rc, out = run_qemu(['-accel', 'hybrid', '-M', 'none', '-nodefaults',
                        '-display', 'none', '-monitor', 'stdio'] + opts,
                       input='quit\n', timeout=30)
    t.ok(rc == 1 and 'hybrid' in out and 'icount' in out,
         '%s is refused under hybrid' % ' '.join(opts), 'rc=%s\n%s' % (rc, out))

# ... and still works under plain TCG (the refusal is hybrid's own).
rc, out = run_qemu(['-accel', 'tcg', '-M', 'none', '-nodefaults',
                    '-display', 'none', '-monitor', 'stdio',
                    '-icount', 'shift=0'], input='quit\n', timeout=30)
t.ok(rc == 0, '-icount still works under -accel tcg', out)

t.done()
