/*
 * hybrid: profiling and recording, per vCPU (see record.h).
 *
 *   loop dispatch ──► backward edge? ──► head counter ──► hot? ──► record
 *                                          (no chaining into a counting
 *                                           head, so every iteration is
 *                                           seen by the execution loop)
 *
 *   record: the vCPU runs the recorder's no-chaining TB variants, one TB
 *   per loop dispatch, until the path returns to the head (loop trace),
 *   reaches another trace's head, reaches trace-max-tbs or changes
 *   privilege level; or aborts (hybrid-aborts.h). A head that keeps
 *   aborting waits twice as long each time and is blacklisted after
 *   `blacklist` aborts (LuaJIT's penalty/blacklist).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/timer.h"
#include "hybrid.h"
#include "record.h"
#include "trace/trace-hybrid.h"

/* Bound on a vCPU's head map between flushes (it is a cache of counters). */
#define HYBRID_MAX_HEADS 65536

void hybrid_vcpu_init(HybridVCPU *v, bool (*tb_valid)(const void *tb))
{
    memset(v, 0, sizeof(*v));
    v->heads = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                     NULL, g_free);
    v->rec = g_array_new(false, false, sizeof(HybridTraceTB));
    v->tb_valid = tb_valid;
}

void hybrid_vcpu_destroy(HybridVCPU *v)
{
    g_hash_table_destroy(v->heads);
    g_array_free(v->rec, true);
}

static void stop_recording(HybridVCPU *v)
{
    v->recording = false;
    v->rec_head = NULL;
    v->rec_head_tb = NULL;
    g_array_set_size(v->rec, 0);
}

void hybrid_vcpu_flush(HybridVCPU *v)
{
    if (v->recording) {
        hybrid_count_abort(HYBRID_ABORT_FLUSH);
    }
    stop_recording(v);
    g_hash_table_remove_all(v->heads);
}

static void abort_recording(HybridVCPU *v, HybridAbort why)
{
    HybridHead *h = v->rec_head;

    hybrid_count_abort(why);
    if (++h->aborts >= hybrid_params.blacklist) {
        h->state = HYBRID_HEAD_BLACKLISTED;
    } else {
        h->count = 0;
        h->threshold = MIN((uint64_t)hybrid_params.hot << h->aborts,
                           UINT32_MAX);
    }
    stop_recording(v);
}

bool hybrid_region_grow(HybridVCPU *v, uint64_t from_id, unsigned from_tb,
                        const HybridTrace *via)
{
    uint64_t id;

    if (!from_id || !hybrid_params.region_max_tbs || !v->promote) {
        return false;   /* no regions, or nothing would compile one */
    }
    if (via) {
        id = hybrid_table_merge_trace(from_id, from_tb, via,
                                      hybrid_params.region_max_tbs,
                                      v->tb_valid);
    } else {
        id = hybrid_table_merge(from_id, from_tb,
                                (HybridTraceTB *)v->rec->data, v->rec->len,
                                hybrid_params.region_max_tbs, v->tb_valid);
    }
    if (!id) {
        return false;
    }
    qatomic_inc(&hybrid_stats.formed);
    trace_hybrid_region_formed(id, from_id, from_tb);
    if (!via) {
        /* the side path lives in the region: no trace of its own here */
        v->rec_head->state = HYBRID_HEAD_DONE;
        stop_recording(v);
    }
    /* compile it now: the vCPU is on the side path, back at the head */
    v->promote(v->opaque, id, HYBRID_HEAT_MAX);
    return true;
}

uint64_t hybrid_heat(uint64_t entries, int64_t ns)
{
    if (ns <= 0 || entries > HYBRID_HEAT_MAX / NANOSECONDS_PER_SECOND) {
        return HYBRID_HEAT_MAX;
    }
    return entries * NANOSECONDS_PER_SECOND / ns;
}

uint64_t hybrid_heat_now(uint64_t heat, int64_t waited_ns)
{
    int64_t halves = waited_ns / (HYBRID_HEAT_HALF_MS * SCALE_MS);

    return halves >= 64 ? 0 : heat >> MAX(halves, 0);
}

static void end_recording(HybridVCPU *v, HybridTraceEnd end)
{
    HybridTrace *t;
    int why;

    if (end == HYBRID_END_TRACE_HEAD &&
        hybrid_region_grow(v, v->rec_from_id, v->rec_from_tb, NULL)) {
        return;
    }

    t = hybrid_trace_new((HybridTraceTB *)v->rec->data, v->rec->len,
                         v->rec_head_tb, end, v->rec_head->count);
    why = hybrid_table_insert(t, v->tb_valid);
    if (why >= 0) {
        hybrid_trace_free(t);
        if (why == HYBRID_ABORT_DUPLICATE) {
            /* not this head's fault: it is traced, by someone else */
            hybrid_count_abort(why);
            v->rec_head->state = HYBRID_HEAD_TRACED;
            stop_recording(v);
        } else {
            abort_recording(v, why);
        }
        return;
    }
    qatomic_inc(&hybrid_stats.formed);
    trace_hybrid_trace_formed(t->id, t->tbs[0].key.pc, t->ntbs, t->insns,
                              t->user);
    v->rec_head->state = HYBRID_HEAD_TRACED;
    v->rec_head->trace_id = t->id;
    stop_recording(v);
}

