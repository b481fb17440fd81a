/*
 * llvm-backend: lowering an op snapshot to LLVM IR.
 *
 *   entry: allocas ─► tb0 ─► tb1 ─► ... ─► tbN-1 ─┐ (loop traces go back
 *                      ▲        │                  │  to tb0)
 *                      │        └─► side path ─────┤ (regions: a merged
 *                      └───────────────────────────┘  side path rejoins)
 *   every TB: TCG's ops in order; TCG labels become blocks; goto_tb and
 *   goto_ptr become a guarded branch to the next TB of the trace, or an
 *   exit (exit_trace(): a linked trace, the next TB, or TCG's loop).
 *
 * Guest state lives in env, as under TCG: globals are loads and stores at
 * env offsets, so the state is exact at every exit and every helper call,
 * and LLVM's optimiser (GVN, DSE, mem2reg of TCG temps) removes what is
 * redundant. Before a helper call or guest memory access, the pc field
 * (and x86's cc_op) are set to the exact values of the instruction, as
 * TCG's restore_state_to_opc would, because helpers cannot unwind through
 * LLVM frames; afterwards the translator's own view is put back unless the
 * helper changed it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "tcg/tcg.h"
#include "exec/memop.h"
#include "exec/memopidx.h"
#include "tcg/helper-info.h"
#include <llvm-c/Core.h>
#include <llvm-c/Analysis.h>
#include "tcg-host/tcg-host.h"
#include "lower.h"

/*
 * Which mapped globals may differ from env at a point of the trace: the
 * ones set since env was last made exact by a spill that runs on every
 * path to that point. The lowering tracks that in its order of emission,
 * which follows control flow inside a TB except at TCG labels (paths
 * join) and in the blocks it makes itself (slow paths, exits: what is
 * spilled there is spilled only there). So a set is relative: @bits, plus
 * those dirty on entry to the TB (@plus_in), plus those the TB sets
 * (@plus_tb, at a label). Entry sets come from the TBs' edges, once the
 * whole trace is lowered (place_syncs()); bit i is gslot i.
 */
#define GSLOT_TRACKED 128

typedef struct Dirty {
    uint64_t bits[2];
    bool plus_in, plus_tb;
} Dirty;

typedef struct Lower {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn, env, from_tb;
    LLVMTypeRef i1, i8, i32, i64, ptr, vd;
    /* no host address in the IR: see hybrid_lower() (@refs unused) */
    bool portable;
    LLVMBasicBlockRef entry;
    LLVMBasicBlockRef *tb_bb;
    const HybridSnapshot *s;
    const HybridCodeRefs *refs;
    HybridCompileError *err;

    /* the TB being lowered */
    unsigned tbi;
    const HybridSnapTB *tb;
    LLVMValueRef *local_slots;      /* [ntemps] allocas of local temps */
    LLVMBasicBlockRef *labels;      /* [nlabels] */
    bool have_insn;
    uint64_t insn_pc;               /* linear pc of the insn, as recorded */
    /*
     * The pc field on entry to the TB, at run time. A trace assumes
     * nothing of the virtual address it runs at (x86 system TBs are
     * PC-relative: one TB serves every virtual alias of its code, and so
     * does the trace entered through it): exact pcs are this plus the
     * insn's offset in the TB.
     */
    LLVMValueRef tb_pc;
    int64_t insn_state;             /* insn_start word 1 */
    /* the translator itself wrote the pc / insn state in this insn */
    bool pc_written, state_written;
    /* type-based alias tags (TBAA_*), made on first use */
    LLVMValueRef tbaa_tag[3];
    /* state mapping: guest globals in allocas (GSlot), synced at Sync */
    bool map_state;
    GArray *gslots;
    GArray *syncs;
    unsigned call_sync;             /* SYNC_* of the next emit_call() */
    bool call_in_line;              /* it runs whenever the code after it */
    /* state mapping: which globals may differ from env (see Dirty) */
    Dirty dirty;                    /* here, in the order of emission */
    uint64_t tb_set[2];             /* gslots set in this TB so far */
    bool gslots_overflow;           /* more than GSLOT_TRACKED: all */
    uint64_t (*tb_in)[2];           /* [ntbs] gslots dirty on entry */
    uint64_t (*tb_written)[2];      /* [ntbs] gslots each TB sets */
} Lower;

/*
 * State mapping. Guest globals (TCG's: guest registers, flags state)
 * live in allocas for the whole trace, which LLVM turns into SSA values
 * kept in host registers across TBs and around loops. env is made exact
 * where something may look at it: before every call that may read
 * globals or fault (helpers as TCG's own flags say, the edge check),
 * before every guest memory access (in line, as TCG does), when leaving
 * the trace, and env is read back after a call that may write them. The
 * pc and insn state fields stay in env (the lowering writes them
 * directly, exact_state()). An env ld/st op that overlaps a mapped
 * global is a sync point too.
 */
typedef struct GSlot {
    int64_t off;
    unsigned bytes;
    LLVMTypeRef type;
    LLVMValueRef slot;
    bool written;                   /* set somewhere in the trace */
} GSlot;

