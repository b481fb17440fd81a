/*
 * The self-test emulator's harness: op conformance of the LLVM lowering
 * against TCG itself. Built only into qemu-system-x86_64-hybrid-selftest
 * (patch 0009), which the tests start; the product does not carry it.
 *
 * For each case, a short op sequence is emitted with TCG's own tcg_gen_*
 * API (as a front end would: the ops TCG emits for this host), reading
 * its inputs from and writing its outputs to scratch fields of env and a
 * window of guest RAM. The sequence is then both
 *
 *   - compiled by TCG (tcg_gen_code, into this thread's code buffer) and
 *     run through TCG's prologue, and
 *   - copied as an op snapshot (as for a trace), lowered to LLVM IR,
 *     optimised and JIT-compiled by llvm-backend, and called,
 *
 * from the same inputs: edge values first, then random ones. The outputs
 * (16 integer registers, 16 vector registers, the RAM window) must be
 * equal bit for bit. Runs on a stopped vCPU's thread (QMP
 * x-hybrid-conformance, registered at start-up through
 * hybrid_conformance); env and the RAM window are put back afterwards.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-types-hybrid.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "system/runstate.h"
#include "system/cpus.h"
#include "hw/core/cpu.h"
#include "exec/exec-all.h"
#include "exec/cpu-common.h"
#include "exec/translation-block.h"
#include "exec/tb-flush.h"
#include "exec/cputlb.h"
#include "tcg/insn-start-words.h"
#include "accel/tcg/tb-internal.h"
#include "cpu.h"
#include "tcg/tcg.h"
#include "tcg/tcg-op.h"
#include "tcg/tcg-op-gvec.h"
#include "hw-glue/hybrid-glue.h"
#include "llvm-backend/llvm-backend.h"
#include "accel/hybrid/hybrid.h"
#include "accel/hybrid/pool.h"

#define REG(k)      offsetof(CPUX86State, regs[k])
#define XMM(k)      offsetof(CPUX86State, xmm_regs[k])
#define NREGS       16          /* in: 0..7, out: 8..15 */
#define NXMM        16          /* in: 0..7, out: 8..15 */
#define MEM_BASE    0x200000    /* guest RAM window, two pages */
#define MEM_SIZE    0x2000
#define CASE_PC     0x1000

enum {
    IN_SHIFT64 = 1,     /* regs[1] is a count below 64 */
    IN_SHIFT32 = 2,     /* regs[1] is a count below 32 */
    IN_VSHIFT = 4,      /* regs[1] is a count below the element's bits */
    IN_MEM = 8,         /* regs[0] is an address in the RAM window */
    IN_ALIGN = 16,      /* ... aligned to the access size */
    IN_PARALLEL = 32,   /* translated as for MTTCG (CF_PARALLEL) */
};

typedef struct Case Case;
struct Case {
    char name[48];
    void (*gen)(const Case *c);
    int64_t p[4];
    unsigned in;
};

/* The state a run starts from and ends in. */
typedef struct State {
    uint64_t regs[NREGS];
    ZMMReg xmm[NXMM];
    uint8_t mem[MEM_SIZE];
} State;

/* ---- the cases: each one a few tcg_gen_* calls ---- */

static int mmu_idx;     /* the stopped vCPU's data MMU index */

static TCGv_i64 in64(int k)
{
    TCGv_i64 t = tcg_temp_new_i64();

    tcg_gen_ld_i64(t, tcg_env, REG(k));
    return t;
}

static TCGv_i32 in32(int k)
{
    TCGv_i32 t = tcg_temp_new_i32();

    tcg_gen_ld_i32(t, tcg_env, REG(k));
    return t;
}

static void out64(int k, TCGv_i64 v)
{
    tcg_gen_st_i64(v, tcg_env, REG(8 + k));
}

static void out32(int k, TCGv_i32 v)
{
    tcg_gen_st_i32(v, tcg_env, REG(8 + k));
}

#define BIN(op)                                                            \
static void g_##op##_i64(const Case *c)                                    \
{                                                                          \
    TCGv_i64 r = tcg_temp_new_i64();                                       \
    tcg_gen_##op##_i64(r, in64(0), in64(1));                               \
    out64(0, r);                                                           \
}                                                                          \
static void g_##op##_i32(const Case *c)                                    \
{                                                                          \
    TCGv_i32 r = tcg_temp_new_i32();                                       \
    tcg_gen_##op##_i32(r, in32(0), in32(1));                               \
    out32(0, r);                                                           \
}
BIN(add) BIN(sub) BIN(and) BIN(or) BIN(xor) BIN(andc) BIN(orc) BIN(eqv)
BIN(nand) BIN(nor) BIN(mul) BIN(shl) BIN(shr) BIN(sar) BIN(rotl) BIN(rotr)
BIN(clz) BIN(ctz)

/* with an immediate second operand, c->p[0] */
#define BINI(op)                                                           \
static void g_##op##_i64(const Case *c)                                    \
{                                                                          \
    TCGv_i64 r = tcg_temp_new_i64();                                       \
    tcg_gen_##op##_i64(r, in64(0), c->p[0]);                               \
    out64(0, r);                                                           \
}                                                                          \
static void g_##op##_i32(const Case *c)                                    \
{                                                                          \
    TCGv_i32 r = tcg_temp_new_i32();                                       \
    tcg_gen_##op##_i32(r, in32(0), c->p[0]);                               \
    out32(0, r);                                                           \
}
BINI(addi) BINI(subi) BINI(andi) BINI(ori) BINI(xori) BINI(muli)
BINI(shli) BINI(shri) BINI(sari) BINI(rotli) BINI(rotri) BINI(clzi)
BINI(ctzi)

#define UN(op)                                                             \
static void g_##op##_i64(const Case *c)                                    \
{                                                                          \
    TCGv_i64 r = tcg_temp_new_i64();                                       \
    tcg_gen_##op##_i64(r, in64(0));                                        \
    out64(0, r);                                                           \
}                                                                          \
static void g_##op##_i32(const Case *c)                                    \
{                                                                          \
    TCGv_i32 r = tcg_temp_new_i32();                                       \
    tcg_gen_##op##_i32(r, in32(0));                                        \
    out32(0, r);                                                           \
}
UN(neg) UN(not) UN(ctpop) UN(ext8s) UN(ext8u) UN(ext16s) UN(ext16u)

