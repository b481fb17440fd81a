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
    /* TCG leaves out-of-range shift counts unspecified; LLVM makes them
       poison. Mask like the hosts TCG runs on. */
    return LLVMBuildAnd(l->b, c, kty(t, LLVMGetIntTypeWidth(t) - 1), "");
}

static LLVMValueRef low_bits(Lower *l, LLVMValueRef v, unsigned bits,
                             bool sign, LLVMTypeRef t)
{
    LLVMValueRef n = LLVMBuildTrunc(l->b, v, LLVMIntTypeInContext(l->ctx, bits),
                                    "");
    return sign ? LLVMBuildSExt(l->b, n, t, "") : LLVMBuildZExt(l->b, n, t, "");
}

/* The double-width product of @x and @y (signed or unsigned). */
static LLVMValueRef wide_mul(Lower *l, LLVMValueRef x, LLVMValueRef y,
                             bool sign)
{
    LLVMTypeRef wt = LLVMIntTypeInContext(l->ctx,
                                          2 * LLVMGetIntTypeWidth(LLVMTypeOf(x)));

    x = sign ? LLVMBuildSExt(l->b, x, wt, "") : LLVMBuildZExt(l->b, x, wt, "");
    y = sign ? LLVMBuildSExt(l->b, y, wt, "") : LLVMBuildZExt(l->b, y, wt, "");
    return LLVMBuildMul(l->b, x, y, "");
}

/* The upper half of double-width @z, as type @t. */
static LLVMValueRef high_half(Lower *l, LLVMValueRef z, LLVMTypeRef t)
{
    return LLVMBuildTrunc(l->b, LLVMBuildLShr(l->b, z,
                          kty(LLVMTypeOf(z), LLVMGetIntTypeWidth(t)), ""),
                          t, "");
}

/*
 * Integer op @op, whose type (that of its first temp) is @t; false if it
 * is not one.
 */
