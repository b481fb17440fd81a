/*
 * Unit tests of profiling, recording and the trace table, driven by
 * synthetic TB sequences (no QEMU core needed).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "accel/hybrid/hybrid.h"
#include "accel/hybrid/record.h"

/*
 * A synthetic code cache: TB i sits at pc 0x1000 + 0x40 * i (physical
 * address the same plus 0x100000). Each has a normal and a recording
 * variant, as the execution loop would look them up.
 */
#define NTB 512
typedef struct FakeTB {
    bool invalid;
} FakeTB;
static FakeTB normal[NTB], recvar[NTB];

static bool fake_valid(const void *tb)
{
    return !((const FakeTB *)tb)->invalid;
}

static HybridTBDesc desc(int i, bool rec, bool user)
{
    HybridTBDesc d = {
        .tb = rec ? &recvar[i] : &normal[i],
        .pc = 0x1000 + 0x40 * i,
        .phys0 = 0x100000 + 0x40 * i,
        .phys1 = -1,
        .flags = user ? 3 : 0,
        .insns = 4,
        .size = 0x40,
        .user = user,
        .recording_variant = rec,
    };
    return d;
}

static uint64_t aborts(HybridAbort why)
{
    return qatomic_read(&hybrid_abort_count[why]);
}

/* Like the glue: run TB @i on @v after @last (-1: none); return the step. */
static HybridStep run(HybridVCPU *v, int last, int i, bool user)
{
    HybridTBDesc dl, dt;

    dt = desc(i, v->recording, user);
    if (last >= 0) {
        dl = desc(last, false, user);
    }
    return hybrid_vcpu_step(v, last >= 0 && !v->recording ? &dl : NULL,
                            &dt);
}

static void reset(void)
{
    hybrid_table_flush();
    memset(normal, 0, sizeof(normal));
    memset(recvar, 0, sizeof(recvar));
    hybrid_params_set_defaults(&hybrid_params);
    memset(&hybrid_stats, 0, sizeof(hybrid_stats));
    memset(hybrid_abort_count, 0, sizeof(hybrid_abort_count));
}

typedef struct Found {
    int n;
    const HybridTrace *t[8];
} Found;

static void collect(const HybridTrace *t, void *opaque)
{
    Found *f = opaque;

    if (f->n < 8 && qatomic_read(&t->state) != HYBRID_TRACE_INVALIDATED) {
        f->t[f->n++] = t;
    }
}

static Found live_traces(void)
{
    Found f = { 0 };

    hybrid_table_foreach_hottest(8, collect, &f);
    return f;
}

static void promote_nothing(void *opaque, uint64_t id, uint64_t heat)
{
}

/* Drive a loop body (TBs first..last) until the table has @n traces. */
static void loop_until_n(HybridVCPU *v, int first, int last, bool user,
                         int max_iters, unsigned n)
{
    for (int it = 0; it < max_iters && hybrid_table_size() < n; it++) {
        for (int i = first; i <= last; i++) {
            int prev = i == first ? last : i - 1;
            HybridStep s = run(v, prev, i, user);

            if (s == HYBRID_STEP_RECORD && !desc(i, false, user).recording_variant
                && v->rec->len == 0) {
                /* the loop looks the head up again, as a recording variant */
                s = run(v, -1, i, user);
            }
        }
    }
}

/* ... until it is hot and recorded (the first trace of the table). */
static void loop_until_formed(HybridVCPU *v, int first, int last, bool user,
                              int max_iters)
{
    loop_until_n(v, first, last, user, max_iters, 1);
}

static void test_loop_trace(void)
{
    HybridVCPU v;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 10;
    /* a 3-TB loop: 10 -> 11 -> 12 -> back to 10 */
    for (int it = 0; it < 9; it++) {
        g_assert_cmpint(run(&v, 12, 10, true), ==,
                        it == 0 ? HYBRID_STEP_NO_CHAIN : HYBRID_STEP_NO_CHAIN);
        g_assert_cmpint(run(&v, 10, 11, true), ==, HYBRID_STEP_RUN);
        g_assert_cmpint(run(&v, 11, 12, true), ==, HYBRID_STEP_RUN);
    }
    /* the 10th execution of the head starts recording */
    g_assert_cmpint(run(&v, 12, 10, true), ==, HYBRID_STEP_RECORD);
    g_assert_true(v.recording);
    g_assert_cmpint(run(&v, -1, 10, true), ==, HYBRID_STEP_RECORD);
    g_assert_cmpint(run(&v, -1, 11, true), ==, HYBRID_STEP_RECORD);
    g_assert_cmpint(run(&v, -1, 12, true), ==, HYBRID_STEP_RECORD);
    g_assert_cmpint(run(&v, -1, 10, true), ==, HYBRID_STEP_RUN);
    g_assert_false(v.recording);

    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    g_assert_cmpint(f.t[0]->ntbs, ==, 3);
    g_assert_cmpint(f.t[0]->insns, ==, 12);
    g_assert_cmpint(f.t[0]->end, ==, HYBRID_END_LOOP);
    g_assert_true(f.t[0]->user);
    g_assert_cmpint(f.t[0]->tbs[0].key.pc, ==, 0x1000 + 0x40 * 10);
    g_assert_cmpint(f.t[0]->tbs[2].next_pc, ==, 0x1000 + 0x40 * 10);
    g_assert_cmpint(f.t[0]->tbs[0].next_pc, ==, 0x1000 + 0x40 * 11);
    g_assert_true(f.t[0]->head_tb == &normal[10]);
    g_assert_cmpint(qatomic_read(&hybrid_stats.formed), ==, 1);
    v.promote = promote_nothing;        /* as with a compiler (jit=1) */

    /* traced: jumps into the head stay unchained while the trace is
       on its way to compiled code, so the execution loop can enter it */
    hybrid_table_set_state((HybridTrace *)f.t[0], HYBRID_TRACE_QUEUED);
    g_assert_cmpint(run(&v, 12, 10, true), ==, HYBRID_STEP_NO_CHAIN);
    /* its compile failed: the head soon goes back to plain TCG */
    hybrid_table_set_state((HybridTrace *)f.t[0], HYBRID_TRACE_FAILED);
    for (int i = 0; i < 64 && run(&v, 12, 10, true) == HYBRID_STEP_NO_CHAIN;
         i++) {
    }
    g_assert_cmpint(run(&v, 12, 10, true), ==, HYBRID_STEP_RUN);
    /* forward edges are never heads */
    g_assert_cmpint(run(&v, 3, 20, true), ==, HYBRID_STEP_RUN);
    hybrid_vcpu_destroy(&v);
}

