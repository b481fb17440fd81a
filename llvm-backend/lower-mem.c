/*
 * llvm-backend: guest memory (qemu_ld/qemu_st) through QEMU's softmmu
 * helpers, which handle the TLB, alignment, atomicity and byte order given
 * by the MemOpIdx, behind an inline TLB fast path where that is right.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "exec/memop.h"
#include "exec/memopidx.h"
#include "lower-internal.h"

/*
 * The softmmu TLB fast path, as TCG's backends emit it: index the vCPU's
 * fast TLB for @mmu_idx with the page number, compare the entry's
 * read/write comparator with the page of the access (keeping the bits
 * that must be clear for alignment, and looking at the last byte so that
 * a page-crossing access misses); any flag in the comparator (MMIO, not
 * dirty, watchpoint, invalid, ...) also misses. Branches to @slow on a
 * miss; on a hit, returns the host address, in a new current block.
 */
static LLVMValueRef tlb_fast(Lower *l, LLVMValueRef addr, MemOp mop,
                             unsigned mmu_idx, bool store,
                             LLVMBasicBlockRef slow)
{
    const HybridTargetDesc *d = l->s->target;
    unsigned s_bits = mop & MO_SIZE;
    unsigned a_bits = memop_alignment_bits(mop);
    uint64_t a_mask = (1ull << a_bits) - 1, s_mask = (1ull << s_bits) - 1;
    int64_t f = d->tlb_fast_offset + (int64_t)mmu_idx * 2 * sizeof(void *);
    LLVMValueRef mask, table, idx, entry, cmp, want, addend, hit;
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                         "tlb_hit");

    mask = LLVMBuildLoad2(l->b, l->i64, env_ptr(l, f), "tlb_mask");
    table = LLVMBuildLoad2(l->b, l->ptr, env_ptr(l, f + sizeof(void *)),
                           "tlb_table");
    idx = LLVMBuildAnd(l->b, LLVMBuildLShr(l->b, addr,
                                           k64(l, d->page_bits -
                                               d->tlb_entry_bits), ""),
                       mask, "");
    entry = LLVMBuildGEP2(l->b, l->i8, table, &idx, 1, "tlb_entry");
    {
        LLVMValueRef off = k64(l, store ? d->tlb_write_ofs : d->tlb_read_ofs);

        cmp = LLVMBuildLoad2(l->b, l->i64,
                             LLVMBuildGEP2(l->b, l->i8, entry, &off, 1, ""),
                             "tlb_cmp");
    }
    want = addr;
    if (a_bits < s_bits) {
        want = LLVMBuildAdd(l->b, want, k64(l, s_mask - a_mask), "");
    }
    want = LLVMBuildAnd(l->b, want, k64(l, d->page_mask | a_mask), "");
    hit = LLVMBuildICmp(l->b, LLVMIntEQ, cmp, want, "");
    LLVMBuildCondBr(l->b, hit, ok, slow);
    LLVMPositionBuilderAtEnd(l->b, ok);
    {
        LLVMValueRef off = k64(l, d->tlb_addend_ofs);

        addend = LLVMBuildLoad2(l->b, l->i64,
                                LLVMBuildGEP2(l->b, l->i8, entry, &off, 1, ""),
                                "tlb_addend");
    }
    return LLVMBuildIntToPtr(l->b, LLVMBuildAdd(l->b, addr, addend, ""),
                             l->ptr, "host");
}

/* Is the inline fast path right for @mop (else: always the helper)? */
static bool tlb_inline(Lower *l, MemOp mop)
{
    return !l->portable && l->s->target->tlb_entry_bits &&
           (mop & MO_SIZE) <= MO_64 && !(mop & MO_BSWAP);
}

static LLVMValueRef guest_addr64(Lower *l, uint64_t idx)
{
    LLVMValueRef a = temp_value(l, idx);

    return LLVMTypeOf(a) != l->i64 ? LLVMBuildZExt(l->b, a, l->i64, "") : a;
}

