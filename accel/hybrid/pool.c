/*
 * hybrid: the optimizer pool shared by all vCPUs.
 *
 *   vCPU: trace formed ─► snapshot ─► hybrid_pool_submit() ─► queue
 *   optimizer thread:  queue (hottest first) ─► llvm-backend compile
 *                      ─► hybrid_table_install()
 *
 * A vCPU never waits for a compile: submit only queues (and, when the
 * queue is full, drops the coldest job). A dropped trace goes back to
 * its head, which promotes it again if it gets hot again. Hottest first
 * (pop_hottest()): by how fast its head was entered, decaying while it
 * waits; the newest of equals, since a trace is submitted when its head
 * has just become hot. With threads=0 the vCPUs are the optimizer: the
 * same queue, which a vCPU drains between TBs (hybrid_pool_vcpu_work()),
 * compiling for at most half of its time, so that queued jobs cool down
 * and are dropped as they are with an optimizer thread, instead of every
 * boot trace being compiled on the spot (that made a boot 25 times
 * slower than TCG's).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <sys/resource.h>
#include "qemu/atomic.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/log.h"
#include "tcg/tcg.h"
#include "tcg/perf.h"
#include "disas/disas.h"
#include "hybrid.h"
#include "trace.h"
#include "pool.h"
#include "record.h"
#include "trace/trace-hybrid.h"
#include "llvm-backend/llvm-backend.h"

#define HYBRID_QUEUE_MAX 256

typedef struct Job {
    HybridTrace *trace;         /* holds a reference */
    HybridSnapshot *snap;
    uint64_t heat;              /* head entries per second (submit) */
    int64_t queued;             /* when it was queued (ns) */
} Job;

/* Lock rule: pool.lock guards queue. */
static struct {
    QemuMutex lock;
    QemuCond cond;
    GQueue queue;               /* Job, newest first */
    unsigned queued;            /* its length (written under the lock, qatomic) */
    unsigned nthreads;
    QemuThread *threads;
    /* threads=0: no vCPU compiles before this time (ns, qatomic) */
    int64_t vcpu_next;
} pool;

uint64_t hybrid_compile_ns_total;
uint64_t hybrid_compile_ns_vcpu;

static void job_free(Job *j)
{
    hybrid_snapshot_free(j->snap);
    hybrid_trace_unref(j->trace);
    g_free(j);
}

/* The trace's own state its code uses; the trace outlives its code. */
static HybridCodeRefs code_refs(HybridTrace *t)
{
    return (HybridCodeRefs) {
        .valid = &t->valid, .entries = &t->entries,
        .owner = t, .links = t->links, .exits = t->exits,
        .edges = hybrid_params.x_edge_inline ? t->edge_cache : NULL,
    };
}

/*
 * -d hybrid: the trace about to be compiled: its guest code (each
 * instruction's address and bytes, TB by TB) and its LLVM IR before and
 * after optimisation (lowered again for the log: the compile itself is
 * not slowed when the log is off).
 */
static void log_trace(Job *j)
{
    const HybridSnapshot *s = j->snap;
    HybridCompileError err;
    FILE *f;

    if (!qemu_loglevel_mask(LOG_HYBRID)) {
        return;
    }
    f = qemu_log_trylock();
    if (!f) {
        return;
    }
    fprintf(f, "HYBRID: trace %" PRIu64 " (%s), head 0x%" PRIx64
            ", %u TBs, %u guest instructions%s\n", j->trace->id,
            j->trace->user ? "user" : "kernel", j->trace->tbs[0].key.pc,
            s->ntbs, j->trace->insns, s->loop ? ", loop" : "");
    for (unsigned i = 0; i < s->ntbs; i++) {
        const HybridSnapTB *tb = &s->tbs[i];
        uint64_t pcs[512];
        unsigned n = 0;

        fprintf(f, "  TB %u: pc 0x%" PRIx64 " cs_base 0x%" PRIx64
                " flags 0x%x, %u bytes\n", i, tb->pc, tb->cs_base,
                tb->flags, tb->code_size);
        for (unsigned k = 0; k < tb->nops && n < ARRAY_SIZE(pcs); k++) {
            if (tb->ops[k].opc == INDEX_op_insn_start) {
                pcs[n++] = hybrid_snap_insn_pc(s->target, tb,
                                               tb->args[tb->ops[k].first_arg]);
            }
        }
        for (unsigned k = 0; k < n; k++) {
            uint64_t end = k + 1 < n ? pcs[k + 1] : tb->pc + tb->code_size;

            fprintf(f, "    0x%016" PRIx64 ":", pcs[k]);
            for (uint64_t p = pcs[k]; p < end && tb->code &&
                 p - tb->pc < tb->code_size; p++) {
                fprintf(f, " %02x", tb->code[p - tb->pc]);
            }
            fputc('\n', f);
        }
    }
    for (int opt = 0; opt < 2; opt++) {
        HybridCodeRefs refs = code_refs(j->trace);
        g_autofree char *ir = hybrid_lower_to_string(s, &refs, opt, &err);

        fprintf(f, "HYBRID: trace %" PRIu64 " LLVM IR, %s:\n%s\n",
                j->trace->id, opt ? "optimised" : "as lowered",
                ir ? ir : err.detail);
    }
    qemu_log_unlock(f);
}