enum {
    SYNC_SPILL = 1, SYNC_RELOAD = 2, SYNC_IF_OVERLAP = 4, SYNC_NONE = 8,
    SYNC_EDGE = 16,                 /* no code: where a TB's edges leave */
};

typedef struct Sync {
    LLVMValueRef at;                /* the call or env access, or NULL: */
    LLVMBasicBlockRef bb;           /* ... the point after @after in @bb */
    LLVMValueRef after;             /* (NULL: @bb's start) */
    unsigned how;                   /* SYNC_* */
    int64_t off;                    /* SYNC_IF_OVERLAP: the env bytes */
    unsigned bytes;
    Dirty dirty;                    /* Lower's, when the sync was made */
    unsigned tbi;
} Sync;

/*
 * What memory an access touches, for LLVM's type-based alias analysis:
 * guest state in env, guest RAM (through the TLB's host addend), and the
 * tier's own control words (a trace's valid flag). No two of these are
 * ever the same memory, so a guest store does not force env fields to
 * be reloaded, and checking the valid flag on an edge does not either;
 * accesses without a tag may alias anything.
 */
enum { TBAA_ENV, TBAA_GUEST, TBAA_CTL };

static void set_tbaa(Lower *l, LLVMValueRef access, unsigned kind)
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

static bool lower_fail(Lower *l, HybridAbort why, int opc, const char *detail)
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
static LLVMTypeRef llvm_ty(Lower *l, unsigned tcg_type)
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

static LLVMValueRef env_ptr(Lower *l, int64_t offset)
{
    LLVMValueRef off = LLVMConstInt(l->i64, offset, true);

    return LLVMBuildGEP2(l->b, l->i8, l->env, &off, 1, "");
}

static LLVMValueRef emit_call(Lower *l, LLVMTypeRef fty, void *fn,
                            LLVMValueRef *args, unsigned n);

static LLVMValueRef k64(Lower *l, uint64_t v)
{
    return LLVMConstInt(l->i64, v, false);
}

static LLVMValueRef kty(LLVMTypeRef t, uint64_t v)
{
    return LLVMConstInt(t, v, false);
}

static const HybridSnapTemp *snap_temp(Lower *l, uint64_t idx)
{
    static const HybridSnapTemp dummy = { .kind = HYBRID_TEMP_CONST };
    const HybridSnapTemp *t = &l->tb->temps[idx];

    if (t->kind == HYBRID_TEMP_HOST) {
        lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, -1, "host register temp");
        return &dummy;
    }
    return t;
}

/* An alloca of type @t at the top of the entry block (for mem2reg). */
static LLVMValueRef entry_alloca(Lower *l, LLVMTypeRef t, const char *name)
{
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(l->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(l->entry), a;

    if (first) {
        LLVMPositionBuilderBefore(eb, first);
    } else {
        LLVMPositionBuilderAtEnd(eb, l->entry);
    }
    a = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return a;
}

static LLVMValueRef local_slot(Lower *l, uint64_t idx)
{
    if (!l->local_slots[idx]) {
        l->local_slots[idx] = entry_alloca(l, llvm_ty(l, snap_temp(l, idx)->type), "t");
    }
    return l->local_slots[idx];
}

static void mark_dirty(Lower *l, unsigned i)
{
    if (i < GSLOT_TRACKED) {
        l->dirty.bits[i / 64] |= 1ull << (i % 64);
        l->tb_set[i / 64] |= 1ull << (i % 64);
    } else {
        l->gslots_overflow = true;
    }
}

/* @d resolved for TB @tbi, as bits. */
static void dirty_bits(Lower *l, const Dirty *d, unsigned tbi, uint64_t *out)
{
    for (int w = 0; w < 2; w++) {
        out[w] = d->bits[w] | (d->plus_in ? l->tb_in[tbi][w] : 0) |
                 (d->plus_tb ? l->tb_written[tbi][w] : 0);
    }
}

/*
 * What is dirty on entry to each TB: the union over the edges into it
 * (SYNC_EDGE points of its predecessors), to a fixed point; nothing on
 * entry to the trace.
 */
static void dirty_on_entry(Lower *l)
{
    const HybridSnapshot *s = l->s;
    bool changed = true;

    while (changed) {
        changed = false;
        for (unsigned i = 0; i < l->syncs->len; i++) {
            Sync *sy = &g_array_index(l->syncs, Sync, i);
            const HybridSnapTB *tb = &s->tbs[sy->tbi];
            uint64_t b[2];

            if (!(sy->how & SYNC_EDGE)) {
                continue;
            }
            dirty_bits(l, &sy->dirty, sy->tbi, b);
            for (unsigned k = 0; k < tb->nsucc; k++) {
                uint64_t *in = l->tb_in[tb->succ[k]];

                for (int w = 0; w < 2; w++) {
                    if (b[w] & ~in[w]) {
                        in[w] |= b[w];
                        changed = true;
                    }
                }
            }
        }
    }
}

/*
 * The alloca of the global at env @off (@t its TCG temp), or NULL;
 * @write: for a store.
 */
static LLVMValueRef global_slot(Lower *l, const HybridSnapTemp *t, bool write)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMTypeRef tt = llvm_ty(l, t->type);
    GSlot g;

    if (!l->map_state || t->val == d->pc_offset ||
        t->val == d->insn_state_offset) {
        return NULL;
    }
    for (unsigned i = 0; i < l->gslots->len; i++) {
        GSlot *p = &g_array_index(l->gslots, GSlot, i);

        if (p->off == t->val) {
            if (p->type != tt) {
                lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, -1,
                     "one global with two types");
            }
            p->written |= write;
            if (write) {
                mark_dirty(l, i);
            }
            return p->slot;
        }
    }
    g = (GSlot) {
        .off = t->val, .bytes = LLVMGetIntTypeWidth(tt) / 8, .type = tt,
        .slot = entry_alloca(l, tt, "g"), .written = write,
    };
    g_array_append_val(l->gslots, g);
    if (write) {
        mark_dirty(l, l->gslots->len - 1);
    }
    return g.slot;
}