static void g_ext32s_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_ext32s_i64(r, in64(0));
    out64(0, r);
}

static void g_ext32u_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_ext32u_i64(r, in64(0));
    out64(0, r);
}

/*
 * bswap16/32 with flags p[0]: the input is zero-extended first if the
 * flags promise it (IZ); without OZ or OS the bits above the swapped
 * ones are unspecified, so only the swapped ones are compared.
 */
static void g_bswap_i64(const Case *c)
{
    TCGv_i64 a = in64(0), r = tcg_temp_new_i64();
    unsigned bits = c->p[1], f = c->p[0];

    if (f & TCG_BSWAP_IZ) {
        tcg_gen_extract_i64(a, a, 0, bits);
    }
    if (bits == 16) {
        tcg_gen_bswap16_i64(r, a, f);
    } else {
        tcg_gen_bswap32_i64(r, a, f);
    }
    if (!(f & (TCG_BSWAP_OZ | TCG_BSWAP_OS))) {
        tcg_gen_extract_i64(r, r, 0, bits);
    }
    out64(0, r);
}

static void g_bswap64_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_bswap64_i64(r, in64(0));
    out64(0, r);
}

static void g_bswap16_i32(const Case *c)
{
    TCGv_i32 a = in32(0), r = tcg_temp_new_i32();
    unsigned f = c->p[0];

    if (f & TCG_BSWAP_IZ) {
        tcg_gen_ext16u_i32(a, a);
    }
    tcg_gen_bswap16_i32(r, a, f);
    if (!(f & (TCG_BSWAP_OZ | TCG_BSWAP_OS))) {
        tcg_gen_ext16u_i32(r, r);
    }
    out32(0, r);
}

static void g_bswap32_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_bswap32_i32(r, in32(0));
    out32(0, r);
}

/* bit fields: p[0] offset, p[1] length */
static void g_deposit_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_deposit_i64(r, in64(0), in64(1), c->p[0], c->p[1]);
    out64(0, r);
}

static void g_deposit_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_deposit_i32(r, in32(0), in32(1), c->p[0], c->p[1]);
    out32(0, r);
}

static void g_extract_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_extract_i64(r, in64(0), c->p[0], c->p[1]);
    out64(0, r);
}

static void g_extract_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_extract_i32(r, in32(0), c->p[0], c->p[1]);
    out32(0, r);
}

static void g_sextract_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_sextract_i64(r, in64(0), c->p[0], c->p[1]);
    out64(0, r);
}

static void g_sextract_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_sextract_i32(r, in32(0), c->p[0], c->p[1]);
    out32(0, r);
}

static void g_extract2_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_extract2_i64(r, in64(0), in64(1), c->p[0]);
    out64(0, r);
}

static void g_extract2_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_extract2_i32(r, in32(0), in32(1), c->p[0]);
    out32(0, r);
}

/* comparisons: p[0] the condition */
static void g_setcond_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_setcond_i64(c->p[0], r, in64(0), in64(1));
    out64(0, r);
}

static void g_setcond_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_setcond_i32(c->p[0], r, in32(0), in32(1));
    out32(0, r);
}

static void g_setcondi_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_setcondi_i64(c->p[0], r, in64(0), c->p[1]);
    out64(0, r);
}

static void g_negsetcond_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_negsetcond_i64(c->p[0], r, in64(0), in64(1));
    out64(0, r);
}

static void g_negsetcond_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_negsetcond_i32(c->p[0], r, in32(0), in32(1));
    out32(0, r);
}

static void g_movcond_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_movcond_i64(c->p[0], r, in64(0), in64(1), in64(2), in64(3));
    out64(0, r);
}

static void g_movcond_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_movcond_i32(c->p[0], r, in32(0), in32(1), in32(2), in32(3));
    out32(0, r);
}

/* a branch: output 0 says which way it went, output 1 is written on one */
static void g_brcond_i64(const Case *c)
{
    TCGLabel *l = gen_new_label();
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_movi_i64(r, 1);
    tcg_gen_brcond_i64(c->p[0], in64(0), in64(1), l);
    out64(1, in64(2));
    tcg_gen_movi_i64(r, 2);
    gen_set_label(l);
    out64(0, r);
}

static void g_brcond_i32(const Case *c)
{
    TCGLabel *l = gen_new_label();
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_movi_i32(r, 1);
    tcg_gen_brcond_i32(c->p[0], in32(0), in32(1), l);
    out32(1, in32(2));
    tcg_gen_movi_i32(r, 2);
    gen_set_label(l);
    out32(0, r);
}

static void g_brcondi_i64(const Case *c)
{
    TCGLabel *l = gen_new_label();

    tcg_gen_brcondi_i64(c->p[0], in64(0), c->p[1], l);
    out64(0, in64(2));
    gen_set_label(l);
    out64(1, in64(3));
}

/* double-word arithmetic */
static void g_add2_i64(const Case *c)
{
    TCGv_i64 rl = tcg_temp_new_i64(), rh = tcg_temp_new_i64();

    tcg_gen_add2_i64(rl, rh, in64(0), in64(1), in64(2), in64(3));
    out64(0, rl);
    out64(1, rh);
}

static void g_sub2_i64(const Case *c)
{
    TCGv_i64 rl = tcg_temp_new_i64(), rh = tcg_temp_new_i64();

    tcg_gen_sub2_i64(rl, rh, in64(0), in64(1), in64(2), in64(3));
    out64(0, rl);
    out64(1, rh);
}

static void g_add2_i32(const Case *c)
{
    TCGv_i32 rl = tcg_temp_new_i32(), rh = tcg_temp_new_i32();

    tcg_gen_add2_i32(rl, rh, in32(0), in32(1), in32(2), in32(3));
    out32(0, rl);
    out32(1, rh);
}

static void g_sub2_i32(const Case *c)
{
    TCGv_i32 rl = tcg_temp_new_i32(), rh = tcg_temp_new_i32();

    tcg_gen_sub2_i32(rl, rh, in32(0), in32(1), in32(2), in32(3));
    out32(0, rl);
    out32(1, rh);
}

