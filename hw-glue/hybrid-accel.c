/*
 * hw-glue: the hybrid accelerator as QEMU sees it.
 *
 *   hybrid-accel              parent tcg-accel: properties, init_machine
 *   hybrid-accel-ops          parent tcg-accel-ops (vCPU threads, MTTCG)
 *   hybrid-accel-x86_64-cpu   parent tcg-accel-x86_64-cpu
 *
 * init_machine runs TCG's own, then publishes the hook table of
 * include/accel/hybrid-hooks.h, which hands TCG's events to accel/hybrid/.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/accel.h"
#include "qemu/error-report.h"
#include "qom/object.h"
#include "system/accel-ops.h"
#include "system/cpu-timers.h"
#include "exec/replay-core.h"
#include "hw/core/cpu.h"
#include "accel/accel-cpu-target.h"
#include "accel/hybrid-hooks.h"
#include "hw/boards.h"
#include "exec/exec-all.h"
#include "exec/translation-block.h"
#include "cpu.h"
#include "tcg/tcg.h"
#include "exec/memopidx.h"
#include "tcg/tcg-ldst.h"
#include "exec/helper-proto-common.h"
#include "hybrid-glue.h"
#include "accel/hybrid/record.h"
#include "accel/hybrid/pool.h"
#include "llvm-backend/llvm-backend.h"
#include "trace/trace-hybrid.h"

#define TYPE_HYBRID_ACCEL ACCEL_CLASS_NAME("hybrid")

static int (*tcg_init_machine_fn)(MachineState *ms);

/* One per possible vCPU, indexed by cpu_index; each owned by its vCPU. */
static HybridVCPU *hybrid_vcpus;

static inline HybridVCPU *vcpu_state(CPUState *cpu)
{
    HybridVCPU *v = &hybrid_vcpus[cpu->cpu_index];

    v->opaque = cpu;
    return v;
}

/* The tier's view of a TB; @pc is its virtual pc if known. */
static void tb_desc(HybridTBDesc *d, const TranslationBlock *tb, vaddr pc)
{
    uint32_t cf = tb_cflags(tb);

    d->tb = tb;
    d->pc = pc;
    d->cs_base = tb->cs_base;
    d->flags = tb->flags;
    d->cflags = cf & ~(CF_NO_GOTO_TB | CF_NO_GOTO_PTR | CF_INVALID);
    d->phys0 = tb_page_addr0(tb);
    d->phys1 = tb_page_addr1(tb);
    d->insns = tb->icount;
    d->size = tb->size;
    d->user = (tb->flags & HF_CPL_MASK) == 3;
    /* TBs made for single-step, icount, breakpoints or one-insn I/O */
    d->special = (cf & (CF_SINGLE_STEP | CF_USE_ICOUNT | CF_BP_PAGE |
                        CF_MEMI_ONLY | CF_NOIRQ | CF_COUNT_MASK)) != 0;
    d->recording_variant = (cf & CF_NO_GOTO_TB) && (cf & CF_NO_GOTO_PTR);
    d->pcrel = cf & CF_PCREL;
}

static bool hybrid_tb_valid(const void *tb)
{
    return !(tb_cflags(tb) & CF_INVALID);
}

/* Is the second tier compiling (the JIT started)? */
static bool hybrid_tier_on;

/* x86: the eip value for guest linear pc @pc in TB @tb */
static uint64_t x86_state_pc(const HybridSnapTB *tb, uint64_t pc)
{
    return (tb->flags & HF_CS64_MASK) ? pc : (uint32_t)(pc - tb->cs_base);
}

/*
 * Called by trace code at an edge TCG would take through goto_ptr, or
 * into a TB that spans two pages: may the trace go on into its TB with
 * key (@pc, @cs_base, @flags, @phys*)? TCG's TB lookup, for PC-relative
 * TBs: the CPU state gives the same cs_base and flags, and the MMU maps
 * the current pc (and the TB's second page) to the TB's guest RAM. The
 * virtual pc itself may differ from the recorded @pc: one TB serves
 * every virtual alias of its code, and so does a trace.
 */