static bool lower_qemu_ld(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    const HybridTargetDesc *d = l->s->target;
    uint32_t oi = a[2];
    MemOp mop = get_memop(oi);
    unsigned size = mop & MO_SIZE;
    bool sign = mop & MO_SIGN;
    LLVMTypeRef at[] = { l->ptr, l->i64, l->i32, l->i64 };
    LLVMValueRef args[4], v, fast = NULL;
    LLVMTypeRef ot = llvm_ty(l, snap_temp(l, a[0])->type);
    LLVMBasicBlockRef slow = NULL, fast_bb = NULL, join = NULL;
    void *fn;
    ExactState sv;

    if (size > 3 || (sign && size == 3)) {
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, "memop");
    }
    fn = sign ? d->lds_helper[size] : d->ld_helper[size];
    args[0] = l->env;
    args[1] = guest_addr64(l, a[1]);
    args[2] = kty(l->i32, oi);
    args[3] = k64(l, 0);            /* no host return address: state is exact */
    /*
     * Globals to env before the access, on the fast path too, as TCG
     * does: the slow path may fault or reach a device that reads them.
     * In line, so the next access need not store them again.
     */
    spill_here(l);
    if (tlb_inline(l, mop)) {
        LLVMTypeRef mt = LLVMIntTypeInContext(l->ctx, 8 << size);
        LLVMValueRef host;

        slow = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "ld_slow");
        join = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "ld_done");
        host = tlb_fast(l, args[1], mop, get_mmuidx(oi), false, slow);
        fast = LLVMBuildLoad2(l->b, mt, host, "");
        set_tbaa(l, fast, TBAA_GUEST);
        LLVMSetAlignment(fast, 1);
        if (size < 3) {
            fast = sign ? LLVMBuildSExt(l->b, fast, l->i64, "")
                        : LLVMBuildZExt(l->b, fast, l->i64, "");
        }
        fast_bb = LLVMGetInsertBlock(l->b);
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, slow);
    }
    sv = exact_state(l);
    l->call_sync = SYNC_NONE;       /* spilled above */
    v = emit_call(l, LLVMFunctionType(l->i64, at, 4, false), fn, args, 4);
    restore_state(l, sv);
    if (join) {
        LLVMValueRef phi;
        LLVMValueRef vals[2] = { fast, v };
        LLVMBasicBlockRef bbs[2] = { fast_bb, LLVMGetInsertBlock(l->b) };

        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, join);
        phi = LLVMBuildPhi(l->b, l->i64, "");
        LLVMAddIncoming(phi, vals, bbs, 2);
        v = phi;
    }
    if (ot != l->i64) {
        v = LLVMBuildTrunc(l->b, v, ot, "");
    }
    temp_store(l, a[0], v);
    return true;
}

static bool lower_qemu_st(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    const HybridTargetDesc *d = l->s->target;
    uint32_t oi = a[2];
    MemOp mop = get_memop(oi);
    unsigned size = mop & MO_SIZE;
    LLVMTypeRef vt = size == 3 ? l->i64 : l->i32;
    LLVMTypeRef at[] = { l->ptr, l->i64, vt, l->i32, l->i64 };
    LLVMValueRef args[5], v;
    LLVMBasicBlockRef slow = NULL, join = NULL;
    ExactState sv;

    if (size > 3) {
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, "memop");
    }
    v = temp_value(l, a[0]);
    if (LLVMTypeOf(v) != vt) {
        v = vt == l->i64 ? LLVMBuildZExt(l->b, v, vt, "")
                         : LLVMBuildTrunc(l->b, v, vt, "");
    }
    args[0] = l->env;
    args[1] = guest_addr64(l, a[1]);
    args[2] = v;
    args[3] = kty(l->i32, oi);
    args[4] = k64(l, 0);
    spill_here(l);                  /* as for a load */
    if (tlb_inline(l, mop)) {
        LLVMTypeRef mt = LLVMIntTypeInContext(l->ctx, 8 << size);
        LLVMValueRef host, st;

        slow = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "st_slow");
        join = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "st_done");
        host = tlb_fast(l, args[1], mop, get_mmuidx(oi), true, slow);
        st = LLVMBuildStore(l->b, LLVMTypeOf(v) == mt ? v :
                            LLVMBuildTrunc(l->b, v, mt, ""), host);
        LLVMSetAlignment(st, 1);
        set_tbaa(l, st, TBAA_GUEST);
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, slow);
    }
    sv = exact_state(l);
    l->call_sync = SYNC_NONE;       /* spilled above */
    emit_call(l, LLVMFunctionType(l->vd, at, 5, false), d->st_helper[size],
            args, 5);
    restore_state(l, sv);
    if (join) {
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, join);
    }
    return true;
}

/*
 * 128-bit guest memory: (lo, hi, addr, oi), through QEMU's 16-byte
 * helpers, with the inline TLB fast path when each 8-byte half need only
 * be atomic on its own (MO_ATOM_IFALIGN_PAIR, what x86 guests without AVX
 * use; TCG's x86 backend does two 8-byte accesses then too).
 */
static bool tlb_inline128(Lower *l, MemOp mop)
{
    MemOp atom = mop & MO_ATOM_MASK;

    return !l->portable && l->s->target->tlb_entry_bits &&
           !(mop & MO_BSWAP) &&
           (atom == MO_ATOM_IFALIGN_PAIR || atom == MO_ATOM_NONE);
}

static LLVMValueRef host_offset(Lower *l, LLVMValueRef host, int64_t off)
{
    LLVMValueRef k = k64(l, off);

    return LLVMBuildGEP2(l->b, l->i8, host, &k, 1, "");
}