/* Where a compiled trace exits is a head too (NET), with no edge seen. */
static void test_trace_exit_head(void)
{
    HybridVCPU v;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 3;
    /* without an edge or a trace exit, nothing is counted */
    for (int i = 0; i < 10; i++) {
        g_assert_cmpint(run(&v, -1, 60, true), ==, HYBRID_STEP_RUN);
    }
    g_assert_null(g_hash_table_lookup(v.heads, &normal[60]));
    /* a forward target is no head, unless a trace exited to it */
    g_assert_cmpint(run(&v, 10, 60, true), ==, HYBRID_STEP_RUN);
    v.trace_exit = true;
    g_assert_cmpint(run(&v, -1, 60, true), ==, HYBRID_STEP_NO_CHAIN);
    g_assert_false(v.trace_exit);
    v.trace_exit = true;
    g_assert_cmpint(run(&v, -1, 60, true), ==, HYBRID_STEP_NO_CHAIN);
    v.trace_exit = true;
    g_assert_cmpint(run(&v, -1, 60, true), ==, HYBRID_STEP_RECORD);
    hybrid_vcpu_destroy(&v);
}

static void test_max_tbs_and_trace_head(void)
{
    HybridVCPU v;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;
    hybrid_params.trace_max_tbs = 4;
    /* a long loop 100..109: the trace stops at 4 TBs */
    loop_until_formed(&v, 100, 109, false, 10);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    g_assert_cmpint(f.t[0]->ntbs, ==, 4);
    g_assert_cmpint(f.t[0]->end, ==, HYBRID_END_MAX_TBS);
    g_assert_false(f.t[0]->user);
    /* no compiler (jit=0): a traced head is chained again at once */
    g_assert_cmpint(run(&v, 109, 100, false), ==, HYBRID_STEP_RUN);

    /* a second loop 200..203 that runs into the first trace's head */
    g_assert_cmpint(run(&v, 203, 200, false), ==, HYBRID_STEP_NO_CHAIN);
    g_assert_cmpint(run(&v, 203, 200, false), ==, HYBRID_STEP_RECORD);
    run(&v, -1, 200, false);
    run(&v, -1, 201, false);
    g_assert_cmpint(run(&v, -1, 100, false), ==, HYBRID_STEP_RUN);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 2);
    g_assert_cmpint(hybrid_table_size(), ==, 2);
    for (int i = 0; i < 2; i++) {
        if (f.t[i]->tbs[0].key.pc == 0x1000 + 0x40 * 200) {
            g_assert_cmpint(f.t[i]->end, ==, HYBRID_END_TRACE_HEAD);
            g_assert_cmpint(f.t[i]->ntbs, ==, 2);
        }
    }
    hybrid_vcpu_destroy(&v);
}

/* Start a recording at head 10 of loop 10..12; return after the head. */
static void start_recording(HybridVCPU *v)
{
    while (run(v, 12, 10, true) != HYBRID_STEP_RECORD) {
    }
    g_assert_cmpint(run(v, -1, 10, true), ==, HYBRID_STEP_RECORD);
}