static bool x86_edge_ok(void *envp, uint64_t pc, uint64_t cs_base,
                        uint32_t flags, int64_t phys0, int64_t phys1)
{
    CPUArchState *env = envp;
    vaddr cur_pc;
    uint64_t cur_cs_base;
    uint32_t cur_flags;

    cpu_get_tb_cpu_state(env, &cur_pc, &cur_cs_base, &cur_flags);
    if (cur_cs_base != cs_base || cur_flags != flags ||
        ((cur_pc ^ pc) & ~TARGET_PAGE_MASK)) {
        return false;
    }
    if (get_page_addr_code(env, cur_pc) != phys0) {
        return false;
    }
    return phys1 == -1 ||
           get_page_addr_code(env, (cur_pc & TARGET_PAGE_MASK) +
                              TARGET_PAGE_SIZE) == (phys1 & TARGET_PAGE_MASK);
}

/* The env offset of the CPUTLBDescFast of MMU index @mmu_idx. */
static int32_t tlb_fast_ofs(int mmu_idx)
{
    return (ptrdiff_t)offsetof(ArchCPU, parent_obj.neg.tlb.f) -
           (ptrdiff_t)offsetof(ArchCPU, env) +
           mmu_idx * (ptrdiff_t)sizeof(CPUTLBDescFast);
}

/* The code TLB entry for @pc if it maps exactly that page (RAM, executable, no watchpoint), else NULL. */
static CPUTLBEntry *code_tlb_entry(CPUState *cpu, vaddr pc, int *mmu_idx)
{
    CPUTLBDescFast *f;
    CPUTLBEntry *e;

    *mmu_idx = cpu_mmu_index(cpu, true);
    f = &cpu->neg.tlb.f[*mmu_idx];
    e = &f->table[(pc >> TARGET_PAGE_BITS) & (f->mask >> CPU_TLB_ENTRY_BITS)];
    return e->addr_code == (pc & TARGET_PAGE_MASK) ? e : NULL;
}

/*
 * x86_edge_ok, and when the answer is yes for a 64-bit TB on one page,
 * the TB's in-line edge check @c: its page's host address (the code TLB
 * entry, just filled by get_page_addr_code(), maps it there) and its
 * code MMU index's TLB.
 */
static bool x86_edge_fill(void *envp, uint64_t pc, uint64_t cs_base,
                          uint32_t flags, int64_t phys0, int64_t phys1,
                          HybridEdgeCache *c)
{
    CPUArchState *env = envp;
    CPUState *cpu = env_cpu(env);
    CPUTLBEntry *e;
    vaddr cur_pc = env->eip;
    int mmu_idx;

    if (!x86_edge_ok(envp, pc, cs_base, flags, phys0, phys1)) {
        return false;
    }
    if (phys1 == -1 && (flags & HF_CS64_MASK) && cs_base == 0 &&
        (e = code_tlb_entry(cpu, cur_pc, &mmu_idx))) {
        qatomic_set(&c->host, (cur_pc & TARGET_PAGE_MASK) + e->addend);
        qatomic_set(&c->tlb_ofs, tlb_fast_ofs(mmu_idx));
    }
    return true;
}

/* what the lowering's inline TLB fast path assumes (tlb_fast()) */
QEMU_BUILD_BUG_ON(sizeof(CPUTLBDescFast) != 2 * sizeof(void *));
QEMU_BUILD_BUG_ON(sizeof(uintptr_t) != 8);

/*
 * Could trace @t, left after its TB @i into installed trace @u, grow by
 * @u's path instead of linking to it? (hybrid_table_merge() decides.)
 */
static bool region_candidate(HybridTrace *t, unsigned i, HybridTrace *u)
{
    unsigned n;

    if (!hybrid_params.region_max_tbs || u == t || t->tbs[i].nsucc >= 2 ||
        qatomic_read(&t->replaced_by)) {
        return false;
    }
    n = hybrid_trace_path_to(u, &t->tbs[0].key);
    return n && t->ntbs + n <= hybrid_params.region_max_tbs;
}

/* Trace @t left after its TB @i, back to the execution loop (@how). */
static void note_exit(CPUState *cpu, uint8_t how, HybridTrace *t, unsigned i)
{
    HybridVCPU *v = vcpu_state(cpu);

    v->trace_exit = how;
    v->exit_trace_id = t->id;
    v->exit_trace_tb = i;
}

/* Every this many exits of one TB, a trace tells the execution loop. */
#define HYBRID_EXIT_HOT_EVERY 1024