/*
 * A sync before @at (NULL: at the builder's position). @in_line: it runs
 * on every path to the code emitted after it, so a spill there leaves
 * nothing dirty (see Dirty).
 */
static void add_sync_at(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
                        unsigned bytes, bool in_line)
{
    LLVMBasicBlockRef bb = LLVMGetInsertBlock(l->b);
    Sync sy = {
        .at = at, .bb = bb, .after = at ? NULL : LLVMGetLastInstruction(bb),
        .how = how, .off = off, .bytes = bytes, .dirty = l->dirty,
        .tbi = l->tbi,
    };

    if (!l->map_state || (how & SYNC_NONE)) {
        return;
    }
    g_array_append_val(l->syncs, sy);
    if (in_line && (how & SYNC_SPILL) && !(how & SYNC_IF_OVERLAP)) {
        /* env exact here on every path on: nothing dirty */
        l->dirty = (Dirty) { 0 };
    }
}

static void add_sync(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
                     unsigned bytes)
{
    if (at) {
        add_sync_at(l, at, how, off, bytes, l->call_in_line);
    }
}

/* Spill here, in line: the code after this point sees env exact. */
static void spill_here(Lower *l)
{
    add_sync_at(l, NULL, SYNC_SPILL, 0, 0, true);
}

/*
 * Mapped globals to env (@to_env) or back, at @b's position. Only the
 * globals the trace writes can differ from env, and of those only the
 * ones dirty at @sy (NULL: all).
 */
static void sync_globals(Lower *l, bool to_env, const Sync *sy)
{
    uint64_t d[2] = { ~0ull, ~0ull };

    if (sy && !l->gslots_overflow) {
        dirty_bits(l, &sy->dirty, sy->tbi, d);
    }
    for (unsigned i = 0; i < l->gslots->len; i++) {
        GSlot *g = &g_array_index(l->gslots, GSlot, i);
        LLVMValueRef p, v;

        if (to_env && (!g->written ||
                       (i < GSLOT_TRACKED &&
                        !(d[i / 64] & (1ull << (i % 64)))))) {
            continue;
        }
        p = env_ptr(l, g->off);
        if (to_env) {
            v = LLVMBuildLoad2(l->b, g->type, g->slot, "");
            set_tbaa(l, LLVMBuildStore(l->b, v, p), TBAA_ENV);
        } else {
            v = LLVMBuildLoad2(l->b, g->type, p, "");
            set_tbaa(l, v, TBAA_ENV);
            LLVMBuildStore(l->b, v, g->slot);
        }
    }
}

/* Once every mapped global is known: the code at each sync point. */
static void place_syncs(Lower *l)
{
    dirty_on_entry(l);
    for (unsigned i = 0; i < l->syncs->len; i++) {
        Sync *sy = &g_array_index(l->syncs, Sync, i);
        bool hit = !(sy->how & SYNC_IF_OVERLAP);

        if (sy->how & SYNC_EDGE) {
            continue;               /* only for dirty_on_entry() */
        }

        for (unsigned k = 0; k < l->gslots->len && !hit; k++) {
            GSlot *g = &g_array_index(l->gslots, GSlot, k);

            hit = sy->off < g->off + (int64_t)g->bytes &&
                  g->off < sy->off + (int64_t)sy->bytes;
        }
        if (!hit) {
            continue;
        }
        if (!sy->at) {
            LLVMValueRef next = sy->after ? LLVMGetNextInstruction(sy->after)
                                          : LLVMGetFirstInstruction(sy->bb);

            LLVMPositionBuilder(l->b, sy->bb, next);
            sync_globals(l, true, sy);
            continue;
        }
        if (sy->how & SYNC_SPILL) {
            LLVMPositionBuilderBefore(l->b, sy->at);
            sync_globals(l, true, sy);
        }
        if (sy->how & SYNC_RELOAD) {
            LLVMPositionBuilderBefore(l->b, LLVMGetNextInstruction(sy->at));
            sync_globals(l, false, NULL);
        }
    }
}