#define MUL2(op, w)                                                        \
static void g_##op##_i##w(const Case *c)                                   \
{                                                                          \
    TCGv_i##w rl = tcg_temp_new_i##w(), rh = tcg_temp_new_i##w();          \
    tcg_gen_##op##_i##w(rl, rh, in##w(0), in##w(1));                       \
    out##w(0, rl);                                                         \
    out##w(1, rh);                                                         \
}
MUL2(mulu2, 64) MUL2(muls2, 64) MUL2(mulsu2, 64)
MUL2(mulu2, 32) MUL2(muls2, 32) MUL2(mulsu2, 32)

/* between widths */
static void g_conv(const Case *c)
{
    TCGv_i64 a = in64(0), r = tcg_temp_new_i64(), s = tcg_temp_new_i64();
    TCGv_i32 lo = tcg_temp_new_i32(), hi = tcg_temp_new_i32();

    tcg_gen_extrl_i64_i32(lo, a);
    tcg_gen_extrh_i64_i32(hi, a);
    out32(0, lo);
    out32(1, hi);
    tcg_gen_ext_i32_i64(r, hi);
    out64(2, r);
    tcg_gen_extu_i32_i64(s, lo);
    out64(3, s);
    tcg_gen_concat_i32_i64(r, hi, in32(1));
    out64(4, r);
    tcg_gen_extr_i64_i32(lo, hi, in64(2));
    out32(5, hi);
    out32(6, lo);
}

/* env loads and stores of every size: p[0] a byte offset */
static void g_ldst_env(const Case *c)
{
    TCGv_i64 t = tcg_temp_new_i64();
    TCGv_i32 u = tcg_temp_new_i32();
    intptr_t o = REG(0) + c->p[0];

    tcg_gen_ld8u_i64(t, tcg_env, o);
    out64(0, t);
    tcg_gen_ld8s_i64(t, tcg_env, o + 1);
    out64(1, t);
    tcg_gen_ld16u_i64(t, tcg_env, o + 2);
    out64(2, t);
    tcg_gen_ld16s_i64(t, tcg_env, o + 3);
    out64(3, t);
    tcg_gen_ld32u_i64(t, tcg_env, o + 4);
    out64(4, t);
    tcg_gen_ld32s_i64(t, tcg_env, o + 5);
    out64(5, t);
    tcg_gen_ld8s_i32(u, tcg_env, o + 6);
    tcg_gen_st16_i32(u, tcg_env, REG(14) + c->p[0]);
    tcg_gen_ld16s_i32(u, tcg_env, o + 7);
    tcg_gen_st8_i32(u, tcg_env, REG(15) + 3);
    tcg_gen_ld8u_i32(u, tcg_env, o + 9);
    tcg_gen_st8_i32(u, tcg_env, REG(15) + 5);
    tcg_gen_ld16u_i32(u, tcg_env, o + 10);
    tcg_gen_st16_i32(u, tcg_env, REG(15));
    tcg_gen_ld_i64(t, tcg_env, REG(1));
    tcg_gen_st8_i64(t, tcg_env, REG(12) + c->p[0]);
    tcg_gen_st16_i64(t, tcg_env, REG(13) + c->p[0]);
    tcg_gen_st32_i64(t, tcg_env, REG(11) + c->p[0]);
}

/* guest memory: p[0] a MemOp */
static void g_qemu_ld_i64(const Case *c)
{
    TCGv_i64 r = tcg_temp_new_i64();

    tcg_gen_qemu_ld_i64(r, in64(0), mmu_idx, c->p[0]);
    out64(0, r);
}

static void g_qemu_ld_i32(const Case *c)
{
    TCGv_i32 r = tcg_temp_new_i32();

    tcg_gen_qemu_ld_i32(r, in64(0), mmu_idx, c->p[0]);
    out32(0, r);
}

static void g_qemu_st_i64(const Case *c)
{
    tcg_gen_qemu_st_i64(in64(1), in64(0), mmu_idx, c->p[0]);
}

static void g_qemu_st_i32(const Case *c)
{
    tcg_gen_qemu_st_i32(in32(1), in64(0), mmu_idx, c->p[0]);
}

/* load, modify, store back, load again: the TLB entry is reused */
static void g_qemu_rmw(const Case *c)
{
    TCGv_i64 a = in64(0), r = tcg_temp_new_i64();

    tcg_gen_qemu_ld_i64(r, a, mmu_idx, c->p[0]);
    tcg_gen_add_i64(r, r, in64(1));
    tcg_gen_qemu_st_i64(r, a, mmu_idx, c->p[0]);
    tcg_gen_qemu_ld_i64(r, a, mmu_idx, MO_UB);
    out64(0, r);
}

static void g_qemu_ld_i128(const Case *c)
{
    TCGv_i128 v = tcg_temp_new_i128();
    TCGv_i64 lo = tcg_temp_new_i64(), hi = tcg_temp_new_i64();

    tcg_gen_qemu_ld_i128(v, in64(0), mmu_idx, c->p[0]);
    tcg_gen_extr_i128_i64(lo, hi, v);
    out64(0, lo);
    out64(1, hi);
}

static void g_qemu_st_i128(const Case *c)
{
    TCGv_i128 v = tcg_temp_new_i128();

    tcg_gen_concat_i64_i128(v, in64(1), in64(2));
    tcg_gen_qemu_st_i128(v, in64(0), mmu_idx, c->p[0]);
}

/*
 * cmpxchg16b under MTTCG: a helper call with Int128 arguments and result
 * (two call slots each); p[1]: compare with what memory holds, so that
 * the store happens
 */
static void g_cmpxchg_i128(const Case *c)
{
    TCGv_i128 cmp = tcg_temp_new_i128(), nv = tcg_temp_new_i128();
    TCGv_i128 old = tcg_temp_new_i128();
    TCGv_i64 lo = tcg_temp_new_i64(), hi = tcg_temp_new_i64();

    if (c->p[1]) {
        tcg_gen_qemu_ld_i128(cmp, in64(0), mmu_idx, c->p[0]);
    } else {
        tcg_gen_concat_i64_i128(cmp, in64(1), in64(2));
    }
    tcg_gen_concat_i64_i128(nv, in64(3), in64(4));
    tcg_gen_atomic_cmpxchg_i128(old, in64(0), cmp, nv, mmu_idx, c->p[0]);
    tcg_gen_extr_i128_i64(lo, hi, old);
    out64(0, lo);
    out64(1, hi);
}

