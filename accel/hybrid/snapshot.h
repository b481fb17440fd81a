/*
 * hybrid: the op snapshot of a trace — what llvm-backend lowers.
 *
 * Made on the vCPU thread that formed the trace, by re-running the guest
 * front end for each TB and copying TCG's ops before host code generation
 * (hw-glue/snapshot.c). Immutable once queued, self-contained: no pointer
 * into tcg_ctx survives. Opcodes are TCG's INDEX_op_* values; temps and
 * labels are indices local to their TB.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_SNAPSHOT_H
#define HYBRID_SNAPSHOT_H

typedef enum HybridTempKind {
    HYBRID_TEMP_LOCAL,      /* TCG EBB/TB temp: a value inside one TB */
    HYBRID_TEMP_GLOBAL,     /* a field of env at @offset */
    HYBRID_TEMP_ENV,        /* the env pointer itself */
    HYBRID_TEMP_CONST,      /* the constant @val */
    HYBRID_TEMP_HOST,       /* a TCG-internal fixed register: not lowerable */
} HybridTempKind;

typedef struct HybridSnapTemp {
    uint8_t kind;           /* HybridTempKind */
    uint8_t type;           /* TCG_TYPE_I32 / TCG_TYPE_I64 / vector types */
    int64_t val;            /* CONST: value; GLOBAL: env offset */
} HybridSnapTemp;

typedef struct HybridSnapHelper {
    void *func;
    const char *name;       /* static string of QEMU's helper table */
    uint32_t typemask;      /* dh_typecode per slot, 3 bits each */
    uint8_t flags;          /* TCG_CALL_* */
} HybridSnapHelper;

typedef struct HybridSnapOp {
    uint16_t opc;           /* INDEX_op_* */
    uint8_t nargs;
    uint8_t param1, param2; /* calls: number of inputs / outputs */
    uint32_t first_arg;     /* index into HybridSnapTB.args */
} HybridSnapOp;

/*
 * Arguments of all ops of a TB, in TCG's order. Temps are indices into
 * temps[]; labels are label ids; a call's function and helper info are
 * replaced by an index into helpers[]; other constants are kept.
 */
typedef struct HybridSnapTB {
    uint64_t pc, cs_base;
    uint32_t flags, cflags;
    int64_t phys0, phys1;
    uint64_t next_pc;       /* successor recorded in the trace */
    unsigned nsucc;         /* successors in the trace (HybridTraceTB) */
    unsigned succ[2];       /* their indices in tbs[] */
    unsigned nops, nargs, ntemps, nlabels, nhelpers;
    HybridSnapOp *ops;
    uint64_t *args;
    HybridSnapTemp *temps;
    HybridSnapHelper *helpers;
    /* the guest code bytes, only when -d hybrid logs (else NULL) */
    uint8_t *code;
    uint32_t code_size;
} HybridSnapTB;

struct HybridEdgeCache;

