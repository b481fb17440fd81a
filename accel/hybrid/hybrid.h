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
} HybridStats;

extern HybridStats hybrid_stats;

/* True once -accel hybrid initialised the machine; never reset. */
extern bool hybrid_in_use;

/* llvm-backend: version string of the LLVM library linked in. */
const char *hybrid_llvm_version(void);

#endif /* HYBRID_H */
