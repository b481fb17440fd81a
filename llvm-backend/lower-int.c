/*
 * llvm-backend: TCG's integer ops, and its host loads and stores (ld/st
 * of env fields and of pointers held in temps). TCG leaves some results
 * unspecified (out-of-range shift counts, division by zero, INT_MIN / -1)
 * where LLVM has poison or undefined behaviour: those are given the
 * values TCG's hosts give.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "lower-internal.h"

static LLVMIntPredicate cond_pred(unsigned cond, bool *tst, bool *never,
                                  bool *always)
{
    *tst = *never = *always = false;
    switch (cond) {
    case TCG_COND_NEVER: *never = true; return LLVMIntEQ;
    case TCG_COND_ALWAYS: *always = true; return LLVMIntEQ;
    case TCG_COND_EQ: return LLVMIntEQ;
    case TCG_COND_NE: return LLVMIntNE;
    case TCG_COND_TSTEQ: *tst = true; return LLVMIntEQ;
    case TCG_COND_TSTNE: *tst = true; return LLVMIntNE;
    case TCG_COND_LT: return LLVMIntSLT;
    case TCG_COND_GE: return LLVMIntSGE;
    case TCG_COND_GT: return LLVMIntSGT;
    case TCG_COND_LE: return LLVMIntSLE;
    case TCG_COND_LTU: return LLVMIntULT;
    case TCG_COND_GEU: return LLVMIntUGE;
    case TCG_COND_GTU: return LLVMIntUGT;
    case TCG_COND_LEU: return LLVMIntULE;
    }
    return LLVMIntEQ;
}

/* TCG condition @cond on @a and @b: an i1, or a vector of them. */
LLVMValueRef cond_value(Lower *l, unsigned cond, LLVMValueRef a,
                        LLVMValueRef b)
{
    bool tst, never, always;
    LLVMIntPredicate p = cond_pred(cond, &tst, &never, &always);

    if (never || always) {
        return kty(l->i1, always);
    }
    if (tst) {
        a = LLVMBuildAnd(l->b, a, b, "");
        b = LLVMConstNull(LLVMTypeOf(a));
    }
    return LLVMBuildICmp(l->b, p, a, b, "");
}

static LLVMValueRef mask_shift_count(Lower *l, LLVMValueRef c, LLVMTypeRef t)
{
    /*
     * TCG leaves out-of-range shift counts unspecified; LLVM makes them
     * poison. Mask like the hosts TCG runs on.
     */
    return LLVMBuildAnd(l->b, c, kty(t, LLVMGetIntTypeWidth(t) - 1), "");
}

static LLVMValueRef low_bits(Lower *l, LLVMValueRef v, unsigned bits,
                             bool sign, LLVMTypeRef t)
{
    LLVMValueRef n = LLVMBuildTrunc(l->b, v, LLVMIntTypeInContext(l->ctx, bits),
                                    "");
    return extend(l, n, t, sign);
}

/* The double-width product of @x and @y (signed or unsigned). */
static LLVMValueRef wide_mul(Lower *l, LLVMValueRef x, LLVMValueRef y,
                             bool sign)
{
    unsigned w = LLVMGetIntTypeWidth(LLVMTypeOf(x));
    LLVMTypeRef wt = LLVMIntTypeInContext(l->ctx, 2 * w);

    x = extend(l, x, wt, sign);
    y = extend(l, y, wt, sign);
    return LLVMBuildMul(l->b, x, y, "");
}

/* The upper half of double-width @z, as type @t. */
static LLVMValueRef high_half(Lower *l, LLVMValueRef z, LLVMTypeRef t)
{
    return LLVMBuildTrunc(l->b, LLVMBuildLShr(l->b, z,
                          kty(LLVMTypeOf(z), LLVMGetIntTypeWidth(t)), ""),
                          t, "");
}

/* Double-width @z to a[0] (low half) and a[1] (high half), of type @t. */
static void store_halves(Lower *l, const uint64_t *a, LLVMValueRef z,
                         LLVMTypeRef t)
{
    temp_store(l, a[0], LLVMBuildTrunc(l->b, z, t, ""));
    temp_store(l, a[1], high_half(l, z, t));
}

