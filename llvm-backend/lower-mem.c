/*
 * llvm-backend: guest memory, the qemu_ld/qemu_st ops of every size (1 to
 * 16 bytes). Each access takes the same steps (guest_access()): globals
 * to env, the inline softmmu TLB fast path where that is right, QEMU's
 * softmmu helper on a miss (it handles the TLB, alignment, atomicity and
 * byte order given by the MemOpIdx), and the join of the two.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "exec/memop.h"
#include "exec/memopidx.h"
#include "lower-internal.h"

/*
 * The CPUTLBEntry for @addr in the CPUTLBDescFast at @fast (mask, then
 * table), as QEMU's tlb_entry() finds it.
 */
LLVMValueRef tlb_entry_for(Lower *l, LLVMValueRef fast, LLVMValueRef addr)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMValueRef mask, table, idx;

    mask = LLVMBuildLoad2(l->b, l->i64, fast, "tlb_mask");
    table = LLVMBuildLoad2(l->b, l->ptr, ptr_offset(l, fast, sizeof(void *)),
                           "tlb_table");
    idx = LLVMBuildAnd(l->b, LLVMBuildLShr(l->b, addr,
                                           k64(l, d->page_bits -
                                               d->tlb_entry_bits), ""),
                       mask, "");
    return LLVMBuildGEP2(l->b, l->i8, table, &idx, 1, "tlb_entry");
}

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
    LLVMValueRef entry, cmp, want, addend, hit;
    LLVMBasicBlockRef ok = new_block(l, "tlb_hit");

    entry = tlb_entry_for(l, env_ptr(l, f), addr);
    cmp = LLVMBuildLoad2(l->b, l->i64,
                         ptr_offset(l, entry, store ? d->tlb_write_ofs
                                                    : d->tlb_read_ofs),
                         "tlb_cmp");
    want = addr;
    if (a_bits < s_bits) {
        want = LLVMBuildAdd(l->b, want, k64(l, s_mask - a_mask), "");
    }
    want = LLVMBuildAnd(l->b, want, k64(l, d->page_mask | a_mask), "");
    hit = LLVMBuildICmp(l->b, LLVMIntEQ, cmp, want, "");
    LLVMBuildCondBr(l->b, hit, ok, slow);
    LLVMPositionBuilderAtEnd(l->b, ok);
    addend = LLVMBuildLoad2(l->b, l->i64,
                            ptr_offset(l, entry, d->tlb_addend_ofs),
                            "tlb_addend");
    return LLVMBuildIntToPtr(l->b, LLVMBuildAdd(l->b, addr, addend, ""),
                             l->ptr, "host");
}

/*
 * Is the inline fast path right for @mop (else: always the helper)? Up
 * to 8 bytes, and 16 bytes when each 8-byte half need only be atomic on
 * its own (MO_ATOM_IFALIGN_PAIR, what x86 guests without AVX use; TCG's
 * x86 backend does two 8-byte accesses then too).
 */
static bool tlb_inline(Lower *l, MemOp mop)
{
    MemOp atom = mop & MO_ATOM_MASK;

    return !l->portable && l->s->target->tlb_entry_bits &&
           !(mop & MO_BSWAP) &&
           ((mop & MO_SIZE) <= MO_64 ||
            atom == MO_ATOM_IFALIGN_PAIR || atom == MO_ATOM_NONE);
}

static LLVMValueRef guest_addr64(Lower *l, uint64_t idx)
{
    LLVMValueRef a = temp_value(l, idx);

    return LLVMTypeOf(a) != l->i64 ? LLVMBuildZExt(l->b, a, l->i64, "") : a;
}

/*
 * One guest memory access, decoded from its op. On the fast path the
 * value moves in @words 8-byte words (two for 16 bytes, one for 8 bytes
 * or less): a store's are given, a load's are the result, as i64. The
 * helper (QEMU's softmmu one for the size and signedness) takes a
 * store's whole value as @val and returns a load's, of @val_type (i32,
 * i64 or i128).
 */
typedef struct GuestAccess {
    bool store;
    MemOpIdx oi;
    LLVMValueRef addr;              /* i64 */
    void *helper;
    LLVMTypeRef val_type;
    LLVMValueRef val;               /* a store's value for the helper */
    unsigned words;
    LLVMValueRef word[2];
} GuestAccess;

/*
 * The steps of every guest memory access. Globals to env before it, on
 * the fast path too, as TCG does: the slow path may fault or reach a
 * device that reads them; in line, so the next access need not store
 * them again. Then the inline TLB fast path if it is right for the
 * access, the helper on a miss (pc and insn state exact, so no host
 * return address), and the join of both paths.
 */