static HybridStep record_step(HybridVCPU *v, const HybridTBDesc *tb)
{
    HybridTraceTB *prev;
    HybridTraceTB rt = { .key = *tb, .next_phys = -1 };

    if (v->event) {
        if (v->event_any || tb->pc != v->event_pc ||
            tb->flags != v->event_flags) {
            abort_recording(v, HYBRID_ABORT_EVENT);
            return HYBRID_STEP_RUN;
        }
        v->event = false;       /* the guest went on where it was */
    }
    if (!tb->recording_variant) {
        abort_recording(v, HYBRID_ABORT_LOST);
        return HYBRID_STEP_RUN;
    }
    if (tb->special) {
        abort_recording(v, HYBRID_ABORT_SPECIAL_TB);
        return HYBRID_STEP_RUN;
    }
    if (tb->phys0 < 0) {
        abort_recording(v, HYBRID_ABORT_NO_PAGE);
        return HYBRID_STEP_RUN;
    }

    if (v->rec->len == 0) {
        /* the first TB must be the head itself, in recording form */
        if (!hybrid_tb_same_key(tb, &v->rec_head_desc)) {
            abort_recording(v, HYBRID_ABORT_LOST);
            return HYBRID_STEP_RUN;
        }
    } else {
        prev = &g_array_index(v->rec, HybridTraceTB, v->rec->len - 1);
        prev->next_pc = tb->pc;
        prev->next_phys = tb->phys0;
        if (tb->user != v->rec_head_desc.user) {
            if (v->rec->len == 1) {
                /* head, then straight into the other mode: no path */
                abort_recording(v, HYBRID_ABORT_MODE_AT_HEAD);
            } else {
                end_recording(v, HYBRID_END_MODE);
            }
            return HYBRID_STEP_RUN;
        }
        if (hybrid_tb_same_key(tb, &v->rec_head_desc)) {
            end_recording(v, HYBRID_END_LOOP);
            return HYBRID_STEP_RUN;
        }
        if (hybrid_table_has_head(tb)) {
            end_recording(v, HYBRID_END_TRACE_HEAD);
            return HYBRID_STEP_RUN;
        }
    }
    g_array_append_val(v->rec, rt);
    if (v->rec->len >= hybrid_params.trace_max_tbs) {
        end_recording(v, HYBRID_END_MAX_TBS);
        return HYBRID_STEP_RUN;
    }
    return HYBRID_STEP_RECORD;
}

/*
 * NET heads are targets of backward edges. PC-relative TBs do not keep
 * their virtual pc, so compare guest physical addresses: exact within a
 * page, a good guess across pages (kernel text is physically contiguous).
 */
static bool backward_edge(const HybridTBDesc *from, const HybridTBDesc *to)
{
    return from->phys0 >= 0 && to->phys0 >= 0 && to->phys0 <= from->phys0 &&
           from->user == to->user;
}

/*
 * Head @h reached its count: with a compiler, is it too cold for its
 * trace ever to be compiled (entered less than HYBRID_HEAT_COLD times a
 * second while it counted, the bar under which the pool drops a job)?
 * Then it is not recorded (a recording translates each TB of the path
 * again, in its unchained variant, and its snapshot once more: most of
 * what a booting kernel's lukewarm paths cost the vCPU) and counts
 * again, twice as long each time up to HYBRID_COLD_WAIT_MAX doublings,
 * so a path that gets hot later is still found. Not with threads=0: there
 * the vCPU's own compiles fall between a head's entries and make every
 * head look cold. Nor over fewer than HYBRID_COLD_MIN_ENTRIES entries:
 * the first passes through a new loop include translating its body (at
 * hot=2, one pass of the smap test's loop took longer than 0.5 ms).
 */
#define HYBRID_COLD_WAIT_MAX 6
#define HYBRID_COLD_MIN_ENTRIES 16

static bool cold_head(HybridHead *h)
{
    uint64_t most = MAX((uint64_t)hybrid_params.hot << HYBRID_COLD_WAIT_MAX,
                        h->threshold);

    if (h->count - 1 < HYBRID_COLD_MIN_ENTRIES ||
        hybrid_heat(h->count - 1, get_clock() - h->since) >= HYBRID_HEAT_COLD) {
        return false;
    }
    hybrid_count_abort(HYBRID_ABORT_COLD_HEAD);
    h->count = 0;
    h->threshold = MIN(MIN((uint64_t)h->threshold * 2, most), UINT32_MAX);
    return true;
}

