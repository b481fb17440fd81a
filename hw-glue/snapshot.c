/*
 * hw-glue: the op snapshot of a trace (accel/hybrid/snapshot.h).
 *
 * On the vCPU thread that formed the trace, each TB of the trace is
 * translated again with tb_gen_code() (TCG then finds the existing TB and
 * throws the new host code away); the tb_translated hook, between
 * translate_code() and tcg_gen_code(), copies tcg_ctx's ops and temps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/atomic.h"
#include "exec/exec-all.h"
#include "exec/cpu-common.h"
#include "exec/cpu-all.h"
#include "exec/translation-block.h"
#include "tcg/tcg.h"
#include "tcg/tcg-op-common.h"
#include "tcg/helper-info.h"
#include "accel/tcg/internal-common.h"
#include "exec/page-protection.h"
#include "cpu.h"
#include "hybrid-glue.h"

/* The TB the next translation on this thread must be copied into. */
static __thread HybridSnapTB *capture_into;

static bool copy_temps(TCGContext *s, HybridSnapTB *out, const char **why)
{
    TCGTemp *env = tcgv_ptr_temp(tcg_env);

    out->ntemps = s->nb_temps;
    out->temps = g_new0(HybridSnapTemp, s->nb_temps);
    for (int i = 0; i < s->nb_temps; i++) {
        TCGTemp *ts = &s->temps[i];
        HybridSnapTemp *t = &out->temps[i];

        t->type = ts->type;      /* an I128 is two I64 halves */
        switch (ts->kind) {
        case TEMP_FIXED:
            /* env, or TCG's own frame pointer, which guest ops never use */
            t->kind = ts == env ? HYBRID_TEMP_ENV : HYBRID_TEMP_HOST;
            break;
        case TEMP_GLOBAL:
            if (ts->mem_base != env || ts->indirect_reg || ts->indirect_base) {
                *why = "indirect-global";
                return false;
            }
            t->kind = HYBRID_TEMP_GLOBAL;
            t->val = ts->mem_offset;
            break;
        case TEMP_CONST:
            t->kind = HYBRID_TEMP_CONST;
            t->val = ts->val;
            break;
        default:
            t->kind = HYBRID_TEMP_LOCAL;
            break;
        }
    }
    return true;
}

static int helper_index(HybridSnapTB *out, GArray *helpers,
                        const TCGHelperInfo *info, void *func)
{
    HybridSnapHelper h = {
        .func = func, .name = info->name, .typemask = info->typemask,
        .flags = info->flags,
    };

    for (unsigned i = 0; i < helpers->len; i++) {
        if (g_array_index(helpers, HybridSnapHelper, i).func == func) {
            return i;
        }
    }
    g_array_append_val(helpers, h);
    return helpers->len - 1;
}

/* Which constant argument of @opc, if any, is a label. */
static int snap_label_arg(TCGOpcode opc)
{
    switch (opc) {
    case INDEX_op_br:
    case INDEX_op_set_label:
        return 0;
    case INDEX_op_brcond_i32:
    case INDEX_op_brcond_i64:
        return 3;
    case INDEX_op_brcond2_i32:
        return 5;
    default:
        return -1;
    }
}

static bool copy_ops(TCGContext *s, HybridSnapTB *out, const char **why)
{
    g_autoptr(GArray) ops = g_array_new(false, false, sizeof(HybridSnapOp));
    g_autoptr(GArray) args = g_array_new(false, false, sizeof(uint64_t));
    GArray *helpers = g_array_new(false, false, sizeof(HybridSnapHelper));
    TCGOp *op;

    QTAILQ_FOREACH(op, &s->ops, link) {
        const TCGOpDef *def = &tcg_op_defs[op->opc];
        HybridSnapOp so = {
            .opc = op->opc, .param1 = op->param1, .param2 = op->param2,
            .first_arg = args->len,
        };
        unsigned nt, nargs;

        if (op->opc == INDEX_op_call) {
            nt = TCGOP_CALLO(op) + TCGOP_CALLI(op);
            nargs = nt + 1;      /* temps, then the helper index */
        } else if (op->opc == INDEX_op_insn_start) {
            nt = 0;
            nargs = op->nargs;
        } else {
            nt = def->nb_oargs + def->nb_iargs;
            nargs = def->nb_args;
        }
        so.nargs = nargs;
        for (unsigned i = 0; i < nt; i++) {
            uint64_t a = temp_idx(arg_temp(op->args[i]));
            g_array_append_val(args, a);
        }
        if (op->opc == INDEX_op_call) {
            uint64_t h = helper_index(out, helpers,
                                      (void *)op->args[nt + 1],
                                      (void *)op->args[nt]);
            g_array_append_val(args, h);
        } else {
            int la = snap_label_arg(op->opc);
            for (unsigned i = nt; i < nargs; i++) {
                uint64_t a = op->args[i];
                if (la >= 0 && i == (unsigned)la) {
                    a = arg_label(op->args[i])->id;
                }
                g_array_append_val(args, a);
            }
        }
        g_array_append_val(ops, so);
    }
    out->nlabels = s->nb_labels;
    out->nops = ops->len;
    out->ops = (HybridSnapOp *)g_array_free(g_steal_pointer(&ops), false);
    out->nargs = args->len;
    out->args = (uint64_t *)g_array_free(g_steal_pointer(&args), false);
    out->nhelpers = helpers->len;
    out->helpers = (HybridSnapHelper *)g_array_free(helpers, false);
    (void)why;
    return true;
}