/* -d hybrid: how the compile ended, with the host code. */
static void log_code(Job *j, HybridCode *code, const HybridCompileError *err,
                     uint64_t ns)
{
    FILE *f;

    if (!qemu_loglevel_mask(LOG_HYBRID)) {
        return;
    }
    f = qemu_log_trylock();
    if (!f) {
        return;
    }
    if (code) {
        fprintf(f, "HYBRID: trace %" PRIu64 " compiled in %" PRIu64
                " us: %zu bytes of host code at %p\n", j->trace->id,
                ns / 1000, hybrid_code_size(code),
                (void *)(uintptr_t)hybrid_code_fn(code));
        disas(f, (void *)(uintptr_t)hybrid_code_fn(code),
              hybrid_code_size(code));
    } else {
        fprintf(f, "HYBRID: trace %" PRIu64 " not compiled: %s%s%s\n",
                j->trace->id, hybrid_abort_info[err->reason].name,
                err->detail[0] ? ": " : "", err->detail);
    }
    qemu_log_unlock(f);
}

static void compile(Job *j, bool on_vcpu)
{
    HybridCompileError err;
    HybridCodeRefs refs = code_refs(j->trace);
    int64_t t0 = get_clock();
    HybridCode *code;
    uint64_t ns;

    hybrid_table_set_state(j->trace, HYBRID_TRACE_COMPILING);
    log_trace(j);
    code = hybrid_jit_compile(j->snap, &refs, &err);
    ns = get_clock() - t0;
    log_code(j, code, &err, ns);
    qatomic_add(&hybrid_compile_ns_total, ns);
    if (on_vcpu) {
        qatomic_add(&hybrid_compile_ns_vcpu, ns);
    }
    if (!code) {
        trace_hybrid_trace_compile_failed(j->trace->id,
                                          hybrid_abort_info[err.reason].name);
        hybrid_count_abort(err.reason);
        if (err.opc >= 0 && err.opc < HYBRID_MAX_OPCODES) {
            qatomic_inc(&hybrid_unsupported_op_count[err.opc]);
        }
        hybrid_table_install(j->trace, NULL, NULL, 0, ns);
        return;
    }
    qatomic_inc(&hybrid_stats.compiled);
    trace_hybrid_trace_compiled(j->trace->id, ns, hybrid_code_size(code),
                                on_vcpu);
    hybrid_table_install(j->trace, code,
                         (HybridTraceCodeFn)hybrid_code_fn(code),
                         hybrid_code_size(code), ns);
}

/*
 * The next job (pool.lock held): the hottest, by the rate at which its
 * head was entered before it was submitted, decayed by the time it has
 * waited since (hybrid_heat_now(): a phase of the guest that is over can
 * wait); the newest of equals. So a loop the guest spends its
 * time in is compiled before the many lukewarm traces a busy kernel
 * forms meanwhile (timer and interrupt paths: entered a few hundred
 * times a second, with 16-TB traces that cost the most to compile).
 * Jobs that have cooled below HYBRID_HEAT_COLD are moved to @cold, to
 * be dropped: their phase of the guest is over (boot code run a few
 * dozen times in a burst), and compiling them only took an optimizer
 * thread's time and a core's cache from the vCPUs.
 */
static Job *pop_hottest(GQueue *cold)
{
    int64_t now = get_clock();
    GList *best = NULL, *next;
    uint64_t most = 0;
    Job *j;

    for (GList *e = pool.queue.head; e; e = next) {
        uint64_t h;

        next = e->next;
        j = e->data;
        h = hybrid_heat_now(j->heat, now - j->queued);
        if (h < HYBRID_HEAT_COLD) {
            g_queue_delete_link(&pool.queue, e);
            g_queue_push_tail(cold, j);
            qatomic_set(&pool.queued, pool.queued - 1);
            continue;
        }
        if (!best || h > most) {
            most = h;
            best = e;
        }
    }
    if (!best) {
        return NULL;
    }
    j = best->data;
    g_queue_delete_link(&pool.queue, best);
    qatomic_set(&pool.queued, pool.queued - 1);
    return j;
}

/* The job of least heat now, out of the queue (pool.lock held). */
static Job *pop_coldest(void)
{
    int64_t now = get_clock();
    GList *worst = NULL;
    uint64_t least = 0;
    Job *j;

    for (GList *e = pool.queue.head; e; e = e->next) {
        uint64_t h;

        j = e->data;
        h = hybrid_heat_now(j->heat, now - j->queued);
        if (!worst || h < least) {
            least = h;
            worst = e;
        }
    }
    j = worst->data;
    g_queue_delete_link(&pool.queue, worst);
    return j;
}

