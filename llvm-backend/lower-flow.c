/*
 * llvm-backend: control flow of a trace's function.
 *
 *   inside a TB   TCG labels are blocks (set_label, br, brcond)
 *   between TBs   goto_tb / goto_ptr become lower_edge(): a guarded
 *                 branch to a successor TB of the trace (valid flag, then
 *                 the pc's page offset or the target's edge_ok)
 *   out           exit_trace(): env exact, then a linked trace (tail
 *                 call), TCG's chained TB for the exit (chain_tb()), or
 *                 the target's trace_exit
 *   entry         lower_trace_entry(): valid flag, entry counter, mapped
 *                 globals from env
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "lower-internal.h"

/* After a terminator, keep emitting into a block nothing branches to. */
void dead_block(Lower *l)
{
    LLVMPositionBuilderAtEnd(l->b, new_block(l, "dead"));
}

static LLVMBasicBlockRef label_bb(Lower *l, uint64_t id)
{
    if (!l->labels[id]) {
        l->labels[id] = new_block(l, "L");
    }
    return l->labels[id];
}

/* An atomic load of @t (an integer or a pointer, naturally aligned). */
static LLVMValueRef load_atomic(Lower *l, LLVMTypeRef t, LLVMValueRef p,
                                LLVMAtomicOrdering o, const char *name)
{
    LLVMValueRef v = LLVMBuildLoad2(l->b, t, p, name);

    LLVMSetOrdering(v, o);
    LLVMSetAlignment(v, LLVMGetTypeKind(t) == LLVMIntegerTypeKind
                        ? LLVMGetIntTypeWidth(t) / 8 : sizeof(void *));
    return v;
}

/* A relaxed (monotonic) store of the i64 @v to *@p. */
static void store_relaxed64(Lower *l, LLVMValueRef v, LLVMValueRef p)
{
    LLVMValueRef st = LLVMBuildStore(l->b, v, p);

    LLVMSetOrdering(st, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(st, 8);
}

/*
 * *counter += 1. Relaxed and not atomic as a whole: vCPUs share the
 * counters, which are statistics (an increment lost to a race does not
 * matter) and must cost next to nothing.
 */
static void count_inline(Lower *l, uint64_t *counter)
{
    LLVMValueRef p = host_const_ptr(l, counter);
    LLVMValueRef old = load_atomic(l, l->i64, p, LLVMAtomicOrderingMonotonic,
                                   "");

    store_relaxed64(l, LLVMBuildAdd(l->b, old, k64(l, 1), ""), p);
}

/*
 * Where to go back to TCG's execution loop: a trace entered from a TB's
 * patched entry (from_tb) returns tcg_code_gen_epilogue, for its thunk to
 * jump to; one called by the loop returns 0.
 */
static LLVMValueRef loop_ret(Lower *l)
{
    LLVMValueRef epi = k64(l, l->portable ? 0 :
                           (uintptr_t)*l->s->target->code_gen_epilogue);
    LLVMValueRef from_tb = LLVMBuildICmp(l->b, LLVMIntNE, l->from_tb,
                                         k64(l, 0), "");

    return LLVMBuildSelect(l->b, from_tb, epi, k64(l, 0), "");
}

/*
 * A goto_tb exit not linked to a trace: when it is chained to TCG's TB
 * for its target (@sp->tb, set by trace_exit) and that TB is still
 * valid, return its code for the entry thunk to jump to, as a chained
 * TCG jump would go there; counting the exit, and leaving every
 * (exit_hot_mask + 1)th one, and a trace called from the loop, to
 * trace_exit (hot exits, NET). Else falls through, in a new block.
 */
static void chain_tb(Lower *l, HybridExitSlot *sp)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMBasicBlockRef slow = new_block(l, "chain_slow");
    LLVMBasicBlockRef has = new_block(l, "chain_tb");
    LLVMBasicBlockRef ok = new_block(l, "chain_go");
    LLVMBasicBlockRef go = new_block(l, "chain_jump");
    LLVMValueRef ep = host_const_ptr(l, &l->refs->exits[l->tbi]);
    LLVMValueRef n, bad, tb, cf, code;

    n = load_atomic(l, l->i64, ep, LLVMAtomicOrderingMonotonic, "exits");
    bad = LLVMBuildICmp(l->b, LLVMIntEQ,
                        LLVMBuildAnd(l->b, n, k64(l, d->exit_hot_mask), ""),
                        k64(l, d->exit_hot_mask), "");
    bad = LLVMBuildOr(l->b, bad, LLVMBuildICmp(l->b, LLVMIntEQ, l->from_tb,
                                               k64(l, 0), ""), "");
    LLVMBuildCondBr(l->b, bad, slow, has);
    LLVMPositionBuilderAtEnd(l->b, has);
    tb = load_atomic(l, l->ptr, host_const_ptr(l, &sp->tb),
                     LLVMAtomicOrderingAcquire, "chained");
    LLVMBuildCondBr(l->b, LLVMBuildIsNull(l->b, tb, ""), slow, ok);
    LLVMPositionBuilderAtEnd(l->b, ok);
    cf = load_atomic(l, l->i32, ptr_offset(l, tb, d->tb_cflags_ofs),
                     LLVMAtomicOrderingMonotonic, "cflags");
    LLVMBuildCondBr(l->b, LLVMBuildICmp(l->b, LLVMIntNE,
                                        LLVMBuildAnd(l->b, cf,
                                                     kty(l->i32, d->tb_invalid),
                                                     ""),
                                        kty(l->i32, 0), ""), slow, go);
    LLVMPositionBuilderAtEnd(l->b, go);
    store_relaxed64(l, LLVMBuildAdd(l->b, n, k64(l, 1), ""), ep);
    code = LLVMBuildLoad2(l->b, l->i64, ptr_offset(l, tb, d->tb_code_ofs),
                          "code");
    LLVMBuildRet(l->b, code);
    LLVMPositionBuilderAtEnd(l->b, slow);
}

