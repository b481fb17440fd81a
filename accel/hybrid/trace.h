/*
 * hybrid: traces and the shared trace table.
 *
 * A trace is a path of translation blocks recorded on one vCPU (NET:
 * next-executing tail from a hot head), in one privilege level. The
 * table holds every live trace, shared by all vCPUs.
 *
 * This part is target-independent: it sees TBs only through
 * HybridTBDesc, which hw-glue fills from a TranslationBlock (and the unit
 * tests from synthetic sequences).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_TRACE_H
#define HYBRID_TRACE_H

#include "qemu/thread.h"
#include "qemu/rcu.h"

/*
 * What the tier knows of one TB: its key and what tracing needs. A
 * PC-relative TB (@pcrel; every x86 system TB) is one TB for every
 * virtual alias of its code, as in TCG's own TB lookup: its key is the
 * guest physical address, cs_base, flags and cflags, and @pc is only the
 * virtual address it had where the tier saw it (recording, monitor).
 */
typedef struct HybridTBDesc {
    const void *tb;         /* identity; TB memory is not reused before a flush */
    uint64_t pc;            /* guest virtual pc (not in a PC-relative key) */
    uint64_t cs_base;
    uint32_t flags;
    uint32_t cflags;        /* without the recorder's no-chaining bits */
    int64_t phys0, phys1;   /* guest physical address of pc / of the 2nd page; -1 none */
    uint32_t insns;         /* guest instructions */
    uint32_t size;          /* guest bytes */
    bool user;              /* CPL 3 (else kernel) */
    bool special;           /* single-step, icount, breakpoint page, I/O: never traced */
    bool recording_variant; /* translated with the recorder's no-chaining cflags */
    bool pcrel;             /* PC-relative: @pc is not part of the key */
} HybridTBDesc;

typedef enum HybridTraceState {
    HYBRID_TRACE_RECORDED,
    HYBRID_TRACE_QUEUED,
    HYBRID_TRACE_COMPILING,
    HYBRID_TRACE_INSTALLED,
    HYBRID_TRACE_INVALIDATED,
    HYBRID_TRACE_FAILED,
    HYBRID_TRACE__MAX
} HybridTraceState;

/* Why recording of a formed trace ended. */
typedef enum HybridTraceEnd {
    HYBRID_END_LOOP,        /* the path came back to the head */
    HYBRID_END_TRACE_HEAD,  /* the path reached another trace's head */
    HYBRID_END_MAX_TBS,     /* trace-max-tbs reached */
    HYBRID_END_MODE,        /* the path changed privilege level */
    HYBRID_END__MAX
} HybridTraceEnd;

extern const char *const hybrid_trace_state_name[HYBRID_TRACE__MAX];
extern const char *const hybrid_trace_end_name[HYBRID_END__MAX];

/*
 * A trace is a small region of TBs: each TB has at most two successors
 * inside it (a recorded path gives one, the next TB or, for a loop, the
 * head; a merged side path gives a second). Code goes to a successor
 * when the guest does, else leaves the trace.
 */
typedef struct HybridTraceTB {
    HybridTBDesc key;
    uint64_t next_pc;       /* pc executed after this TB when recorded */
    int64_t next_phys;      /* ... and its guest physical address (-1 none) */
    uint8_t nsucc;          /* successors in the trace: succ[0..nsucc) */
    uint16_t succ[2];       /* indices into the trace's tbs[] */
} HybridTraceTB;

typedef uint64_t (*HybridTraceCodeFn)(void *env, uint64_t from_tb);

typedef struct HybridTrace HybridTrace;

/*
 * A link: one goto_tb exit of a compiled trace, chained to the compiled
 * trace whose head TCG found there (like TCG chaining a goto_tb). Its
 * code calls @fn directly while the guest pc field equals @pc. @pc is
 * set once, with the first link, and never changes; @fn is set and
 * cleared under the table lock (cleared when @target leaves the table),
 * read by code with an acquire load.
 */