/*
 * The TB whose code starts at @next (where TCG's lookup sends the vCPU
 * on), if that TB is on one page (as TCG: no direct jump into a TB whose
 * second page may be remapped); in *@u, the valid installed trace whose
 * head it is, or NULL.
 */
static TranslationBlock *exit_target(const void *next, HybridTrace **u)
{
    TranslationBlock *tb = tcg_tb_lookup((uintptr_t)next);

    *u = NULL;
    if (!tb || tb->tc.ptr != next || tb_page_addr1(tb) != -1) {
        return NULL;
    }
    if (qatomic_read(&hybrid_installed_count)) {
        *u = hybrid_table_installed(tb);
        if (*u && !qatomic_read(&(*u)->valid)) {
            *u = NULL;
        }
    }
    return tb;
}

/*
 * Indirect exit after TB @i of @t, on to TCG's code @next: if that is the
 * head of an installed trace, link the exit's inline cache to it
 * (lower-flow.c's link_ptr() checks the key made here on every use):
 * 64-bit code only, whose pc field is the linear pc, and a head TB on one
 * page that the code TLB maps as plain RAM.
 */
static void link_indirect(CPUState *cpu, HybridTrace *t, unsigned i,
                          const void *next)
{
    CPUArchState *env = cpu_env(cpu);
    HybridExitSlot *slot = HYBRID_SLOT_PTR(t, i);
    TranslationBlock *tb;
    HybridTrace *u;
    CPUTLBEntry *e;
    vaddr pc;
    uint64_t cs_base;
    uint32_t flags;
    int mmu_idx;

    if (!hybrid_params.x_link_indirect || qatomic_read(&slot->fn)) {
        return;
    }
    cpu_get_tb_cpu_state(env, &pc, &cs_base, &flags);
    if (!(flags & HF_CS64_MASK)) {
        return;
    }
    tb = exit_target(next, &u);
    if (!u || tb->flags != flags) {
        return;
    }
    /* exactly the page: no flag bits (MMIO, watchpoints, not executable) */
    e = code_tlb_entry(cpu, pc, &mmu_idx);
    if (!e) {
        return;
    }
    hybrid_table_link_ptr(t, slot, u, pc, flags, tlb_fast_ofs(mmu_idx),
                          e->addend);
}

/*
 * Trace code leaves trace @t after its TB HYBRID_EXIT_CODE_TB(@code), in
 * the way HYBRID_EXIT_CODE_HOW(@code), guest state exact in env (and not
 * through a linked slot: that is inline). Count the exit, then:
 *
 * - entered from a TB (@from_tb), at a TB boundary TCG would chain
 *   (goto_tb, goto_ptr): go straight on where TCG's goto_ptr would (its
 *   lookup helper: current pc, flags, MMU), returning that code to the
 *   entry thunk. If the TB there is the head of an installed trace, link
 *   the exit to that trace, as TCG chains TBs: a goto_tb's target is
 *   fixed, and the pc field is checked on use; a goto_ptr's link is an
 *   inline cache (link_indirect()), checked in full on use.
 * - otherwise, and on every HYBRID_EXIT_HOT_EVERY-th exit of the TB:
 *   back to the execution loop, telling it where a trace left (a NET
 *   head candidate; a hot one on those exits: trace from there now).
 */