/* Leave for trace code @fn: a tail call, as TCG jumps from TB to TB. */
static void tail_call_trace(Lower *l, LLVMValueRef fn)
{
    LLVMTypeRef params[] = { l->ptr, l->i64 };
    LLVMValueRef args[] = { l->env, l->from_tb };
    LLVMValueRef r = LLVMBuildCall2(l->b,
                                    LLVMFunctionType(l->i64, params, 2, false),
                                    fn, args, 2, "");

    LLVMSetTailCallKind(r, LLVMTailCallKindMustTail);
    LLVMBuildRet(l->b, r);
}

/*
 * The test every linked exit starts with: the code of the trace @sp links
 * to (an acquire load: the slot's key is written before it), if any, and
 * the pc field equal to the slot's pc. Branches to @no if either fails;
 * else the builder is where both hold. Returns that code, and the pc
 * field (as i64) in *@pc.
 */
static LLVMValueRef linked_at_pc(Lower *l, HybridExitSlot *sp,
                                 LLVMBasicBlockRef no, LLVMValueRef *pc)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMBasicBlockRef linked = new_block(l, "linked");
    LLVMBasicBlockRef at_pc = new_block(l, "linked_pc");
    LLVMValueRef fn;

    fn = load_atomic(l, l->ptr, host_const_ptr(l, &sp->fn),
                     LLVMAtomicOrderingAcquire, "linkfn");
    LLVMBuildCondBr(l->b, LLVMBuildIsNotNull(l->b, fn, ""), linked, no);
    LLVMPositionBuilderAtEnd(l->b, linked);
    *pc = LLVMBuildZExt(l->b, LLVMBuildLoad2(l->b, pc_type(l),
                                             env_ptr(l, d->pc_offset), ""),
                        l->i64, "linkpc");
    LLVMBuildCondBr(l->b,
                    LLVMBuildICmp(l->b, LLVMIntEQ, *pc,
                                  LLVMBuildLoad2(l->b, l->i64,
                                                 host_const_ptr(l, &sp->pc),
                                                 ""), ""),
                    at_pc, no);
    LLVMPositionBuilderAtEnd(l->b, at_pc);
    return fn;
}

/* The TB flags TCG's lookup would compute now (HybridTargetDesc.flags_ofs). */
static LLVMValueRef tb_flags_now(Lower *l)
{
    const HybridTargetDesc *d = l->s->target;

    return LLVMBuildOr(l->b,
                       LLVMBuildLoad2(l->b, l->i32,
                                      env_ptr(l, d->flags_ofs[0]), ""),
                       LLVMBuildAnd(l->b,
                                    LLVMBuildLoad2(l->b, l->i32,
                                                   env_ptr(l, d->flags_ofs[1]),
                                                   ""),
                                    kty(l->i32, d->flags_mask1), ""),
                       "tbflags");
}

