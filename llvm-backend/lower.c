/*
 * llvm-backend: lowering an op snapshot to LLVM IR, one function per
 * trace, uint64_t trace(env, from_tb) (HybridTraceFn).
 *
 *   entry ─► tb0 ─► tb1 ─► ... ─► tbN-1 ─┐  (loop traces go back to tb0;
 *             ▲       │                   │   regions: a merged side path
 *             │       └─► side path ──────┤   rejoins)
 *             └───────────────────────────┘
 *
 *   every TB   the pc field as it is on entry (tb_pc), then TCG's ops in
 *              order (lower_op()): labels are blocks; goto_tb and goto_ptr
 *              a guarded branch to a successor TB of the trace, or an exit
 *              (exit_trace(): a linked trace, TCG's TB for the exit, or
 *              TCG's execution loop)
 *   then       the state mapping's spills and reloads (place_syncs()),
 *              once every mapped global and what is dirty where is known
 *   last       the entry block (lower_trace_entry()): the valid flag, the
 *              entry counter, the mapped globals from env
 *
 * Guest globals (registers, flags state) are state-mapped: SSA values for
 * the whole trace, with env made exact only where something may look at
 * it (lower-state.c). The pc and insn state (x86's cc_op) stay in env;
 * before a call that may fault they are set to the insn's exact values,
 * computed from tb_pc, as TCG's restore_state_to_opc would, because
 * helpers cannot unwind through LLVM frames (lower-call.c).
 * lower-internal.h lists the other parts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "tcg/tcg.h"
#include <llvm-c/Core.h>
#include <llvm-c/Analysis.h>
#include "lower-internal.h"

/* Why the trace cannot be lowered (the first reason found); false. */
bool lower_fail(Lower *l, HybridAbort why, int opc, const char *detail)
{
    if (l->err->reason == HYBRID_ABORT__MAX) {
        l->err->reason = why;
        l->err->opc = opc;
        pstrcpy(l->err->detail, sizeof(l->err->detail), detail);
    }
    return false;
}

/*
 * The LLVM type holding a value of TCG type @tcg_type: integers of its
 * width, vectors too (bit-cast to <lanes x element> by each vector op).
 */
LLVMTypeRef llvm_ty(Lower *l, unsigned tcg_type)
{
    switch (tcg_type) {
    case TCG_TYPE_I32:
        return l->i32;
    case TCG_TYPE_I128:
    case TCG_TYPE_V128:
        return LLVMIntTypeInContext(l->ctx, 128);
    case TCG_TYPE_V256:
        return LLVMIntTypeInContext(l->ctx, 256);
    default:
        return l->i64;      /* I64, V64 */
    }
}

/* Tag @access with what memory it touches (TBAA_*, lower-internal.h). */
void set_tbaa(Lower *l, LLVMValueRef access, unsigned kind)
{
    static const char *const name[] = { "env", "guest", "ctl" };

    if (!l->tbaa_tag[kind]) {
        LLVMMetadataRef root, type, tag[3];

        root = LLVMMDStringInContext2(l->ctx, "hybrid tbaa", 11);
        root = LLVMMDNodeInContext2(l->ctx, &root, 1);
        tag[0] = LLVMMDStringInContext2(l->ctx, name[kind],
                                        strlen(name[kind]));
        tag[1] = root;
        tag[2] = LLVMValueAsMetadata(LLVMConstInt(l->i64, 0, false));
        type = LLVMMDNodeInContext2(l->ctx, tag, 3);
        tag[0] = type;
        tag[1] = type;
        l->tbaa_tag[kind] = LLVMMetadataAsValue(l->ctx,
                                                LLVMMDNodeInContext2(l->ctx,
                                                                     tag, 3));
    }
    LLVMSetMetadata(access, LLVMGetMDKindIDInContext(l->ctx, "tbaa", 4),
                    l->tbaa_tag[kind]);
}

/* A call of LLVM intrinsic @name overloaded on type @t. */
LLVMValueRef call_intrinsic(Lower *l, const char *name, LLVMTypeRef t,
                            LLVMValueRef *args, unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(l->mod, id, &t, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(l->ctx, id, &t, 1);

    return LLVMBuildCall2(l->b, fty, f, args, n, "");
}

/* Lower one op; false (with l->err set) if it cannot be. */
static bool lower_op(Lower *l, const HybridSnapOp *op)
{
    const uint64_t *a = &l->tb->args[op->first_arg];
    const TCGOpDef *def = &tcg_op_defs[op->opc];
    LLVMTypeRef t;

    if (def->flags & TCG_OPF_VECTOR) {
        return lower_vec(l, op, a) ||
               lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, def->name);
    }
    /* the type of most ops is the type of their first temp */
    t = def->nb_oargs + def->nb_iargs && op->opc != INDEX_op_call &&
        op->opc != INDEX_op_insn_start ?
        llvm_ty(l, snap_temp(l, a[0])->type) : l->i64;

    switch (op->opc) {
    case INDEX_op_insn_start: {
        l->have_insn = true;
        l->pc_written = l->state_written = false;
        l->insn_pc = hybrid_snap_insn_pc(l->s->target, l->tb, a[0]);
        l->insn_state = op->nargs > 1 ? (int64_t)a[1] : 0;
        return true;
    }
    case INDEX_op_discard:
        return true;
    case INDEX_op_mb:
        LLVMBuildFence(l->b, LLVMAtomicOrderingSequentiallyConsistent, false,
                       "");
        return true;
    case INDEX_op_set_label:
    case INDEX_op_br:
    OPC2(brcond):
    case INDEX_op_goto_tb:
    case INDEX_op_goto_ptr:
    case INDEX_op_exit_tb:
        return lower_flow_op(l, op, a);
    case INDEX_op_call:
        return lower_call(l, op, a);
    case INDEX_op_qemu_ld_i32:
    case INDEX_op_qemu_ld_i64:
    case INDEX_op_qemu_st_i32:
    case INDEX_op_qemu_st_i64:
    case INDEX_op_qemu_st8_i32:
    case INDEX_op_qemu_ld_i128:
    case INDEX_op_qemu_st_i128:
        return lower_guest_mem(l, op, a);
    default:
        return lower_int_op(l, op, a, t) ||
               lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, def->name);
    }
}

