/*
 * hybrid: every reason why a trace was not formed (or, later, not
 * compiled), in one table: counted per reason, shown by the monitor.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_ABORTS_H
#define HYBRID_ABORTS_H

/*      id            name              text */
#define HYBRID_ABORTS(X)                                                    \
    X(EVENT,          "event",                                              \
      "an exception, interrupt or exit request arrived while recording")   \
    X(NO_PAGE,        "no-page",                                            \
      "a TB is not backed by a guest RAM page (MMIO or ROM execution)")    \
    X(SPECIAL_TB,     "special-tb",                                         \
      "a TB was translated for single-step, icount, breakpoints or I/O")   \
    X(LOST,           "lost",                                               \
      "the vCPU left the recording's TB stream (cflags were overridden)")  \
    X(INVALIDATED,    "tb-invalidated",                                     \
      "a recorded TB was invalidated (code written or unmapped)")          \
    X(FLUSH,          "flush",                                              \
      "the code cache was flushed while recording or taking a snapshot")   \
    X(MODE_AT_HEAD,   "mode-at-head",                                       \
      "the first TB after the head changed privilege level")               \
    X(DUPLICATE,      "duplicate",                                          \
      "another vCPU formed a trace at the same head first")                \
    X(SNAPSHOT,       "snapshot",                                           \
      "a TB's code changed or moved before its ops could be copied")       \
    X(NOT_PCREL,      "not-pcrel",                                          \
      "the trace's TBs are not PC-relative (only those are compiled)")     \
    X(UNSUPPORTED_OP, "unsupported-op",                                     \
      "the trace has a TCG op or helper the LLVM lowering does not handle")\
    X(LLVM,           "llvm",                                               \
      "LLVM failed to verify, optimise or compile the trace")              \
    X(QUEUE_FULL,     "queue-full",                                         \
      "the optimizer queue was full and this trace was the coldest")       \
    X(COLD,           "cold",                                               \
      "the trace's head cooled down while it waited for an optimizer")    \
    X(COLD_HEAD,      "cold-head",                                          \
      "the head was entered too rarely for its trace to be compiled")

typedef enum HybridAbort {
#define HYBRID_ABORT_ENUM(id, name, text) HYBRID_ABORT_##id,
    HYBRID_ABORTS(HYBRID_ABORT_ENUM)
#undef HYBRID_ABORT_ENUM
    HYBRID_ABORT__MAX
} HybridAbort;

typedef struct HybridAbortInfo {
    const char *name;
    const char *text;
} HybridAbortInfo;

extern const HybridAbortInfo hybrid_abort_info[HYBRID_ABORT__MAX];

/* Per reason; qatomic_inc() by any thread, no lock. */
extern uint64_t hybrid_abort_count[HYBRID_ABORT__MAX];

/*
 * UNSUPPORTED_OP split by TCG opcode (index: INDEX_op_*); qatomic_inc()
 * by any thread. Sized for any TCG version's opcode count.
 */
#define HYBRID_MAX_OPCODES 512
extern uint64_t hybrid_unsupported_op_count[HYBRID_MAX_OPCODES];

/* Count an abort: per reason, and in hybrid_stats.aborted. */
void hybrid_count_abort(HybridAbort why);

#endif /* HYBRID_ABORTS_H */
