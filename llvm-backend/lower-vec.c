/*
 * llvm-backend: TCG vector ops as LLVM vectors. A TCG vector value is an
 * integer of its width (llvm_ty()); each op bit-casts it to the
 * <lanes x element> view it works on (vec_value(), vec_store()). A host
 * backend's own vector ops are lowered by what tcg-host says they compute
 * (TcgHostVecKind), not by their name.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "tcg-host/tcg-host.h"
#include "lower-internal.h"

/* Vector ops: <lanes x element> views of a TCG vector value. */
static LLVMTypeRef vec_ty(Lower *l, const HybridSnapOp *op)
{
    unsigned bits = LLVMGetIntTypeWidth(llvm_ty(l, op->param1));
    unsigned ebits = 8 << op->param2;

    return LLVMVectorType(LLVMIntTypeInContext(l->ctx, ebits), bits / ebits);
}

static LLVMValueRef vec_value(Lower *l, const HybridSnapOp *op, uint64_t idx)
{
    return LLVMBuildBitCast(l->b, temp_value(l, idx), vec_ty(l, op), "");
}

static void vec_store(Lower *l, const HybridSnapOp *op, uint64_t idx,
                      LLVMValueRef v)
{
    temp_store(l, idx, LLVMBuildBitCast(l->b, v, llvm_ty(l, op->param1), ""));
}

/* A vector of @op's shape with every element @x (an integer). */
static LLVMValueRef vec_splat(Lower *l, const HybridSnapOp *op, LLVMValueRef x)
{
    LLVMTypeRef vt = vec_ty(l, op);
    LLVMTypeRef et = LLVMGetElementType(vt);
    unsigned n = LLVMGetVectorSize(vt);
    unsigned xw = LLVMGetIntTypeWidth(LLVMTypeOf(x));
    unsigned ew = LLVMGetIntTypeWidth(et);
    LLVMValueRef v;

    if (xw > ew) {
        x = LLVMBuildTrunc(l->b, x, et, "");
    } else if (xw < ew) {
        x = LLVMBuildZExt(l->b, x, et, "");
    }
    v = LLVMBuildInsertElement(l->b, LLVMGetUndef(vt), x, k64(l, 0), "");
    return LLVMBuildShuffleVector(l->b, v, LLVMGetUndef(vt),
                                  LLVMConstNull(LLVMVectorType(l->i32, n)),
                                  "");
}

/* Shift counts masked to the element width (out of range: poison). */
static LLVMValueRef vec_mask_count(Lower *l, const HybridSnapOp *op,
                                   LLVMValueRef c)
{
    unsigned ew = 8 << op->param2;

    return LLVMBuildAnd(l->b, c, vec_splat(l, op, k64(l, ew - 1)), "");
}

static LLVMValueRef vec_intrinsic(Lower *l, const char *name,
                                  const HybridSnapOp *op, LLVMValueRef *args,
                                  unsigned n)
{
    return call_intrinsic(l, name, vec_ty(l, op), args, n);
}

/* The TcgHostVecKind of the host backend's own op @opc, or -1. */
static int host_vec_kind(unsigned opc)
{
    static int8_t kind[NB_OPS];
    static gsize done;

    if (g_once_init_enter(&done)) {
        for (unsigned i = 0; i < NB_OPS; i++) {
            kind[i] = -1;
            for (size_t k = 0; k < tcg_host_info.n_vec_ops; k++) {
                if (!strcmp(tcg_op_defs[i].name,
                            tcg_host_info.vec_ops[k].name)) {
                    kind[i] = tcg_host_info.vec_ops[k].kind;
                }
            }
        }
        g_once_init_leave(&done, 1);
    }
    return kind[opc];
}

static LLVMValueRef vec_shuffle(Lower *l, LLVMValueRef x, LLVMValueRef y,
                                const unsigned *idx, unsigned n)
{
    LLVMValueRef m[64];

    for (unsigned i = 0; i < n; i++) {
        m[i] = LLVMConstInt(l->i32, idx[i], false);
    }
    return LLVMBuildShuffleVector(l->b, x, y, LLVMConstVector(m, n), "");
}

/* A constant vector of type @vt with every element @v. */
static LLVMValueRef vec_const(LLVMTypeRef vt, uint64_t v)
{
    LLVMValueRef e[64];
    unsigned n = LLVMGetVectorSize(vt);

    for (unsigned i = 0; i < n; i++) {
        e[i] = LLVMConstInt(LLVMGetElementType(vt), v, false);
    }
    return LLVMConstVector(e, n);
}

