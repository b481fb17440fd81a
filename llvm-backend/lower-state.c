/*
 * llvm-backend: where TCG temps live in a trace's function. Constants are
 * LLVM constants, local temps allocas (SSA values after mem2reg), guest
 * globals are state-mapped (below): in SSA values for the whole trace,
 * stored to env only at sync points, and only those that may differ from
 * it. The pc and insn state fields stay in env, made exact around calls
 * by exact_state() (lower-call.c). The x-state-mapping=0 property keeps
 * every global in env instead (to measure).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "tcg/tcg.h"
#include "lower-internal.h"

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

const HybridSnapTemp *snap_temp(Lower *l, uint64_t idx)
{
    static const HybridSnapTemp dummy = { .kind = HYBRID_TEMP_CONST };
    const HybridSnapTemp *t = &l->tb->temps[idx];

    if (t->kind == HYBRID_TEMP_HOST) {
        lower_fail(l, HYBRID_ABORT_UNSUPPORTED_OP, -1, "host register temp");
        return &dummy;
    }
    return t;
}

static LLVMValueRef local_slot(Lower *l, uint64_t idx)
{
    if (!l->local_slots[idx]) {
        l->local_slots[idx] = entry_alloca(l, llvm_ty(l,
                                                      snap_temp(l, idx)->type),
                                           "t");
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
void add_sync_at(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
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

void add_sync(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
              unsigned bytes)
{
    if (at) {
        add_sync_at(l, at, how, off, bytes, l->call_in_line);
    }
}

/* Spill here, in line: the code after this point sees env exact. */
void spill_here(Lower *l)
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
void place_syncs(Lower *l)
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
LLVMValueRef temp_value(Lower *l, uint64_t idx)
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
void env_written(Lower *l, int64_t offset)
{
    const HybridTargetDesc *d = l->s->target;

    if (offset == d->pc_offset) {
        l->pc_written = true;
    }
    if (offset == d->insn_state_offset) {
        l->state_written = true;
    }
}

void temp_store(Lower *l, uint64_t idx, LLVMValueRef v)
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
LLVMValueRef host_ptr(Lower *l, uint64_t idx, int64_t offset)
{
    LLVMValueRef base;

    if (snap_temp(l, idx)->kind == HYBRID_TEMP_ENV) {
        base = l->env;
    } else {
        base = LLVMBuildIntToPtr(l->b, temp_value(l, idx), l->ptr, "");
    }
    return ptr_offset(l, base, offset);
}

/*
 * An ld/st op at @idx + @off: if that is env, a sync point when it
 * overlaps a mapped global (front ends do not do that; be exact anyway).
 */
void env_access(Lower *l, LLVMValueRef x, uint64_t idx, int64_t off,
                unsigned bytes)
{
    if (snap_temp(l, idx)->kind == HYBRID_TEMP_ENV) {
        add_sync(l, x, SYNC_SPILL | SYNC_RELOAD | SYNC_IF_OVERLAP, off, bytes);
    }
}

/* At the trace's entry: every mapped global from env. */
void globals_from_env(Lower *l)
{
    sync_globals(l, false, NULL);
}

bool hybrid_lower_state_mapping = true;

/* The state mapping's part of @l (its snapshot set). */
void lower_state_init(Lower *l)
{
    /* x-state-mapping=0: globals stay in env (to measure) */
    l->map_state = hybrid_lower_state_mapping;
    l->gslots = g_array_new(false, false, sizeof(GSlot));
    l->syncs = g_array_new(false, false, sizeof(Sync));
    l->tb_in = g_malloc0(sizeof(*l->tb_in) * l->s->ntbs);
    l->tb_written = g_malloc0(sizeof(*l->tb_written) * l->s->ntbs);
}

void lower_state_free(Lower *l)
{
    g_free(l->tb_in);
    g_free(l->tb_written);
    g_array_free(l->gslots, true);
    g_array_free(l->syncs, true);
}