HybridStep hybrid_vcpu_step(HybridVCPU *v, const HybridTBDesc *last,
                            const HybridTBDesc *tb)
{
    HybridHead *h;
    uint8_t exit_head;

    if (v->recording) {
        return record_step(v, tb);
    }
    exit_head = v->trace_exit;
    v->trace_exit = HYBRID_EXIT_NONE;
    v->rec_from_id = exit_head ? v->exit_trace_id : 0;
    v->rec_from_tb = v->exit_trace_tb;
    if ((!last && !exit_head) || tb->recording_variant || tb->special) {
        return HYBRID_STEP_RUN;
    }
    h = g_hash_table_lookup(v->heads, tb->tb);
    if (!h) {
        /* NET heads: targets of backward edges and of trace exits */
        if (!exit_head && !backward_edge(last, tb)) {
            return HYBRID_STEP_RUN;
        }
        if (g_hash_table_size(v->heads) >= HYBRID_MAX_HEADS) {
            g_hash_table_remove_all(v->heads);
        }
        h = g_new0(HybridHead, 1);
        h->threshold = hybrid_params.hot;
        g_hash_table_insert(v->heads, (gpointer)tb->tb, h);
    }
    if (h->state == HYBRID_HEAD_DONE && h->trace_id &&
        h->epoch != qatomic_read(&hybrid_drop_epoch)) {
        unsigned drops;

        h->epoch = qatomic_read(&hybrid_drop_epoch);
        drops = hybrid_table_dropped(h->trace_id);
        if (drops) {
            /*
             * Its compile job was dropped (cold, queue full): promote it
             * again once it is hot again, waiting twice as long each time.
             */
            h->state = HYBRID_HEAD_TRACED;
            h->waits = 0;
            h->wait_for = MIN((uint64_t)hybrid_params.jit_hot << drops,
                              UINT32_MAX);
        }
    }
    if (h->state == HYBRID_HEAD_TRACED && !v->promote) {
        h->state = HYBRID_HEAD_DONE;    /* no compiler: TCG chains as usual */
        return HYBRID_STEP_RUN;
    }
    if (h->state == HYBRID_HEAD_TRACED) {
        /*
         * Keep jumps into the head unchained for jit-hot entries, so that
         * the execution loop counts them; then hand the trace to the
         * compiler (the vCPU is at the head, in the trace's mode, with
         * its code mapped) and give the head back to TCG's chaining: once
         * compiled, the trace is entered through the head TB's patched
         * entry (or from the execution loop when that is not possible).
         */
        uint64_t heat = HYBRID_HEAT_MAX;
        uint32_t wait_for = h->wait_for ? h->wait_for : hybrid_params.jit_hot;

        if (exit_head == HYBRID_EXIT_HOT) {
            h->waits = MAX(h->waits, wait_for - 1);
        } else if (!h->waits) {
            h->since = get_clock();
        }
        if (++h->waits < wait_for) {
            return HYBRID_STEP_NO_CHAIN;
        }
        if (exit_head != HYBRID_EXIT_HOT && h->waits > 1) {
            /* the first entry started the clock */
            heat = hybrid_heat(h->waits - 1, get_clock() - h->since);
        }
        h->state = HYBRID_HEAD_DONE;
        h->epoch = qatomic_read(&hybrid_drop_epoch);
        if (h->trace_id) {
            v->promote(v->opaque, h->trace_id, heat);   /* may not return */
        }
        return HYBRID_STEP_RUN;
    }
    if (h->state != HYBRID_HEAD_COUNTING) {
        return HYBRID_STEP_RUN;
    }
    if (exit_head == HYBRID_EXIT_HOT) {
        /* a compiled trace leaves here often: no need to count more */
        h->count = MAX(h->count, h->threshold - 1);
    } else if (!h->count) {
        h->since = get_clock();
    }
    if (++h->count < h->threshold) {
        return HYBRID_STEP_NO_CHAIN;
    }
    if (v->promote && hybrid_params.threads && exit_head != HYBRID_EXIT_HOT &&
        cold_head(h)) {
        return HYBRID_STEP_RUN;
    }
    h->trace_id = hybrid_table_head_id(tb);
    if (h->trace_id) {
        h->state = HYBRID_HEAD_TRACED;   /* another vCPU traced it */
        return HYBRID_STEP_NO_CHAIN;
    }
    v->recording = true;
    v->event = false;
    v->rec_head = h;
    v->rec_head_tb = tb->tb;
    v->rec_head_desc = *tb;
    g_array_set_size(v->rec, 0);
    return HYBRID_STEP_RECORD;
}