static uint64_t hybrid_trace_exit(void *envp, HybridTrace *t, uint32_t code,
                                  uint64_t from_tb)
{
    CPUArchState *env = envp;
    CPUState *cpu = env_cpu(env);
    unsigned i = HYBRID_EXIT_CODE_TB(code);
    int how = HYBRID_EXIT_CODE_HOW(code);
    uint64_t old = qatomic_read(&t->exits[i]);
    bool hot = (old & (HYBRID_EXIT_HOT_EVERY - 1)) ==
               HYBRID_EXIT_HOT_EVERY - 1;
    const void *next;
    TranslationBlock *tb;
    HybridTrace *u;

    qatomic_set(&t->exits[i], old + 1);     /* statistics: no RMW */
    trace_hybrid_trace_exit(t->id, i, how, qatomic_read(&t->patched));
    if (!from_tb || hot || how == HYBRID_EXIT_TB) {
        note_exit(cpu, hot ? HYBRID_EXIT_HOT : HYBRID_EXIT_COLD, t, i);
        return from_tb ? (uintptr_t)tcg_code_gen_epilogue : 0;
    }
    next = helper_lookup_tb_ptr(env);
    if (how == HYBRID_EXIT_PTR) {
        if (!(old & 63) && next != tcg_code_gen_epilogue) {
            link_indirect(cpu, t, i, next);
        }
        return (uintptr_t)next;
    }
    /* link on one exit in 64: the reverse lookup is not free */
    if (how < 0 || (old & 63) || next == tcg_code_gen_epilogue ||
        qatomic_read(&HYBRID_SLOT(t, i, how)->fn)) {
        return (uintptr_t)next;
    }
    tb = exit_target(next, &u);
    if (!tb) {
        return (uintptr_t)next;
    }
    if (u) {
        if (region_candidate(t, i, u)) {
            /* to the loop, which grows @t by @u's path: hybrid_region_grow() */
            note_exit(cpu, HYBRID_EXIT_HOT, t, i);
            return (uintptr_t)tcg_code_gen_epilogue;
        }
        hybrid_table_link(t, HYBRID_SLOT(t, i, how), u, env->eip);
    } else {
        /*
         * Chain to the TB, as TCG's goto_tb would: the target of a
         * goto_tb is fixed and on the page of the TB that exits, whose
         * mapping the trace has checked; the trace's code tests the TB's
         * CF_INVALID at every use (TBs are freed only by tb_flush, which
         * drops every trace first).
         */
        qatomic_store_release(&HYBRID_SLOT(t, i, how)->tb, tb);
    }
    return (uintptr_t)next;
}

const HybridTargetDesc hybrid_target_desc = {
    .pc_offset = offsetof(CPUX86State, eip),
    .pc_size = sizeof(target_ulong),
    .insn_state_offset = offsetof(CPUX86State, cc_op),
    .insn_state_dynamic = CC_OP_DYNAMIC,
    .can_do_io_offset = (ptrdiff_t)offsetof(ArchCPU, parent_obj.neg.can_do_io) -
                        (ptrdiff_t)offsetof(ArchCPU, env),
    .page_mask = TARGET_PAGE_MASK,
    .pcrel = true,
    .trace_exit = hybrid_trace_exit,
    .code_gen_epilogue = &tcg_code_gen_epilogue,
    .state_pc = x86_state_pc,
    .edge_ok = x86_edge_ok,
    .edge_fill = x86_edge_fill,
    .ld_helper = { helper_ldub_mmu, helper_lduw_mmu, helper_ldul_mmu,
                   helper_ldq_mmu },
    .lds_helper = { helper_ldsb_mmu, helper_ldsw_mmu, helper_ldsl_mmu },
    .st_helper = { helper_stb_mmu, helper_stw_mmu, helper_stl_mmu,
                   helper_stq_mmu },
    .ld16_helper = helper_ld16_mmu,
    .st16_helper = helper_st16_mmu,
    .tlb_fast_offset = (ptrdiff_t)offsetof(ArchCPU, parent_obj.neg.tlb.f) -
                       (ptrdiff_t)offsetof(ArchCPU, env),
    .tlb_entry_bits = CPU_TLB_ENTRY_BITS,
    .page_bits = TARGET_PAGE_BITS,
    .tlb_read_ofs = offsetof(CPUTLBEntry, addr_read),
    .tlb_write_ofs = offsetof(CPUTLBEntry, addr_write),
    .tlb_addend_ofs = offsetof(CPUTLBEntry, addend),
    .tb_cflags_ofs = offsetof(TranslationBlock, cflags),
    .tb_code_ofs = offsetof(TranslationBlock, tc.ptr),
    .tb_invalid = CF_INVALID,
    .exit_hot_mask = HYBRID_EXIT_HOT_EVERY - 1,
    /* cpu_get_tb_cpu_state()'s flags; 64-bit code: eip is the linear pc */
    .flags_ofs = { offsetof(CPUX86State, hflags),
                   offsetof(CPUX86State, eflags) },
    .flags_mask1 = IOPL_MASK | TF_MASK | RF_MASK | VM_MASK | AC_MASK,
    .flags_linear = HF_CS64_MASK,
    .cs_base_ofs = offsetof(CPUX86State, segs[R_CS].base),
    .tlb_code_ofs = offsetof(CPUTLBEntry, addr_code),
};