/* The value of temp @idx, as an integer of its TCG type. */
static LLVMValueRef temp_value(Lower *l, uint64_t idx)
{
    const HybridSnapTemp *t = snap_temp(l, idx);
    LLVMTypeRef tt = llvm_ty(l, t->type);

    switch (t->kind) {
    case HYBRID_TEMP_CONST:
        if (t->type >= TCG_TYPE_V64) {
            /* vector constants hold their value replicated to 64 bits */
            unsigned n = LLVMGetIntTypeWidth(tt) / 64;
            LLVMValueRef lanes[4];

            for (unsigned i = 0; i < n; i++) {
                lanes[i] = LLVMConstInt(l->i64, t->val, false);
            }
            return LLVMConstBitCast(LLVMConstVector(lanes, n), tt);
        }
        return LLVMConstInt(tt, t->val, false);
    case HYBRID_TEMP_ENV:
        return LLVMBuildPtrToInt(l->b, l->env, l->i64, "");
    case HYBRID_TEMP_GLOBAL: {
        LLVMValueRef g = global_slot(l, t, false), v;

        if (g) {
            return LLVMBuildLoad2(l->b, tt, g, "");
        }
        v = LLVMBuildLoad2(l->b, tt, env_ptr(l, t->val), "");
        set_tbaa(l, v, TBAA_ENV);
        return v;
    }
    default:
        return LLVMBuildLoad2(l->b, tt, local_slot(l, idx), "");
    }
}

/* A store to env at @offset: note what the translator made exact. */
static void env_written(Lower *l, int64_t offset)
{
    const HybridTargetDesc *d = l->s->target;

    if (offset == d->pc_offset) {
        l->pc_written = true;
    }
    if (offset == d->insn_state_offset) {
        l->state_written = true;
    }
}

static void temp_store(Lower *l, uint64_t idx, LLVMValueRef v)
{
    const HybridSnapTemp *t = snap_temp(l, idx);

    if (LLVMTypeOf(v) != llvm_ty(l, t->type)) {
        /* a lowering bug: never store past a guest register */
        lower_fail(l, HYBRID_ABORT_LLVM, -1, "value and temp types differ");
        return;
    }

    switch (t->kind) {
    case HYBRID_TEMP_GLOBAL: {
        LLVMValueRef g = global_slot(l, t, true);

        if (g) {
            LLVMBuildStore(l->b, v, g);
        } else {
            set_tbaa(l, LLVMBuildStore(l->b, v, env_ptr(l, t->val)), TBAA_ENV);
        }
        env_written(l, t->val);
        break;
    }
    case HYBRID_TEMP_LOCAL:
        LLVMBuildStore(l->b, v, local_slot(l, idx));
        break;
    default:
        g_assert_not_reached();     /* TCG never writes env or a constant */
    }
}

/* A host pointer from temp @idx plus @offset (ld/st ops). */
static LLVMValueRef host_ptr(Lower *l, uint64_t idx, int64_t offset)
{
    LLVMValueRef base, off = LLVMConstInt(l->i64, offset, true);

    if (snap_temp(l, idx)->kind == HYBRID_TEMP_ENV) {
        base = l->env;
    } else {
        base = LLVMBuildIntToPtr(l->b, temp_value(l, idx), l->ptr, "");
    }
    return LLVMBuildGEP2(l->b, l->i8, base, &off, 1, "");
}

/* An ld/st op at @idx + @off: if that is env, a sync point when it
   overlaps a mapped global (front ends do not do that; be exact anyway). */
static void env_access(Lower *l, LLVMValueRef x, uint64_t idx, int64_t off,
                       unsigned bytes)
{
    if (snap_temp(l, idx)->kind == HYBRID_TEMP_ENV) {
        add_sync(l, x, SYNC_SPILL | SYNC_RELOAD | SYNC_IF_OVERLAP, off, bytes);
    }
}

/* After a terminator, keep emitting into a block nothing branches to. */
static void dead_block(Lower *l)
{
    LLVMPositionBuilderAtEnd(l->b, LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                                 "dead"));
}

static LLVMBasicBlockRef label_bb(Lower *l, uint64_t id)
{
    if (!l->labels[id]) {
        l->labels[id] = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "L");
    }
    return l->labels[id];
}

/*
 * *counter += 1. Relaxed and not atomic as a whole: vCPUs share the
 * counters, which are statistics (an increment lost to a race does not
 * matter) and must cost next to nothing.
 */
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