typedef struct HybridExitSlot {
    HybridTraceCodeFn fn;
    uint64_t pc;
    HybridTrace *target;    /* table lock */
    /*
     * Not linked to a trace: TCG's TB for the exit's target (a
     * TranslationBlock, qatomic; set by the target's trace_exit), which
     * the trace jumps to directly while it is valid, as TCG chains TBs.
     */
    const void *tb;
    /*
     * An indirect exit's slot (HYBRID_SLOT_PTR) links to the trace for one
     * target, set once with @pc: its TB flags, the env offset of the
     * CPUTLBDescFast of its code's MMU index, and the TLB addend that maps
     * its page to the guest RAM of that trace's head (code checks all).
     */
    uint32_t flags;
    int32_t tlb_ofs;
    uint64_t addend;
} HybridExitSlot;

/*
 * What an edge into TB i of a trace that its page offset cannot check
 * (another page, or goto_ptr) checks in line before the target's
 * edge_ok: the host address of the TB's guest page and the env offset of
 * the CPUTLBDescFast of its code's MMU index. The code TLB entry of the
 * current pc must map its page to that host page, which holds the TB's
 * guest RAM page whatever virtual address it has (ASLR, shared
 * libraries). 0 until the target's edge_fill succeeded once; it fills
 * both (qatomic), always with the same values: they follow from the
 * TB's key (guest RAM page; TB flags give the MMU index).
 */
typedef struct HybridEdgeCache {
    uint64_t host;
    int32_t tlb_ofs;
} HybridEdgeCache;

/* The link slot of goto_tb exit @n of TB @i of a trace; n = 2: goto_ptr. */
#define HYBRID_SLOTS_PER_TB 3
#define HYBRID_SLOT_OF(links, i, n) (&(links)[HYBRID_SLOTS_PER_TB * (i) + (n)])
#define HYBRID_SLOT(t, i, n) HYBRID_SLOT_OF((t)->links, i, n)
#define HYBRID_SLOT_PTR_OF(links, i) HYBRID_SLOT_OF(links, i, 2)
#define HYBRID_SLOT_PTR(t, i) HYBRID_SLOT_PTR_OF((t)->links, i)

/*
 * Lifetime: reference counted (the table holds one reference while the
 * trace is live or among the recently invalidated, a compile job holds
 * one); the last reference frees it after an RCU grace period, because
 * vCPUs run its code and update its counters inside RCU read sections.
 */
struct HybridTrace {
    struct rcu_head rcu;    /* first: call_rcu */
    int refs;               /* qatomic */
    /* immutable once inserted */
    uint64_t id;
    const void *head_tb;    /* the TB normal execution enters at the head */
    bool user;
    unsigned ntbs;
    HybridTraceTB *tbs;     /* [ntbs]; tbs[0] is the head */
    unsigned insns;
    unsigned pages;         /* distinct guest physical pages spanned */
    unsigned paths;         /* 1 + side paths merged in (regions) */
    unsigned path_tbs;      /* tbs[0..path_tbs): the path first recorded */
    HybridTraceEnd end;
    uint64_t hotness;       /* head executions counted before recording */
    /* written under hybrid_table's lock, read with qatomic_read */
    int state;              /* HybridTraceState */
    unsigned drops;         /* table lock: compile jobs dropped (cold, full) */
    /*
     * Compiled code: set once, under the table lock, when installed.
     * @valid is read by the code on every edge between TBs; cleared
     * (before the code is unpublished) when the trace is invalidated.
     */
    uint8_t valid;
    void *code;             /* llvm-backend's handle */
    HybridTraceCodeFn fn;
    uint64_t code_size;
    uint64_t compile_ns;
    /*
     * The head TB's entry branches to the code (hw-glue/entry.c, under
     * its lock; read by vCPUs with qatomic_read), and what undoes it.
     */
    uint8_t patched;
    void *entry;
    /* updated with qatomic_inc by any vCPU */
    uint64_t entries;
    uint64_t entries_counted;   /* of @entries, in user_entries_gone */
    uint64_t samples;       /* interrupts that found the vCPU at one of its TBs */
    uint64_t *exits;        /* [ntbs]: times the trace was left after tbs[i] */
    HybridExitSlot *links;  /* [HYBRID_SLOTS_PER_TB * ntbs]: HYBRID_SLOT() */
    HybridEdgeCache *edge_cache;    /* [ntbs]: edges into tbs[i] */
    GSList *incoming;       /* table lock: HybridExitSlot linked to us */
    /*
     * Regions (table lock): a trace grown from @replaces by merging a
     * side path; it takes @replaces' place (head, entry) once installed.
     * @replaced_by: set while such a region of this trace is pending.
     */
    HybridTrace *replaces;          /* holds a reference */
    HybridTrace *replaced_by;
};