static bool lower_tb(Lower *l, unsigned i)
{
    l->tbi = i;
    l->tb = &l->s->tbs[i];
    l->local_slots = g_new0(LLVMValueRef, l->tb->ntemps);
    l->labels = g_new0(LLVMBasicBlockRef, l->tb->nlabels + 1);
    l->have_insn = false;
    l->dirty = (Dirty) { .plus_in = true };
    l->tb_set[0] = l->tb_set[1] = 0;
    LLVMPositionBuilderAtEnd(l->b, l->tb_bb[i]);
    {
        /* exact at a TB boundary, as TCG's PC-relative TBs assume */
        const HybridTargetDesc *d = l->s->target;

        l->tb_pc = LLVMBuildLoad2(l->b, pc_type(l), env_ptr(l, d->pc_offset),
                                  d->state_pc ? "tb_pc_raw" : "tb_pc");
        set_tbaa(l, l->tb_pc, TBAA_ENV);
        if (d->state_pc) {
            /*
             * Every way into a TB's block checked the pc's page offset
             * (the head's lookup, lower_edge(), edge_ok): say so. LLVM
             * then knows the low bits of every pc the TB computes, and
             * folds the next edge's page-offset test (a loop's edges
             * cost no compare and switch on the pc).
             */
            LLVMTypeRef pt = pc_type(l);
            uint64_t off = d->state_pc(l->tb, l->tb->pc) & ~d->page_mask;
            LLVMValueRef known =
                LLVMBuildOr(l->b,
                            LLVMBuildAnd(l->b, l->tb_pc,
                                         kty(pt, d->page_mask), ""),
                            kty(pt, off), "tb_pc");
            LLVMValueRef st = LLVMBuildStore(l->b, known,
                                             env_ptr(l, d->pc_offset));

            set_tbaa(l, st, TBAA_ENV);
            l->tb_pc = known;
        }
    }
    for (unsigned k = 0; k < l->tb->nops; k++) {
        if (!lower_op(l, &l->tb->ops[k])) {
            break;
        }
    }
    /* TCG ends every TB with an exit; a block left open returns */
    if (l->err->reason == HYBRID_ABORT__MAX &&
        !LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(l->b))) {
        exit_trace(l, HYBRID_EXIT_TB);
    }
    for (unsigned k = 0; k < l->tb->nlabels; k++) {
        /* a label branched to but never placed: TCG would not do that */
        if (l->labels[k] && !LLVMGetBasicBlockTerminator(l->labels[k])) {
            LLVMPositionBuilderAtEnd(l->b, l->labels[k]);
            LLVMBuildUnreachable(l->b);
        }
    }
    l->tb_written[i][0] = l->tb_set[0];
    l->tb_written[i][1] = l->tb_set[1];
    g_free(l->local_slots);
    g_free(l->labels);
    return l->err->reason == HYBRID_ABORT__MAX;
}

bool hybrid_lower(LLVMContextRef ctx, LLVMModuleRef mod, const char *name,
                  const HybridSnapshot *s, const HybridCodeRefs *refs,
                  HybridCompileError *err)
{
    Lower l = {
        .ctx = ctx, .mod = mod, .s = s, .refs = refs, .err = err,
        .portable = !refs,
    };
    LLVMTypeRef fty;
    bool ok = true;

    err->reason = HYBRID_ABORT__MAX;
    err->opc = -1;
    err->detail[0] = 0;
    l.i1 = LLVMInt1TypeInContext(ctx);
    l.i8 = LLVMInt8TypeInContext(ctx);
    l.i32 = LLVMInt32TypeInContext(ctx);
    l.i64 = LLVMInt64TypeInContext(ctx);
    l.ptr = LLVMPointerTypeInContext(ctx, 0);
    l.vd = LLVMVoidTypeInContext(ctx);
    {
        LLVMTypeRef params[] = { l.ptr, l.i64 };

        fty = LLVMFunctionType(l.i64, params, 2, false);
    }
    l.fn = LLVMAddFunction(mod, name, fty);
    l.env = LLVMGetParam(l.fn, 0);
    l.from_tb = LLVMGetParam(l.fn, 1);
    l.b = LLVMCreateBuilderInContext(ctx);
    l.entry = new_block(&l, "entry");
    l.tb_bb = g_new0(LLVMBasicBlockRef, s->ntbs);
    lower_state_init(&l);
    for (unsigned i = 0; i < s->ntbs; i++) {
        l.tb_bb[i] = new_block(&l, "tb");
    }
    for (unsigned i = 0; i < s->ntbs && ok; i++) {
        ok = lower_tb(&l, i);
    }
    if (ok) {
        place_syncs(&l);
    }
    if (ok) {
        lower_trace_entry(&l);
        if (LLVMVerifyFunction(l.fn, LLVMReturnStatusAction)) {
            ok = lower_fail(&l, HYBRID_ABORT_LLVM, -1, "IR verification");
        }
    }
    LLVMDisposeBuilder(l.b);
    g_free(l.tb_bb);
    lower_state_free(&l);
    return ok;
}

const char *hybrid_llvm_op_name(int opc)
{
    return opc >= 0 && opc < NB_OPS ? tcg_op_defs[opc].name : "?";
}