/* vectors: p[0] vece, p[1] operation size, p[2] maximum size */
#define VEC3(op)                                                           \
static void g_v_##op(const Case *c)                                        \
{                                                                          \
    tcg_gen_gvec_##op(c->p[0], XMM(8), XMM(0), XMM(1), c->p[1], c->p[2]);  \
}
VEC3(add) VEC3(sub) VEC3(mul) VEC3(and) VEC3(or) VEC3(xor) VEC3(andc)
VEC3(orc) VEC3(nand) VEC3(nor) VEC3(eqv) VEC3(ssadd) VEC3(sssub)
VEC3(usadd) VEC3(ussub) VEC3(smin) VEC3(umin) VEC3(smax) VEC3(umax)
VEC3(shlv) VEC3(shrv) VEC3(sarv) VEC3(rotlv) VEC3(rotrv)

#define VEC2(op)                                                           \
static void g_v_##op(const Case *c)                                        \
{                                                                          \
    tcg_gen_gvec_##op(c->p[0], XMM(8), XMM(0), c->p[1], c->p[2]);          \
}
VEC2(not) VEC2(neg) VEC2(abs) VEC2(mov)

/* immediate shifts: p[3] the count */
#define VECI(op)                                                           \
static void g_v_##op(const Case *c)                                        \
{                                                                          \
    tcg_gen_gvec_##op(c->p[0], XMM(8), XMM(0), c->p[3], c->p[1], c->p[2]); \
}
VECI(shli) VECI(shri) VECI(sari) VECI(rotli) VECI(rotri)

/* shifts by a scalar count (regs[1]) */
#define VECS(op)                                                           \
static void g_v_##op(const Case *c)                                        \
{                                                                          \
    tcg_gen_gvec_##op(c->p[0], XMM(8), XMM(0), in32(1), c->p[1], c->p[2]); \
}
VECS(shls) VECS(shrs) VECS(sars) VECS(rotls)

static void g_v_cmp(const Case *c)
{
    tcg_gen_gvec_cmp(c->p[3], c->p[0], XMM(8), XMM(0), XMM(1),
                     c->p[1], c->p[2]);
}

static void g_v_bitsel(const Case *c)
{
    tcg_gen_gvec_bitsel(c->p[0], XMM(8), XMM(0), XMM(1), XMM(2),
                        c->p[1], c->p[2]);
}

static void g_v_dup(const Case *c)
{
    tcg_gen_gvec_dup_i64(c->p[0], XMM(8), c->p[1], c->p[2], in64(0));
    tcg_gen_gvec_dup_mem(c->p[0], XMM(9), XMM(1), c->p[1], c->p[2]);
}

static void g_v_addi(const Case *c)
{
    tcg_gen_gvec_addi(c->p[0], XMM(8), XMM(0), c->p[3], c->p[1], c->p[2]);
    tcg_gen_gvec_xori(c->p[0], XMM(9), XMM(1), c->p[3], c->p[1], c->p[2]);
}

/* ---- the case list ---- */

static GArray *cases;

/* Add case @gen with parameters @p0..@p3, named by @fmt. */
static void add(void (*gen)(const Case *), unsigned in, int64_t p0,
                int64_t p1, int64_t p2, int64_t p3, const char *fmt, ...)
    G_GNUC_PRINTF(7, 8);

static void add(void (*gen)(const Case *), unsigned in, int64_t p0,
                int64_t p1, int64_t p2, int64_t p3, const char *fmt, ...)
{
    Case c = { .gen = gen, .in = in, .p = { p0, p1, p2, p3 } };
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c.name, sizeof(c.name), fmt, ap);
    va_end(ap);
    g_array_append_val(cases, c);
}

static const char *const cond_name[16] = {
    [TCG_COND_NEVER] = "never", [TCG_COND_ALWAYS] = "always",
    [TCG_COND_EQ] = "eq", [TCG_COND_NE] = "ne",
    [TCG_COND_LT] = "lt", [TCG_COND_GE] = "ge",
    [TCG_COND_LE] = "le", [TCG_COND_GT] = "gt",
    [TCG_COND_LTU] = "ltu", [TCG_COND_GEU] = "geu",
    [TCG_COND_LEU] = "leu", [TCG_COND_GTU] = "gtu",
    [TCG_COND_TSTEQ] = "tsteq", [TCG_COND_TSTNE] = "tstne",
};

static const TCGCond conds[] = {
    TCG_COND_EQ, TCG_COND_NE, TCG_COND_LT, TCG_COND_GE, TCG_COND_LE,
    TCG_COND_GT, TCG_COND_LTU, TCG_COND_GEU, TCG_COND_LEU, TCG_COND_GTU,
    TCG_COND_TSTEQ, TCG_COND_TSTNE,
};