/* hybrid_trace_new: a recorded trace, not yet in the table. */
HybridTrace *hybrid_trace_new(const HybridTraceTB *tbs, unsigned ntbs,
                              const void *head_tb, HybridTraceEnd end,
                              uint64_t hotness);
void hybrid_trace_free(HybridTrace *t);  /* one never inserted */
void hybrid_trace_ref(HybridTrace *t);
void hybrid_trace_unref(HybridTrace *t);

/*
 * What the rest of the tier does at the steps of a trace's life, given
 * once to hybrid_table_init() by the accelerator (hw-glue/hybrid-accel.c;
 * the unit tests give fewer). Any member may be NULL.
 */
typedef struct HybridTraceOps {
    /* free a trace's code (the pool's JIT), with the trace's last ref */
    void (*code_free)(void *code);
    /* free a trace's @entry (hw-glue/entry.c), with the trace's last ref */
    void (*entry_free)(void *entry);
    /* a trace was installed (any thread, after the table lock is dropped) */
    void (*installed)(HybridTrace *t);
    /* a trace left the table (under the table lock, @valid already 0) */
    void (*retired)(HybridTrace *t);
} HybridTraceOps;
bool hybrid_tb_same_key(const HybridTBDesc *a, const HybridTBDesc *b);
/* Was @k the TB executed after @tb when @tb was recorded? */
bool hybrid_tb_next_is(const HybridTraceTB *tb, const HybridTBDesc *k);

/*
 * The table. Lock rule: one mutex (inside trace-table.c) guards the
 * lookups, the member map and the list of traces; the functions below take
 * it themselves. They are called from vCPU threads (recording, TB
 * invalidation under QEMU's page locks: the table lock is always taken
 * last) and from the monitor.
 *
 * A trace's life is the table's: every change of its state is made here,
 * under the lock, along these moves only (hybrid_trace_may_move()):
 *
 *   RECORDED ─claim─► QUEUED ─pool─► COMPILING ─install─► INSTALLED
 *      ▲                │ │              │ │
 *      └─────drop───────┘ └───fail───────┴─┴─────────► FAILED
 *                                           (a drop after `blacklist` drops,
 *                                            a compile or install that failed)
 *   any of them ─a member TB invalidated, flush, replaced by a region─►
 *   INVALIDATED ─last reference, then an RCU grace period─► freed
 */
bool hybrid_trace_may_move(HybridTraceState from, HybridTraceState to);
void hybrid_table_init(const HybridTraceOps *ops);
/* Is there a live trace whose head has @d's key? */
bool hybrid_table_has_head(const HybridTBDesc *d);
/* The id of the live trace whose head has @d's key, or 0. */
uint64_t hybrid_table_head_id(const HybridTBDesc *d);
/*
 * Claim trace @id for compilation: if it is live and only recorded, mark
 * it queued and return it with a reference held; else NULL.
 */
HybridTrace *hybrid_table_claim(uint64_t id);
/*
 * Insert @t (which the table then owns) unless a trace with the same head
 * exists or a member TB is already invalid (@tb_valid says, checked under
 * the lock so no invalidation is missed). Returns the reason it was not
 * inserted, or -1 on success.
 */
int hybrid_table_insert(HybridTrace *t, bool (*tb_valid)(const void *tb));
/*
 * Region formation. Live trace @from_id was left after its TB @from_tb
 * and the @nside TBs recorded from there (@side) came back to its head:
 * make a trace of both (the side path as a second successor of
 * @from_tb, back to the head or to the first TB it shares with the
 * trace), to replace @from_id when it is installed. The new trace is
 * live but has no head of its own until then. Returns its id, or 0 if
 * @from_id cannot grow (gone, not installed, already growing, that TB
 * already has two successors, more than @max_tbs TBs, a TB invalid).
 */
