/*
 * llvm-backend internal: what the parts of the lowering share. The Lower
 * context (one per trace being lowered), the value and constant helpers,
 * and each part's entry points:
 *
 *   lower.c        hybrid_lower(): the pipeline, the TB loop, lower_op()
 *   lower-state.c  where TCG temps live (state mapping: globals in SSA
 *                  values, env made exact at sync points, dirty sets)
 *   lower-flow.c   control flow: labels, edges between the trace's TBs,
 *                  exits, links to other traces, the trace's entry
 *   lower-call.c   helper calls with the descriptor's ABI; exact pc and
 *                  insn state around a call that may fault
 *   lower-mem.c    guest memory: inline TLB fast path, softmmu helpers
 *   lower-int.c    integer ops (and host ld/st of env and pointers)
 *   lower-vec.c    vector ops, the host backend's own vector ops
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_LOWER_INTERNAL_H
#define HYBRID_LOWER_INTERNAL_H

#include <llvm-c/Core.h>
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
    /* the translator wrote the pc / insn state in this insn, on this path */
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

/* Both widths of most integer ops: OPC2(add): is add_i32 and add_i64. */
#define OPC2(name) case INDEX_op_##name##_i32: case INDEX_op_##name##_i64

static inline LLVMValueRef k64(Lower *l, uint64_t v)
{
    return LLVMConstInt(l->i64, v, false);
}

static inline LLVMValueRef kty(LLVMTypeRef t, uint64_t v)
{
    return LLVMConstInt(t, v, false);
}

/* The host address @p as a constant (not in portable IR). */
static inline LLVMValueRef host_const_ptr(Lower *l, const void *p)
{
    return LLVMConstIntToPtr(k64(l, (uintptr_t)p), l->ptr);
}

/* Pointer @base plus @offset bytes. */
static inline LLVMValueRef ptr_offset(Lower *l, LLVMValueRef base,
                                      int64_t offset)
{
    LLVMValueRef off = LLVMConstInt(l->i64, offset, true);

    return LLVMBuildGEP2(l->b, l->i8, base, &off, 1, "");
}

static inline LLVMValueRef env_ptr(Lower *l, int64_t offset)
{
    return ptr_offset(l, l->env, offset);
}

/* The type of the guest's pc field. */
static inline LLVMTypeRef pc_type(Lower *l)
{
    return l->s->target->pc_size == 4 ? l->i32 : l->i64;
}

static inline LLVMBasicBlockRef new_block(Lower *l, const char *name)
{
    return LLVMAppendBasicBlockInContext(l->ctx, l->fn, name);
}

/* @v sign- (@sign) or zero-extended to @t. */
static inline LLVMValueRef extend(Lower *l, LLVMValueRef v, LLVMTypeRef t,
                                  bool sign)
{
    return sign ? LLVMBuildSExt(l->b, v, t, "") : LLVMBuildZExt(l->b, v, t, "");
}

/* lower.c: small helpers every part uses */
bool lower_fail(Lower *l, HybridAbort why, int opc, const char *detail);
LLVMTypeRef llvm_ty(Lower *l, unsigned tcg_type);

/*
 * What memory an access touches, for LLVM's type-based alias analysis:
 * guest state in env, guest RAM (through the TLB's host addend), and the
 * tier's own control words (a trace's valid flag). No two of these are
 * ever the same memory, so a guest store does not force env fields to
 * be reloaded, and checking the valid flag on an edge does not either;
 * accesses without a tag may alias anything.
 */
enum { TBAA_ENV, TBAA_GUEST, TBAA_CTL };

void set_tbaa(Lower *l, LLVMValueRef access, unsigned kind);
LLVMValueRef call_intrinsic(Lower *l, const char *name, LLVMTypeRef t,
                            LLVMValueRef *args, unsigned n);

/* lower-state.c: temps, state mapping and sync points */
enum {
    SYNC_SPILL = 1, SYNC_RELOAD = 2, SYNC_IF_OVERLAP = 4, SYNC_NONE = 8,
    SYNC_EDGE = 16,                 /* no code: where a TB's edges leave */
};

const HybridSnapTemp *snap_temp(Lower *l, uint64_t idx);
LLVMValueRef temp_value(Lower *l, uint64_t idx);
void temp_store(Lower *l, uint64_t idx, LLVMValueRef v);
void env_written(Lower *l, int64_t offset);
LLVMValueRef host_ptr(Lower *l, uint64_t idx, int64_t offset);
void env_access(Lower *l, LLVMValueRef x, uint64_t idx, int64_t off,
                unsigned bytes);
void add_sync_at(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
                 unsigned bytes, bool in_line);
void add_sync(Lower *l, LLVMValueRef at, unsigned how, int64_t off,
              unsigned bytes);
void spill_here(Lower *l);
void globals_from_env(Lower *l);
void place_syncs(Lower *l);
void lower_state_init(Lower *l);
void lower_state_free(Lower *l);

/* lower-flow.c: labels, edges, exits, the trace's entry */
void dead_block(Lower *l);
void exit_trace(Lower *l, int how);
bool lower_flow_op(Lower *l, const HybridSnapOp *op, const uint64_t *a);
void lower_trace_entry(Lower *l);

/* lower-call.c: calls out of the trace */
LLVMValueRef port_fn(Lower *l, const char *name, LLVMTypeRef fty);
LLVMValueRef emit_call(Lower *l, LLVMTypeRef fty, void *fn,
                       LLVMValueRef *args, unsigned n);

/* What restore_state() needs to put the translator's view back. */
typedef struct ExactState {
    LLVMValueRef pc, st, pc_exact, st_exact;
} ExactState;

ExactState exact_state(Lower *l, bool unwind);
void restore_state(Lower *l, ExactState sv);
bool lower_call(Lower *l, const HybridSnapOp *op, const uint64_t *a);

/* lower-mem.c, lower-int.c, lower-vec.c: the ops */
bool lower_guest_mem(Lower *l, const HybridSnapOp *op, const uint64_t *a);
/* the CPUTLBEntry for @addr in the CPUTLBDescFast at @fast */
LLVMValueRef tlb_entry_for(Lower *l, LLVMValueRef fast, LLVMValueRef addr);
LLVMValueRef cond_value(Lower *l, unsigned cond, LLVMValueRef a,
                        LLVMValueRef b);
bool lower_int_op(Lower *l, const HybridSnapOp *op, const uint64_t *a,
                  LLVMTypeRef t);
bool lower_vec(Lower *l, const HybridSnapOp *op, const uint64_t *a);

#endif
