"""Op conformance: every op case through TCG and through the LLVM lowering.

QMP x-hybrid-conformance (tests/selftest/conformance.c, in the self-test
emulator qemu-system-x86_64-hybrid-selftest only) emits each case with
TCG's own tcg_gen_* API, compiles it with TCG and with llvm-backend, runs
both from the same inputs (edge values, then random ones) on the stopped
first vCPU and compares registers, vector registers and a guest RAM
window bit for bit. No guest is needed: QEMU starts with -S.
"""
from hybridtest import Tap, Guest, QEMU_SELFTEST

t = Tap()

# the TCG ops the x86_64 front end emits in practice, all of which the
# cases must contain (other ops the cases bring in are listed too)
MUST = '''
add_i32 add_i64 sub_i32 sub_i64 mul_i32 mul_i64 and_i32 and_i64 or_i32
or_i64 xor_i32 xor_i64 andc_i32 andc_i64 not_i32 not_i64 neg_i32 neg_i64
shl_i32 shl_i64 shr_i32 shr_i64 sar_i32 sar_i64 rotl_i32 rotl_i64 rotr_i32
rotr_i64 deposit_i32 deposit_i64 extract_i32 extract_i64 sextract_i32
extract2_i64 setcond_i32 setcond_i64 negsetcond_i32 negsetcond_i64
movcond_i32 movcond_i64 brcond_i32 brcond_i64 add2_i64 sub2_i64 mulu2_i64
muls2_i64 mulu2_i32 muls2_i32 ext8s_i64 ext16s_i64 ext32s_i64 ext8u_i64
ext16u_i64 ext32u_i64 ext_i32_i64 extu_i32_i64 extrl_i64_i32 extrh_i64_i32
bswap16_i32 bswap16_i64 bswap32_i32 bswap32_i64 bswap64_i64 clz_i32 clz_i64
ctz_i32 ctz_i64 ctpop_i32 ctpop_i64 ld8u_i64 ld8s_i64 ld16u_i64 ld16s_i64
ld32u_i64 ld32s_i64 ld_i64 ld_i32 st8_i64 st16_i64 st32_i64 st_i64 st_i32
qemu_ld_i32 qemu_ld_i64 qemu_st_i32 qemu_st_i64 qemu_ld_i128 qemu_st_i128
call set_label mov_vec dup_vec dupm_vec ld_vec st_vec add_vec sub_vec
mul_vec abs_vec ssadd_vec usadd_vec sssub_vec ussub_vec smin_vec umin_vec
smax_vec umax_vec and_vec or_vec xor_vec andc_vec orc_vec not_vec shli_vec
shri_vec sari_vec shls_vec shrs_vec sars_vec shlv_vec shrv_vec sarv_vec
cmp_vec bitsel_vec
'''.split()

ARGS = ['-accel', 'hybrid', '-M', 'q35', '-nodefaults', '-m', '256',
        '-display', 'none', '-S']

g = Guest('hybrid', args=ARGS, qemu=QEMU_SELFTEST)
try:
    q = g.qmp
    r = q.cmd('x-hybrid-conformance', runs=96, seed=20261126)
    t.ok('return' in r, 'x-hybrid-conformance runs', str(r)[:2000])
    r = r.get('return', {})
    cases, runs = r.get('cases', 0), r.get('runs', 0)
    t.ok(cases >= 900 and runs >= cases * 90,
         'every case compiled both ways and run (%d cases, %d runs)'
         % (cases, runs), str(r.get('failures')))
    t.ok(r.get('mismatch-count') == 0 and not r.get('mismatches'),
         'TCG and LLVM agree bit for bit on every run',
         '\n'.join(r.get('mismatches', [])))
    t.ok(not r.get('failures'), 'no case failed to compile or run',
         '\n'.join(r.get('failures', [])))
    missing = sorted(set(MUST) - set(r.get('ops', [])))
    t.ok(not missing, 'the cases contain every op the front end emits',
         'missing: ' + ' '.join(missing))
    # What stays with TCG: only the backend's own lane ops applied to
    # 8-byte vectors (the register bits above the vector are used).
    unsup = r.get('unsupported', [])
    t.ok(all('size 8/16' in u for u in unsup) and len(unsup) <= 4,
         'ops left to TCG are only 8-byte lane ops (%d)' % len(unsup),
         '\n'.join(unsup))

    # The test of the test: a lowering that turns add into sub and vector
    # xor into or must be caught, case by case.
    m = q.cmd('x-hybrid-conformance', runs=24, mutate=True,
              filter='add')['return']
    bad = ' '.join(m['mismatches'])
    t.ok(m['mismatch-count'] >= 10 and 'add_i64' in bad and 'add_i32' in bad,
         'a lowering bug (add as sub) is caught (%d cases)'
         % m['mismatch-count'], bad[:2000])
    m = q.cmd('x-hybrid-conformance', runs=24, mutate=True,
              filter='gvec xor')['return']
    # (8-byte vectors are done with 64-bit integer ops, not xor_vec)
    vec = [c for c in m['mismatches'] if 'size 8/16' not in c]
    t.ok(m['mismatch-count'] == 8 and len(vec) == 8,
         'a vector lowering bug (xor as or) is caught in every vector case',
         '\n'.join(m['mismatches']))

    # Unmutated again, and the vCPU still starts: state was put back.
    r2 = q.cmd('x-hybrid-conformance', runs=8, filter='qemu_')['return']
    t.ok(r2['mismatch-count'] == 0 and r2['cases'] >= 40,
         'memory cases agree again after the mutated runs')

    running = q.cmd('cont')
    t.ok('return' in running, 'the guest can be started after the runs')
    e = q.cmd('x-hybrid-conformance', runs=1)
    t.ok('error' in e and 'stopped' in e['error'].get('desc', ''),
         'refused while the guest runs, with a clear error', str(e))
    e = q.cmd('x-hybrid-conformance', runs=0)
    t.ok('error' in e and 'runs' in e['error'].get('desc', ''),
         'runs=0 is refused', str(e))
finally:
    g.kill()

# Under plain TCG the command says what it needs.
g = Guest('tcg', args=['-accel', 'tcg'] + ARGS[2:], qemu=QEMU_SELFTEST)
try:
    e = g.qmp.cmd('x-hybrid-conformance')
    t.ok('error' in e and 'hybrid' in e['error'].get('desc', ''),
         'refused under -accel tcg', str(e))
finally:
    g.kill()

# The product emulator does not carry the harness, and says where it is.
g = Guest('hybrid', args=ARGS)
try:
    e = g.qmp.cmd('x-hybrid-conformance', runs=1)
    t.ok('error' in e and 'selftest' in e['error'].get('desc', ''),
         'the product emulator has no harness and names the one that has',
         str(e))
finally:
    g.kill()

t.done()