/*
 * Does the code TLB entry for @pc in the CPUTLBDescFast at env + @ofs
 * (i32) map exactly @pc's page? Returns that (i1), the entry's addend in
 * *@addend and @pc's page in *@page.
 */
static LLVMValueRef code_tlb_maps(Lower *l, LLVMValueRef ofs, LLVMValueRef pc,
                                  LLVMValueRef *addend, LLVMValueRef *page)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMValueRef f = LLVMBuildSExt(l->b, ofs, l->i64, "");
    LLVMValueRef entry = tlb_entry_for(l, LLVMBuildGEP2(l->b, l->i8, l->env,
                                                        &f, 1, "codefast"),
                                       pc);

    *page = LLVMBuildAnd(l->b, pc, k64(l, d->page_mask), "");
    *addend = LLVMBuildLoad2(l->b, l->i64,
                             ptr_offset(l, entry, d->tlb_addend_ofs), "");
    return LLVMBuildICmp(l->b, LLVMIntEQ,
                         LLVMBuildLoad2(l->b, l->i64,
                                        ptr_offset(l, entry, d->tlb_code_ofs),
                                        ""),
                         *page, "");
}

/*
 * An indirect exit linked to a trace (HYBRID_SLOT_PTR: an inline cache of
 * one target, filled by trace_exit): tail-call it if the guest is where
 * the link was made, as TCG's TB lookup would find it: the same pc and
 * TB flags, and the code TLB maps the pc's page to the same guest RAM
 * (the same addend for the same virtual page: the same host page). No C
 * call, no hash lookup. Else falls through, in a new block.
 */
static void link_ptr(Lower *l, HybridExitSlot *sp)
{
    LLVMBasicBlockRef tlb = new_block(l, "ic_tlb");
    LLVMBasicBlockRef call = new_block(l, "ic_link");
    LLVMBasicBlockRef no = new_block(l, "ic_miss");
    LLVMValueRef fn, pc, hit, addend, page;

    fn = linked_at_pc(l, sp, no, &pc);
    hit = LLVMBuildICmp(l->b, LLVMIntEQ, tb_flags_now(l),
                        LLVMBuildLoad2(l->b, l->i32,
                                       host_const_ptr(l, &sp->flags), ""), "");
    LLVMBuildCondBr(l->b, hit, tlb, no);
    LLVMPositionBuilderAtEnd(l->b, tlb);
    hit = code_tlb_maps(l, LLVMBuildLoad2(l->b, l->i32,
                                          host_const_ptr(l, &sp->tlb_ofs), ""),
                        pc, &addend, &page);
    hit = LLVMBuildAnd(l->b, hit,
                       LLVMBuildICmp(l->b, LLVMIntEQ, addend,
                                     LLVMBuildLoad2(l->b, l->i64,
                                                    host_const_ptr(l, &sp->addend),
                                                    ""), ""), "");
    LLVMBuildCondBr(l->b, hit, call, no);
    LLVMPositionBuilderAtEnd(l->b, call);
    tail_call_trace(l, fn);
    LLVMPositionBuilderAtEnd(l->b, no);
}

/*
 * Leave the trace after TB @l->tbi, guest state exact in env.
 *
 * goto_tb n (@how = n >= 0): if the exit is linked to a compiled trace
 * (HybridExitSlot) and the pc is the linked one, tail-call that trace:
 * traces chain to traces, as TCG chains TBs; goto_ptr: the same through
 * the exit's inline cache (link_ptr()). Everything else is the
 * target's trace_exit(), out of line (see HybridTargetDesc).
 */