static void hybrid_tb_translated(CPUState *cpu, TranslationBlock *tb,
                                 vaddr pc)
{
    qatomic_inc(&hybrid_stats.tbs_translated);
    hybrid_snapshot_capture(cpu, tb, pc);
}

/*
 * x-export=DIR (tests): the first HYBRID_EXPORT_MAX portable traces
 * go to DIR as trace-ID.ll (hybrid_lower_portable(), function trace_ID)
 * and trace-ID.env, the vCPU's state at the trace's head now: the
 * HYBRID_EXPORT_NEG bytes before env (icount_decr, can_do_io), then env.
 * tests/guest/test_port.py runs them on loongarch64 and x86_64.
 */
#define HYBRID_EXPORT_MAX 12
#define HYBRID_EXPORT_NEG 16

static void export_trace(CPUState *cpu, const HybridTrace *t,
                         const HybridSnapshot *s)
{
    static int exported;
    const char *dir = hybrid_params.x_export;
    g_autofree char *name = NULL, *ir = NULL, *path = NULL;
    HybridCompileError err;
    const uint8_t *env = (const uint8_t *)cpu_env(cpu);

    if (!dir || qatomic_read(&exported) >= HYBRID_EXPORT_MAX) {
        return;
    }
    name = g_strdup_printf("trace_%" PRIu64, t->id);
    ir = hybrid_lower_portable(s, name, &err);
    if (!ir || qatomic_fetch_inc(&exported) >= HYBRID_EXPORT_MAX) {
        return;
    }
    path = g_strdup_printf("%s/trace-%" PRIu64 ".env", dir, t->id);
    g_file_set_contents(path, (const char *)env - HYBRID_EXPORT_NEG,
                        HYBRID_EXPORT_NEG + sizeof(CPUX86State), NULL);
    g_free(path);
    path = g_strdup_printf("%s/trace-%" PRIu64 ".ll", dir, t->id);
    g_file_set_contents(path, ir, -1, NULL);
}

/*
 * Snapshot trace @t (claimed: a reference held) and queue it for
 * compiling. Returns false when the snapshot's translation flushed the
 * code cache: the caller drops its reference and leaves for the
 * execution loop (cpu_loop_exit), as tb_gen_code() itself would.
 */
static bool snapshot_and_submit(CPUState *cpu, HybridTrace *t,
                                uint64_t heat)
{
    HybridSnapshot *s;
    HybridAbort why;

    if (!(t->tbs[0].key.cflags & CF_PCREL)) {
        s = NULL;
        why = HYBRID_ABORT_NOT_PCREL;
    } else {
        s = hybrid_snapshot_make(cpu, t, &why);
    }
    if (!s) {
        hybrid_count_abort(why);
        hybrid_table_install(t, NULL, NULL, 0, 0);
        return why != HYBRID_ABORT_FLUSH;
    }
    export_trace(cpu, t, s);
    hybrid_pool_submit(t, s, heat);
    return true;
}

/*
 * Trace @id is hot enough to compile; @opaque's vCPU is at its head (or,
 * for a region, at a trace its path links to). May leave through
 * cpu_loop_exit() (see snapshot_and_submit()): callers call it last.
 */
static void hybrid_trace_promote(void *opaque, uint64_t id, uint64_t heat)
{
    CPUState *cpu = opaque;
    HybridTrace *t;
    bool ok;

    if (!hybrid_tier_on) {
        return;
    }
    t = hybrid_table_claim(id);
    if (t) {
        ok = snapshot_and_submit(cpu, t, heat);
        hybrid_trace_unref(t);
        if (!ok) {
            cpu_loop_exit(cpu);
        }
    }
}

static void hybrid_tb_invalidated(TranslationBlock *tb)
{
    qatomic_inc(&hybrid_stats.tbs_invalidated);
    hybrid_table_tb_invalidated(tb);
}

/* Exclusive context: no vCPU runs, so every vCPU's state may be touched. */
static void hybrid_tb_flushed(void)
{
    CPUState *cpu;

    qatomic_inc(&hybrid_stats.flushes);
    hybrid_entry_flush();
    hybrid_table_flush();
    CPU_FOREACH(cpu) {
        hybrid_vcpu_flush(vcpu_state(cpu));
    }
}