static void count_inline(Lower *l, uint64_t *counter)
{
    LLVMValueRef p = LLVMConstIntToPtr(k64(l, (uintptr_t)counter), l->ptr);
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
    LLVMBasicBlockRef slow = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                           "chain_slow");
    LLVMBasicBlockRef has = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                          "chain_tb");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                         "chain_go");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                         "chain_jump");
    LLVMValueRef ep = LLVMConstIntToPtr(k64(l, (uintptr_t)&l->refs->exits[l->tbi]),
                                        l->ptr);
    LLVMValueRef n, bad, tb, cf, code, off;

    n = load_atomic(l, l->i64, ep, LLVMAtomicOrderingMonotonic, "exits");
    bad = LLVMBuildICmp(l->b, LLVMIntEQ,
                        LLVMBuildAnd(l->b, n, k64(l, d->exit_hot_mask), ""),
                        k64(l, d->exit_hot_mask), "");
    bad = LLVMBuildOr(l->b, bad, LLVMBuildICmp(l->b, LLVMIntEQ, l->from_tb,
                                               k64(l, 0), ""), "");
    LLVMBuildCondBr(l->b, bad, slow, has);
    LLVMPositionBuilderAtEnd(l->b, has);
    tb = load_atomic(l, l->ptr,
                     LLVMConstIntToPtr(k64(l, (uintptr_t)&sp->tb), l->ptr),
                     LLVMAtomicOrderingAcquire, "chained");
    LLVMBuildCondBr(l->b, LLVMBuildIsNull(l->b, tb, ""), slow, ok);
    LLVMPositionBuilderAtEnd(l->b, ok);
    off = k64(l, d->tb_cflags_ofs);
    cf = load_atomic(l, l->i32, LLVMBuildGEP2(l->b, l->i8, tb, &off, 1, ""),
                     LLVMAtomicOrderingMonotonic, "cflags");
    LLVMBuildCondBr(l->b, LLVMBuildICmp(l->b, LLVMIntNE,
                                        LLVMBuildAnd(l->b, cf,
                                                     kty(l->i32, d->tb_invalid),
                                                     ""),
                                        kty(l->i32, 0), ""), slow, go);
    LLVMPositionBuilderAtEnd(l->b, go);
    store_relaxed64(l, LLVMBuildAdd(l->b, n, k64(l, 1), ""), ep);
    off = k64(l, d->tb_code_ofs);
    code = LLVMBuildLoad2(l->b, l->i64,
                          LLVMBuildGEP2(l->b, l->i8, tb, &off, 1, ""), "code");
    LLVMBuildRet(l->b, code);
    LLVMPositionBuilderAtEnd(l->b, slow);
}

/*
 * Leave the trace after TB @l->tbi, guest state exact in env.
 *
 * goto_tb n (@how = n >= 0): if the exit is linked to a compiled trace
 * (HybridExitSlot) and the pc is the linked one, tail-call that trace:
 * traces chain to traces, as TCG chains TBs. Everything else is the
 * target's trace_exit(), out of line (see HybridTargetDesc).
 */
static void exit_trace(Lower *l, int how)
{
    const HybridTargetDesc *d = l->s->target;

    /* once for both ways out; not in line: code after it is elsewhere */
    add_sync_at(l, NULL, SYNC_SPILL, 0, 0, false);
    if (how >= 0 && !l->portable) {
        HybridExitSlot *sp = HYBRID_SLOT_OF(l->refs->links, l->tbi, how);
        LLVMTypeRef pt = d->pc_size == 4 ? l->i32 : l->i64;
        LLVMValueRef fn, spc, pc, hit;
        LLVMBasicBlockRef linked = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                                 "linked");
        LLVMBasicBlockRef call = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                               "link");
        LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                             "unlinked");
        LLVMTypeRef params[] = { l->ptr, l->i64 };
        LLVMValueRef args[] = { l->env, l->from_tb };
        LLVMValueRef r;

        fn = load_atomic(l, l->ptr,
                         LLVMConstIntToPtr(k64(l, (uintptr_t)&sp->fn), l->ptr),
                         LLVMAtomicOrderingAcquire, "linkfn");
        LLVMBuildCondBr(l->b, LLVMBuildIsNotNull(l->b, fn, ""), linked, no);
        LLVMPositionBuilderAtEnd(l->b, linked);
        spc = LLVMBuildLoad2(l->b, l->i64,
                             LLVMConstIntToPtr(k64(l, (uintptr_t)&sp->pc),
                                               l->ptr), "");
        pc = LLVMBuildZExt(l->b, LLVMBuildLoad2(l->b, pt,
                                                env_ptr(l, d->pc_offset), ""),
                           l->i64, "");
        hit = LLVMBuildICmp(l->b, LLVMIntEQ, pc, spc, "");
        LLVMBuildCondBr(l->b, hit, call, no);
        LLVMPositionBuilderAtEnd(l->b, call);
        r = LLVMBuildCall2(l->b, LLVMFunctionType(l->i64, params, 2, false),
                           fn, args, 2, "");
        LLVMSetTailCallKind(r, LLVMTailCallKindMustTail);
        LLVMBuildRet(l->b, r);
        LLVMPositionBuilderAtEnd(l->b, no);
        chain_tb(l, sp);
    }
    {
        /* the rest is out of line: counting, lookup, linking, the loop */
        LLVMTypeRef at[] = { l->ptr, l->ptr, l->i32, l->i64 };
        LLVMTypeRef fty = LLVMFunctionType(l->i64, at, 4, false);
        LLVMValueRef args[] = {
            l->env, l->portable ? LLVMConstNull(l->ptr) :
            LLVMConstIntToPtr(k64(l, (uintptr_t)l->refs->owner), l->ptr),
            kty(l->i32, HYBRID_EXIT_CODE(l->tbi, how)), l->from_tb,
        };

        l->call_sync = SYNC_NONE;       /* spilled above */
        LLVMBuildRet(l->b, emit_call(l, fty, d->trace_exit, args, 4));
    }
}

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