static void test_aborts_and_blacklist(void)
{
    HybridVCPU v;
    HybridTBDesc d;
    HybridHead *h;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 3;
    hybrid_params.blacklist = 3;

    /*
     * An exit request that left the guest where it was (the tier's own
     * exclusive work kicks vCPUs): recording goes on.
     */
    start_recording(&v);
    hybrid_vcpu_event(&v, false, desc(11, true, true).pc,
                      desc(11, true, true).flags);
    g_assert_cmpint(run(&v, -1, 11, true), ==, HYBRID_STEP_RECORD);
    g_assert_true(v.recording);
    g_assert_cmpint(aborts(HYBRID_ABORT_EVENT), ==, 0);
    hybrid_vcpu_flush(&v);
    memset(hybrid_abort_count, 0, sizeof(hybrid_abort_count));
    hybrid_stats.aborted = 0;

    /* an interrupt delivered while recording: the guest is elsewhere */
    start_recording(&v);
    hybrid_vcpu_event(&v, false, desc(11, true, true).pc,
                      desc(11, true, true).flags);
    g_assert_cmpint(run(&v, -1, 40, true), ==, HYBRID_STEP_RUN);
    g_assert_false(v.recording);
    g_assert_cmpint(aborts(HYBRID_ABORT_EVENT), ==, 1);
    hybrid_vcpu_flush(&v);
    memset(hybrid_abort_count, 0, sizeof(hybrid_abort_count));
    hybrid_stats.aborted = 0;

    /* a guest exception while recording */
    start_recording(&v);
    hybrid_vcpu_event(&v, true, desc(11, true, true).pc,
                      desc(11, true, true).flags);
    g_assert_cmpint(run(&v, -1, 11, true), ==, HYBRID_STEP_RUN);
    g_assert_false(v.recording);
    g_assert_cmpint(aborts(HYBRID_ABORT_EVENT), ==, 1);
    h = g_hash_table_lookup(v.heads, &normal[10]);
    g_assert_nonnull(h);
    g_assert_cmpint(h->aborts, ==, 1);
    g_assert_cmpint(h->threshold, ==, 6);     /* back-off: hot << aborts */

    /* a TB without a RAM page (MMIO execution) */
    start_recording(&v);
    d = desc(11, true, true);
    d.phys0 = -1;
    g_assert_cmpint(hybrid_vcpu_step(&v, NULL, &d), ==, HYBRID_STEP_RUN);
    g_assert_cmpint(aborts(HYBRID_ABORT_NO_PAGE), ==, 1);
    g_assert_cmpint(h->threshold, ==, 12);

    /* the vCPU ran a normal TB: something overrode the recorder's cflags */
    start_recording(&v);
    d = desc(11, false, true);
    g_assert_cmpint(hybrid_vcpu_step(&v, NULL, &d), ==, HYBRID_STEP_RUN);
    g_assert_cmpint(aborts(HYBRID_ABORT_LOST), ==, 1);

    /* third abort: blacklisted, never counted again, chaining allowed */
    g_assert_cmpint(h->state, ==, HYBRID_HEAD_BLACKLISTED);
    for (int i = 0; i < 100; i++) {
        g_assert_cmpint(run(&v, 12, 10, true), ==, HYBRID_STEP_RUN);
    }
    g_assert_false(v.recording);
    g_assert_cmpint(hybrid_table_size(), ==, 0);
    g_assert_cmpint(qatomic_read(&hybrid_stats.aborted), ==, 3);

    /* a special TB (single-step/icount) and a mode change at the head */
    {
        HybridVCPU w;

        hybrid_vcpu_init(&w, fake_valid);
        while (run(&w, 32, 30, true) != HYBRID_STEP_RECORD) {
        }
        run(&w, -1, 30, true);
        d = desc(31, true, true);
        d.special = true;
        hybrid_vcpu_step(&w, NULL, &d);
        g_assert_cmpint(aborts(HYBRID_ABORT_SPECIAL_TB), ==, 1);
        while (run(&w, 32, 30, true) != HYBRID_STEP_RECORD) {
        }
        run(&w, -1, 30, true);
        d = desc(31, true, false);      /* straight into kernel mode */
        hybrid_vcpu_step(&w, NULL, &d);
        g_assert_cmpint(aborts(HYBRID_ABORT_MODE_AT_HEAD), ==, 1);
        hybrid_vcpu_destroy(&w);
    }
    hybrid_vcpu_destroy(&v);
}

static void test_mode_change_ends_trace(void)
{
    HybridVCPU v;
    HybridTBDesc d;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 1;
    start_recording(&v);
    run(&v, -1, 11, true);
    d = desc(50, true, false);          /* a syscall: kernel code next */
    g_assert_cmpint(hybrid_vcpu_step(&v, NULL, &d), ==, HYBRID_STEP_RUN);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    g_assert_cmpint(f.t[0]->end, ==, HYBRID_END_MODE);
    g_assert_cmpint(f.t[0]->ntbs, ==, 2);
    g_assert_true(f.t[0]->user);
    g_assert_cmpint(f.t[0]->tbs[1].next_pc, ==, 0x1000 + 0x40 * 50);
    hybrid_vcpu_destroy(&v);
}