/* A two-input op: @x op @y, of type @t. */
static LLVMValueRef binary_op(Lower *l, unsigned opc, LLVMValueRef x,
                              LLVMValueRef y, LLVMTypeRef t)
{
    LLVMBuilderRef b = l->b;

    switch (opc) {
    OPC2(add):
        return LLVMBuildAdd(b, x, y, "");
    OPC2(sub):
        return LLVMBuildSub(b, x, y, "");
    OPC2(mul):
        return LLVMBuildMul(b, x, y, "");
    OPC2(and):
        return LLVMBuildAnd(b, x, y, "");
    OPC2(or):
        return LLVMBuildOr(b, x, y, "");
    OPC2(xor):
        return LLVMBuildXor(b, x, y, "");
    OPC2(andc):
        return LLVMBuildAnd(b, x, LLVMBuildNot(b, y, ""), "");
    OPC2(orc):
        return LLVMBuildOr(b, x, LLVMBuildNot(b, y, ""), "");
    OPC2(eqv):
        return LLVMBuildNot(b, LLVMBuildXor(b, x, y, ""), "");
    OPC2(nand):
        return LLVMBuildNot(b, LLVMBuildAnd(b, x, y, ""), "");
    OPC2(nor):
        return LLVMBuildNot(b, LLVMBuildOr(b, x, y, ""), "");
    OPC2(shl):
        return LLVMBuildShl(b, x, mask_shift_count(l, y, t), "");
    OPC2(shr):
        return LLVMBuildLShr(b, x, mask_shift_count(l, y, t), "");
    OPC2(sar):
        return LLVMBuildAShr(b, x, mask_shift_count(l, y, t), "");
    OPC2(rotl):
    OPC2(rotr): {
        LLVMValueRef v[3] = { x, x, y };
        bool left = opc == INDEX_op_rotl_i32 || opc == INDEX_op_rotl_i64;

        return call_intrinsic(l, left ? "llvm.fshl" : "llvm.fshr", t, v, 3);
    }
    default:
        g_assert_not_reached();
    }
}

/*
 * div, divu, rem, remu: TCG leaves division by zero unspecified, LLVM
 * makes it undefined behaviour (so does INT_MIN / -1, which TCG's hosts
 * wrap): divide by 1 instead, and give INT_MIN / -1 the wrapped result.
 */
static LLVMValueRef divide_op(Lower *l, unsigned opc, LLVMValueRef x,
                              LLVMValueRef d, LLVMTypeRef t)
{
    LLVMBuilderRef b = l->b;
    LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstNull(t), "");
    LLVMValueRef m1, q;

    d = LLVMBuildSelect(b, zero, kty(t, 1), d, "");
    switch (opc) {
    OPC2(div):
        m1 = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstAllOnes(t), "");
        q = LLVMBuildSDiv(b, x, LLVMBuildSelect(b, m1, kty(t, 1), d, ""), "");
        return LLVMBuildSelect(b, m1, LLVMBuildNeg(b, x, ""), q, "");
    OPC2(divu):
        return LLVMBuildUDiv(b, x, d, "");
    OPC2(rem):
        m1 = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstAllOnes(t), "");
        q = LLVMBuildSRem(b, x, LLVMBuildSelect(b, m1, kty(t, 1), d, ""), "");
        return LLVMBuildSelect(b, m1, LLVMConstNull(t), q, "");
    default:
        return LLVMBuildURem(b, x, d, "");
    }
}

/* The ld*_i32/i64 ops: bits read and their signedness, or 0. */
static unsigned host_ld_bits(unsigned opc, bool *sign)
{
    *sign = opc == INDEX_op_ld8s_i32 || opc == INDEX_op_ld8s_i64 ||
            opc == INDEX_op_ld16s_i32 || opc == INDEX_op_ld16s_i64 ||
            opc == INDEX_op_ld32s_i64;
    switch (opc) {
    case INDEX_op_ld8u_i32:
    case INDEX_op_ld8u_i64:
    case INDEX_op_ld8s_i32:
    case INDEX_op_ld8s_i64:
        return 8;
    case INDEX_op_ld16u_i32:
    case INDEX_op_ld16u_i64:
    case INDEX_op_ld16s_i32:
    case INDEX_op_ld16s_i64:
        return 16;
    case INDEX_op_ld32u_i64:
    case INDEX_op_ld32s_i64:
    case INDEX_op_ld_i32:
        return 32;
    case INDEX_op_ld_i64:
        return 64;
    default:
        return 0;
    }
}