static LLVMValueRef emit_call(Lower *l, LLVMTypeRef fty, void *fn,
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
        callee = LLVMGetNamedFunction(l->mod, name);
        if (!callee) {
            callee = LLVMAddFunction(l->mod, name, fty);
        }
    } else {
        callee = LLVMConstIntToPtr(k64(l, (uintptr_t)fn), l->ptr);
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
 */
typedef struct ExactState {
    LLVMValueRef pc, st, pc_exact, st_exact;
} ExactState;

static ExactState exact_state(Lower *l)
{
    const HybridTargetDesc *d = l->s->target;
    LLVMTypeRef pt = d->pc_size == 4 ? l->i32 : l->i64;
    ExactState sv = { 0 };

    if (!l->have_insn) {
        return sv;
    }
    /*
     * Where the translator wrote the pc (or cc_op) itself in this insn,
     * its value is the one it wants the helper to see (e.g. the next
     * insn's pc before hlt): leave it alone.
     */
    if (!l->pc_written) {
        sv.pc = LLVMBuildLoad2(l->b, pt, env_ptr(l, d->pc_offset), "");
        sv.pc_exact = LLVMBuildAdd(l->b, l->tb_pc,
                                   kty(pt, d->state_pc(l->tb, l->insn_pc) -
                                       d->state_pc(l->tb, l->tb->pc)),
                                   "pc_exact");
        LLVMBuildStore(l->b, sv.pc_exact, env_ptr(l, d->pc_offset));
    }
    if (d->insn_state_offset >= 0 && !l->state_written &&
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

static void restore_state(Lower *l, ExactState sv)
{
    const HybridTargetDesc *d = l->s->target;

    if (sv.pc) {
        restore_one(l, d->pc_size == 4 ? l->i32 : l->i64, d->pc_offset,
                    sv.pc, sv.pc_exact);
    }
    if (sv.st) {
        restore_one(l, l->i32, d->insn_state_offset, sv.st, sv.st_exact);
    }
}

static LLVMValueRef valid_now(Lower *l)
{
    LLVMValueRef p, v;

    if (l->portable) {
        LLVMTypeRef fty = LLVMFunctionType(l->i32, NULL, 0, false);
        LLVMValueRef f = LLVMGetNamedFunction(l->mod, "hybrid_port_valid");

        if (!f) {
            f = LLVMAddFunction(l->mod, "hybrid_port_valid", fty);
        }
        v = LLVMBuildCall2(l->b, fty, f, NULL, 0, "valid");
        return LLVMBuildICmp(l->b, LLVMIntNE, v, kty(l->i32, 0), "");
    }
    p = LLVMConstIntToPtr(k64(l, (uintptr_t)l->refs->valid), l->ptr);
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
    out = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "exit");
    check = LLVMAppendBasicBlockInContext(l->ctx, l->fn, "succ");
    LLVMBuildCondBr(l->b, valid_now(l), check, out);
    for (unsigned k = 0; k < cur->nsucc; k++) {
        const HybridSnapTB *n = &s->tbs[cur->succ[k]];
        LLVMBasicBlockRef other = k + 1 < cur->nsucc ?
            LLVMAppendBasicBlockInContext(l->ctx, l->fn, "succ") : out;
        LLVMValueRef ok;

        LLVMPositionBuilderAtEnd(l->b, check);
        if (!same_page_edge(s, cur, n, indirect)) {
            LLVMTypeRef at[] = { l->ptr, l->i64, l->i64, l->i32, l->i64,
                                 l->i64 };
            LLVMTypeRef fty = LLVMFunctionType(l->i1, at, 6, false);
            LLVMValueRef args[] = {
                l->env, k64(l, n->pc), k64(l, n->cs_base),
                kty(l->i32, n->flags), k64(l, n->phys0), k64(l, n->phys1),
            };
            /* the check itself may fault (code fetch): state is exact */
            ok = emit_call(l, fty, d->edge_ok, args, 6);
        } else {
            /* the same page: the same page offset is the same code */
            LLVMTypeRef pt = d->pc_size == 4 ? l->i32 : l->i64;
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

static LLVMValueRef cond_value(Lower *l, unsigned cond, LLVMValueRef a,
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

static LLVMValueRef call_intrinsic(Lower *l, const char *name, LLVMTypeRef t,
                              LLVMValueRef *args, unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(l->mod, id, &t, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(l->ctx, id, &t, 1);

    return LLVMBuildCall2(l->b, fty, f, args, n, "");
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

/* A TCG helper call with the ABI of its descriptor. */
static bool lower_call(Lower *l, const HybridSnapOp *op, const uint64_t *a)
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
            temp_store(l, a[i], LLVMConstNull(llvm_ty(l, snap_temp(l, a[i])->type)));
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
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call, h->name);
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
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, INDEX_op_call, h->name);
    }
    nargs = i;
    sv = exact_state(l);
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
        temp_store(l, a[HOST_BIG_ENDIAN], LLVMBuildTrunc(l->b, call, l->i64, ""));
        temp_store(l, a[!HOST_BIG_ENDIAN], LLVMBuildTrunc(l->b,
                                    LLVMBuildLShr(l->b, call,
                                                  kty(i128, 64), ""),
                                    l->i64, ""));
    } else if (nout) {
        LLVMValueRef v = call;
        LLVMTypeRef ot = llvm_ty(l, snap_temp(l, a[0])->type);

        if (code == 6) {
            v = LLVMBuildPtrToInt(l->b, v, l->i64, "");
        }
        if (LLVMTypeOf(v) != ot) {
            v = ot == l->i64 ? (code == 3 ? LLVMBuildSExt(l->b, v, ot, "")
                                          : LLVMBuildZExt(l->b, v, ot, ""))
                             : LLVMBuildTrunc(l->b, v, ot, "");
        }
        temp_store(l, a[0], v);
    }
    return true;
}

/* Guest memory through QEMU's softmmu helpers (they handle the TLB,
   alignment, atomicity and byte order given by the MemOpIdx). */
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
static LLVMValueRef vec_mask_count(Lower *l, const HybridSnapOp *op, LLVMValueRef c)
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
static LLVMValueRef host_vec_value(Lower *l, const HybridSnapOp *op, uint64_t idx)
{
    const HybridSnapTemp *t = snap_temp(l, idx);

    if (t->kind == HYBRID_TEMP_CONST && t->type != op->param1) {
        unsigned n = LLVMGetIntTypeWidth(llvm_ty(l, op->param1)) / 64;

        return LLVMBuildBitCast(l->b, vec_const(LLVMVectorType(l->i64, n), t->val),
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
        z = vec_shuffle(l, host_vec_value(l, op, a[1]), host_vec_value(l, op, a[2]), idx, n);
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
        LLVMValueRef in[2] = { host_vec_value(l, op, a[1]), host_vec_value(l, op, a[2]) };
        unsigned half = per / 2;

        for (unsigned k = 0; k < 2; k++) {
            args[0] = LLVMBuildBitCast(l->b, in[k], wt, "");
            args[1] = vec_const(wt, lo);
            args[0] = call_intrinsic(l, "llvm.smax", wt, args, 2);
            args[1] = vec_const(wt, hi);
            in[k] = LLVMBuildTrunc(l->b, call_intrinsic(l, "llvm.smin", wt, args, 2),
                                   nt, "");
        }
        for (unsigned i = 0; i < n; i++) {
            unsigned lane = i / per, j = i % per;

            idx[i] = j < half ? lane * half + j : n / 2 + lane * half + j - half;
        }
        z = vec_shuffle(l, in[0], in[1], idx, n);
        break;
    }
    case TCG_HOST_VEC_BLEND_IMM: {
        LLVMValueRef m[64];

        for (unsigned i = 0; i < n; i++) {
            m[i] = LLVMConstInt(l->i1, (a[3] >> (i % 8)) & 1, false);
        }
        z = LLVMBuildSelect(l->b, LLVMConstVector(m, n), host_vec_value(l, op, a[2]),
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

/* Lower vector op @op; false if it is not one this knows. */
static bool lower_vec(Lower *l, const HybridSnapOp *op, const uint64_t *a)
{
    LLVMBuilderRef b = l->b;
    LLVMValueRef x, y, z, args[3];

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
        x = LLVMBuildLoad2(b, llvm_ty(l, op->param1), host_ptr(l, a[1], a[2]), "");
        env_access(l, x, a[1], a[2], LLVMGetIntTypeWidth(llvm_ty(l, op->param1)) / 8);
        LLVMSetAlignment(x, 1);
        temp_store(l, a[0], x);
        return true;
    case INDEX_op_st_vec:
        x = LLVMBuildStore(b, temp_value(l, a[0]), host_ptr(l, a[1], a[2]));
        env_access(l, x, a[1], a[2], LLVMGetIntTypeWidth(llvm_ty(l, op->param1)) / 8);
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
                        LLVMBuildAnd(b, temp_value(l, a[3]), LLVMBuildNot(b, x, ""),
                                     ""), "");
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
        vec_store(l, op, a[0], LLVMBuildSelect(b, z, LLVMBuildNeg(b, x, ""), x, ""));
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
    switch (op->opc) {
    case INDEX_op_add_vec: z = LLVMBuildAdd(b, x, y, ""); break;
    case INDEX_op_sub_vec: z = LLVMBuildSub(b, x, y, ""); break;
    case INDEX_op_mul_vec: z = LLVMBuildMul(b, x, y, ""); break;
    case INDEX_op_ssadd_vec: z = vec_intrinsic(l, "llvm.sadd.sat", op, args, 2); break;
    case INDEX_op_usadd_vec: z = vec_intrinsic(l, "llvm.uadd.sat", op, args, 2); break;
    case INDEX_op_sssub_vec: z = vec_intrinsic(l, "llvm.ssub.sat", op, args, 2); break;
    case INDEX_op_ussub_vec: z = vec_intrinsic(l, "llvm.usub.sat", op, args, 2); break;
    case INDEX_op_smin_vec: z = vec_intrinsic(l, "llvm.smin", op, args, 2); break;
    case INDEX_op_umin_vec: z = vec_intrinsic(l, "llvm.umin", op, args, 2); break;
    case INDEX_op_smax_vec: z = vec_intrinsic(l, "llvm.smax", op, args, 2); break;
    case INDEX_op_umax_vec: z = vec_intrinsic(l, "llvm.umax", op, args, 2); break;
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

#define OPC2(name) case INDEX_op_##name##_i32: case INDEX_op_##name##_i64

/* Lower one op; false (with l->err set) if it cannot be. */
static bool lower_op(Lower *l, const HybridSnapOp *op)
{
    const uint64_t *a = &l->tb->args[op->first_arg];
    const TCGOpDef *def = &tcg_op_defs[op->opc];
    LLVMBuilderRef b = l->b;
    LLVMTypeRef t;
    LLVMValueRef x, y, z;

    if (def->flags & TCG_OPF_VECTOR) {
        return lower_vec(l, op, a) ||
               lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, def->name);
    }
    /* the type of most ops is the type of their first temp */
    t = def->nb_oargs + def->nb_iargs && op->opc != INDEX_op_call &&
        op->opc != INDEX_op_insn_start ? llvm_ty(l, snap_temp(l, a[0])->type) : l->i64;

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
        LLVMBuildFence(b, LLVMAtomicOrderingSequentiallyConsistent, false, "");
        return true;
    case INDEX_op_set_label: {
        LLVMBasicBlockRef bb = label_bb(l, a[0]);
        LLVMBasicBlockRef cur = LLVMGetInsertBlock(b);

        if (!LLVMGetBasicBlockTerminator(cur)) {
            LLVMBuildBr(b, bb);
        }
        LLVMMoveBasicBlockAfter(bb, cur);
        LLVMPositionBuilderAtEnd(b, bb);
        l->dirty.plus_in = l->dirty.plus_tb = true;     /* paths join */
        return true;
    }
    case INDEX_op_br:
        LLVMBuildBr(b, label_bb(l, a[0]));
        dead_block(l);
        return true;
    OPC2(brcond): {
        LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(l->ctx, l->fn,
                                                               "");
        LLVMBuildCondBr(b, cond_value(l, a[2], temp_value(l, a[0]), temp_value(l, a[1])),
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
    case INDEX_op_call:
        return lower_call(l, op, a);
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
        return lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, op->opc, def->name);
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

        l->tb_pc = LLVMBuildLoad2(l->b, d->pc_size == 4 ? l->i32 : l->i64,
                                  env_ptr(l, d->pc_offset), "tb_pc");
        set_tbaa(l, l->tb_pc, TBAA_ENV);
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
    const char *state = getenv("HYBRID_LLVM_STATE");
    Lower l = {
        .ctx = ctx, .mod = mod, .s = s, .refs = refs, .err = err,
        .portable = !refs,
        /* HYBRID_LLVM_STATE=env: globals stay in env (to measure) */
        .map_state = !state || strcmp(state, "env") != 0,
        .gslots = g_array_new(false, false, sizeof(GSlot)),
        .syncs = g_array_new(false, false, sizeof(Sync)),
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
    l.entry = LLVMAppendBasicBlockInContext(ctx, l.fn, "entry");
    l.tb_bb = g_new0(LLVMBasicBlockRef, s->ntbs);
    l.tb_in = g_malloc0(sizeof(*l.tb_in) * s->ntbs);
    l.tb_written = g_malloc0(sizeof(*l.tb_written) * s->ntbs);
    for (unsigned i = 0; i < s->ntbs; i++) {
        l.tb_bb[i] = LLVMAppendBasicBlockInContext(ctx, l.fn, "tb");
    }
    for (unsigned i = 0; i < s->ntbs && ok; i++) {
        ok = lower_tb(&l, i);
    }
    if (ok) {
        place_syncs(&l);
    }
    if (ok) {
        /*
         * Entry: a trace invalidated after its head TB was entered (its
         * patched entry is restored in an exclusive section, later) does
         * nothing and lets TCG look the head up again.
         */
        LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(ctx, l.fn,
                                                              "run");
        LLVMBasicBlockRef stale = LLVMAppendBasicBlockInContext(ctx, l.fn,
                                                                "stale");

        LLVMPositionBuilderAtEnd(l.b, l.entry);
        LLVMBuildCondBr(l.b, valid_now(&l), run, stale);
        LLVMPositionBuilderAtEnd(l.b, stale);
        LLVMBuildRet(l.b, loop_ret(&l));
        LLVMPositionBuilderAtEnd(l.b, run);
        if (!l.portable) {
            count_inline(&l, refs->entries);
        }
        sync_globals(&l, false, NULL);  /* mapped globals from env */
        LLVMBuildBr(l.b, l.tb_bb[0]);
        if (LLVMVerifyFunction(l.fn, LLVMReturnStatusAction)) {
            ok = lower_fail(&l, HYBRID_ABORT_LLVM, -1, "IR verification");
        }
    }
    LLVMDisposeBuilder(l.b);
    g_free(l.tb_bb);
    g_free(l.tb_in);
    g_free(l.tb_written);
    g_array_free(l.gslots, true);
    g_array_free(l.syncs, true);
    return ok;
}

const char *hybrid_llvm_op_name(int opc)
{
    return opc >= 0 && opc < NB_OPS ? tcg_op_defs[opc].name : "?";
}