void exit_trace(Lower *l, int how)
{
    const HybridTargetDesc *d = l->s->target;

    /* once for both ways out; not in line: code after it is elsewhere */
    add_sync_at(l, NULL, SYNC_SPILL, 0, 0, false);
    if (how >= 0 && !l->portable) {
        HybridExitSlot *sp = HYBRID_SLOT_OF(l->refs->links, l->tbi, how);
        LLVMBasicBlockRef no = new_block(l, "unlinked");
        LLVMValueRef pc;

        tail_call_trace(l, linked_at_pc(l, sp, no, &pc));
        LLVMPositionBuilderAtEnd(l->b, no);
        chain_tb(l, sp);
    } else if (how == HYBRID_EXIT_PTR && !l->portable && d->flags_linear &&
               d->tlb_entry_bits && (l->tb->flags & d->flags_linear)) {
        link_ptr(l, HYBRID_SLOT_PTR_OF(l->refs->links, l->tbi));
    }
    {
        /* the rest is out of line: counting, lookup, linking, the loop */
        LLVMTypeRef at[] = { l->ptr, l->ptr, l->i32, l->i64 };
        LLVMTypeRef fty = LLVMFunctionType(l->i64, at, 4, false);
        LLVMValueRef args[] = {
            l->env, l->portable ? LLVMConstNull(l->ptr) :
                                  host_const_ptr(l, l->refs->owner),
            kty(l->i32, HYBRID_EXIT_CODE(l->tbi, how)), l->from_tb,
        };

        l->call_sync = SYNC_NONE;       /* spilled above */
        LLVMBuildRet(l->b, emit_call(l, fty, d->trace_exit, args, 4));
    }
}

static LLVMValueRef valid_now(Lower *l)
{
    LLVMValueRef p, v;

    if (l->portable) {
        LLVMTypeRef fty = LLVMFunctionType(l->i32, NULL, 0, false);

        v = LLVMBuildCall2(l->b, fty, port_fn(l, "hybrid_port_valid", fty),
                           NULL, 0, "valid");
        return LLVMBuildICmp(l->b, LLVMIntNE, v, kty(l->i32, 0), "");
    }
    p = host_const_ptr(l, l->refs->valid);
    v = LLVMBuildLoad2(l->b, l->i8, p, "valid");

    /*
     * Read every time (volatile), untorn (atomic), but unordered: an
     * ordered load would count as a write to all memory and make LLVM
     * reload every guest register after each edge.
     */
    LLVMSetOrdering(v, LLVMAtomicOrderingUnordered);
    LLVMSetVolatile(v, true);
    set_tbaa(l, v, TBAA_CTL);
    return LLVMBuildICmp(l->b, LLVMIntNE, v, kty(l->i8, 0), "");
}

/*
 * Can the edge from @cur to @n be checked by the pc's page offset alone?
 * Only a direct jump (goto_tb), which TCG emits only to the virtual page
 * its TB starts on, into a TB on the same guest physical page with the
 * same cs_base, flags and cflags (a direct jump changes none of them)
 * that fits in that page: the trace has checked that page's mapping
 * (entering @cur), so the same page offset is the same code, whatever
 * virtual address the page has in this address space. Every other edge
 * goes through the target's edge_ok (TCG's flags and MMU check, which
 * also sees a remapped second page: TCG never chains into a TB that
 * spans two pages, for that reason).
 */
static bool same_page_edge(const HybridSnapshot *s, const HybridSnapTB *cur,
                           const HybridSnapTB *n, bool indirect)
{
    uint64_t m = s->target->page_mask;

    return !indirect && n->phys1 == -1 &&
           (n->phys0 & m) == (cur->phys0 & m) &&
           (n->pc & ~m) == (n->phys0 & ~m) &&
           n->cs_base == cur->cs_base && n->flags == cur->flags &&
           n->cflags == cur->cflags;
}

/*
 * May the trace go on from here into its TB @ni (@n), an edge its page
 * offset cannot check? TCG's lookup would find @n if the pc has @n's page
 * offset, the TB flags and code segment base are @n's, and the MMU maps
 * the pc's page to @n's guest RAM. In line, where the target allows
 * (64-bit code, @n on one page): the code TLB entry of the pc maps its
 * page to the host page of @n's RAM (HybridEdgeCache, filled by the
 * target's edge_fill the first time the answer was yes). Else, and when
 * the in-line test fails, the target's edge_fill or edge_ok. Returns the
 * answer (i1), the builder at a block after both ways.
 */