static void build_cases(void)
{
    static const struct {
        void (*g64)(const Case *), (*g32)(const Case *);
        const char *name;
        unsigned in64, in32;
    } bin[] = {
#define B(op, i64, i32) { g_##op##_i64, g_##op##_i32, #op, i64, i32 }
        B(add, 0, 0), B(sub, 0, 0), B(and, 0, 0), B(or, 0, 0),
        B(xor, 0, 0), B(andc, 0, 0), B(orc, 0, 0), B(eqv, 0, 0),
        B(nand, 0, 0), B(nor, 0, 0), B(mul, 0, 0),
        B(shl, IN_SHIFT64, IN_SHIFT32), B(shr, IN_SHIFT64, IN_SHIFT32),
        B(sar, IN_SHIFT64, IN_SHIFT32), B(rotl, IN_SHIFT64, IN_SHIFT32),
        B(rotr, IN_SHIFT64, IN_SHIFT32), B(clz, 0, 0), B(ctz, 0, 0),
        B(neg, 0, 0), B(not, 0, 0), B(ctpop, 0, 0), B(ext8s, 0, 0),
        B(ext8u, 0, 0), B(ext16s, 0, 0), B(ext16u, 0, 0),
        B(setcond, 0, 0), B(negsetcond, 0, 0), B(movcond, 0, 0),
        B(brcond, 0, 0), B(add2, 0, 0), B(sub2, 0, 0), B(mulu2, 0, 0),
        B(muls2, 0, 0), B(mulsu2, 0, 0),
#undef B
    };
    static const struct {
        void (*g64)(const Case *), (*g32)(const Case *);
        const char *name;
        int64_t imm[4];
    } bini[] = {
#define B(op, a, b, c, d) { g_##op##_i64, g_##op##_i32, #op, { a, b, c, d } }
        B(addi, 1, -1, 0x7fffffff, INT64_MIN),
        B(subi, 1, -1, 0x80000000, 0x1234),
        B(andi, 0xff, -2, 0xffffffff, 0x8000),
        B(ori, 1, -1, 0xf0f0, INT64_MIN),
        B(xori, -1, 1, 0x80000000, 0x7f),
        B(muli, 3, -1, 0x10001, 8),
        B(shli, 0, 1, 13, 31), B(shri, 0, 1, 17, 31), B(sari, 0, 1, 7, 31),
        B(rotli, 0, 1, 9, 31), B(rotri, 0, 1, 19, 31),
        B(clzi, 0, 32, 7, -1), B(ctzi, 0, 32, 7, -1),
#undef B
    };
    static const struct { unsigned ofs, len; } fields[] = {
        { 0, 1 }, { 0, 8 }, { 8, 8 }, { 3, 13 }, { 0, 16 }, { 16, 16 },
        { 31, 1 }, { 1, 30 }, { 0, 31 },
    };
    static const MemOp mops[] = {
        MO_UB, MO_SB, MO_LEUW, MO_LESW, MO_LEUL, MO_LESL, MO_LEUQ,
        MO_BEUW, MO_BESW, MO_BEUL, MO_BESL, MO_BEUQ,
    };
    static const struct {
        void (*g)(const Case *);
        const char *name;
        unsigned in;
        bool imm;
    } vops[] = {
#define V(op, in, imm) { g_v_##op, #op, in, imm }
        V(add, 0, 0), V(sub, 0, 0), V(mul, 0, 0), V(and, 0, 0),
        V(or, 0, 0), V(xor, 0, 0), V(andc, 0, 0), V(orc, 0, 0),
        V(nand, 0, 0), V(nor, 0, 0), V(eqv, 0, 0), V(ssadd, 0, 0),
        V(sssub, 0, 0), V(usadd, 0, 0), V(ussub, 0, 0), V(smin, 0, 0),
        V(umin, 0, 0), V(smax, 0, 0), V(umax, 0, 0), V(shlv, 0, 0),
        V(shrv, 0, 0), V(sarv, 0, 0), V(rotlv, 0, 0), V(rotrv, 0, 0),
        V(not, 0, 0), V(neg, 0, 0), V(abs, 0, 0), V(mov, 0, 0),
        V(shli, 0, 1), V(shri, 0, 1), V(sari, 0, 1), V(rotli, 0, 1),
        V(rotri, 0, 1), V(shls, IN_VSHIFT, 0), V(shrs, IN_VSHIFT, 0),
        V(sars, IN_VSHIFT, 0), V(rotls, IN_VSHIFT, 0), V(bitsel, 0, 0),
        V(dup, 0, 0), V(addi, 0, 1),
#undef V
    };
    static const unsigned sizes[][2] = { { 16, 16 }, { 32, 32 }, { 8, 16 } };
    static const int bswap_flags[] = {
        0, TCG_BSWAP_IZ, TCG_BSWAP_IZ | TCG_BSWAP_OZ,
        TCG_BSWAP_IZ | TCG_BSWAP_OS, TCG_BSWAP_OZ, TCG_BSWAP_OS,
    };
    static const MemOp m128[] = {
        MO_LE | MO_128, MO_LE | MO_128 | MO_ATOM_IFALIGN_PAIR,
        MO_LE | MO_128 | MO_ALIGN | MO_ATOM_IFALIGN,
    };

    cases = g_array_new(false, true, sizeof(Case));
    for (unsigned i = 0; i < ARRAY_SIZE(bin); i++) {
        const char *n = bin[i].name;
        bool cond = !strcmp(n, "setcond") || !strcmp(n, "negsetcond") ||
                    !strcmp(n, "movcond") || !strcmp(n, "brcond");

        for (unsigned k = 0; k < (cond ? ARRAY_SIZE(conds) : 1); k++) {
            const char *cn = cond ? cond_name[conds[k]] : "";
            int64_t cc = cond ? conds[k] : 0;

            add(bin[i].g64, bin[i].in64, cc, 0, 0, 0, "%s_i64 %s", n, cn);
            add(bin[i].g32, bin[i].in32, cc, 0, 0, 0, "%s_i32 %s", n, cn);
        }
    }
    for (unsigned i = 0; i < ARRAY_SIZE(bini); i++) {
        for (unsigned k = 0; k < 4; k++) {
            int64_t v = bini[i].imm[k];

            add(bini[i].g64, 0, v, 0, 0, 0, "%s_i64 %" PRId64,
                bini[i].name, v);
            if (v == (int32_t)v) {
                add(bini[i].g32, 0, v, 0, 0, 0, "%s_i32 %" PRId64,
                    bini[i].name, v);
            }
        }
    }
    for (unsigned k = 0; k < ARRAY_SIZE(conds); k++) {
        for (int64_t v = -1; v <= 1; v++) {
            add(g_setcondi_i64, 0, conds[k], v, 0, 0, "setcondi_i64 %s %"
                PRId64, cond_name[conds[k]], v);
            add(g_brcondi_i64, 0, conds[k], v, 0, 0, "brcondi_i64 %s %"
                PRId64, cond_name[conds[k]], v);
        }
    }
    add(g_ext32s_i64, 0, 0, 0, 0, 0, "ext32s_i64");
    add(g_ext32u_i64, 0, 0, 0, 0, 0, "ext32u_i64");
    add(g_bswap64_i64, 0, 0, 0, 0, 0, "bswap64_i64");
    add(g_bswap32_i32, 0, 0, 0, 0, 0, "bswap32_i32");
    for (unsigned k = 0; k < ARRAY_SIZE(bswap_flags); k++) {
        int f = bswap_flags[k];

        add(g_bswap_i64, 0, f, 16, 0, 0, "bswap16_i64 flags %d", f);
        add(g_bswap16_i32, 0, f, 0, 0, 0, "bswap16_i32 flags %d", f);
        add(g_bswap_i64, 0, f, 32, 0, 0, "bswap32_i64 flags %d", f);
    }
    for (unsigned k = 0; k < ARRAY_SIZE(fields); k++) {
        unsigned o = fields[k].ofs, n = fields[k].len, n32 = MIN(n, 32 - o);

        add(g_deposit_i64, 0, o, n, 0, 0, "deposit_i64 %u,%u", o, n);
        add(g_deposit_i64, 0, o + 32, n, 0, 0, "deposit_i64 %u,%u", o + 32, n);
        add(g_deposit_i32, 0, o, n32, 0, 0, "deposit_i32 %u,%u", o, n32);
        add(g_extract_i64, 0, o + 16, n, 0, 0, "extract_i64 %u,%u", o + 16, n);
        add(g_extract_i32, 0, o, n32, 0, 0, "extract_i32 %u,%u", o, n32);
        add(g_sextract_i64, 0, o + 16, n, 0, 0, "sextract_i64 %u,%u",
            o + 16, n);
        add(g_sextract_i32, 0, o, n32, 0, 0, "sextract_i32 %u,%u", o, n32);
    }
    for (unsigned o = 1; o < 64; o += 9) {
        add(g_extract2_i64, 0, o, 0, 0, 0, "extract2_i64 %u", o);
        add(g_extract2_i32, 0, o & 31, 0, 0, 0, "extract2_i32 %u", o & 31);
    }
    add(g_conv, 0, 0, 0, 0, 0, "extrl/extrh/ext/extu/concat");
    for (unsigned o = 0; o < 8; o += 3) {
        add(g_ldst_env, 0, o, 0, 0, 0, "env ld/st at +%u", o);
    }
    for (unsigned k = 0; k < ARRAY_SIZE(mops); k++) {
        MemOp m = mops[k], ma = m | MO_ALIGN;

        add(g_qemu_ld_i64, IN_MEM, m, 0, 0, 0, "qemu_ld_i64 mop %#x", m);
        add(g_qemu_ld_i64, IN_MEM | IN_ALIGN, ma, 0, 0, 0,
            "qemu_ld_i64 mop %#x", ma);
        if (memop_size(m) <= 4) {
            add(g_qemu_ld_i32, IN_MEM, m, 0, 0, 0, "qemu_ld_i32 mop %#x", m);
        }
        if (m & MO_SIGN) {
            continue;
        }
        if (memop_size(m) <= 4) {
            add(g_qemu_st_i32, IN_MEM, m, 0, 0, 0, "qemu_st_i32 mop %#x", m);
        }
        add(g_qemu_st_i64, IN_MEM, m, 0, 0, 0, "qemu_st_i64 mop %#x", m);
        add(g_qemu_st_i64, IN_MEM | IN_ALIGN, ma, 0, 0, 0,
            "qemu_st_i64 mop %#x", ma);
        add(g_qemu_rmw, IN_MEM, m, 0, 0, 0, "qemu ld/add/st mop %#x", m);
    }
    for (unsigned k = 0; k < ARRAY_SIZE(m128); k++) {
        MemOp m = m128[k];
        unsigned in = IN_MEM | (m & MO_AMASK ? IN_ALIGN : 0);

        add(g_qemu_ld_i128, in, m, 0, 0, 0, "qemu_ld_i128 mop %#x", m);
        add(g_qemu_st_i128, in, m, 0, 0, 0, "qemu_st_i128 mop %#x", m);
    }
    for (int64_t eq = 0; eq <= 1; eq++) {
        MemOp m = MO_LE | MO_128 | MO_ALIGN;

        add(g_cmpxchg_i128, IN_MEM | IN_ALIGN | IN_PARALLEL, m, eq, 0, 0,
            "atomic_cmpxchg_i128 mop %#x%s", m, eq ? " (equal)" : "");
    }
    for (unsigned i = 0; i < ARRAY_SIZE(vops); i++) {
        for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
            for (unsigned vece = MO_8; vece <= MO_64; vece++) {
                int64_t cnt = vops[i].imm ? ((8 << vece) - 1) * (s + 1) / 4 + s
                                          : 0;

                add(vops[i].g, vops[i].in, vece, sizes[s][0], sizes[s][1],
                    cnt, "gvec %s vece %u size %u/%u imm %" PRId64,
                    vops[i].name, vece, sizes[s][0], sizes[s][1], cnt);
            }
        }
    }
    for (unsigned k = 0; k < ARRAY_SIZE(conds); k++) {
        for (unsigned vece = MO_8; vece <= MO_64; vece++) {
            add(g_v_cmp, 0, vece, 16, 16, conds[k], "gvec cmp %s vece %u",
                cond_name[conds[k]], vece);
        }
    }
}