bool hybrid_snapshot_copy_ctx(TCGContext *s, HybridSnapTB *out)
{
    const char *why = NULL;

    return copy_temps(s, out, &why) && copy_ops(s, out, &why);
}

/*
 * tb_translated hook: copy the ops if this translation was asked for.
 * Every translation of the request is copied, the last one kept: when
 * the host code does not fit, tb_gen_code() translates again with fewer
 * instructions, and the TB is that last translation.
 */
void hybrid_snapshot_capture(CPUState *cpu, TranslationBlock *tb, vaddr pc)
{
    HybridSnapTB *out = capture_into;

    if (!out) {
        return;
    }
    hybrid_snap_tb_clear_ops(out);
    if (pc != out->pc || tb->flags != out->flags ||
        tb->cs_base != out->cs_base) {
        out->nops = 0;
        return;
    }
    if (!hybrid_snapshot_copy_ctx(tcg_ctx, out)) {
        out->nops = 0;
    }
}

/* Does @pc map, for an instruction fetch now, to guest RAM at @phys? */
static bool code_mapped(CPUState *cpu, vaddr pc, int64_t phys)
{
    void *host = NULL;
    int flags = probe_access_flags(cpu_env(cpu), pc, 1, MMU_INST_FETCH,
                                   cpu_mmu_index(cpu, true), true, &host, 0);

    return !(flags & TLB_INVALID_MASK) && host &&
           qemu_ram_addr_from_host(host) == phys;
}

/* Is TB @k's code (both its pages) at virtual address @pc now? */
static bool tb_code_at(CPUState *cpu, const HybridTBDesc *k, vaddr pc)
{
    return code_mapped(cpu, pc, k->phys0) &&
           (k->phys1 == -1 ||
            code_mapped(cpu, (pc & TARGET_PAGE_MASK) + TARGET_PAGE_SIZE,
                        k->phys1 & TARGET_PAGE_MASK));
}

/*
 * A virtual address of TB @k's code in the vCPU's address space now. The
 * trace may have been recorded in another address space (another process
 * mapping the same code elsewhere: ASLR), so try the recorded address
 * moved as far as the TB the vCPU is at moved (@delta), then the recorded
 * one. The ops of a PC-relative TB are the same at every alias.
 */
static bool tb_code_va(CPUState *cpu, const HybridTBDesc *k, uint64_t delta,
                       vaddr *pc)
{
    if (delta && tb_code_at(cpu, k, k->pc + delta)) {
        *pc = k->pc + delta;
        return true;
    }
    *pc = k->pc;
    return tb_code_at(cpu, k, k->pc);
}

/*
 * How far the trace's code moved since it was recorded: the vCPU is at
 * one of its TBs (the head, or for a region, a trace it links to), at a
 * virtual address that may differ from the recorded one.
 */
static uint64_t trace_delta(CPUState *cpu, const HybridTrace *t)
{
    vaddr pc;
    uint64_t cs_base;
    uint32_t flags;

    cpu_get_tb_cpu_state(cpu_env(cpu), &pc, &cs_base, &flags);
    for (unsigned i = 0; i < t->ntbs; i++) {
        const HybridTBDesc *k = &t->tbs[i].key;

        if (((k->pc ^ pc) & ~TARGET_PAGE_MASK) == 0 &&
            code_mapped(cpu, pc, k->phys0)) {
            return pc - k->pc;
        }
    }
    return 0;
}

/*
 * The translator reads part of the state a TB's flags stand for from env
 * rather than from the flags (x86: the MMU index, from CPL, LMA, SMAP and
 * EFLAGS.AC), since TCG translates a TB for the state the vCPU is in. A
 * snapshot translates each TB of a trace, which need not be the state
 * the vCPU is in now (a kernel trace with stac/clac, say): env is made to
 * match each TB's flags for its translation, and put back afterwards.
 */