/* The st*_i32/i64 ops: bits written, or 0. */
static unsigned host_st_bits(unsigned opc)
{
    switch (opc) {
    case INDEX_op_st8_i32:
    case INDEX_op_st8_i64:
        return 8;
    case INDEX_op_st16_i32:
    case INDEX_op_st16_i64:
        return 16;
    case INDEX_op_st32_i64:
    case INDEX_op_st_i32:
        return 32;
    case INDEX_op_st_i64:
        return 64;
    default:
        return 0;
    }
}

/*
 * Host memory: ld (a[0] = *(a[1] + a[2])) and st (*(a[1] + a[2]) =
 * a[0]) of @bits, on env fields or pointers held in temps.
 */
static void lower_host_ld(Lower *l, const uint64_t *a, unsigned bits,
                          bool sign, LLVMTypeRef t)
{
    LLVMValueRef x = LLVMBuildLoad2(l->b, LLVMIntTypeInContext(l->ctx, bits),
                                    host_ptr(l, a[1], a[2]), "");

    env_access(l, x, a[1], a[2], bits / 8);
    if (snap_temp(l, a[1])->kind == HYBRID_TEMP_ENV && (int64_t)a[2] < 0) {
        /*
         * env's negative-offset fields (icount_decr: exit requests)
         * change under other threads: read them every time
         */
        LLVMSetVolatile(x, true);
    }
    if (bits < LLVMGetIntTypeWidth(t)) {
        x = extend(l, x, t, sign);
    }
    temp_store(l, a[0], x);
}

static void lower_host_st(Lower *l, const uint64_t *a, unsigned bits)
{
    LLVMValueRef x = temp_value(l, a[0]);

    if (bits < LLVMGetIntTypeWidth(LLVMTypeOf(x))) {
        x = LLVMBuildTrunc(l->b, x, LLVMIntTypeInContext(l->ctx, bits), "");
    }
    if (snap_temp(l, a[1])->kind == HYBRID_TEMP_ENV) {
        env_written(l, a[2]);
        if ((int64_t)a[2] == l->s->target->can_do_io_offset) {
            /*
             * helpers cannot recompile an I/O insn of a trace (no TB to
             * find from their return address): I/O stays legal
             */
            x = kty(l->i8, 1);
        }
    }
    env_access(l, LLVMBuildStore(l->b, x, host_ptr(l, a[1], a[2])), a[1],
               a[2], bits / 8);
}

/* ext8s/u, ext16s/u (both widths), ext32s/u_i64: the low bits, extended. */
static bool low_bits_op(unsigned opc, unsigned *bits, bool *sign)
{
    switch (opc) {
    OPC2(ext8s):
    OPC2(ext8u):
        *bits = 8;
        break;
    OPC2(ext16s):
    OPC2(ext16u):
        *bits = 16;
        break;
    case INDEX_op_ext32s_i64:
    case INDEX_op_ext32u_i64:
        *bits = 32;
        break;
    default:
        return false;
    }
    *sign = opc == INDEX_op_ext8s_i32 || opc == INDEX_op_ext8s_i64 ||
            opc == INDEX_op_ext16s_i32 || opc == INDEX_op_ext16s_i64 ||
            opc == INDEX_op_ext32s_i64;
    return true;
}

/* The low 2 * width bits of the pair @lo, @hi, as type @wt. */
static LLVMValueRef pair(Lower *l, LLVMValueRef lo, LLVMValueRef hi,
                         LLVMTypeRef wt)
{
    LLVMValueRef sh = kty(wt, LLVMGetIntTypeWidth(LLVMTypeOf(lo)));

    return LLVMBuildOr(l->b, LLVMBuildZExt(l->b, lo, wt, ""),
                       LLVMBuildShl(l->b, LLVMBuildZExt(l->b, hi, wt, ""), sh,
                                    ""), "");
}