/* ---- running them ---- */

typedef struct Conformance {
    CPUState *cpu;
    CPUX86State *env;
    GRand *rng;
    uint32_t runs;
    bool mutate;
    const char *filter;
    HybridConformance *res;
    unsigned nmismatch;
    bool seen[NB_OPS];
} Conformance;

/* trace_exit of the case functions: nothing to count, back to the caller */
static uint64_t case_exit(void *env, HybridTrace *t, uint32_t code,
                          uint64_t from_tb)
{
    return 0;
}

static bool case_edge_ok(void *env, uint64_t pc, uint64_t cs_base,
                         uint32_t flags, int64_t phys0, int64_t phys1)
{
    return false;
}

static uint64_t case_state_pc(const HybridSnapTB *tb, uint64_t pc)
{
    return pc;
}

static HybridTargetDesc case_desc;

static const uint64_t edges[] = {
    0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
    0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
    0x8000000000000001ull, 0xffffffff80000000ull, 0x5555555555555555ull,
    0xaaaaaaaaaaaaaaaaull, 0x00000000ffff0000ull,
};

static uint64_t rand64(GRand *r)
{
    return (uint64_t)g_rand_int(r) << 32 | g_rand_int(r);
}

/* Inputs of run @n of @c: edge values, then random ones of any width. */
static void make_inputs(Conformance *cf, const Case *c, unsigned n,
                        State *st)
{
    unsigned ne = ARRAY_SIZE(edges);

    for (unsigned k = 0; k < NREGS; k++) {
        uint64_t v = rand64(cf->rng);

        if (k < 8 && n < ne * 2) {
            v = edges[(n + k * (n / ne + 1) * 5) % ne];
        } else if (k < 8) {
            v >>= g_rand_int_range(cf->rng, 0, 64);
            v = g_rand_boolean(cf->rng) ? -v : v;
        }
        st->regs[k] = v;
    }
    for (unsigned k = 0; k < NXMM; k++) {
        for (unsigned j = 0; j < 8; j++) {
            uint64_t v = rand64(cf->rng);

            if (k < 8 && n < ne * 2 && (j + n) % 3 == 0) {
                v = edges[(n + j + k) % ne];
            }
            st->xmm[k].ZMM_Q(j) = v;
        }
    }
    if (c->in & IN_SHIFT64) {
        st->regs[1] &= 63;
    }
    if (c->in & IN_SHIFT32) {
        st->regs[1] &= 31;
    }
    if (c->in & IN_VSHIFT) {
        st->regs[1] &= (8 << c->p[0]) - 1;
    }
    for (unsigned i = 0; i < MEM_SIZE; i += 8) {
        uint64_t v = rand64(cf->rng);

        memcpy(&st->mem[i], &v, 8);
    }
    if (c->in & IN_MEM) {
        MemOp m = c->p[0];
        unsigned sz = memop_size(m);
        /* every third run crosses the page boundary */
        uint64_t off = n % 3 == 1 ? 0x1000 - sz / 2 - (n % sz)
                                  : g_rand_int_range(cf->rng, 0,
                                                     MEM_SIZE - 16);

        if (c->in & IN_ALIGN) {
            off &= ~(uint64_t)(sz - 1);
        }
        st->regs[0] = MEM_BASE + off;
    }
}