static HybridExecAction hybrid_tb_exec(CPUState *cpu,
                                       TranslationBlock *last_tb,
                                       int tb_exit, TranslationBlock *tb,
                                       vaddr pc)
{
    HybridVCPU *v = vcpu_state(cpu);
    HybridTBDesc dt, dl;

    if (!hybrid_params.threads) {
        hybrid_pool_vcpu_work();    /* threads=0: vCPUs compile */
    }
    if (qatomic_read(&hybrid_installed_count) && !v->recording) {
        HybridTrace *t = hybrid_table_installed(tb);

        if (t) {
            HybridTraceCodeFn fn;

            if (v->trace_exit == HYBRID_EXIT_HOT) {
                /*
                 * a hot exit of a trace, linked to this one: if @t's path
                 * comes back to that trace's head, grow it by that path
                 * (the vCPU is at @t's head, in the mode and address
                 * space of the trace that left)
                 */
                v->trace_exit = HYBRID_EXIT_NONE;
                hybrid_region_grow(v, v->exit_trace_id, v->exit_trace_tb, t);
            }

            if (qatomic_read(&t->patched)) {
                return HYBRID_EXEC_CHAIN;   /* the TB's entry runs it */
            }
            /*
             * Until its head is patched (an exclusive section away), run
             * the trace from here. It ends on its own: at an exit, or at
             * a TB entry that sees an exit request (interrupts, stop).
             */
            fn = qatomic_load_acquire(&t->fn);
            trace_hybrid_trace_entered(t->id, pc);
            fn(cpu_env(cpu), 0);
            cpu->neg.can_do_io = true;      /* as cpu_tb_exec() leaves it */
            return HYBRID_EXEC_RELOOKUP;
        }
    }
    if (!last_tb && !v->recording && !v->trace_exit) {
        return HYBRID_EXEC_CHAIN;
    }
    tb_desc(&dt, tb, pc);
    if (last_tb) {
        tb_desc(&dl, last_tb, (tb_cflags(last_tb) & CF_PCREL) ? -1 :
                last_tb->pc);
    }
    switch (hybrid_vcpu_step(v, last_tb ? &dl : NULL, &dt)) {
    case HYBRID_STEP_RUN:
        return HYBRID_EXEC_CHAIN;
    case HYBRID_STEP_NO_CHAIN:
        return HYBRID_EXEC_NO_CHAIN;
    case HYBRID_STEP_RECORD:
        /* one TB per loop dispatch: the no-chaining variant of the next */
        cpu->cflags_next_tb = dt.cflags | CF_NO_GOTO_TB | CF_NO_GOTO_PTR;
        return dt.recording_variant ? HYBRID_EXEC_NO_CHAIN
                                    : HYBRID_EXEC_RELOOKUP;
    }
    g_assert_not_reached();
}

/*
 * An exception, interrupt or exit request is being handled. For an
 * interrupt, the vCPU stopped at a TB boundary (x86 TBs keep eip exact
 * there), which is a free sample of where guest time goes.
 */
static void hybrid_cpu_event(CPUState *cpu)
{
    vaddr pc;
    uint64_t cs_base;
    uint32_t flags;

    cpu_get_tb_cpu_state(cpu_env(cpu), &pc, &cs_base, &flags);
    /* EXCP_INTERRUPT and above: exit requests of the execution loop */
    hybrid_vcpu_event(vcpu_state(cpu), cpu->exception_index >= 0 &&
                      cpu->exception_index < EXCP_INTERRUPT, pc, flags);
    if (cpu->exception_index < 0 && hybrid_table_size()) {
        hybrid_table_sample(pc, (flags & HF_CPL_MASK) == 3);
    }
}

static const HybridHooks hybrid_hook_table = {
    .tb_translated = hybrid_tb_translated,
    .tb_invalidated = hybrid_tb_invalidated,
    .tb_flushed = hybrid_tb_flushed,
    .tb_exec = hybrid_tb_exec,
    .cpu_event = hybrid_cpu_event,
};

/* A trace's code: the JIT's (freed with the trace's last reference). */
static void trace_code_free(void *code)
{
    hybrid_code_free(code);
}

/* What the tier does at the steps of a trace's life (trace.h). */
static const HybridTraceOps hybrid_trace_ops = {
    .code_free = trace_code_free,
    .entry_free = hybrid_entry_free,
    .installed = hybrid_entry_installed,
    .retired = hybrid_entry_retired,
};