/*
 * Input @idx of host op @op, as the op's vector type: a constant of
 * another width is the same replicated 64-bit value.
 */
static LLVMValueRef host_vec_value(Lower *l, const HybridSnapOp *op,
                                   uint64_t idx)
{
    const HybridSnapTemp *t = snap_temp(l, idx);

    if (t->kind == HYBRID_TEMP_CONST && t->type != op->param1) {
        unsigned n = LLVMGetIntTypeWidth(llvm_ty(l, op->param1)) / 64;

        return LLVMBuildBitCast(l->b, vec_const(LLVMVectorType(l->i64, n),
                                                t->val),
                                vec_ty(l, op), "");
    }
    return vec_value(l, op, idx);
}

/* A host backend's own vector op, by what tcg-host says it computes. */
static bool lower_host_vec(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    LLVMTypeRef vt = vec_ty(l, op);
    unsigned n = LLVMGetVectorSize(vt), ebits = 8 << op->param2;
    unsigned per = 128 / ebits;         /* elements in a 128-bit lane */
    int kind = host_vec_kind(op->opc);
    const TCGOpDef *def = &tcg_op_defs[op->opc];
    unsigned idx[64];
    LLVMValueRef x, y, z, args[3];

    /*
     * The backend may apply these ops to narrower temps than the op's
     * type (an 8-byte vector in a 16-byte register) and use the register
     * bits above the temp's; and lanes need 128 bits. Neither is
     * modelled: such code stays with TCG.
     */
    for (unsigned k = 0; k < def->nb_oargs + def->nb_iargs; k++) {
        const HybridSnapTemp *t = snap_temp(l, a[k]);

        if (t->type != op->param1 && t->kind != HYBRID_TEMP_CONST) {
            return false;
        }
    }
    if (n * ebits < 128 && kind != TCG_HOST_VEC_BLEND_IMM &&
        kind != TCG_HOST_VEC_FSHL_IMM && kind != TCG_HOST_VEC_FSHL_VAR &&
        kind != TCG_HOST_VEC_FSHR_VAR) {
        return false;
    }

    switch (kind) {
    case TCG_HOST_VEC_INTERLEAVE_LO:
    case TCG_HOST_VEC_INTERLEAVE_HI: {
        unsigned base = kind == TCG_HOST_VEC_INTERLEAVE_HI ? per / 2 : 0;

        for (unsigned i = 0; i < n; i++) {
            idx[i] = (i & 1 ? n : 0) + i / per * per + base + i % per / 2;
        }
        z = vec_shuffle(l, host_vec_value(l, op, a[1]),
                        host_vec_value(l, op, a[2]), idx, n);
        break;
    }
    case TCG_HOST_VEC_PACK_SS:
    case TCG_HOST_VEC_PACK_US: {
        LLVMTypeRef wt = LLVMVectorType(LLVMIntTypeInContext(l->ctx,
                                                             2 * ebits), n / 2);
        LLVMTypeRef nt = LLVMVectorType(LLVMGetElementType(vt), n / 2);
        bool ss = kind == TCG_HOST_VEC_PACK_SS;
        uint64_t lo = ss ? -(1ull << (ebits - 1)) : 0;
        uint64_t hi = ss ? (1ull << (ebits - 1)) - 1 : (1ull << ebits) - 1;
        LLVMValueRef in[2] = {
            host_vec_value(l, op, a[1]), host_vec_value(l, op, a[2]),
        };
        unsigned half = per / 2;

        for (unsigned k = 0; k < 2; k++) {
            args[0] = LLVMBuildBitCast(l->b, in[k], wt, "");
            args[1] = vec_const(wt, lo);
            args[0] = call_intrinsic(l, "llvm.smax", wt, args, 2);
            args[1] = vec_const(wt, hi);
            in[k] = LLVMBuildTrunc(l->b,
                                   call_intrinsic(l, "llvm.smin", wt, args, 2),
                                   nt, "");
        }
        for (unsigned i = 0; i < n; i++) {
            unsigned lane = i / per, j = i % per;

            idx[i] = j < half ? lane * half + j
                              : n / 2 + lane * half + j - half;
        }
        z = vec_shuffle(l, in[0], in[1], idx, n);
        break;
    }
    case TCG_HOST_VEC_BLEND_IMM: {
        LLVMValueRef m[64];

        for (unsigned i = 0; i < n; i++) {
            m[i] = LLVMConstInt(l->i1, (a[3] >> (i % 8)) & 1, false);
        }
        z = LLVMBuildSelect(l->b, LLVMConstVector(m, n),
                            host_vec_value(l, op, a[2]),
                            host_vec_value(l, op, a[1]), "");
        break;
    }
    case TCG_HOST_VEC_FSHL_IMM:
    case TCG_HOST_VEC_FSHL_VAR:
        x = host_vec_value(l, op, a[1]);
        y = host_vec_value(l, op, a[2]);
        args[0] = x;
        args[1] = y;
        args[2] = kind == TCG_HOST_VEC_FSHL_IMM ? vec_splat(l, op, k64(l, a[3]))
                                                : host_vec_value(l, op, a[3]);
        z = vec_intrinsic(l, "llvm.fshl", op, args, 3);
        break;
    case TCG_HOST_VEC_FSHR_VAR:
        args[0] = host_vec_value(l, op, a[2]);
        args[1] = host_vec_value(l, op, a[1]);
        args[2] = host_vec_value(l, op, a[3]);
        z = vec_intrinsic(l, "llvm.fshr", op, args, 3);
        break;
    default:
        return false;
    }
    vec_store(l, op, a[0], z);
    return true;
}