static void test_invalidation(void)
{
    HybridVCPU v;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;

    /* a member invalidated while recording: the trace is not formed */
    start_recording(&v);
    run(&v, -1, 11, true);
    recvar[11].invalid = true;
    run(&v, -1, 12, true);
    g_assert_cmpint(run(&v, -1, 10, true), ==, HYBRID_STEP_RUN);
    g_assert_cmpint(hybrid_table_size(), ==, 0);
    g_assert_cmpint(aborts(HYBRID_ABORT_INVALIDATED), ==, 1);

    /* formed, then a member is invalidated: dropped at once */
    recvar[11].invalid = false;
    loop_until_formed(&v, 10, 12, true, 100);
    g_assert_cmpint(hybrid_table_size(), ==, 1);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    {
        HybridTBDesc head = desc(10, true, true);

        g_assert_true(hybrid_table_has_head(&head));
        hybrid_table_tb_invalidated(&recvar[12]);
        g_assert_false(hybrid_table_has_head(&head));
    }
    g_assert_cmpint(hybrid_table_size(), ==, 0);
    g_assert_cmpint(qatomic_read(&hybrid_stats.invalidated), ==, 1);
    /* invalidating an unrelated TB is harmless */
    hybrid_table_tb_invalidated(&recvar[300]);
    hybrid_vcpu_destroy(&v);
}

static void test_flush(void)
{
    HybridVCPU v;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;
    loop_until_formed(&v, 10, 12, true, 100);
    g_assert_cmpint(hybrid_table_size(), ==, 1);
    /* a recording in flight on another head */
    while (run(&v, 42, 40, true) != HYBRID_STEP_RECORD) {
    }
    g_assert_true(v.recording);
    hybrid_table_flush();
    hybrid_vcpu_flush(&v);
    g_assert_false(v.recording);
    g_assert_cmpint(hybrid_table_size(), ==, 0);
    g_assert_cmpint(g_hash_table_size(v.heads), ==, 0);
    g_assert_cmpint(aborts(HYBRID_ABORT_FLUSH), ==, 1);
    /* the same code becomes hot again and is traced again */
    loop_until_formed(&v, 10, 12, true, 100);
    g_assert_cmpint(hybrid_table_size(), ==, 1);
    hybrid_vcpu_destroy(&v);
}

/*
 * user-entries (QMP) counts entries into user traces, gone ones too, and
 * never goes back: not while an invalidated trace waits for its last
 * reference (here: a compile job's) and its grace period.
 */
static void test_user_entries(void)
{
    HybridTrace *held = NULL;

    reset();
    g_assert_cmpuint(hybrid_table_user_entries(), ==, 0);
    for (int i = 0; i < 40; i++) {
        HybridTraceTB tb = { .key = desc(100 + i, true, true) };
        HybridTrace *t = hybrid_trace_new(&tb, 1, &normal[100 + i],
                                          HYBRID_END_LOOP, 0);

        g_assert_cmpint(hybrid_table_insert(t, fake_valid), ==, -1);
        qatomic_add(&t->entries, 10);
        if (i == 0) {
            hybrid_trace_ref(t);
            held = t;
        }
        hybrid_table_tb_invalidated(&normal[100 + i]);
        g_assert_cmpuint(hybrid_table_user_entries(), ==, 10 * (i + 1));
    }
    /* a vCPU was still in its code: counted once it is freed */
    qatomic_add(&held->entries, 5);
    hybrid_trace_unref(held);
    drain_call_rcu();
    g_assert_cmpuint(hybrid_table_user_entries(), ==, 405);
}

static void remember_id(void *opaque, uint64_t id, uint64_t heat)
{
    *(uint64_t *)opaque = id;
}

static uint64_t promoted_heat;

static void remember_heat(void *opaque, uint64_t id, uint64_t heat)
{
    *(uint64_t *)opaque = id;
    promoted_heat = heat;
}

/* Enter the head of loop first..last until it is promoted; its heat. */
static uint64_t promote_loop(HybridVCPU *v, int first, int last,
                             unsigned gap_us)
{
    uint64_t id = 0;

    v->opaque = &id;
    loop_until_formed(v, first, last, true, 100);
    for (int i = 0; i < 100 && !id; i++) {
        if (gap_us) {
            g_usleep(gap_us);
        }
        run(v, last, first, true);
    }
    v->opaque = NULL;
    g_assert_cmpuint(id, !=, 0);
    return promoted_heat;
}

/*
 * The compile queue's order: a head entered in a burst (a loop) is
 * hotter than one entered a few hundred times a second (a timer path),
 * and a job's heat decays while it waits.
 */
static void test_heat(void)
{
    HybridVCPU v;
    uint64_t fast, slow;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    v.promote = remember_heat;
    hybrid_params.hot = 2;
    hybrid_params.jit_hot = 6;
    fast = promote_loop(&v, 10, 12, 0);
    hybrid_table_flush();
    slow = promote_loop(&v, 20, 22, 4000);      /* 250 entries a second */
    g_assert_cmpuint(slow, <=, 260);
    g_assert_cmpuint(slow, >, 20);
    g_assert_cmpuint(fast, >, 100 * slow);
    hybrid_vcpu_destroy(&v);

    g_assert_cmpuint(hybrid_heat(5, NANOSECONDS_PER_SECOND), ==, 5);
    g_assert_cmpuint(hybrid_heat(5, 0), ==, HYBRID_HEAT_MAX);
    g_assert_cmpuint(hybrid_heat_now(1000, 0), ==, 1000);
    g_assert_cmpuint(hybrid_heat_now(1000, 2 * HYBRID_HEAT_HALF_MS * SCALE_MS),
                     ==, 250);
    g_assert_cmpuint(hybrid_heat_now(HYBRID_HEAT_MAX, 64 * HYBRID_HEAT_HALF_MS *
                                     (int64_t)SCALE_MS), ==, 0);
}

