/*
 * llvm-backend: calls out of a trace. Every call (TCG helpers, guest
 * memory slow paths, the edge check, the exit) goes through emit_call(),
 * which makes it a sync point for the state mapping; helpers cannot
 * unwind through LLVM frames, so around a call that may fault the pc and
 * insn state fields are made exact first, as TCG's restore_state_to_opc
 * would (exact_state(), restore_state()). lower_call() lowers TCG's call
 * op with the ABI of its helper descriptor.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "tcg/helper-info.h"
#include "lower-internal.h"

/*
 * Portable IR calls the functions it needs by name; a test harness
 * provides them (tests/host/port-harness.c). Only the guest memory
 * helpers, the edge check and the exit: a trace calling any other helper
 * is not portable.
 */
static const char *port_name(Lower *l, void *fn)
{
    static const char *const ld[] = {
        "hybrid_port_ld_u1", "hybrid_port_ld_u2", "hybrid_port_ld_u4",
        "hybrid_port_ld_u8",
    };
    static const char *const lds[] = {
        "hybrid_port_ld_s1", "hybrid_port_ld_s2", "hybrid_port_ld_s4",
    };
    static const char *const st[] = {
        "hybrid_port_st1", "hybrid_port_st2", "hybrid_port_st4",
        "hybrid_port_st8",
    };
    const HybridTargetDesc *d = l->s->target;

    for (int i = 0; i < 4; i++) {
        if (fn == d->ld_helper[i]) {
            return ld[i];
        }
        if (fn == d->st_helper[i]) {
            return st[i];
        }
        if (i < 3 && fn == d->lds_helper[i]) {
            return lds[i];
        }
    }
    if (fn == d->ld16_helper) {
        return "hybrid_port_ld16";
    }
    if (fn == d->st16_helper) {
        return "hybrid_port_st16";
    }
    if (fn == d->edge_ok) {
        return "hybrid_port_edge_ok";
    }
    if (fn == d->trace_exit) {
        return "hybrid_port_exit";
    }
    return NULL;
}

/* Portable IR: the harness's function @name, declared on first use. */
LLVMValueRef port_fn(Lower *l, const char *name, LLVMTypeRef fty)
{
    LLVMValueRef f = LLVMGetNamedFunction(l->mod, name);

    return f ? f : LLVMAddFunction(l->mod, name, fty);
}

/*
 * Call host function @fn (portable IR: the harness's function of that
 * name); a sync point of the state mapping, as l->call_sync says.
 */
LLVMValueRef emit_call(Lower *l, LLVMTypeRef fty, void *fn,
                       LLVMValueRef *args, unsigned n)
{
    LLVMValueRef callee;

    if (l->portable) {
        const char *name = port_name(l, fn);
        LLVMTypeRef rt = LLVMGetReturnType(fty);

        if (!name) {
            lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call,
                       "a helper the portable harness does not provide");
            return LLVMGetTypeKind(rt) == LLVMVoidTypeKind ? NULL
                                                           : LLVMGetUndef(rt);
        }
        callee = port_fn(l, name, fty);
    } else {
        callee = host_const_ptr(l, fn);
    }
    {
        LLVMValueRef call = LLVMBuildCall2(l->b, fty, callee, args, n, "");

        /* env exact for what it may read or raise (lower_call() says more) */
        add_sync(l, call, l->call_sync ? l->call_sync : SYNC_SPILL, 0, 0);
        l->call_sync = 0;
        l->call_in_line = false;
        return call;
    }
}

/*
 * Make the pc field (and insn state) exact around a call that may fault:
 * returns what restore_state() needs to put the translator's view back.
 *
 * @unwind: the call only faults as TCG's unwinding would see it (a guest
 * memory access): TCG restores the pc and insn state from the insn's
 * insn_start words then, whatever the translator wrote in the insn, so
 * they are written always. Else (a helper), where the translator wrote
 * the pc (or cc_op) itself, on the path to the call, its value is the
 * one it wants the helper to see (e.g. the next insn's pc before hlt):
 * it is left alone. "On the path": the flags are reset at every label
 * (lower_flow_op), since a write on one branch of an insn says nothing
 * of the other (x86's rep string loop writes the pc on its way back to
 * itself, then its last iteration's accesses follow at a label).
 */