static LLVMValueRef edge_check(Lower *l, const HybridSnapTB *n, unsigned ni)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMTypeRef at[] = { l->ptr, l->i64, l->i64, l->i32, l->i64, l->i64,
                         l->ptr };
    LLVMValueRef args[] = {
        l->env, k64(l, n->pc), k64(l, n->cs_base), kty(l->i32, n->flags),
        k64(l, n->phys0), k64(l, n->phys1), NULL,
    };
    LLVMBasicBlockRef tlb, miss, join, from[2];
    LLVMValueRef c, pc, ok, ofs, addend, page, got[2], phi;

    if (l->portable || !d->edge_fill || !l->refs->edges ||
        !d->tlb_entry_bits || !(n->flags & d->flags_linear) ||
        n->phys1 != -1) {
        /* the check itself may fault (code fetch): state is exact */
        return emit_call(l, LLVMFunctionType(l->i1, at, 6, false),
                         d->edge_ok, args, 6);
    }
    c = host_const_ptr(l, &l->refs->edges[ni]);
    tlb = new_block(l, "edge_tlb");
    miss = new_block(l, "edge_miss");
    join = new_block(l, "edge_join");

    pc = LLVMBuildZExt(l->b, LLVMBuildLoad2(l->b, pc_type(l),
                                            env_ptr(l, d->pc_offset), ""),
                       l->i64, "edgepc");
    ok = LLVMBuildICmp(l->b, LLVMIntEQ,
                       LLVMBuildAnd(l->b,
                                    LLVMBuildXor(l->b, pc,
                                                 k64(l, d->state_pc(n, n->pc)),
                                                 ""),
                                    k64(l, ~d->page_mask), ""),
                       k64(l, 0), "");
    ok = LLVMBuildAnd(l->b, ok,
                      LLVMBuildICmp(l->b, LLVMIntEQ, tb_flags_now(l),
                                    kty(l->i32, n->flags), ""), "");
    ok = LLVMBuildAnd(l->b, ok,
                      LLVMBuildICmp(l->b, LLVMIntEQ,
                                    LLVMBuildLoad2(l->b, l->i64,
                                                   env_ptr(l, d->cs_base_ofs),
                                                   ""),
                                    k64(l, n->cs_base), ""), "");
    ofs = load_atomic(l, l->i32,
                      ptr_offset(l, c, offsetof(HybridEdgeCache, tlb_ofs)),
                      LLVMAtomicOrderingMonotonic, "edgetlb");
    ok = LLVMBuildAnd(l->b, ok,
                      LLVMBuildICmp(l->b, LLVMIntNE, ofs, kty(l->i32, 0), ""),
                      "");
    LLVMBuildCondBr(l->b, ok, tlb, miss);

    LLVMPositionBuilderAtEnd(l->b, tlb);
    ok = code_tlb_maps(l, ofs, pc, &addend, &page);
    ok = LLVMBuildAnd(l->b, ok,
                      LLVMBuildICmp(l->b, LLVMIntEQ,
                                    LLVMBuildAdd(l->b, page, addend, ""),
                                    load_atomic(l, l->i64,
                                                ptr_offset(l, c,
                                                           offsetof(HybridEdgeCache,
                                                                    host)),
                                                LLVMAtomicOrderingMonotonic,
                                                "edgehost"), ""), "");
    LLVMBuildCondBr(l->b, ok, join, miss);

    LLVMPositionBuilderAtEnd(l->b, miss);
    args[6] = c;
    got[1] = emit_call(l, LLVMFunctionType(l->i1, at, 7, false),
                       d->edge_fill, args, 7);
    from[1] = LLVMGetInsertBlock(l->b);
    LLVMBuildBr(l->b, join);

    LLVMPositionBuilderAtEnd(l->b, join);
    got[0] = LLVMConstInt(l->i1, 1, false);
    from[0] = tlb;
    phi = LLVMBuildPhi(l->b, l->i1, "edgeok");
    LLVMAddIncoming(phi, got, from, 2);
    return phi;
}

/*
 * Leave TB @l->tbi: to a successor TB in the trace (the next TB of its
 * path, the head of a loop, a merged side path) if that is where the
 * guest goes and the trace is still valid, else back to TCG.
 * @indirect: the TB ended with goto_ptr (flags or page may differ).
 * A direct jump stays on the (virtual) page its TB starts on.
 * @how: the exit_trace() kind if the trace is left here.
 */
