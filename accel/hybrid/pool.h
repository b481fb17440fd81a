/*
 * hybrid: the optimizer pool (pool.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_POOL_H
#define HYBRID_POOL_H

#include "snapshot.h"
#include "trace.h"
#include "llvm-backend/llvm-backend.h"

/* The JIT's options, from the accelerator's properties. */
HybridJitOptions hybrid_jit_options(void);
/* Start the JIT and @nthreads optimizer threads (0: compile on vCPUs). */
bool hybrid_pool_start(unsigned nthreads, Error **errp);
/*
 * Queue @t's snapshot @s (the pool owns it); never waits for a compile.
 * @heat: its head's entries per second (see HybridVCPU.promote).
 */
void hybrid_pool_submit(HybridTrace *t, HybridSnapshot *s, uint64_t heat);
unsigned hybrid_pool_queued(void);
/* threads=0: a vCPU between TBs may compile a queued job now. */
void hybrid_pool_vcpu_work(void);

/* Time spent compiling, in all threads / in vCPU threads (ns, qatomic). */
extern uint64_t hybrid_compile_ns_total;
extern uint64_t hybrid_compile_ns_vcpu;

#endif
