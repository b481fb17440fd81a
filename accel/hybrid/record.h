/*
 * hybrid: per-vCPU profiling (NET head counters) and trace recording.
 *
 * One HybridVCPU per vCPU, owned by its vCPU thread: no lock. Only a
 * code-cache flush, which runs while every vCPU is stopped, touches
 * another vCPU's state.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_RECORD_H
#define HYBRID_RECORD_H

#include "trace.h"
#include "hybrid-aborts.h"

typedef enum HybridHeadState {
    HYBRID_HEAD_COUNTING,
    HYBRID_HEAD_TRACED,         /* a trace exists (or existed) here */
    HYBRID_HEAD_BLACKLISTED,    /* aborted too often: never recorded again */
    HYBRID_HEAD_DONE,           /* its trace failed or went away: plain TCG */
} HybridHeadState;

/* How a compiled trace left to the execution loop (trace_exit). */
enum {
    HYBRID_EXIT_NONE,
    HYBRID_EXIT_COLD,       /* the TB there is a NET head candidate */
    HYBRID_EXIT_HOT,        /* the exit is hot: trace from there now */
};

/*
 * Heat: how fast a trace's head was entered while it waited to be
 * compiled (entries per second), which orders the compile queue.
 * HYBRID_HEAT_MAX: hot by construction (a region, a hot exit).
 */
#define HYBRID_HEAT_MAX UINT64_MAX
/* A job's heat halves every HYBRID_HEAT_HALF_MS it waits in the queue. */
#define HYBRID_HEAT_HALF_MS 100
/*
 * Below this heat (entries per second, after decay) a queued job is
 * dropped, not compiled. Measured (make bench, 2 cores): 500, 2000 and
 * 5000 all took the shell loop from 1.10-1.17x TCG's time to 1.02-1.11x,
 * boot and the hot loop unchanged; 2000 is the middle.
 */
#define HYBRID_HEAT_COLD 2000

/* Heat of @entries that came within @ns. */
uint64_t hybrid_heat(uint64_t entries, int64_t ns);
/* @heat after waiting @waited_ns. */
uint64_t hybrid_heat_now(uint64_t heat, int64_t waited_ns);

typedef struct HybridHead {
    uint32_t count;
    uint32_t threshold;         /* hot, doubled after each abort */
    uint8_t state;              /* HybridHeadState */
    uint8_t aborts;
    uint32_t waits;             /* TRACED: dispatches without entering it */
    int64_t since;              /* TRACED: when the first of them came (ns) */
    uint64_t trace_id;          /* TRACED: the trace formed here, 0 unknown */
    uint32_t wait_for;          /* TRACED: entries before promoting (0: jit-hot) */
    unsigned epoch;             /* DONE: hybrid_drop_epoch when promoted */
} HybridHead;

typedef struct HybridVCPU {
    GHashTable *heads;          /* TB identity -> HybridHead */
    bool event;                 /* exception/interrupt/exit since last step */
    bool event_any;             /* ... a guest exception among them */
    uint64_t event_pc;          /* where the guest was at the first of them */
    uint32_t event_flags;
    /* a compiled trace just left to this TB: HYBRID_EXIT_*; which, after which TB */
    uint8_t trace_exit;
    uint64_t exit_trace_id;
    unsigned exit_trace_tb;
    /* the recording started where trace rec_from_id left (0: elsewhere) */
    uint64_t rec_from_id;
    unsigned rec_from_tb;
    bool recording;
    const void *rec_head_tb;    /* the hot TB (normal variant) */
    HybridHead *rec_head;
    HybridTBDesc rec_head_desc;
    GArray *rec;                /* HybridTraceTB recorded so far */
    /* is this TB still valid? (hw-glue: CF_INVALID not set) */
    bool (*tb_valid)(const void *tb);
    /*
     * The head of trace @id was entered jit-hot times since the trace was
     * formed, and the vCPU is at it now (hw-glue: snapshot, compile).
     * @heat: how fast those entries came (per second; HYBRID_HEAT_MAX
     * for a region or a hot exit), which orders the compile queue.
     * It may not return (hw-glue leaves for the execution loop when the
     * snapshot flushed the code cache), so it is called last, with the
     * recorder's state final.
     */
    void (*promote)(void *opaque, uint64_t id, uint64_t heat);
    void *opaque;
} HybridVCPU;

/* What the execution loop should do with the TB it is about to run. */
typedef enum HybridStep {
    HYBRID_STEP_RUN,            /* run it, chaining is fine */
    HYBRID_STEP_NO_CHAIN,       /* run it, do not chain into it (counting) */
    HYBRID_STEP_RECORD,         /* recording: next TBs must be the
                                   recorder's no-chaining variants; if this
                                   TB is not one, look it up again */
} HybridStep;

void hybrid_vcpu_init(HybridVCPU *v, bool (*tb_valid)(const void *tb));

/*
 * Region formation, the one place regions are made: trace @from_id was
 * left after its TB @from_tb, and a side path from there came back to its
 * head: the TBs @v is recording (@via NULL: the recording ends in the
 * region) or the recorded path of trace @via, which that exit is linked
 * to. Grow the trace by it (region-max-tbs) and compile the region now
 * through @v->promote, so it may not return: callers call it last.
 * False if no region was made (regions off, no compiler, the trace
 * cannot grow: hybrid_table_merge()).
 */
bool hybrid_region_grow(HybridVCPU *v, uint64_t from_id, unsigned from_tb,
                        const HybridTrace *via);
void hybrid_vcpu_destroy(HybridVCPU *v);

/*
 * The vCPU is about to run @tb; @last (or NULL) is the TB that just
 * returned to the execution loop (set v->trace_exit instead when a
 * compiled trace just returned). Counts NET heads (targets of backward
 * edges and of trace exits), starts, continues and ends recordings.
 */
HybridStep hybrid_vcpu_step(HybridVCPU *v, const HybridTBDesc *last,
                            const HybridTBDesc *tb);

/*
 * An exception, interrupt or exit request is being handled. A guest
 * exception (@exception) ends the recorded path. Anything else (the
 * loop checking for interrupts, an exit request: the tier's own
 * exclusive work kicks every vCPU) ends it only if the guest is not
 * where it was (@pc, @flags) when the next TB runs: an interrupt was
 * delivered. So recordings are not aborted, and heads not blacklisted,
 * for events the guest never saw.
 */
static inline void hybrid_vcpu_event(HybridVCPU *v, bool exception,
                                     uint64_t pc, uint32_t flags)
{
    if (v->recording && !v->event) {
        v->event = true;
        v->event_any = exception;
        v->event_pc = pc;
        v->event_flags = flags;
    } else if (v->recording) {
        v->event_any |= exception;
    }
}

/* The code cache was flushed (all vCPUs stopped): forget every TB. */
void hybrid_vcpu_flush(HybridVCPU *v);

#endif /* HYBRID_RECORD_H */