/* bswap16/32 (both widths), bswap64_i64; flags TCG_BSWAP_*. */
static LLVMValueRef bswap_op(Lower *l, unsigned opc, uint64_t idx,
                             unsigned flags, LLVMTypeRef t)
{
    unsigned bits = opc == INDEX_op_bswap64_i64 ? 64 :
                    opc == INDEX_op_bswap16_i32 ||
                    opc == INDEX_op_bswap16_i64 ? 16 : 32;
    LLVMTypeRef nt = LLVMIntTypeInContext(l->ctx, bits);
    LLVMValueRef v[1], x;

    v[0] = bits == LLVMGetIntTypeWidth(t) ? temp_value(l, idx)
                                          : LLVMBuildTrunc(l->b,
                                                           temp_value(l, idx),
                                                           nt, "");
    x = call_intrinsic(l, "llvm.bswap", nt, v, 1);
    if (bits < LLVMGetIntTypeWidth(t)) {
        x = extend(l, x, t, flags & TCG_BSWAP_OS);
    }
    return x;
}

/*
 * Integer op @op, whose type (that of its first temp) is @t; false if it
 * is not one.
 */
bool lower_int_op(Lower *l, const HybridSnapOp *op, const uint64_t *a,
                  LLVMTypeRef t)
{
    LLVMBuilderRef b = l->b;
    unsigned opc = op->opc, bits;
    LLVMValueRef x, y, z;
    bool sign;

    if ((bits = host_ld_bits(opc, &sign))) {
        lower_host_ld(l, a, bits, sign, t);
        return true;
    }
    if ((bits = host_st_bits(opc))) {
        lower_host_st(l, a, bits);
        return true;
    }
    if (low_bits_op(opc, &bits, &sign)) {
        temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), bits, sign, t));
        return true;
    }

    switch (opc) {
    OPC2(mov):
        temp_store(l, a[0], temp_value(l, a[1]));
        return true;
    OPC2(setcond):
    OPC2(negsetcond):
        x = LLVMBuildZExt(b, cond_value(l, a[3], temp_value(l, a[1]),
                                        temp_value(l, a[2])), t, "");
        if (opc == INDEX_op_negsetcond_i32 ||
            opc == INDEX_op_negsetcond_i64) {
            x = LLVMBuildNeg(b, x, "");
        }
        temp_store(l, a[0], x);
        return true;
    OPC2(movcond):
        x = cond_value(l, a[5], temp_value(l, a[1]), temp_value(l, a[2]));
        temp_store(l, a[0], LLVMBuildSelect(b, x, temp_value(l, a[3]),
                                            temp_value(l, a[4]), ""));
        return true;
    OPC2(add):
    OPC2(sub):
    OPC2(mul):
    OPC2(and):
    OPC2(or):
    OPC2(xor):
    OPC2(andc):
    OPC2(orc):
    OPC2(eqv):
    OPC2(nand):
    OPC2(nor):
    OPC2(shl):
    OPC2(shr):
    OPC2(sar):
    OPC2(rotl):
    OPC2(rotr):
        x = temp_value(l, a[1]);
        y = temp_value(l, a[2]);
        temp_store(l, a[0], binary_op(l, opc, x, y, t));
        return true;
    OPC2(not):
        temp_store(l, a[0], LLVMBuildNot(b, temp_value(l, a[1]), ""));
        return true;
    OPC2(neg):
        temp_store(l, a[0], LLVMBuildNeg(b, temp_value(l, a[1]), ""));
        return true;
    OPC2(div):
    OPC2(divu):
    OPC2(rem):
    OPC2(remu):
        y = temp_value(l, a[2]);
        x = temp_value(l, a[1]);
        temp_store(l, a[0], divide_op(l, opc, x, y, t));
        return true;
    case INDEX_op_ext_i32_i64:
        temp_store(l, a[0], LLVMBuildSExt(b, temp_value(l, a[1]), l->i64, ""));
        return true;
    case INDEX_op_extu_i32_i64:
        temp_store(l, a[0], LLVMBuildZExt(b, temp_value(l, a[1]), l->i64, ""));
        return true;
    case INDEX_op_extrl_i64_i32:
        temp_store(l, a[0], LLVMBuildTrunc(b, temp_value(l, a[1]), l->i32,
                                           ""));
        return true;
    case INDEX_op_extrh_i64_i32:
        x = LLVMBuildLShr(b, temp_value(l, a[1]), k64(l, 32), "");
        temp_store(l, a[0], LLVMBuildTrunc(b, x, l->i32, ""));
        return true;
    OPC2(deposit): {
        unsigned ofs = a[3], len = a[4];
        uint64_t m = len >= 64 ? ~0ull : ((1ull << len) - 1);

        x = LLVMBuildAnd(b, temp_value(l, a[1]), kty(t, ~(m << ofs)), "");
        y = LLVMBuildShl(b, LLVMBuildAnd(b, temp_value(l, a[2]), kty(t, m),
                                         ""),
                         kty(t, ofs), "");
        temp_store(l, a[0], LLVMBuildOr(b, x, y, ""));
        return true;
    }
    OPC2(extract): {
        unsigned ofs = a[2], len = a[3];
        uint64_t m = len >= 64 ? ~0ull : ((1ull << len) - 1);

        x = LLVMBuildLShr(b, temp_value(l, a[1]), kty(t, ofs), "");
        temp_store(l, a[0], LLVMBuildAnd(b, x, kty(t, m), ""));
        return true;
    }
    OPC2(sextract): {
        unsigned ofs = a[2], len = a[3], w = LLVMGetIntTypeWidth(t);

        x = LLVMBuildShl(b, temp_value(l, a[1]), kty(t, w - len - ofs), "");
        temp_store(l, a[0], LLVMBuildAShr(b, x, kty(t, w - len), ""));
        return true;
    }
    OPC2(extract2): {
        LLVMValueRef v[3] = {
            temp_value(l, a[2]), temp_value(l, a[1]), kty(t, a[3]),
        };

        temp_store(l, a[0], call_intrinsic(l, "llvm.fshr", t, v, 3));
        return true;
    }
    OPC2(clz):
    OPC2(ctz): {
        bool lz = opc == INDEX_op_clz_i32 || opc == INDEX_op_clz_i64;
        LLVMValueRef v[2] = { temp_value(l, a[1]), kty(l->i1, 0) };

        /* a zero input gives a[2], as TCG's clz/ctz define */
        x = call_intrinsic(l, lz ? "llvm.ctlz" : "llvm.cttz", t, v, 2);
        y = LLVMBuildICmp(b, LLVMIntEQ, v[0], LLVMConstNull(t), "");
        temp_store(l, a[0], LLVMBuildSelect(b, y, temp_value(l, a[2]), x, ""));
        return true;
    }
    OPC2(ctpop): {
        LLVMValueRef v[1] = { temp_value(l, a[1]) };

        temp_store(l, a[0], call_intrinsic(l, "llvm.ctpop", t, v, 1));
        return true;
    }
    case INDEX_op_bswap16_i32:
    case INDEX_op_bswap16_i64:
    case INDEX_op_bswap32_i32:
    case INDEX_op_bswap32_i64:
    case INDEX_op_bswap64_i64:
        temp_store(l, a[0], bswap_op(l, opc, a[1],
                                     opc == INDEX_op_bswap64_i64 ? 0 : a[2],
                                     t));
        return true;
    OPC2(add2):
    OPC2(sub2): {
        LLVMTypeRef wt = LLVMIntTypeInContext(l->ctx,
                                              2 * LLVMGetIntTypeWidth(t));
        LLVMValueRef p = pair(l, temp_value(l, a[2]), temp_value(l, a[3]), wt);
        LLVMValueRef q = pair(l, temp_value(l, a[4]), temp_value(l, a[5]), wt);

        z = opc == INDEX_op_add2_i32 || opc == INDEX_op_add2_i64 ?
            LLVMBuildAdd(b, p, q, "") : LLVMBuildSub(b, p, q, "");
        store_halves(l, a, z, t);
        return true;
    }
    OPC2(mulu2):
    OPC2(muls2):
        z = wide_mul(l, temp_value(l, a[2]), temp_value(l, a[3]),
                     opc == INDEX_op_muls2_i32 || opc == INDEX_op_muls2_i64);
        store_halves(l, a, z, t);
        return true;
    OPC2(muluh):
    OPC2(mulsh):
        z = wide_mul(l, temp_value(l, a[1]), temp_value(l, a[2]),
                     opc == INDEX_op_mulsh_i32 || opc == INDEX_op_mulsh_i64);
        temp_store(l, a[0], high_half(l, z, t));
        return true;
    default:
        return false;
    }
}