/* The next job to compile (NULL: none); the cold ones are dropped. */
static Job *next_job_locked(void)
{
    GQueue cold = G_QUEUE_INIT;
    Job *j = pop_hottest(&cold);

    qemu_mutex_unlock(&pool.lock);
    while (!g_queue_is_empty(&cold)) {
        Job *c = g_queue_pop_head(&cold);

        hybrid_count_abort(HYBRID_ABORT_COLD);
        hybrid_table_drop(c->trace);
        job_free(c);
    }
    return j;
}

/*
 * Optimizer threads run at the vCPUs' priority. x-opt-nice=N sets a nice
 * value per thread, to measure: at nice 10, where every core runs a
 * busy vCPU (-smp 4 on 2 cores, or any other load), the optimizer got
 * next to no CPU (runs compiled a fifth of their traces, too late to be
 * entered), so the default leaves the priority alone.
 */
static void *worker(void *arg)
{
    /* a failure only means compiles keep the vCPUs' priority */
    if (hybrid_params.x_opt_nice &&
        setpriority(PRIO_PROCESS, qemu_get_thread_id(),
                    hybrid_params.x_opt_nice)) {
        /* nothing to do */
    }
    for (;;) {
        Job *j;

        /* optimizer threads live as long as QEMU (jit.c guards exit) */
        qemu_mutex_lock(&pool.lock);
        while (g_queue_is_empty(&pool.queue)) {
            qemu_cond_wait(&pool.cond, &pool.lock);
        }
        j = next_job_locked();
        if (j) {
            compile(j, false);
            job_free(j);
        }
    }
}

HybridJitOptions hybrid_jit_options(void)
{
    return (HybridJitOptions) {
        .opt_level = hybrid_params.x_opt_level,
        .codegen_level = hybrid_params.x_codegen_level,
        .native_cpu = hybrid_params.x_native_cpu,
        .state_mapping = hybrid_params.x_state_mapping,
        /* only when -perfmap or -jitdump asked for it */
        .name_code = perf_report_symbol,
    };
}

bool hybrid_pool_start(unsigned nthreads, Error **errp)
{
    HybridJitOptions o = hybrid_jit_options();

    if (!hybrid_jit_init(&o, errp)) {
        return false;
    }
    qemu_mutex_init(&pool.lock);
    qemu_cond_init(&pool.cond);
    g_queue_init(&pool.queue);
    pool.nthreads = nthreads;
    pool.threads = g_new0(QemuThread, nthreads);
    for (unsigned i = 0; i < nthreads; i++) {
        qemu_thread_create(&pool.threads[i], "hybrid-opt", worker, NULL,
                           QEMU_THREAD_DETACHED);
    }
    return true;
}

static uint64_t submitted;

void hybrid_pool_submit(HybridTrace *t, HybridSnapshot *s, uint64_t heat)
{
    Job *j, *dropped = NULL;

    if ((hybrid_params.x_compile_mode &&
         t->user != (hybrid_params.x_compile_mode == 1)) ||
        (hybrid_params.max_traces &&
         qatomic_fetch_inc(&submitted) >= hybrid_params.max_traces)) {
        hybrid_snapshot_free(s);
        hybrid_table_install(t, NULL, NULL, 0, 0);   /* stays with TCG */
        return;
    }
    j = g_new0(Job, 1);
    hybrid_trace_ref(t);
    j->trace = t;
    j->snap = s;
    j->heat = heat;
    j->queued = get_clock();
    qemu_mutex_lock(&pool.lock);
    g_queue_push_head(&pool.queue, j);
    if (g_queue_get_length(&pool.queue) > HYBRID_QUEUE_MAX) {
        dropped = pop_coldest();
    }
    qatomic_set(&pool.queued, g_queue_get_length(&pool.queue));
    trace_hybrid_trace_queued(t->id, heat, qatomic_read(&pool.queued));
    qemu_cond_signal(&pool.cond);
    qemu_mutex_unlock(&pool.lock);
    if (dropped) {
        hybrid_count_abort(HYBRID_ABORT_QUEUE_FULL);
        hybrid_table_drop(dropped->trace);
        job_free(dropped);
    }
}

unsigned hybrid_pool_queued(void)
{
    return qatomic_read(&pool.queued);
}

/*
 * threads=0, on a vCPU between two TBs: compile the hottest queued job
 * if this vCPU's turn has come. After a compile that took d, vCPUs
 * compile again d later at the earliest: at most half of their time
 * goes to compiles, and jobs wait (and cool) as for an optimizer thread.
 */
void hybrid_pool_vcpu_work(void)
{
    int64_t t0, t1, next;
    Job *j;

    if (pool.nthreads || !qatomic_read(&pool.queued)) {
        return;
    }
    t0 = get_clock();
    next = qatomic_read(&pool.vcpu_next);
    /* one vCPU at a time */
    if (t0 < next || qatomic_cmpxchg(&pool.vcpu_next, next, INT64_MAX) != next) {
        return;
    }
    qemu_mutex_lock(&pool.lock);
    j = next_job_locked();
    if (!j) {
        qatomic_set(&pool.vcpu_next, next);
        return;
    }
    compile(j, true);
    job_free(j);
    t1 = get_clock();
    qatomic_set(&pool.vcpu_next, t1 + (t1 - t0));
}
