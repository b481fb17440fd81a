/*
 * hybrid: the tier's counters and abort reasons (hybrid.h,
 * hybrid-aborts.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "hybrid.h"
#include "hybrid-aborts.h"
#include "trace/trace-hybrid.h"

HybridStats hybrid_stats;
bool hybrid_in_use;

const HybridAbortInfo hybrid_abort_info[HYBRID_ABORT__MAX] = {
#define HYBRID_ABORT_INFO(id, name_, text_) \
    [HYBRID_ABORT_##id] = { .name = name_, .text = text_ },
    HYBRID_ABORTS(HYBRID_ABORT_INFO)
#undef HYBRID_ABORT_INFO
};

uint64_t hybrid_abort_count[HYBRID_ABORT__MAX];

void hybrid_count_abort(HybridAbort why)
{
    qatomic_inc(&hybrid_abort_count[why]);
    qatomic_inc(&hybrid_stats.aborted);
    trace_hybrid_trace_aborted(hybrid_abort_info[why].name);
}
uint64_t hybrid_unsupported_op_count[HYBRID_MAX_OPCODES];