static void guest_access(Lower *l, GuestAccess *m)
{
    MemOp mop = get_memop(m->oi);
    unsigned size = mop & MO_SIZE;
    LLVMTypeRef mt = m->words == 2 ? l->i64
                                   : LLVMIntTypeInContext(l->ctx, 8 << size);
    LLVMBasicBlockRef join = NULL, fast_bb = NULL;
    LLVMValueRef fast[2], args[5], v;
    LLVMTypeRef at[5];
    unsigned n = 0;
    ExactState sv;

    spill_here(l);
    if (tlb_inline(l, mop)) {
        LLVMBasicBlockRef slow = new_block(l, m->store ? "st_slow"
                                                       : "ld_slow");
        LLVMValueRef host;

        join = new_block(l, m->store ? "st_done" : "ld_done");
        host = tlb_fast(l, m->addr, mop, get_mmuidx(m->oi), m->store, slow);
        for (unsigned k = 0; k < m->words; k++) {
            LLVMValueRef p = k ? ptr_offset(l, host, 8 * k) : host, x;

            if (m->store) {
                x = LLVMBuildStore(l->b, LLVMTypeOf(m->word[k]) == mt ?
                                   m->word[k] :
                                   LLVMBuildTrunc(l->b, m->word[k], mt, ""),
                                   p);
            } else {
                x = fast[k] = LLVMBuildLoad2(l->b, mt, p, "");
            }
            set_tbaa(l, x, TBAA_GUEST);
            LLVMSetAlignment(x, 1);
        }
        if (!m->store && m->words == 1 && size < MO_64) {
            fast[0] = extend(l, fast[0], l->i64, mop & MO_SIGN);
        }
        fast_bb = LLVMGetInsertBlock(l->b);
        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, slow);
    }

    /* helper(env, addr[, val], oi, ra) */
    at[n] = l->ptr;
    args[n++] = l->env;
    at[n] = l->i64;
    args[n++] = m->addr;
    if (m->store) {
        at[n] = m->val_type;
        args[n++] = m->val;
    }
    at[n] = l->i32;
    args[n++] = kty(l->i32, m->oi);
    at[n] = l->i64;
    args[n++] = k64(l, 0);
    sv = exact_state(l, true);
    l->call_sync = SYNC_NONE;       /* spilled above */
    v = emit_call(l, LLVMFunctionType(m->store ? l->vd : m->val_type, at, n,
                                      false),
                  m->helper, args, n);
    restore_state(l, sv);
    if (!m->store && m->words == 2) {
        m->word[0] = LLVMBuildTrunc(l->b, v, l->i64, "");
        m->word[1] = LLVMBuildTrunc(l->b, LLVMBuildLShr(l->b, v,
                                                        kty(m->val_type, 64),
                                                        ""),
                                    l->i64, "");
    } else if (!m->store) {
        m->word[0] = v;
    }

    if (join) {
        LLVMBasicBlockRef bbs[2] = { fast_bb, LLVMGetInsertBlock(l->b) };

        LLVMBuildBr(l->b, join);
        LLVMPositionBuilderAtEnd(l->b, join);
        for (unsigned k = 0; !m->store && k < m->words; k++) {
            LLVMValueRef vals[2] = { fast[k], m->word[k] };

            m->word[k] = LLVMBuildPhi(l->b, l->i64, "");
            LLVMAddIncoming(m->word[k], vals, bbs, 2);
        }
    }
}

/*
 * qemu_ld/st_i32/i64 (value, addr, oi), qemu_st8_i32 too, and
 * qemu_ld/st_i128 (lo, hi, addr, oi).
 */
bool lower_guest_mem(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    const HybridTargetDesc *d = l->s->target;
    bool wide = op->opc == INDEX_op_qemu_ld_i128 ||
                op->opc == INDEX_op_qemu_st_i128;
    bool store = op->opc != INDEX_op_qemu_ld_i32 &&
                 op->opc != INDEX_op_qemu_ld_i64 &&
                 op->opc != INDEX_op_qemu_ld_i128;
    unsigned nval = wide ? 2 : 1;   /* value temps before addr, oi */
    GuestAccess m = { .store = store, .oi = a[nval + 1], .words = nval };
    MemOp mop = get_memop(m.oi);
    unsigned size = mop & MO_SIZE;
    bool sign = mop & MO_SIGN;

    if (wide) {
        m.helper = store ? d->st16_helper : d->ld16_helper;
        m.val_type = LLVMIntTypeInContext(l->ctx, 128);
    } else if (size > MO_64 || (!store && sign && size == MO_64)) {
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, "memop");
    } else if (store) {
        m.helper = d->st_helper[size];
        m.val_type = size == MO_64 ? l->i64 : l->i32;
    } else {
        m.helper = sign ? d->lds_helper[size] : d->ld_helper[size];
        m.val_type = l->i64;
    }
    for (unsigned k = 0; store && k < nval; k++) {
        m.word[k] = temp_value(l, a[k]);
    }
    if (store && !wide && LLVMTypeOf(m.word[0]) != m.val_type) {
        m.word[0] = m.val_type == l->i64 ?
                    LLVMBuildZExt(l->b, m.word[0], m.val_type, "") :
                    LLVMBuildTrunc(l->b, m.word[0], m.val_type, "");
    }
    m.addr = guest_addr64(l, a[nval]);
    if (store) {
        m.val = !wide ? m.word[0] :
                LLVMBuildOr(l->b,
                            LLVMBuildZExt(l->b, m.word[0], m.val_type, ""),
                            LLVMBuildShl(l->b,
                                         LLVMBuildZExt(l->b, m.word[1],
                                                       m.val_type, ""),
                                         kty(m.val_type, 64), ""), "");
    }

    guest_access(l, &m);

    for (unsigned k = 0; !store && k < nval; k++) {
        LLVMTypeRef ot = llvm_ty(l, snap_temp(l, a[k])->type);
        LLVMValueRef v = m.word[k];

        temp_store(l, a[k], ot != l->i64 ? LLVMBuildTrunc(l->b, v, ot, "") : v);
    }
    return true;
}