ExactState exact_state(Lower *l, bool unwind)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMTypeRef pt = pc_type(l);
    ExactState sv = { 0 };

    if (!l->have_insn) {
        return sv;
    }
    if (unwind || !l->pc_written) {
        sv.pc = LLVMBuildLoad2(l->b, pt, env_ptr(l, d->pc_offset), "");
        sv.pc_exact = LLVMBuildAdd(l->b, l->tb_pc,
                                   kty(pt, d->state_pc(l->tb, l->insn_pc) -
                                       d->state_pc(l->tb, l->tb->pc)),
                                   "pc_exact");
        LLVMBuildStore(l->b, sv.pc_exact, env_ptr(l, d->pc_offset));
    }
    if (d->insn_state_offset >= 0 && (unwind || !l->state_written) &&
        l->insn_state != d->insn_state_dynamic) {
        sv.st = LLVMBuildLoad2(l->b, l->i32, env_ptr(l, d->insn_state_offset),
                               "");
        sv.st_exact = kty(l->i32, l->insn_state);
        LLVMBuildStore(l->b, sv.st_exact, env_ptr(l, d->insn_state_offset));
    }
    return sv;
}

static void restore_one(Lower *l, LLVMTypeRef t, int64_t off,
                        LLVMValueRef old, LLVMValueRef exact)
{
    LLVMValueRef now = LLVMBuildLoad2(l->b, t, env_ptr(l, off), "");
    LLVMValueRef same = LLVMBuildICmp(l->b, LLVMIntEQ, now, exact, "");

    LLVMBuildStore(l->b, LLVMBuildSelect(l->b, same, old, now, ""),
                   env_ptr(l, off));
}

void restore_state(Lower *l, ExactState sv)
{
    const HybridTargetDesc *d = l->s->target;

    if (sv.pc) {
        restore_one(l, pc_type(l), d->pc_offset, sv.pc, sv.pc_exact);
    }
    if (sv.st) {
        restore_one(l, l->i32, d->insn_state_offset, sv.st, sv.st_exact);
    }
}