/*
 * A compile job dropped (cold in the queue, or the queue full) puts its
 * trace back to RECORDED: its head promotes it again once it is entered
 * twice as many times as before, and gives up after `blacklist` drops.
 * (Code cold during boot can be hot later.)
 */
static void test_dropped_job(void)
{
    HybridVCPU v;
    HybridTrace *t;
    uint64_t id = 0;
    int entries;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    v.promote = remember_id;
    v.opaque = &id;
    hybrid_params.hot = 2;
    hybrid_params.jit_hot = 4;
    hybrid_params.blacklist = 3;
    loop_until_formed(&v, 10, 12, true, 100);
    for (int drop = 1; drop <= 3; drop++) {
        for (entries = 0; entries < 1000 && !id; entries++) {
            run(&v, 12, 10, true);
        }
        g_assert_cmpuint(id, !=, 0);
        /* the first promotion after jit-hot entries, then 2x, 4x */
        g_assert_cmpint(entries, ==, drop == 1 ? 4 : 4 << (drop - 1));
        t = hybrid_table_claim(id);
        g_assert_nonnull(t);
        g_assert_cmpuint(hybrid_table_dropped(id), ==, 0);   /* queued */
        hybrid_table_drop(t);
        g_assert_cmpint(t->state, ==, drop < 3 ? HYBRID_TRACE_RECORDED
                                               : HYBRID_TRACE_FAILED);
        g_assert_cmpuint(hybrid_table_dropped(id), ==, drop < 3 ? drop : 0);
        hybrid_trace_unref(t);
        id = 0;
    }
    /* failed for good: no more promotions */
    for (entries = 0; entries < 1000 && !id; entries++) {
        run(&v, 12, 10, true);
    }
    g_assert_cmpuint(id, ==, 0);
    hybrid_vcpu_destroy(&v);
}

static uint64_t dummy_trace_fn(void *env, uint64_t from_tb)
{
    return 0;
}

/* Compile @id for pretend: claim it, compile it, install it. */
static HybridTrace *install(uint64_t id)
{
    HybridTrace *t = hybrid_table_claim(id);

    g_assert_nonnull(t);
    g_assert_true(hybrid_table_set_state(t, HYBRID_TRACE_COMPILING));
    g_assert_true(hybrid_table_install(t, t, dummy_trace_fn, 16, 1));
    hybrid_trace_unref(t);
    return t;
}

/*
 * A trace's life: the table makes only the moves drawn in trace.h. A
 * recorded trace is queued before it compiles and compiles before it is
 * installed; an installed one never goes back to the queue or fails;
 * invalidated is final (the trace waits there to be freed).
 */
static void test_trace_life(void)
{
    HybridVCPU v;
    HybridTrace *t, *f;
    uint64_t id;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;
    loop_until_formed(&v, 10, 12, true, 100);
    id = live_traces().t[0]->id;
    f = (HybridTrace *)live_traces().t[0];
    g_assert_cmpint(f->state, ==, HYBRID_TRACE_RECORDED);
    g_assert_false(hybrid_table_set_state(f, HYBRID_TRACE_COMPILING));
    t = hybrid_table_claim(id);
    g_assert_true(t == f);
    g_assert_cmpint(t->state, ==, HYBRID_TRACE_QUEUED);
    g_assert_null(hybrid_table_claim(id));              /* queued once */
    g_assert_false(hybrid_table_set_state(t, HYBRID_TRACE_INSTALLED));
    g_assert_true(hybrid_table_set_state(t, HYBRID_TRACE_COMPILING));
    g_assert_false(hybrid_table_set_state(t, HYBRID_TRACE_QUEUED));
    g_assert_true(hybrid_table_install(t, t, dummy_trace_fn, 16, 1));
    g_assert_cmpint(t->state, ==, HYBRID_TRACE_INSTALLED);
    g_assert_false(hybrid_table_set_state(t, HYBRID_TRACE_FAILED));
    g_assert_false(hybrid_table_set_state(t, HYBRID_TRACE_QUEUED));
    g_assert_null(hybrid_table_claim(id));
    hybrid_table_drop(t);                               /* not queued */
    g_assert_cmpint(t->state, ==, HYBRID_TRACE_INSTALLED);
    hybrid_table_flush();
    g_assert_cmpint(t->state, ==, HYBRID_TRACE_INVALIDATED);
    for (int s = 0; s < HYBRID_TRACE__MAX; s++) {
        g_assert_false(hybrid_trace_may_move(HYBRID_TRACE_INVALIDATED, s));
        g_assert_false(hybrid_table_set_state(t, s));
    }
    g_assert_false(hybrid_table_install(t, NULL, NULL, 0, 0));
    g_assert_cmpint(t->state, ==, HYBRID_TRACE_INVALIDATED);
    hybrid_trace_unref(t);
    hybrid_vcpu_destroy(&v);
}