bool lower_int_op(Lower *l, const HybridSnapOp *op, const uint64_t *a,
                  LLVMTypeRef t)
{
    LLVMBuilderRef b = l->b;
    LLVMValueRef x, y, z;

    switch (op->opc) {
    OPC2(mov):
        temp_store(l, a[0], temp_value(l, a[1]));
        return true;
    OPC2(setcond):
    OPC2(negsetcond):
        x = LLVMBuildZExt(b, cond_value(l, a[3], temp_value(l, a[1]), temp_value(l, a[2])), t, "");
        if (op->opc == INDEX_op_negsetcond_i32 ||
            op->opc == INDEX_op_negsetcond_i64) {
            x = LLVMBuildNeg(b, x, "");
        }
        temp_store(l, a[0], x);
        return true;
    OPC2(movcond):
        temp_store(l, a[0], LLVMBuildSelect(b, cond_value(l, a[5], temp_value(l, a[1]), temp_value(l, a[2])),
                                     temp_value(l, a[3]), temp_value(l, a[4]), ""));
        return true;

    /* host memory (env and pointers held in temps) */
    case INDEX_op_ld8u_i32: case INDEX_op_ld8u_i64:
    case INDEX_op_ld8s_i32: case INDEX_op_ld8s_i64:
    case INDEX_op_ld16u_i32: case INDEX_op_ld16u_i64:
    case INDEX_op_ld16s_i32: case INDEX_op_ld16s_i64:
    case INDEX_op_ld32u_i64: case INDEX_op_ld32s_i64:
    case INDEX_op_ld_i32: case INDEX_op_ld_i64: {
        unsigned bits;
        bool sign = false;

        switch (op->opc) {
        case INDEX_op_ld8s_i32: case INDEX_op_ld8s_i64: sign = true; /* fall through */
        case INDEX_op_ld8u_i32: case INDEX_op_ld8u_i64: bits = 8; break;
        case INDEX_op_ld16s_i32: case INDEX_op_ld16s_i64: sign = true; /* fall through */
        case INDEX_op_ld16u_i32: case INDEX_op_ld16u_i64: bits = 16; break;
        case INDEX_op_ld32s_i64: sign = true; /* fall through */
        case INDEX_op_ld32u_i64: case INDEX_op_ld_i32: bits = 32; break;
        default: bits = 64; break;
        }
        x = LLVMBuildLoad2(b, LLVMIntTypeInContext(l->ctx, bits),
                           host_ptr(l, a[1], a[2]), "");
        env_access(l, x, a[1], a[2], bits / 8);
        if (snap_temp(l, a[1])->kind == HYBRID_TEMP_ENV && (int64_t)a[2] < 0) {
            /* env's negative-offset fields (icount_decr: exit requests)
               change under other threads: read them every time */
            LLVMSetVolatile(x, true);
        }
        if (bits < LLVMGetIntTypeWidth(t)) {
            x = sign ? LLVMBuildSExt(b, x, t, "") : LLVMBuildZExt(b, x, t, "");
        }
        temp_store(l, a[0], x);
        return true;
    }
    case INDEX_op_st8_i32: case INDEX_op_st8_i64:
    case INDEX_op_st16_i32: case INDEX_op_st16_i64:
    case INDEX_op_st32_i64: case INDEX_op_st_i32: case INDEX_op_st_i64: {
        unsigned bits = op->opc == INDEX_op_st8_i32 || op->opc == INDEX_op_st8_i64 ? 8 :
                        op->opc == INDEX_op_st16_i32 || op->opc == INDEX_op_st16_i64 ? 16 :
                        op->opc == INDEX_op_st_i64 ? 64 : 32;
        x = temp_value(l, a[0]);
        if (bits < LLVMGetIntTypeWidth(LLVMTypeOf(x))) {
            x = LLVMBuildTrunc(b, x, LLVMIntTypeInContext(l->ctx, bits), "");
        }
        if (snap_temp(l, a[1])->kind == HYBRID_TEMP_ENV) {
            env_written(l, a[2]);
            if ((int64_t)a[2] == l->s->target->can_do_io_offset) {
                /* helpers cannot recompile an I/O insn of a trace (no TB
                   to find from their return address): I/O stays legal */
                x = kty(l->i8, 1);
            }
        }
        env_access(l, LLVMBuildStore(b, x, host_ptr(l, a[1], a[2])), a[1],
                   a[2], bits / 8);
        return true;
    }

    OPC2(add): temp_store(l, a[0], LLVMBuildAdd(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(sub): temp_store(l, a[0], LLVMBuildSub(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(mul): temp_store(l, a[0], LLVMBuildMul(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(and): temp_store(l, a[0], LLVMBuildAnd(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(or): temp_store(l, a[0], LLVMBuildOr(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(xor): temp_store(l, a[0], LLVMBuildXor(b, temp_value(l, a[1]), temp_value(l, a[2]), "")); return true;
    OPC2(andc): temp_store(l, a[0], LLVMBuildAnd(b, temp_value(l, a[1]), LLVMBuildNot(b, temp_value(l, a[2]), ""), "")); return true;
    OPC2(orc): temp_store(l, a[0], LLVMBuildOr(b, temp_value(l, a[1]), LLVMBuildNot(b, temp_value(l, a[2]), ""), "")); return true;
    OPC2(eqv): temp_store(l, a[0], LLVMBuildNot(b, LLVMBuildXor(b, temp_value(l, a[1]), temp_value(l, a[2]), ""), "")); return true;
    OPC2(nand): temp_store(l, a[0], LLVMBuildNot(b, LLVMBuildAnd(b, temp_value(l, a[1]), temp_value(l, a[2]), ""), "")); return true;
    OPC2(nor): temp_store(l, a[0], LLVMBuildNot(b, LLVMBuildOr(b, temp_value(l, a[1]), temp_value(l, a[2]), ""), "")); return true;
    OPC2(not): temp_store(l, a[0], LLVMBuildNot(b, temp_value(l, a[1]), "")); return true;
    OPC2(neg): temp_store(l, a[0], LLVMBuildNeg(b, temp_value(l, a[1]), "")); return true;
    OPC2(shl): temp_store(l, a[0], LLVMBuildShl(b, temp_value(l, a[1]), mask_shift_count(l, temp_value(l, a[2]), t), "")); return true;
    OPC2(shr): temp_store(l, a[0], LLVMBuildLShr(b, temp_value(l, a[1]), mask_shift_count(l, temp_value(l, a[2]), t), "")); return true;
    OPC2(sar): temp_store(l, a[0], LLVMBuildAShr(b, temp_value(l, a[1]), mask_shift_count(l, temp_value(l, a[2]), t), "")); return true;
    OPC2(rotl):
    OPC2(rotr): {
        LLVMValueRef v[3] = { temp_value(l, a[1]), NULL, temp_value(l, a[2]) };
        v[1] = v[0];
        bool left = op->opc == INDEX_op_rotl_i32 || op->opc == INDEX_op_rotl_i64;
        temp_store(l, a[0], call_intrinsic(l, left ? "llvm.fshl" : "llvm.fshr", t, v, 3));
        return true;
    }
    OPC2(div): OPC2(divu): OPC2(rem): OPC2(remu): {
        /* TCG leaves division by zero unspecified; LLVM makes it UB */
        LLVMValueRef d = temp_value(l, a[2]);
        LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstNull(t), "");
        d = LLVMBuildSelect(b, zero, kty(t, 1), d, "");
        x = temp_value(l, a[1]);
        switch (op->opc) {
        OPC2(div): {
            /* INT_MIN / -1 overflows: TCG hosts wrap, LLVM is UB */
            LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstAllOnes(t), "");
            LLVMValueRef q = LLVMBuildSDiv(b, x, LLVMBuildSelect(b, m1, kty(t, 1), d, ""), "");
            z = LLVMBuildSelect(b, m1, LLVMBuildNeg(b, x, ""), q, "");
            break;
        }
        OPC2(divu): z = LLVMBuildUDiv(b, x, d, ""); break;
        OPC2(rem): {
            LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, d, LLVMConstAllOnes(t), "");
            LLVMValueRef r = LLVMBuildSRem(b, x, LLVMBuildSelect(b, m1, kty(t, 1), d, ""), "");
            z = LLVMBuildSelect(b, m1, LLVMConstNull(t), r, "");
            break;
        }
        default: z = LLVMBuildURem(b, x, d, ""); break;
        }
        temp_store(l, a[0], z);
        return true;
    }
    OPC2(ext8s): temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 8, true, t)); return true;
    OPC2(ext8u): temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 8, false, t)); return true;
    OPC2(ext16s): temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 16, true, t)); return true;
    OPC2(ext16u): temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 16, false, t)); return true;
    case INDEX_op_ext32s_i64: temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 32, true, t)); return true;
    case INDEX_op_ext32u_i64: temp_store(l, a[0], low_bits(l, temp_value(l, a[1]), 32, false, t)); return true;
    case INDEX_op_ext_i32_i64: temp_store(l, a[0], LLVMBuildSExt(b, temp_value(l, a[1]), l->i64, "")); return true;
    case INDEX_op_extu_i32_i64: temp_store(l, a[0], LLVMBuildZExt(b, temp_value(l, a[1]), l->i64, "")); return true;
    case INDEX_op_extrl_i64_i32: temp_store(l, a[0], LLVMBuildTrunc(b, temp_value(l, a[1]), l->i32, "")); return true;
    case INDEX_op_extrh_i64_i32:
        temp_store(l, a[0], LLVMBuildTrunc(b, LLVMBuildLShr(b, temp_value(l, a[1]), k64(l, 32), ""), l->i32, ""));
        return true;
    OPC2(deposit): {
        unsigned ofs = a[3], len = a[4], w = LLVMGetIntTypeWidth(t);
        uint64_t m = len >= 64 ? ~0ull : ((1ull << len) - 1);
        LLVMValueRef keep = LLVMBuildAnd(b, temp_value(l, a[1]), kty(t, ~(m << ofs)), "");
        LLVMValueRef ins = LLVMBuildShl(b, LLVMBuildAnd(b, temp_value(l, a[2]), kty(t, m), ""),
                                        kty(t, ofs), "");
        (void)w;
        temp_store(l, a[0], LLVMBuildOr(b, keep, ins, ""));
        return true;
    }
    OPC2(extract): {
        unsigned ofs = a[2], len = a[3];
        uint64_t m = len >= 64 ? ~0ull : ((1ull << len) - 1);
        temp_store(l, a[0], LLVMBuildAnd(b, LLVMBuildLShr(b, temp_value(l, a[1]), kty(t, ofs), ""),
                                  kty(t, m), ""));
        return true;
    }
    OPC2(sextract): {
        unsigned ofs = a[2], len = a[3], w = LLVMGetIntTypeWidth(t);
        x = LLVMBuildShl(b, temp_value(l, a[1]), kty(t, w - len - ofs), "");
        temp_store(l, a[0], LLVMBuildAShr(b, x, kty(t, w - len), ""));
        return true;
    }
    OPC2(extract2): {
        LLVMValueRef v[3] = { temp_value(l, a[2]), temp_value(l, a[1]), kty(t, a[3]) };
        temp_store(l, a[0], call_intrinsic(l, "llvm.fshr", t, v, 3));
        return true;
    }
    OPC2(clz):
    OPC2(ctz): {
        bool lz = op->opc == INDEX_op_clz_i32 || op->opc == INDEX_op_clz_i64;
        LLVMValueRef v[2] = { temp_value(l, a[1]), kty(l->i1, 0) };
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
    case INDEX_op_bswap16_i32: case INDEX_op_bswap16_i64:
    case INDEX_op_bswap32_i32: case INDEX_op_bswap32_i64:
    case INDEX_op_bswap64_i64: {
        unsigned bits = op->opc == INDEX_op_bswap64_i64 ? 64 :
            (op->opc == INDEX_op_bswap16_i32 || op->opc == INDEX_op_bswap16_i64) ? 16 : 32;
        unsigned flags = bits == 64 ? 0 : a[2];
        LLVMTypeRef nt = LLVMIntTypeInContext(l->ctx, bits);
        LLVMValueRef v[1] = { LLVMBuildTrunc(b, temp_value(l, a[1]), nt, "") };

        if (bits == LLVMGetIntTypeWidth(t)) {
            v[0] = temp_value(l, a[1]);
        }
        x = call_intrinsic(l, "llvm.bswap", nt, v, 1);
        if (bits < LLVMGetIntTypeWidth(t)) {
            x = (flags & TCG_BSWAP_OS) ? LLVMBuildSExt(b, x, t, "")
                                       : LLVMBuildZExt(b, x, t, "");
        }
        temp_store(l, a[0], x);
        return true;
    }
    OPC2(add2):
    OPC2(sub2): {
        unsigned w = LLVMGetIntTypeWidth(t);
        LLVMTypeRef wt = LLVMIntTypeInContext(l->ctx, 2 * w);
        LLVMValueRef sh = kty(wt, w);
        LLVMValueRef p = LLVMBuildOr(b, LLVMBuildZExt(b, temp_value(l, a[2]), wt, ""),
                         LLVMBuildShl(b, LLVMBuildZExt(b, temp_value(l, a[3]), wt, ""), sh, ""), "");
        LLVMValueRef q = LLVMBuildOr(b, LLVMBuildZExt(b, temp_value(l, a[4]), wt, ""),
                         LLVMBuildShl(b, LLVMBuildZExt(b, temp_value(l, a[5]), wt, ""), sh, ""), "");
        bool add = op->opc == INDEX_op_add2_i32 || op->opc == INDEX_op_add2_i64;
        z = add ? LLVMBuildAdd(b, p, q, "") : LLVMBuildSub(b, p, q, "");
        temp_store(l, a[0], LLVMBuildTrunc(b, z, t, ""));
        temp_store(l, a[1], high_half(l, z, t));
        return true;
    }
    OPC2(mulu2):
    OPC2(muls2):
        z = wide_mul(l, temp_value(l, a[2]), temp_value(l, a[3]),
                     op->opc == INDEX_op_muls2_i32 ||
                     op->opc == INDEX_op_muls2_i64);
        temp_store(l, a[0], LLVMBuildTrunc(b, z, t, ""));
        temp_store(l, a[1], high_half(l, z, t));
        return true;
    OPC2(muluh):
    OPC2(mulsh):
        z = wide_mul(l, temp_value(l, a[1]), temp_value(l, a[2]),
                     op->opc == INDEX_op_mulsh_i32 ||
                     op->opc == INDEX_op_mulsh_i64);
        temp_store(l, a[0], high_half(l, z, t));
        return true;
    default:
        return false;
    }
}