#define X86_TB_EFLAGS (IOPL_MASK | TF_MASK | RF_MASK | VM_MASK | AC_MASK)

static void state_for_flags(CPUX86State *env, uint32_t flags)
{
    env->hflags = flags & ~X86_TB_EFLAGS;
    env->eflags = (env->eflags & ~X86_TB_EFLAGS) | (flags & X86_TB_EFLAGS);
}

/*
 * Translate @k at @pc for the snapshot. tb_gen_code() may leave through
 * cpu_loop_exit(): when the code buffer is full it flushes it (at once,
 * outside MTTCG) and asks the execution loop to start over, or a code
 * fetch faults. Either way env's flags are put back and the capture
 * dropped here; a flush is passed on (*why = flush): the caller tidies
 * up, then leaves the way TCG does, since the TB the execution loop was
 * about to run may be gone.
 */
static TranslationBlock *snapshot_tb(CPUState *cpu, const HybridTBDesc *k,
                                     vaddr pc, HybridSnapTB *st,
                                     HybridAbort *why)
{
    CPUX86State *env = cpu_env(cpu);
    const uint32_t hflags = env->hflags;
    const target_ulong eflags = env->eflags;
    TranslationBlock *volatile tb = NULL;
    sigjmp_buf outer;

    memcpy(&outer, &cpu->jmp_env, sizeof(outer));
    if (sigsetjmp(cpu->jmp_env, 0) == 0) {
        state_for_flags(env, k->flags);
        capture_into = st;
        mmap_lock();
        tb = tb_gen_code(cpu, pc, k->cs_base, k->flags, k->cflags);
        mmap_unlock();
    } else {
        /* tb_gen_code() unlocked mmap_lock (a no-op in system mode) */
        *why = cpu->exception_index == EXCP_INTERRUPT ? HYBRID_ABORT_FLUSH
                                                      : HYBRID_ABORT_SNAPSHOT;
        if (*why == HYBRID_ABORT_SNAPSHOT) {
            cpu->exception_index = -1;  /* no fault the guest caused */
        }
    }
    capture_into = NULL;
    env->hflags = hflags;
    env->eflags = eflags;
    memcpy(&cpu->jmp_env, &outer, sizeof(outer));
    return tb;
}

HybridSnapshot *hybrid_snapshot_make(CPUState *cpu, const HybridTrace *t,
                                     HybridAbort *why)
{
    HybridSnapshot *s = g_new0(HybridSnapshot, 1);
    uint64_t delta = trace_delta(cpu, t);

    s->trace_id = t->id;
    s->loop = t->end == HYBRID_END_LOOP;
    s->ntbs = t->ntbs;
    s->tbs = g_new0(HybridSnapTB, t->ntbs);
    s->target = &hybrid_target_desc;
    *why = HYBRID_ABORT_SNAPSHOT;
    for (unsigned i = 0; i < t->ntbs; i++) {
        const HybridTBDesc *k = &t->tbs[i].key;
        HybridSnapTB *st = &s->tbs[i];
        TranslationBlock *tb;
        vaddr pc;

        /*
         * The code must be mapped where it is translated, for the vCPU's
         * current privilege level: checked without faulting, since a
         * fault here would be one the guest never caused.
         */
        if (!tb_code_va(cpu, k, delta, &pc)) {
            goto fail;
        }
        st->pc = pc;
        st->cs_base = k->cs_base;
        st->flags = k->flags;
        st->cflags = k->cflags;
        st->phys0 = k->phys0;
        st->phys1 = k->phys1;
        st->next_pc = t->tbs[i].next_pc;
        st->nsucc = t->tbs[i].nsucc;
        st->succ[0] = t->tbs[i].succ[0];
        st->succ[1] = t->tbs[i].succ[1];
        tb = snapshot_tb(cpu, k, pc, st, why);
        if (!tb || !st->ops || tb_page_addr0(tb) != k->phys0) {
            goto fail;
        }
        if (qemu_loglevel_mask(LOG_HYBRID)) {
            /* for the log: the guest code, read as the debugger would */
            st->code_size = tb->size;
            st->code = g_malloc0(tb->size);
            cpu_memory_rw_debug(cpu, pc, st->code, tb->size, false);
        }
    }
    *why = HYBRID_ABORT__MAX;
    return s;

fail:
    hybrid_snapshot_free(s);
    return NULL;
}