/*
 * Traces sharing TBs: the table's pc map (sampling) holds a list per pc.
 * When one of the traces leaves, the others stay listed under that pc,
 * and when the last leaves the pc goes, with its key freed once. (The
 * map once freed its own key when a list changed: GLib frees the key
 * passed to g_hash_table_insert() when the key is there already, and
 * the key passed was the stored one; a double free followed.)
 */
static void test_shared_pc(void)
{
    HybridVCPU v;
    Found f;
    const HybridTrace *a, *b;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;
    loop_until_n(&v, 10, 12, true, 100, 1);        /* A: 10 11 12 */
    loop_until_n(&v, 11, 12, true, 100, 2);        /* B: 11 12 */
    f = live_traces();
    g_assert_cmpint(f.n, ==, 2);
    a = f.t[0]->tbs[0].key.pc == desc(10, false, true).pc ? f.t[0] : f.t[1];
    b = a == f.t[0] ? f.t[1] : f.t[0];
    g_assert_cmpuint(b->tbs[0].key.pc, ==, desc(11, false, true).pc);
    hybrid_table_sample(desc(12, false, true).pc, true);
    g_assert_cmpuint(a->samples, ==, 1);
    g_assert_cmpuint(b->samples, ==, 1);
    /* A leaves: B stays listed under the pcs they share */
    hybrid_table_tb_invalidated(&recvar[10]);
    for (int k = 0; k < 3; k++) {
        hybrid_table_sample(desc(12, false, true).pc, true);
        hybrid_table_sample(desc(11, false, true).pc, true);
    }
    g_assert_cmpuint(b->samples, ==, 7);
    /* B leaves: the pcs go (a freed key would be freed again here) */
    hybrid_table_tb_invalidated(&recvar[11]);
    g_assert_cmpint(live_traces().n, ==, 0);
    hybrid_table_sample(desc(12, false, true).pc, true);
    g_assert_cmpuint(b->samples, ==, 7);
    hybrid_vcpu_destroy(&v);
}

/* A compiled trace left after its TB @from_tb; the vCPU runs @path. */
static void side_exit(HybridVCPU *v, uint64_t id, unsigned from_tb,
                      const int *path, int n)
{
    v->trace_exit = HYBRID_EXIT_HOT;
    v->exit_trace_id = id;
    v->exit_trace_tb = from_tb;
    g_assert_cmpint(run(v, -1, path[0], true), ==, HYBRID_STEP_RECORD);
    for (int i = 0; i < n; i++) {
        run(v, -1, path[i], true);
    }
}

/*
 * Regions: a side path recorded where a compiled trace leaves, that comes
 * back to its head, grows the trace (a second successor of the TB it
 * left from), compiled at once, and takes the trace's place when
 * installed; a side path that meets the trace's own TBs rejoins there.
 */
static void test_region(void)
{
    HybridVCPU v;
    HybridTBDesc head = desc(10, true, true);
    uint64_t t_id, r_id = 0, r2_id = 0;
    HybridTrace *t, *r, *r2;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    v.promote = remember_id;
    hybrid_params.hot = 2;
    loop_until_formed(&v, 10, 12, true, 100);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    t_id = f.t[0]->id;
    t = install(t_id);

    /* left after TB 0 (pc of TB 10) to TB 20, then 21, back to the head */
    v.opaque = &r_id;
    side_exit(&v, t_id, 0, (const int[]){ 20, 21, 10 }, 3);
    g_assert_cmpuint(r_id, !=, 0);
    g_assert_cmpuint(hybrid_table_head_id(&head), ==, t_id);  /* until installed */
    r = install(r_id);
    g_assert_cmpuint(hybrid_table_head_id(&head), ==, r_id);
    g_assert_cmpint(qatomic_read(&t->state), ==, HYBRID_TRACE_INVALIDATED);
    g_assert_cmpint(qatomic_read(&hybrid_stats.regions), ==, 1);
    g_assert_cmpint(r->ntbs, ==, 5);
    g_assert_cmpint(r->paths, ==, 2);
    g_assert_cmpint(r->tbs[0].nsucc, ==, 2);
    g_assert_cmpint(r->tbs[0].succ[0], ==, 1);
    g_assert_cmpint(r->tbs[0].succ[1], ==, 3);
    g_assert_cmpint(r->tbs[3].key.pc, ==, 0x1000 + 0x40 * 20);
    g_assert_cmpint(r->tbs[3].succ[0], ==, 4);
    g_assert_cmpint(r->tbs[4].nsucc, ==, 1);
    g_assert_cmpint(r->tbs[4].succ[0], ==, 0);
    g_assert_cmpint(r->tbs[2].succ[0], ==, 0);   /* the loop, as before */

    /* left after TB 2 (TB 12) to TB 30, then the trace's own TB 11 */
    v.opaque = &r2_id;
    side_exit(&v, r_id, 2, (const int[]){ 30, 11, 12, 10 }, 4);
    g_assert_cmpuint(r2_id, !=, 0);
    r2 = install(r2_id);
    g_assert_cmpint(r2->ntbs, ==, 6);
    g_assert_cmpint(r2->paths, ==, 3);
    g_assert_cmpint(r2->tbs[2].nsucc, ==, 2);
    g_assert_cmpint(r2->tbs[2].succ[1], ==, 5);
    g_assert_cmpint(r2->tbs[5].succ[0], ==, 1);  /* rejoins at TB 11 */

    /* TB 0 of the region has two successors already: a trace of its own */
    side_exit(&v, r2_id, 0, (const int[]){ 40, 10 }, 2);
    g_assert_cmpuint(hybrid_table_size(), ==, 2);
    g_assert_cmpint(qatomic_read(&hybrid_stats.regions), ==, 2);

    /* a side path's TB invalidated drops the region, as any member */
    hybrid_table_tb_invalidated(&recvar[30]);
    g_assert_cmpuint(hybrid_table_head_id(&head), ==, 0);
    hybrid_vcpu_destroy(&v);
}