static int hybrid_init_machine(MachineState *ms)
{
    int ret;

    /* Options that the second tier cannot honour are refused, not ignored. */
    if (icount_enabled()) {
        error_report("-accel hybrid cannot be combined with -icount; "
                     "use -accel tcg for instruction counting");
        exit(1);
    }
    if (replay_mode != REPLAY_MODE_NONE) {
        error_report("-accel hybrid cannot be combined with record/replay; "
                     "use -accel tcg for -icount rr=...");
        exit(1);
    }

    ret = tcg_init_machine_fn(ms);
    if (ret < 0) {
        return ret;
    }
    hybrid_entry_init();
    hybrid_table_init(&hybrid_trace_ops);
    hybrid_vcpus = g_new0(HybridVCPU, ms->smp.max_cpus);
    for (unsigned i = 0; i < ms->smp.max_cpus; i++) {
        hybrid_vcpu_init(&hybrid_vcpus[i], hybrid_tb_valid);
    }
    {
        Error *err = NULL;

        /* without a JIT, traces are still formed and shown, not compiled */
        if (hybrid_params.jit) {
            hybrid_tier_on = hybrid_pool_start(hybrid_params.threads, &err);
            if (!hybrid_tier_on) {
                warn_report_err(err);
            }
        }
        for (unsigned i = 0; i < ms->smp.max_cpus && hybrid_tier_on; i++) {
            hybrid_vcpus[i].promote = hybrid_trace_promote;
        }
    }
    qatomic_set(&hybrid_in_use, true);
    qatomic_set(&hybrid_hooks, &hybrid_hook_table);
    return 0;
}

static void hybrid_param_prop_get(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    const HybridParamInfo *pi = opaque;
    int64_t value;
    char *str;

    if (pi->str) {
        str = g_strdup(hybrid_param_get_str(&hybrid_params, pi) ?: "");
        visit_type_str(v, name, &str, errp);
        g_free(str);
        return;
    }
    value = hybrid_param_get(&hybrid_params, pi);
    visit_type_int64(v, name, &value, errp);
}

static void hybrid_param_prop_set(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    const HybridParamInfo *pi = opaque;
    g_autofree char *str = NULL;

    /* Parse the text ourselves so the error names the accepted range. */
    if (!visit_type_str(v, name, &str, errp)) {
        return;
    }
    hybrid_param_set(&hybrid_params, pi, str, errp);
}

static void hybrid_accel_instance_init(Object *obj)
{
    hybrid_params_set_defaults(&hybrid_params);
}

static void hybrid_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "hybrid";
    tcg_init_machine_fn = ac->init_machine;   /* inherited from tcg-accel */
    ac->init_machine = hybrid_init_machine;

    for (size_t i = 0; i < hybrid_param_count; i++) {
        const HybridParamInfo *pi = &hybrid_param_info[i];
        g_autofree char *desc = pi->str ? g_strdup(pi->help) :
            g_strdup_printf("%s (%" PRId64 "..%" PRId64 ", default %" PRId64
                            ")", pi->help, pi->min, pi->max, pi->def);

        object_class_property_add(oc, pi->name, pi->str ? "str" : "int",
                                  hybrid_param_prop_get,
                                  hybrid_param_prop_set,
                                  NULL, (void *)pi);
        object_class_property_set_description(oc, pi->name, desc);
    }
}

static const TypeInfo hybrid_accel_type = {
    .name = TYPE_HYBRID_ACCEL,
    .parent = ACCEL_CLASS_NAME("tcg"),
    .instance_init = hybrid_accel_instance_init,
    .class_init = hybrid_accel_class_init,
};

/* vCPU threads, kicking and MTTCG are exactly TCG's. */
static const TypeInfo hybrid_accel_ops_type = {
    .name = ACCEL_OPS_NAME("hybrid"),
    .parent = ACCEL_OPS_NAME("tcg"),
    .abstract = true,
};

/* The x86 CPU hooks (realize, xsave layout, TCGCPUOps) are TCG's too. */
static const TypeInfo hybrid_accel_cpu_type = {
    .name = ACCEL_CPU_NAME("hybrid"),
    .parent = ACCEL_CPU_NAME("tcg"),
    .abstract = true,
};

static void hybrid_register_types(void)
{
    type_register_static(&hybrid_accel_type);
    type_register_static(&hybrid_accel_ops_type);
    type_register_static(&hybrid_accel_cpu_type);
}
type_init(hybrid_register_types);
