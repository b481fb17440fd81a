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

/* A compiled trace: returns the index of the TB after which it left. */
typedef uint64_t (*HybridTraceFn)(void *env);

typedef struct HybridCode HybridCode;

/* Why a trace could not be compiled. */
typedef struct HybridCompileError {
    HybridAbort reason;
    int opc;                /* UNSUPPORTED_OP: the TCG opcode, else -1 */
    char detail[96];
} HybridCompileError;

/* Start the JIT for the host described by tcg-host; once, before use. */
bool hybrid_jit_init(Error **errp);

/*
 * Lower, optimise and compile @s. @valid points to a byte that is
 * non-zero while the trace may keep running: the code checks it on
 * every edge between TBs. Thread-safe; called by optimizer threads.
 */
HybridCode *hybrid_jit_compile(const HybridSnapshot *s, const uint8_t *valid,
                               HybridCompileError *err);
HybridTraceFn hybrid_code_fn(const HybridCode *c);
size_t hybrid_code_size(const HybridCode *c);
/* Free the code; only when no vCPU can be executing it. */
void hybrid_code_free(HybridCode *c);

/* The name of TCG opcode @opc ("?" if out of range). */
const char *hybrid_llvm_op_name(int opc);

/* For the log and tests: the IR of @s, before and after optimisation. */
char *hybrid_lower_to_string(const HybridSnapshot *s, const uint8_t *valid,
                             bool optimised, HybridCompileError *err);

#endif /* HYBRID_LLVM_BACKEND_H */