/*
 * Regions from linked traces: trace A leaves after its TB 1 into trace B,
 * whose recorded path goes 50, 51, then to a loop of its own (52) after
 * passing A's head: A grows by B's path up to where it reaches A's head.
 */
static void test_region_from_linked(void)
{
    HybridVCPU v;
    HybridTraceTB path[3] = {
        { .key = desc(50, true, true), .next_pc = 0x1000 + 0x40 * 51,
          .next_phys = 0x100000 + 0x40 * 51 },
        { .key = desc(51, true, true), .next_pc = 0x1000 + 0x40 * 10,
          .next_phys = 0x100000 + 0x40 * 10 },
        { .key = desc(52, true, true), .next_pc = 0x1000 + 0x40 * 50,
          .next_phys = 0x100000 + 0x40 * 50 },
    };
    HybridTBDesc k10 = desc(10, false, true), k99 = desc(99, false, true);
    HybridTrace *b, *r;
    uint64_t a_id, r_id;
    Found f;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    hybrid_params.hot = 2;
    loop_until_formed(&v, 10, 11, true, 100);
    f = live_traces();
    g_assert_cmpint(f.n, ==, 1);
    a_id = f.t[0]->id;
    install(a_id);
    b = hybrid_trace_new(path, 3, &normal[50], HYBRID_END_LOOP, 0);
    g_assert_cmpint(hybrid_table_insert(b, fake_valid), ==, -1);

    g_assert_cmpuint(hybrid_trace_path_to(b, &k10), ==, 2);
    g_assert_cmpuint(hybrid_trace_path_to(b, &k99), ==, 0);
    /* not into itself, not beyond region-max-tbs */
    g_assert_cmpuint(hybrid_table_merge_trace(b->id, 0, b, 64, fake_valid),
                     ==, 0);
    g_assert_cmpuint(hybrid_table_merge_trace(a_id, 1, b, 3, fake_valid),
                     ==, 0);
    r_id = hybrid_table_merge_trace(a_id, 1, b, 64, fake_valid);
    g_assert_cmpuint(r_id, !=, 0);
    r = install(r_id);
    g_assert_cmpint(r->ntbs, ==, 4);
    g_assert_cmpint(r->paths, ==, 2);
    g_assert_cmpint(r->tbs[1].nsucc, ==, 2);
    g_assert_cmpint(r->tbs[1].succ[1], ==, 2);
    g_assert_cmpint(r->tbs[2].key.pc, ==, 0x1000 + 0x40 * 50);
    g_assert_cmpint(r->tbs[3].succ[0], ==, 0);   /* back to A's head */
    hybrid_vcpu_destroy(&v);
}

/*
 * PC-relative TBs (every x86 system TB) are one TB for every virtual
 * alias of their code: their keys leave the virtual pc out, so a trace
 * head is found from any alias (no second trace of the same TB), and a
 * recorded path leads to a TB by its guest physical address. Non
 * PC-relative keys keep the pc.
 */
static HybridTBDesc alias(HybridTBDesc d, uint64_t delta, bool pcrel)
{
    d.pc += delta;
    d.pcrel = pcrel;
    return d;
}

static void test_pcrel_keys(void)
{
    HybridVCPU v;
    HybridTBDesc a = alias(desc(10, false, true), 0, true);
    HybridTBDesc b = alias(desc(10, false, true), 0x7f0000000000, true);
    HybridTraceTB path[2] = {
        { .key = alias(desc(50, true, true), 0x7f0000000000, true),
          .next_pc = 0x7f0000000000 + 0x1000 + 0x40 * 10,
          .next_phys = 0x100000 + 0x40 * 10 },
        { .key = alias(desc(51, true, true), 0x7f0000000000, true) },
    };
    HybridTrace *t, *u;

    reset();
    hybrid_vcpu_init(&v, fake_valid);
    g_assert_true(hybrid_tb_same_key(&a, &b));
    g_assert_false(hybrid_tb_same_key(&(HybridTBDesc){ .pc = 1 },
                                      &(HybridTBDesc){ .pc = 2 }));
    g_assert_false(hybrid_tb_same_key(&a, &(HybridTBDesc){ .pc = a.pc }));

    /* a trace formed at one alias is the head at every other */
    t = hybrid_trace_new(&(HybridTraceTB){ .key = a, .next_phys = -1 }, 1,
                         &normal[10], HYBRID_END_LOOP, 0);
    g_assert_cmpint(hybrid_table_insert(t, fake_valid), ==, -1);
    g_assert_cmpuint(hybrid_table_head_id(&b), ==, t->id);
    g_assert_cmpuint(hybrid_table_head_id(&(HybridTBDesc){ .pc = b.pc }), ==,
                     0);
    t = hybrid_trace_new(&(HybridTraceTB){ .key = b, .next_phys = -1 }, 1,
                         &normal[10], HYBRID_END_LOOP, 0);
    g_assert_cmpint(hybrid_table_insert(t, fake_valid), ==,
                    HYBRID_ABORT_DUPLICATE);
    hybrid_trace_free(t);

    /* a path recorded at another alias leads to the head by its address */
    u = hybrid_trace_new(path, 2, &normal[50], HYBRID_END_MAX_TBS, 0);
    g_assert_cmpuint(hybrid_trace_path_to(u, &a), ==, 1);
    path[0].next_phys = 0x100000 + 0x40 * 11;
    hybrid_trace_free(u);
    u = hybrid_trace_new(path, 2, &normal[50], HYBRID_END_MAX_TBS, 0);
    g_assert_cmpuint(hybrid_trace_path_to(u, &a), ==, 0);
    hybrid_trace_free(u);
    hybrid_vcpu_destroy(&v);
}

