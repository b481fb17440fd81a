/*
 * llvm-backend: snapshot -> LLVM IR -> host code. No LLVM type is visible
 * outside this directory.
 *
 *   hybrid_lower()   HybridSnapshot -> IR module (one function per trace)
 *   hybrid_jit_*()   optimise (new pass manager) and compile with ORC
 *                    LLJIT, one ResourceTracker per trace
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_LLVM_BACKEND_H
#define HYBRID_LLVM_BACKEND_H

#include "accel/hybrid/snapshot.h"
#include "accel/hybrid/hybrid-aborts.h"
#include "accel/hybrid/trace.h"

/*
 * A compiled trace: runs from its head until it leaves. Called by the
 * execution loop with @from_tb = 0, it returns 0; entered through its
 * head TB's patched entry (tcg-host's entry thunk, @from_tb = 1), it
 * returns the host code to go on at: a TB's entry, or TCG's epilogue.
 */
typedef uint64_t (*HybridTraceFn)(void *env, uint64_t from_tb);

/*
 * Where a trace's code finds its own run-time state (owned by the trace,
 * alive as long as the code): @valid is non-zero while the trace may run,
 * checked at entry and on every edge between TBs; @entries is counted
 * with a relaxed, non-atomic add (exits are counted by the target's
 * trace_exit()).
 */
typedef struct HybridCodeRefs {
    const uint8_t *valid;
    uint64_t *entries;
    /* the trace (passed to the target's trace_exit) and its link slots */
    void *owner;
    HybridExitSlot *links;
    uint64_t *exits;            /* [ntbs] the owner's exit counters */
    HybridEdgeCache *edges;     /* [ntbs] in-line edge checks (may be NULL) */
} HybridCodeRefs;

typedef struct HybridCode HybridCode;

/* Why a trace could not be compiled. */
typedef struct HybridCompileError {
    HybridAbort reason;
    int opc;                /* UNSUPPORTED_OP: the TCG opcode, else -1 */
    char detail[96];
} HybridCompileError;

/* How traces are compiled (the accelerator's x- properties). */
typedef struct HybridJitOptions {
    unsigned opt_level;         /* default<On> */
    unsigned codegen_level;     /* LLVMCodeGenOptLevel */
    bool native_cpu;            /* the host CPU's features, not tcg-host's */
    bool state_mapping;         /* guest globals in SSA values (lowering) */
    /*
     * Told of every trace's code (named "hybrid_trace_<id>"), from optimizer
     * threads: QEMU's -perfmap/-jitdump writer; NULL: nobody.
     */
    void (*name_code)(const void *start, size_t size, const char *name);
} HybridJitOptions;

/* Start the JIT for the host described by tcg-host; once, before use. */
bool hybrid_jit_init(const HybridJitOptions *o, Error **errp);
/*
 * The lowering's state mapping (HybridJitOptions.state_mapping); on
 * unless the JIT was started without it.
 */
extern bool hybrid_lower_state_mapping;

/*
 * Lower, optimise and compile @s, whose code uses @refs (see above).
 * Thread-safe; called by optimizer threads.
 */
HybridCode *hybrid_jit_compile(const HybridSnapshot *s,
                               const HybridCodeRefs *refs,
                               HybridCompileError *err);
HybridTraceFn hybrid_code_fn(const HybridCode *c);
size_t hybrid_code_size(const HybridCode *c);
/* Free the code; only when no vCPU can be executing it. */
void hybrid_code_free(HybridCode *c);

/* The name of TCG opcode @opc ("?" if out of range). */
const char *hybrid_llvm_op_name(int opc);

/*
 * Portable IR of @s as function @name, for running a real trace on
 * another host (tests/host/port-harness.c): no host address in it; it
 * calls hybrid_port_valid() where the trace checks its valid flag, and
 * hybrid_port_{ld_u1..8,ld_s1..4,st1..8,ld16,st16,edge_ok,exit}() with
 * the signatures of QEMU's softmmu helpers and the target's edge_ok and
 * trace_exit; no counters, no links. NULL (with @err) if the trace calls
 * any other helper. No target triple or data layout: set by the compiler
 * that builds it.
 */
char *hybrid_lower_portable(const HybridSnapshot *s, const char *name,
                            HybridCompileError *err);

/* For the log and tests: the IR of @s, before and after optimisation. */
char *hybrid_lower_to_string(const HybridSnapshot *s,
                             const HybridCodeRefs *refs,
                             bool optimised, HybridCompileError *err);

#endif /* HYBRID_LLVM_BACKEND_H */