/* The LLVM intrinsic of element-wise op @opc, if it has one. */
static const char *vec_intrinsic_name(unsigned opc)
{
    switch (opc) {
    case INDEX_op_ssadd_vec:
        return "llvm.sadd.sat";
    case INDEX_op_usadd_vec:
        return "llvm.uadd.sat";
    case INDEX_op_sssub_vec:
        return "llvm.ssub.sat";
    case INDEX_op_ussub_vec:
        return "llvm.usub.sat";
    case INDEX_op_smin_vec:
        return "llvm.smin";
    case INDEX_op_umin_vec:
        return "llvm.umin";
    case INDEX_op_smax_vec:
        return "llvm.smax";
    case INDEX_op_umax_vec:
        return "llvm.umax";
    default:
        return NULL;
    }
}

/* Lower vector op @op; false if it is not one this knows. */
bool lower_vec(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    LLVMBuilderRef b = l->b;
    unsigned bytes = LLVMGetIntTypeWidth(llvm_ty(l, op->param1)) / 8;
    LLVMValueRef x, y, z, args[3];
    const char *name;

    if (host_vec_kind(op->opc) >= 0) {
        return lower_host_vec(l, op, a);
    }

    switch (op->opc) {
    case INDEX_op_mov_vec:
        temp_store(l, a[0], temp_value(l, a[1]));
        return true;
    case INDEX_op_dup_vec:
        vec_store(l, op, a[0], vec_splat(l, op, temp_value(l, a[1])));
        return true;
    case INDEX_op_ld_vec:
        x = LLVMBuildLoad2(b, llvm_ty(l, op->param1), host_ptr(l, a[1], a[2]),
                           "");
        env_access(l, x, a[1], a[2], bytes);
        LLVMSetAlignment(x, 1);
        temp_store(l, a[0], x);
        return true;
    case INDEX_op_st_vec:
        x = LLVMBuildStore(b, temp_value(l, a[0]), host_ptr(l, a[1], a[2]));
        env_access(l, x, a[1], a[2], bytes);
        LLVMSetAlignment(x, 1);
        return true;
    case INDEX_op_dupm_vec:
        x = LLVMBuildLoad2(b, LLVMGetElementType(vec_ty(l, op)),
                           host_ptr(l, a[1], a[2]), "");
        env_access(l, x, a[1], a[2], 16);
        LLVMSetAlignment(x, 1);
        vec_store(l, op, a[0], vec_splat(l, op, x));
        return true;
    case INDEX_op_not_vec:
        temp_store(l, a[0], LLVMBuildNot(b, temp_value(l, a[1]), ""));
        return true;
    case INDEX_op_and_vec:
    case INDEX_op_or_vec:
    case INDEX_op_xor_vec:
    case INDEX_op_andc_vec:
    case INDEX_op_orc_vec:
    case INDEX_op_nand_vec:
    case INDEX_op_nor_vec:
    case INDEX_op_eqv_vec:
        x = temp_value(l, a[1]);
        y = temp_value(l, a[2]);
        switch (op->opc) {
        case INDEX_op_and_vec: z = LLVMBuildAnd(b, x, y, ""); break;
        case INDEX_op_or_vec: z = LLVMBuildOr(b, x, y, ""); break;
        case INDEX_op_xor_vec: z = LLVMBuildXor(b, x, y, ""); break;
        case INDEX_op_andc_vec:
            z = LLVMBuildAnd(b, x, LLVMBuildNot(b, y, ""), "");
            break;
        case INDEX_op_orc_vec:
            z = LLVMBuildOr(b, x, LLVMBuildNot(b, y, ""), "");
            break;
        case INDEX_op_nand_vec:
            z = LLVMBuildNot(b, LLVMBuildAnd(b, x, y, ""), "");
            break;
        case INDEX_op_nor_vec:
            z = LLVMBuildNot(b, LLVMBuildOr(b, x, y, ""), "");
            break;
        default:
            z = LLVMBuildNot(b, LLVMBuildXor(b, x, y, ""), "");
            break;
        }
        temp_store(l, a[0], z);
        return true;
    case INDEX_op_bitsel_vec:
        x = temp_value(l, a[1]);
        z = LLVMBuildOr(b, LLVMBuildAnd(b, temp_value(l, a[2]), x, ""),
                        LLVMBuildAnd(b, temp_value(l, a[3]),
                                     LLVMBuildNot(b, x, ""), ""), "");
        temp_store(l, a[0], z);
        return true;
    default:
        break;
    }

    /* element-wise from here */
    x = vec_value(l, op, a[1]);
    switch (op->opc) {
    case INDEX_op_neg_vec:
        vec_store(l, op, a[0], LLVMBuildNeg(b, x, ""));
        return true;
    case INDEX_op_abs_vec:
        z = LLVMBuildICmp(b, LLVMIntSLT, x, LLVMConstNull(LLVMTypeOf(x)), "");
        vec_store(l, op, a[0], LLVMBuildSelect(b, z, LLVMBuildNeg(b, x, ""), x,
                                               ""));
        return true;
    case INDEX_op_shli_vec:
    case INDEX_op_shri_vec:
    case INDEX_op_sari_vec:
    case INDEX_op_rotli_vec:
        y = vec_mask_count(l, op, vec_splat(l, op, k64(l, a[2])));
        break;
    case INDEX_op_shls_vec:
    case INDEX_op_shrs_vec:
    case INDEX_op_sars_vec:
    case INDEX_op_rotls_vec:
        y = vec_mask_count(l, op, vec_splat(l, op, temp_value(l, a[2])));
        break;
    case INDEX_op_shlv_vec:
    case INDEX_op_shrv_vec:
    case INDEX_op_sarv_vec:
    case INDEX_op_rotlv_vec:
    case INDEX_op_rotrv_vec:
        y = vec_mask_count(l, op, vec_value(l, op, a[2]));
        break;
    case INDEX_op_cmpsel_vec:
        y = vec_value(l, op, a[2]);
        z = cond_value(l, a[5], x, y);
        vec_store(l, op, a[0], LLVMBuildSelect(b, z, vec_value(l, op, a[3]),
                                               vec_value(l, op, a[4]), ""));
        return true;
    default:
        y = vec_value(l, op, a[2]);
        break;
    }
    args[0] = x;
    args[1] = y;
    name = vec_intrinsic_name(op->opc);
    if (name) {
        vec_store(l, op, a[0], vec_intrinsic(l, name, op, args, 2));
        return true;
    }
    switch (op->opc) {
    case INDEX_op_add_vec: z = LLVMBuildAdd(b, x, y, ""); break;
    case INDEX_op_sub_vec: z = LLVMBuildSub(b, x, y, ""); break;
    case INDEX_op_mul_vec: z = LLVMBuildMul(b, x, y, ""); break;
    case INDEX_op_shli_vec:
    case INDEX_op_shls_vec:
    case INDEX_op_shlv_vec:
        z = LLVMBuildShl(b, x, y, "");
        break;
    case INDEX_op_shri_vec:
    case INDEX_op_shrs_vec:
    case INDEX_op_shrv_vec:
        z = LLVMBuildLShr(b, x, y, "");
        break;
    case INDEX_op_sari_vec:
    case INDEX_op_sars_vec:
    case INDEX_op_sarv_vec:
        z = LLVMBuildAShr(b, x, y, "");
        break;
    case INDEX_op_rotli_vec:
    case INDEX_op_rotls_vec:
    case INDEX_op_rotlv_vec:
        args[1] = x;
        args[2] = y;
        z = vec_intrinsic(l, "llvm.fshl", op, args, 3);
        break;
    case INDEX_op_rotrv_vec:
        args[1] = x;
        args[2] = y;
        z = vec_intrinsic(l, "llvm.fshr", op, args, 3);
        break;
    case INDEX_op_cmp_vec:
        z = LLVMBuildSExt(b, cond_value(l, a[3], x, y), vec_ty(l, op), "");
        break;
    default:
        return false;
    }
    vec_store(l, op, a[0], z);
    return true;
}