static void put_state(Conformance *cf, const State *st)
{
    memcpy(cf->env->regs, st->regs, sizeof(st->regs));
    memcpy(cf->env->xmm_regs, st->xmm, sizeof(st->xmm));
    cpu_physical_memory_write(MEM_BASE, st->mem, MEM_SIZE);
}

static void get_state(Conformance *cf, State *st)
{
    memcpy(st->regs, cf->env->regs, sizeof(st->regs));
    memcpy(st->xmm, cf->env->xmm_regs, sizeof(st->xmm));
    cpu_physical_memory_read(MEM_BASE, st->mem, MEM_SIZE);
}

static void mismatch(Conformance *cf, const Case *c, const State *in,
                     const State *a, const State *b)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_string_append_printf(s, "%s: inputs", c->name);
    for (unsigned k = 0; k < 4; k++) {
        g_string_append_printf(s, " %#" PRIx64, in->regs[k]);
    }
    for (unsigned k = 0; k < NREGS; k++) {
        if (a->regs[k] != b->regs[k]) {
            g_string_append_printf(s, "; regs[%u] tcg %#" PRIx64
                                   " llvm %#" PRIx64, k, a->regs[k],
                                   b->regs[k]);
            break;
        }
    }
    for (unsigned k = 0; k < NXMM; k++) {
        for (unsigned j = 0; j < 8; j++) {
            if (a->xmm[k].ZMM_Q(j) != b->xmm[k].ZMM_Q(j)) {
                g_string_append_printf(s, "; xmm[%u].q[%u] tcg %#" PRIx64
                                       " llvm %#" PRIx64, k, j,
                                       a->xmm[k].ZMM_Q(j),
                                       b->xmm[k].ZMM_Q(j));
                k = NXMM;
                break;
            }
        }
    }
    for (unsigned i = 0; i < MEM_SIZE; i++) {
        if (a->mem[i] != b->mem[i]) {
            g_string_append_printf(s, "; memory at %#x tcg %#x llvm %#x",
                                   MEM_BASE + i, a->mem[i], b->mem[i]);
            break;
        }
    }
    if (++cf->nmismatch <= 32) {
        QAPI_LIST_PREPEND(cf->res->mismatches, g_string_free(s, false));
        g_steal_pointer(&s);
    }
}

static void failure(Conformance *cf, const Case *c, const char *why)
{
    QAPI_LIST_PREPEND(cf->res->failures, g_strdup_printf("%s: %s", c->name,
                                                         why));
}

/* The TCG-compiled code of @c, and its op snapshot in @stb; NULL if not. */
static const void *tcg_compile(Conformance *cf, const Case *c,
                               HybridSnapTB *stb)
{
    TCGContext *s = tcg_ctx;
    TranslationBlock *tb;
    void *buf;
    int size;

    qemu_thread_jit_write();
    tb = tcg_tb_alloc(s);
    if (!tb) {
        failure(cf, c, "TCG code buffer full");
        return NULL;
    }
    buf = s->code_gen_ptr;
    tb->tc.ptr = tcg_splitwx_to_rx(buf);
    tb->pc = CASE_PC;
    tb->cs_base = 0;
    tb->flags = 0;
    tb->cflags = 1 | (c->in & IN_PARALLEL ? CF_PARALLEL : 0);
    tb->icount = 1;
    tb->size = 1;
    tb_set_page_addr0(tb, -1);
    tb_set_page_addr1(tb, -1);
    s->gen_tb = tb;
    s->addr_type = TCG_TYPE_I64;
    s->page_bits = TARGET_PAGE_BITS;
    s->page_mask = TARGET_PAGE_MASK;
    s->tlb_dyn_max_bits = CPU_TLB_DYN_MAX_BITS;
    s->insn_start_words = TARGET_INSN_START_WORDS;
    s->guest_mo = TCG_GUEST_DEFAULT_MO;
    if (sigsetjmp(s->jmp_trans, 0)) {
        failure(cf, c, "TCG could not generate code");
        return NULL;
    }
    tcg_func_start(s);
    s->cpu = cf->cpu;
    tcg_gen_insn_start(CASE_PC, CC_OP_DYNAMIC);
    c->gen(c);
    tcg_gen_exit_tb(NULL, 0);
    s->cpu = NULL;

    stb->pc = CASE_PC;
    stb->phys0 = stb->phys1 = -1;
    stb->cflags = tb->cflags;
    if (!hybrid_snapshot_copy_ctx(s, stb)) {
        failure(cf, c, "ops not copied");
        return NULL;
    }
    size = tcg_gen_code(s, tb, CASE_PC);
    if (size < 0) {
        failure(cf, c, "TCG could not generate code");
        return NULL;
    }
    qatomic_set(&s->code_gen_ptr,
                (void *)ROUND_UP((uintptr_t)buf + size, CODE_GEN_ALIGN));
    return tb->tc.ptr;
}