/* What the lowering needs to know of the guest target (from hw-glue). */
typedef struct HybridTargetDesc {
    int32_t pc_offset;          /* env offset of the pc/eip field */
    int32_t pc_size;            /* its size in bytes */
    int32_t insn_state_offset;  /* env offset of insn_start word 1 (x86: cc_op), -1 none */
    int64_t insn_state_dynamic; /* value of word 1 meaning "already in env" */
    int32_t can_do_io_offset;   /* env offset of CPUState.neg.can_do_io */
    uint64_t page_mask;         /* guest TARGET_PAGE_MASK */
    bool pcrel;                 /* insn_start word 0 is a page offset */
    /*
     * uint64_t trace_exit(env, HybridTrace *t, uint32_t code, from_tb):
     * trace code leaves @t at HYBRID_EXIT_CODE(tb index, how) with the
     * guest state exact; returns what the trace returns (HybridTraceFn).
     */
    void *trace_exit;
    /* TCG's: the epilogue path that returns 0 to cpu_tb_exec() */
    const void *const *code_gen_epilogue;
    /* the value of the pc field for guest linear pc @pc in TB @tb */
    uint64_t (*state_pc)(const struct HybridSnapTB *tb, uint64_t pc);
    /* hw-glue: may execution continue at @next (key of a trace TB)? */
    bool (*edge_ok)(void *env, uint64_t pc, uint64_t cs_base,
                    uint32_t flags, int64_t phys0, int64_t phys1);
    /*
     * edge_ok that, when it answers yes for a TB on one page, also fills
     * that TB's HybridEdgeCache @c (see trace.h), which trace code then
     * checks in line (with @flags_linear, below); NULL: none.
     */
    bool (*edge_fill)(void *env, uint64_t pc, uint64_t cs_base,
                      uint32_t flags, int64_t phys0, int64_t phys1,
                      struct HybridEdgeCache *c);
    /* QEMU's softmmu load/store helpers by log2 size (0..3) */
    void *ld_helper[4];         /* zero-extending loads */
    void *lds_helper[3];        /* sign-extending loads, sizes 0..2 */
    void *st_helper[4];
    void *ld16_helper, *st16_helper;    /* 16 bytes, Int128 values */
    /*
     * The softmmu TLB fast path: env offset of CPUTLBDescFast[0] (mask,
     * table: two pointers per MMU index), log2 of a CPUTLBEntry's size
     * (0: no inline fast path), the comparator and addend offsets in an
     * entry, TARGET_PAGE_BITS.
     */
    int32_t tlb_fast_offset;
    uint8_t tlb_entry_bits, page_bits;
    uint8_t tlb_read_ofs, tlb_write_ofs, tlb_addend_ofs;
    /*
     * Chaining to TCG's TBs (HybridExitSlot.tb): offsets of a
     * TranslationBlock's cflags and host code pointer, the cflags bit of
     * an invalidated TB; and the exits (per trace TB) of which every
     * one in @exit_hot_mask + 1 must still go to trace_exit (hot exits).
     */
    int32_t tb_cflags_ofs, tb_code_ofs;
    uint32_t tb_invalid;
    uint64_t exit_hot_mask;
    /*
     * Indirect exits linked to traces (HYBRID_SLOT_PTR, an inline cache):
     * the TB flags are (u32 at env + @flags_ofs[0]) | (u32 at env +
     * @flags_ofs[1] & @flags_mask1), and with @flags_linear set in them
     * the pc field is the linear pc (no code segment base); the code
     * comparator's offset in a TLB entry. @flags_linear 0: no such links.
     */
    int32_t flags_ofs[2];
    uint32_t flags_mask1, flags_linear;
    int32_t cs_base_ofs;        /* env offset of the code segment base (u64) */
    uint8_t tlb_code_ofs;
} HybridTargetDesc;

/* How a trace is left (HybridTargetDesc.trace_exit). */
enum {
    HYBRID_EXIT_TB = -2,    /* exit_tb: back to the execution loop */
    HYBRID_EXIT_PTR = -1,   /* goto_ptr: on to whatever TB TCG finds */
    /* >= 0: goto_tb n, whose target may be linked to a trace */
};
#define HYBRID_EXIT_CODE(tbi, how) \
    ((uint32_t)(tbi) << 2 | (uint32_t)((how) + 2))
#define HYBRID_EXIT_CODE_TB(code) ((code) >> 2)
#define HYBRID_EXIT_CODE_HOW(code) ((int)((code) & 3) - 2)

typedef struct HybridSnapshot {
    uint64_t trace_id;
    bool loop;                  /* the last TB's successor is tbs[0] */
    unsigned ntbs;
    HybridSnapTB *tbs;
    const HybridTargetDesc *target;
} HybridSnapshot;

void hybrid_snapshot_free(HybridSnapshot *s);
/* Free what a copy of ops put in @tb (ops, args, temps, helpers). */
void hybrid_snap_tb_clear_ops(HybridSnapTB *tb);

/* The guest pc of instruction @w0 (insn_start word 0) of @tb. */
uint64_t hybrid_snap_insn_pc(const HybridTargetDesc *d,
                             const HybridSnapTB *tb, uint64_t w0);

#endif /* HYBRID_SNAPSHOT_H */