static void lower_edge(Lower *l, bool indirect, int how)
{
    const HybridSnapshot *s = l->s;
    const HybridTargetDesc *d = s->target;
    const HybridSnapTB *cur = &s->tbs[l->tbi];
    LLVMBasicBlockRef out, check;

    if (!cur->nsucc) {
        exit_trace(l, how);
        return;
    }
    add_sync_at(l, NULL, SYNC_EDGE, 0, 0, false);
    out = new_block(l, "exit");
    check = new_block(l, "succ");
    LLVMBuildCondBr(l->b, valid_now(l), check, out);
    for (unsigned k = 0; k < cur->nsucc; k++) {
        const HybridSnapTB *n = &s->tbs[cur->succ[k]];
        LLVMBasicBlockRef other = k + 1 < cur->nsucc ?
            new_block(l, "succ") : out;
        LLVMValueRef ok;

        LLVMPositionBuilderAtEnd(l->b, check);
        if (!same_page_edge(s, cur, n, indirect)) {
            ok = edge_check(l, n, cur->succ[k]);
        } else {
            /* the same page: the same page offset is the same code */
            LLVMTypeRef pt = pc_type(l);
            LLVMValueRef pc = LLVMBuildLoad2(l->b, pt,
                                             env_ptr(l, d->pc_offset), "");
            LLVMValueRef x = LLVMBuildXor(l->b, pc,
                                          kty(pt, d->state_pc(n, n->pc)), "");

            ok = LLVMBuildICmp(l->b, LLVMIntEQ,
                               LLVMBuildAnd(l->b, x, kty(pt, ~d->page_mask),
                                            ""),
                               kty(pt, 0), "");
        }
        LLVMBuildCondBr(l->b, ok, l->tb_bb[cur->succ[k]], other);
        check = other;
    }
    LLVMPositionBuilderAtEnd(l->b, out);
    exit_trace(l, how);
}

/* A TCG label or branch, or a TB's way out (goto_tb, goto_ptr, exit_tb). */
bool lower_flow_op(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    LLVMBuilderRef b = l->b;

    switch (op->opc) {
    case INDEX_op_set_label: {
        LLVMBasicBlockRef bb = label_bb(l, a[0]);
        LLVMBasicBlockRef cur = LLVMGetInsertBlock(b);

        if (!LLVMGetBasicBlockTerminator(cur)) {
            LLVMBuildBr(b, bb);
        }
        LLVMMoveBasicBlockAfter(bb, cur);
        LLVMPositionBuilderAtEnd(b, bb);
        l->dirty.plus_in = l->dirty.plus_tb = true;     /* paths join */
        /* ... and a pc the translator wrote may be on one of them only */
        l->pc_written = l->state_written = false;
        return true;
    }
    case INDEX_op_br:
        LLVMBuildBr(b, label_bb(l, a[0]));
        dead_block(l);
        return true;
    OPC2(brcond): {
        LLVMBasicBlockRef cont = new_block(l, "");
        LLVMBuildCondBr(b, cond_value(l, a[2], temp_value(l, a[0]),
                                      temp_value(l, a[1])),
                        label_bb(l, a[3]), cont);
        LLVMPositionBuilderAtEnd(b, cont);
        return true;
    }
    case INDEX_op_goto_tb:
        lower_edge(l, false, (int)a[0]);
        dead_block(l);
        return true;
    case INDEX_op_goto_ptr:
        lower_edge(l, true, HYBRID_EXIT_PTR);
        dead_block(l);
        return true;
    case INDEX_op_exit_tb:
        exit_trace(l, HYBRID_EXIT_TB);
        dead_block(l);
        return true;
    default:
        g_assert_not_reached();
    }
}

/*
 * The entry block, once the TBs are lowered: a trace invalidated after
 * its head TB was entered (its patched entry is restored in an exclusive
 * section, later) does nothing and lets TCG look the head up again.
 */
void lower_trace_entry(Lower *l)
{
    LLVMBasicBlockRef run = new_block(l, "run");
    LLVMBasicBlockRef stale = new_block(l, "stale");

    LLVMPositionBuilderAtEnd(l->b, l->entry);
    LLVMBuildCondBr(l->b, valid_now(l), run, stale);
    LLVMPositionBuilderAtEnd(l->b, stale);
    LLVMBuildRet(l->b, loop_ret(l));
    LLVMPositionBuilderAtEnd(l->b, run);
    if (!l->portable) {
        count_inline(l, l->refs->entries);
    }
    globals_from_env(l);
    LLVMBuildBr(l->b, l->tb_bb[0]);
}