/* The deliberate bugs of mutate=true: lowering one op as another. */
static void mutate_ops(HybridSnapTB *stb)
{
    for (unsigned i = 0; i < stb->nops; i++) {
        uint16_t *opc = &stb->ops[i].opc;

        if (*opc == INDEX_op_add_i64) {
            *opc = INDEX_op_sub_i64;
        } else if (*opc == INDEX_op_add_i32) {
            *opc = INDEX_op_sub_i32;
        } else if (*opc == INDEX_op_xor_vec) {
            *opc = INDEX_op_or_vec;
        }
    }
}

static void run_case(Conformance *cf, unsigned idx, const Case *c)
{
    HybridSnapshot *snap = g_new0(HybridSnapshot, 1);
    HybridCompileError err;
    HybridExitSlot links[2] = { };
    uint8_t valid = 1;
    uint64_t entries = 0;
    HybridCodeRefs refs = {
        .valid = &valid, .entries = &entries, .links = links,
    };
    g_autofree State *in = g_new(State, 1);
    g_autofree State *a = g_new(State, 1);
    g_autofree State *b = g_new(State, 1);
    const void *tcg_code;
    HybridCode *code;
    HybridTraceFn fn;

    snap->trace_id = 0xc0000000u + idx;
    snap->ntbs = 1;
    snap->tbs = g_new0(HybridSnapTB, 1);
    snap->target = &case_desc;
    tcg_code = tcg_compile(cf, c, &snap->tbs[0]);
    if (!tcg_code) {
        hybrid_snapshot_free(snap);
        return;
    }
    for (unsigned i = 0; i < snap->tbs[0].nops; i++) {
        cf->seen[snap->tbs[0].ops[i].opc] = true;
    }
    if (cf->mutate) {
        mutate_ops(&snap->tbs[0]);
    }
    code = hybrid_jit_compile(snap, &refs, &err);
    hybrid_snapshot_free(snap);
    if (!code && err.reason == HYBRID_ABORT_UNSUPPORTED_OP) {
        /* a counted fallback to TCG, as in a trace: listed, not failed */
        QAPI_LIST_PREPEND(cf->res->unsupported,
                          g_strdup_printf("%s: %s", c->name, err.detail));
        return;
    }
    if (!code) {
        g_autofree char *why = g_strdup_printf("not compiled: %s%s%s",
                                               hybrid_abort_info[err.reason].name,
                                               err.detail[0] ? ": " : "",
                                               err.detail);
        failure(cf, c, why);
        return;
    }
    fn = hybrid_code_fn(code);
    cf->res->cases++;
    for (unsigned n = 0; n < cf->runs; n++) {
        make_inputs(cf, c, n, in);
        /* odd runs start with an empty TLB: the slow paths run too */
        put_state(cf, in);
        if (n & 1) {
            tlb_flush(cf->cpu);
        }
        tcg_qemu_tb_exec(cf->env, tcg_code);
        get_state(cf, a);
        put_state(cf, in);
        if (n & 1) {
            tlb_flush(cf->cpu);
        }
        fn(cf->env, 0);
        get_state(cf, b);
        cf->res->runs++;
        if (memcmp(a, b, sizeof(*a))) {
            mismatch(cf, c, in, a, b);
            break;
        }
    }
    hybrid_code_free(code);
}

static void conformance_work(CPUState *cpu, run_on_cpu_data data)
{
    Conformance *cf = data.host_ptr;
    CPUX86State *saved_env = g_new(CPUX86State, 1);
    g_autofree uint8_t *saved_mem = g_malloc(MEM_SIZE);

    cf->env = cpu_env(cpu);
    *saved_env = *cf->env;
    cpu_physical_memory_read(MEM_BASE, saved_mem, MEM_SIZE);
    mmu_idx = cpu_mmu_index(cpu, false);
    case_desc = hybrid_target_desc;
    case_desc.pcrel = false;
    case_desc.trace_exit = case_exit;
    case_desc.edge_ok = case_edge_ok;
    case_desc.state_pc = case_state_pc;
    if (!cases) {
        build_cases();
    }
    for (unsigned i = 0; i < cases->len; i++) {
        const Case *c = &g_array_index(cases, Case, i);

        if (!cf->filter || strstr(c->name, cf->filter)) {
            run_case(cf, i, c);
        }
    }
    for (int i = NB_OPS - 1; i >= 0; i--) {
        if (cf->seen[i]) {
            QAPI_LIST_PREPEND(cf->res->ops,
                              g_strdup(hybrid_llvm_op_name(i)));
        }
    }
    cf->res->mismatch_count = cf->nmismatch;
    /* the vCPU as it was, with nothing translated from the cases left */
    *cf->env = *saved_env;
    g_free(saved_env);
    cpu_physical_memory_write(MEM_BASE, saved_mem, MEM_SIZE);
    tlb_flush(cpu);
}

static HybridConformance *conformance_run(uint32_t runs, uint64_t seed,
                                          bool mutate, const char *filter,
                                          Error **errp)
{
    HybridJitOptions o;
    Conformance cf = {
        .cpu = first_cpu, .runs = runs, .mutate = mutate, .filter = filter,
    };
    Error *err = NULL;

    if (runstate_is_running()) {
        error_setg(errp, "x-hybrid-conformance needs a stopped guest "
                   "(start QEMU with -S, or 'stop' first): it uses the "
                   "first vCPU's registers and guest RAM at %#x",
                   MEM_BASE);
        return NULL;
    }
    if (!first_cpu || !tcg_enabled()) {
        error_setg(errp, "x-hybrid-conformance needs a TCG vCPU");
        return NULL;
    }
    o = hybrid_jit_options();
    if (!hybrid_jit_init(&o, &err)) {
        error_propagate(errp, err);
        return NULL;
    }
    cf.rng = g_rand_new_with_seed(seed);
    cf.res = g_new0(HybridConformance, 1);
    run_on_cpu(first_cpu, conformance_work, RUN_ON_CPU_HOST_PTR(&cf));
    g_rand_free(cf.rng);
    return cf.res;
}

static void conformance_register(void)
{
    hybrid_conformance = conformance_run;
}
type_init(conformance_register);