/* A TCG helper call with the ABI of its descriptor. */
bool lower_call(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    unsigned nout = op->param2, nin = op->param1;
    const HybridSnapHelper *h = &l->tb->helpers[a[nout + nin]];
    LLVMTypeRef at[MAX_CALL_IARGS + 1], rt;
    LLVMTypeRef i128 = LLVMIntTypeInContext(l->ctx, 128);
    LLVMValueRef args[MAX_CALL_IARGS + 1], call;
    unsigned code, i, s, nargs;
    ExactState sv;

    if (strcmp(h->name, "lookup_tb_ptr") == 0) {
        /* only feeds goto_ptr, whose edge check does the real work */
        for (i = 0; i < nout; i++) {
            temp_store(l, a[i],
                       LLVMConstNull(llvm_ty(l, snap_temp(l, a[i])->type)));
        }
        return true;
    }
    /*
     * One typemask entry per C argument; TCG's call op has one slot per
     * host register's worth, so a 128-bit value (Int128, code 7) takes
     * two, in host memory order (TCGV128_LOW), as TCG lays out
     * TCG_CALL_ARG_NORMAL and TCG_CALL_RET_NORMAL. Any other layout (by
     * reference) does not add up and is refused below.
     */
    code = h->typemask & 7;
    if (nout && nout != (code == 0 ? 0 : code == 7 ? 2 : 1)) {
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call,
                          h->name);
    }
    rt = code == 0 ? l->vd : code <= 3 ? l->i32 : code <= 5 ? l->i64 :
         code == 6 ? l->ptr : i128;
    for (i = 0, s = 0; i < MAX_CALL_IARGS; i++) {
        unsigned c = (h->typemask >> (3 * (i + 1))) & 7;
        LLVMValueRef v;

        if (c == 0) {
            break;
        }
        if (s + (c == 7) >= nin) {
            return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call,
                              h->name);
        }
        v = temp_value(l, a[nout + s + (c == 7 && HOST_BIG_ENDIAN)]);
        if (c == 7) {
            LLVMValueRef hi = temp_value(l, a[nout + s + !HOST_BIG_ENDIAN]);

            at[i] = i128;
            v = LLVMBuildOr(l->b, LLVMBuildZExt(l->b, v, i128, ""),
                            LLVMBuildShl(l->b,
                                         LLVMBuildZExt(l->b, hi, i128, ""),
                                         kty(i128, 64), ""), "");
        } else if (c == 6) {
            at[i] = l->ptr;
            v = snap_temp(l, a[nout + s])->kind == HYBRID_TEMP_ENV ? l->env :
                LLVMBuildIntToPtr(l->b, v, l->ptr, "");
        } else {
            at[i] = c <= 3 ? l->i32 : l->i64;
            if (LLVMTypeOf(v) != at[i]) {
                v = c <= 3 ? LLVMBuildTrunc(l->b, v, at[i], "")
                           : LLVMBuildZExt(l->b, v, at[i], "");
            }
        }
        args[i] = v;
        s += c == 7 ? 2 : 1;
    }
    if (s != nin) {
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call,
                          h->name);
    }
    nargs = i;
    sv = exact_state(l, false);
    /* TCG's own rule: sync what the helper's flags say it may touch */
    /* (no reading globals implies no writing them) */
    l->call_sync = h->flags & TCG_CALL_NO_READ_GLOBALS ? 0 :
                   SYNC_SPILL |
                   (h->flags & (TCG_CALL_NO_WRITE_GLOBALS | TCG_CALL_NO_RETURN)
                    ? 0 : SYNC_RELOAD);
    if (!l->call_sync) {
        l->call_sync = SYNC_NONE;
    }
    l->call_in_line = true;
    call = emit_call(l, LLVMFunctionType(rt, at, nargs, false), h->func, args,
                     nargs);
    if (l->err->reason != HYBRID_ABORT__MAX) {
        return false;       /* portable IR: a helper it cannot name */
    }
    /* 32-bit arguments: sign or zero extension as the C ABI wants */
    for (i = 0; i < nargs; i++) {
        unsigned c = (h->typemask >> (3 * (i + 1))) & 7;
        if (c == 2 || c == 3) {
            const char *k = c == 3 ? "signext" : "zeroext";
            LLVMAttributeRef attr = LLVMCreateEnumAttribute(
                l->ctx, LLVMGetEnumAttributeKindForName(k, strlen(k)), 0);
            LLVMAddCallSiteAttribute(call, i + 1, attr);
        }
    }
    if (h->flags & TCG_CALL_NO_RETURN) {
        LLVMBuildUnreachable(l->b);
        dead_block(l);
        return true;
    }
    restore_state(l, sv);
    if (nout == 2) {
        LLVMValueRef hi = LLVMBuildLShr(l->b, call, kty(i128, 64), "");

        temp_store(l, a[HOST_BIG_ENDIAN],
                   LLVMBuildTrunc(l->b, call, l->i64, ""));
        temp_store(l, a[!HOST_BIG_ENDIAN],
                   LLVMBuildTrunc(l->b, hi, l->i64, ""));
    } else if (nout) {
        LLVMValueRef v = call;
        LLVMTypeRef ot = llvm_ty(l, snap_temp(l, a[0])->type);

        if (code == 6) {
            v = LLVMBuildPtrToInt(l->b, v, l->i64, "");
        }
        if (LLVMTypeOf(v) != ot) {
            v = ot == l->i64 ? extend(l, v, ot, code == 3)
                             : LLVMBuildTrunc(l->b, v, ot, "");
        }
        temp_store(l, a[0], v);
    }
    return true;
}