/*
 * The same with the recorded path of trace @u, whose head is where
 * @from_id left (a side exit linked to @u), up to where it goes to
 * @from_id's head, if it does.
 */
uint64_t hybrid_table_merge_trace(uint64_t from_id, unsigned from_tb,
                                  const HybridTrace *u, unsigned max_tbs,
                                  bool (*tb_valid)(const void *tb));
/* How many TBs of @u's recorded path lead to @k (0: it does not go there). */
unsigned hybrid_trace_path_to(const HybridTrace *u, const HybridTBDesc *k);
uint64_t hybrid_table_merge(uint64_t from_id, unsigned from_tb,
                            const HybridTraceTB *side, unsigned nside,
                            unsigned max_tbs,
                            bool (*tb_valid)(const void *tb));
/* A TB left QEMU's hash table: drop every trace that contains it. */
void hybrid_table_tb_invalidated(const void *tb);
/* The code cache was flushed: drop every trace. */
void hybrid_table_flush(void);
/*
 * Statistical hotness: a vCPU about to take an interrupt was at @pc (a TB
 * start, in user or kernel mode): credit every live trace with a TB there.
 */
void hybrid_table_sample(uint64_t pc, bool user);
/*
 * Entries into compiled user-mode traces, live and gone (a trace waiting
 * for its RCU grace period is counted once freed).
 */
uint64_t hybrid_table_user_entries(void);
/* Call @fn for at most @max live traces, hottest first, under the lock. */
void hybrid_table_foreach_hottest(unsigned max,
                                  void (*fn)(const HybridTrace *t, void *opaque),
                                  void *opaque);
unsigned hybrid_table_size(void);

/*
 * A compile job of @t was dropped (it cooled down in the queue, or the
 * queue was full): @t goes back to RECORDED, to be promoted again if its
 * head gets hot again (hybrid_table_dropped()), up to `blacklist` times;
 * a region, which has no head of its own, fails. Code cold during boot
 * may be hot later.
 */
void hybrid_table_drop(HybridTrace *t);
/*
 * Bumped by every drop (qatomic): heads whose trace was promoted look
 * their trace up again only when it changed.
 */
extern unsigned hybrid_drop_epoch;
/* How often trace @id was dropped, if it is live and RECORDED; else 0. */
unsigned hybrid_table_dropped(uint64_t id);
/*
 * Move @t to @state if that is one of the moves above (QUEUED, COMPILING,
 * FAILED: the others have their own functions); false if it is not.
 */
bool hybrid_table_set_state(HybridTrace *t, HybridTraceState state);
/*
 * A compile of @t finished with @code (NULL: failed). Installs it if the
 * trace is still live, else releases the code. Returns true if installed.
 */
bool hybrid_table_install(HybridTrace *t, void *code, HybridTraceCodeFn fn,
                          uint64_t code_size, uint64_t compile_ns);
/*
 * The installed trace whose head is @head_tb, or NULL. Lock-free; the
 * caller must be in an RCU read section (vCPUs in cpu_exec are).
 */
HybridTrace *hybrid_table_installed(const void *head_tb);
/*
 * Link @slot (of a live trace) to @t, an installed trace TCG just found
 * at the exit's target, whose pc field there is @pc. Lock-free callers
 * (vCPUs, in an RCU read section); does nothing if @t is not installed
 * or the slot is already linked or belongs to another pc.
 */
void hybrid_table_link(HybridTrace *from, HybridExitSlot *slot,
                       HybridTrace *t, uint64_t pc);
/*
 * The same for an indirect exit's slot (HYBRID_SLOT_PTR): the link holds
 * for @pc with TB flags @flags, while the code TLB (CPUTLBDescFast at env
 * + @tlb_ofs) maps @pc's page with TLB addend @addend.
 */
void hybrid_table_link_ptr(HybridTrace *from, HybridExitSlot *slot,
                           HybridTrace *t, uint64_t pc, uint32_t flags,
                           int32_t tlb_ofs, uint64_t addend);
/* Number of installed traces (a cheap test before hybrid_table_installed). */
extern unsigned hybrid_installed_count;

#endif /* HYBRID_TRACE_H */
