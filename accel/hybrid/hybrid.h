/*
 * hybrid: state of the second tier shared by the accelerator (per-target
 * code in hw-glue/) and the monitor (target-independent).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_H
#define HYBRID_H

#include "hybrid-params.h"

/*
 * Tier-wide counters. Lock rule: none; every field is updated with
 * qatomic_inc()/qatomic_add() by any thread and read with qatomic_read().
 */
typedef struct HybridStats {
    uint64_t formed;
    uint64_t compiled;
    uint64_t installed;
    uint64_t invalidated;
    uint64_t aborted;
    uint64_t tbs_translated;
    uint64_t tbs_invalidated;
    uint64_t flushes;
    uint64_t entry_patched;     /* head TB entries redirected to a trace */
    uint64_t entry_restored;    /* ... and given back to the TB */
    uint64_t entry_unpatchable; /* installed traces whose head could not be */
    uint64_t linked;            /* trace exits chained to another trace */
    uint64_t linked_indirect;   /* ... of them, indirect (inline caches) */
    uint64_t user_entries_gone; /* entries into user traces since freed */
    uint64_t regions;           /* traces grown by a side path, installed */
} HybridStats;

extern HybridStats hybrid_stats;

/* True once -accel hybrid initialised the machine; never reset. */
extern bool hybrid_in_use;

/* llvm-backend: version string of the LLVM library linked in. */
const char *hybrid_llvm_version(void);

/*
 * The op conformance run of QMP x-hybrid-conformance: set at start-up by
 * the harness of the self-test emulator (tests/selftest/conformance.c);
 * NULL in the product emulator, which does not carry it.
 */
typedef struct HybridConformance HybridConformance;
extern HybridConformance *(*hybrid_conformance)(uint32_t runs, uint64_t seed,
                                                bool mutate,
                                                const char *filter,
                                                Error **errp);

#endif /* HYBRID_H */