/* Several vCPUs, each on its own thread, forming traces at once. */
#define NTHREADS 4
static void *vcpu_thread(void *arg)
{
    int id = GPOINTER_TO_INT(arg);
    HybridVCPU v;

    hybrid_vcpu_init(&v, fake_valid);
    for (int round = 0; round < 20; round++) {
        /* 8 private loops, and one loop shared by every thread */
        int base = 10 + 40 * (id * 2 + (round & 1));
        for (int k = 0; k < 8 && base + 4 * k + 2 < NTB; k++) {
            for (int it = 0; it < 20; it++) {
                for (int i = 0; i < 3; i++) {
                    int tb = base + 4 * k + i;
                    int prev = i == 0 ? tb + 2 : tb - 1;
                    if (run(&v, prev, tb, false) == HYBRID_STEP_RECORD &&
                        v.rec->len == 0) {
                        run(&v, -1, tb, false);
                    }
                }
            }
        }
        for (int it = 0; it < 20; it++) {
            for (int i = 0; i < 3; i++) {
                int tb = 480 + i;
                int prev = i == 0 ? 482 : tb - 1;
                if (run(&v, prev, tb, false) == HYBRID_STEP_RECORD &&
                    v.rec->len == 0) {
                    run(&v, -1, tb, false);
                }
            }
        }
        if (id == 0 && round % 5 == 4) {
            /* another vCPU's code write invalidates a member TB */
            hybrid_table_tb_invalidated(&recvar[481]);
        }
    }
    hybrid_vcpu_destroy(&v);
    return NULL;
}

static void test_concurrent_vcpus(void)
{
    QemuThread th[NTHREADS];
    HybridTBDesc shared = desc(480, true, false);

    reset();
    hybrid_params.hot = 5;
    for (int i = 0; i < NTHREADS; i++) {
        qemu_thread_create(&th[i], "vcpu", vcpu_thread, GINT_TO_POINTER(i),
                           QEMU_THREAD_JOINABLE);
    }
    for (int i = 0; i < NTHREADS; i++) {
        qemu_thread_join(&th[i]);
    }
    /* every formed trace is live or was invalidated; no double heads */
    g_assert_cmpint(qatomic_read(&hybrid_stats.formed), ==,
                    hybrid_table_size() +
                    qatomic_read(&hybrid_stats.invalidated));
    g_assert_cmpint(hybrid_table_size(), >=, NTHREADS * 8);
    (void)shared;
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    hybrid_table_init(&(HybridTraceOps){ 0 });
    g_test_add_func("/hybrid/record/loop-trace", test_loop_trace);
    g_test_add_func("/hybrid/record/trace-exit-head", test_trace_exit_head);
    g_test_add_func("/hybrid/record/max-tbs-and-trace-head",
                    test_max_tbs_and_trace_head);
    g_test_add_func("/hybrid/record/aborts-and-blacklist",
                    test_aborts_and_blacklist);
    g_test_add_func("/hybrid/record/mode-change", test_mode_change_ends_trace);
    g_test_add_func("/hybrid/record/invalidation", test_invalidation);
    g_test_add_func("/hybrid/record/trace-life", test_trace_life);
    g_test_add_func("/hybrid/record/shared-pc", test_shared_pc);
    g_test_add_func("/hybrid/record/flush", test_flush);
    g_test_add_func("/hybrid/record/user-entries", test_user_entries);
    g_test_add_func("/hybrid/record/heat", test_heat);
    g_test_add_func("/hybrid/record/dropped-job", test_dropped_job);
    g_test_add_func("/hybrid/record/region", test_region);
    g_test_add_func("/hybrid/record/region-from-linked",
                    test_region_from_linked);
    g_test_add_func("/hybrid/record/pcrel-keys", test_pcrel_keys);
    g_test_add_func("/hybrid/record/concurrent-vcpus", test_concurrent_vcpus);
    return g_test_run();
}