static bool lower_qemu_ld128(Lower *l, const uint64_t *a)
{
    LLVMTypeRef i128 = LLVMIntTypeInContext(l->ctx, 128);
    LLVMTypeRef at[] = { l->ptr, l->i64, l->i32, l->i64 };
    MemOp mop = get_memop(a[3]);
    LLVMValueRef args[4], v, lo, hi, flo = NULL, fhi = NULL;
    LLVMBasicBlockRef slow, join = NULL, fast_bb = NULL;
    ExactState sv;

    args[0] = l->env;
    args[1] = guest_addr64(l, a[2]);
    args[2] = kty(l->i32, a[3]);
    args[3] = k64(l, 0);
    spill_here(l);                  /* as for a load of 8 bytes or less */
    if (tlb_inline128(l, mop)) {
        LLVMValueRef host;

        slow = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "ld_slow");
        join = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "ld_done");
        host = tlb_fast(l, args[1], mop, get_mmuidx(a[3]), false, slow);
        flo = LLVMBuildLoad2(l->b, l->i64, host, "");
        fhi = LLVMBuildLoad2(l->b, l->i64, host_offset(l, host, 8), "");
        set_tbaa(l, flo, TBAA_GUEST);
        set_tbaa(l, fhi, TBAA_GUEST);
        LLVMSetAlignment(flo, 1);
        LLVMSetAlignment(fhi, 1);
        fast_bb = LLVMGetInsertBlock(l->b);
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, slow);
    }
    sv = exact_state(l);
    l->call_sync = SYNC_NONE;       /* spilled above */
    v = emit_call(l, LLVMFunctionType(i128, at, 4, false),
                l->s->target->ld16_helper, args, 4);
    restore_state(l, sv);
    lo = LLVMBuildTrunc(l->b, v, l->i64, "");
    hi = LLVMBuildTrunc(l->b, LLVMBuildLShr(l->b, v, kty(i128, 64), ""),
                        l->i64, "");
    if (join) {
        LLVMBasicBlockRef bbs[2] = { fast_bb, LLVMGetInsertBlock(l->b) };
        LLVMValueRef vl[2] = { flo, lo }, vh[2] = { fhi, hi };

        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, join);
        lo = LLVMBuildPhi(l->b, l->i64, "");
        LLVMAddIncoming(lo, vl, bbs, 2);
        hi = LLVMBuildPhi(l->b, l->i64, "");
        LLVMAddIncoming(hi, vh, bbs, 2);
    }
    temp_store(l, a[0], lo);
    temp_store(l, a[1], hi);
    return true;
}

static bool lower_qemu_st128(Lower *l, const uint64_t *a)
{
    LLVMTypeRef i128 = LLVMIntTypeInContext(l->ctx, 128);
    LLVMTypeRef at[] = { l->ptr, l->i64, i128, l->i32, l->i64 };
    MemOp mop = get_memop(a[3]);
    LLVMValueRef args[5], lo64, hi64, lo, hi;
    LLVMBasicBlockRef slow, join = NULL;
    ExactState sv;

    lo64 = temp_value(l, a[0]);
    hi64 = temp_value(l, a[1]);
    lo = LLVMBuildZExt(l->b, lo64, i128, "");
    hi = LLVMBuildZExt(l->b, hi64, i128, "");
    args[0] = l->env;
    args[1] = guest_addr64(l, a[2]);
    args[2] = LLVMBuildOr(l->b, lo, LLVMBuildShl(l->b, hi, kty(i128, 64), ""),
                          "");
    args[3] = kty(l->i32, a[3]);
    args[4] = k64(l, 0);
    spill_here(l);
    if (tlb_inline128(l, mop)) {
        LLVMValueRef host, st;

        slow = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "st_slow");
        join = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "st_done");
        host = tlb_fast(l, args[1], mop, get_mmuidx(a[3]), true, slow);
        st = LLVMBuildStore(l->b, lo64, host);
        set_tbaa(l, st, TBAA_GUEST);
        LLVMSetAlignment(st, 1);
        st = LLVMBuildStore(l->b, hi64, host_offset(l, host, 8));
        set_tbaa(l, st, TBAA_GUEST);
        LLVMSetAlignment(st, 1);
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, slow);
    }
    sv = exact_state(l);
    l->call_sync = SYNC_NONE;       /* spilled above */
    emit_call(l, LLVMFunctionType(l->vd, at, 5, false),
            l->s->target->st16_helper, args, 5);
    restore_state(l, sv);
    if (join) {
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, join);
    }
    return true;
}

/* A qemu_ld/qemu_st op. */
bool lower_guest_mem(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    switch (op->opc) {
    case INDEX_op_qemu_ld_i32:
    case INDEX_op_qemu_ld_i64:
        return lower_qemu_ld(l, op, a);
    case INDEX_op_qemu_st_i32:
    case INDEX_op_qemu_st_i64:
    case INDEX_op_qemu_st8_i32:
        return lower_qemu_st(l, op, a);
    case INDEX_op_qemu_ld_i128:
        return lower_qemu_ld128(l, a);
    case INDEX_op_qemu_st_i128:
        return lower_qemu_st128(l, a);
    default:
        g_assert_not_reached();
    }
}
