/*
 * hw-glue: entering compiled traces from their head TB's own code.
 *
 * A compiled trace is reachable two ways. The execution loop finds it by
 * its head TB (hybrid_tb_exec) and calls it; that works at once, but
 * only while jumps into the head are left unchained. So, once installed,
 * the head TB's entry is redirected to the trace through the tcg-host
 * contract: the first bytes of its host code become a branch to an entry
 * thunk (env from AREG0 into the C ABI, call the trace, jump where it
 * says: the next TB, or TCG's epilogue). Every way into the TB then enters
 * the trace: cpu_tb_exec, chained goto_tb, goto_ptr; the head is chained
 * like any TB.
 *
 * Patching and restoring rewrite a TB's first instructions (a raw site),
 * so they run in an exclusive section (async_safe_run_on_cpu): no vCPU
 * executes TB code meanwhile. Requests are batched, one safe work item
 * for all that are pending.
 *
 * Lock rule: entry.lock guards the request lists and every trace's
 * @patched flag and HybridEntry. It is taken after hybrid_table's lock
 * (retirement calls hybrid_entry_retired() under it), never before.
 *
 * Thunks are written through a writable mapping and run from a separate
 * executable one (W^X), whatever split-wx says for TCG's own buffer.
 *
 * Lifetimes: a request holds a reference to its trace. The thunk is freed
 * with the trace, after an RCU grace period, so a vCPU that took the
 * branch just before a restore finishes in valid code (the trace's entry
 * check sends it back to TCG). A tb_flush discards all TB code: patched
 * sites are then forgotten, never restored into reused memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/main-loop.h"
#include "hw/core/cpu.h"
#include "exec/translation-block.h"
#include "tcg/tcg.h"
#include "tcg-host/tcg-host.h"
#include "hybrid-glue.h"
#include "accel/hybrid/trace.h"
#include "accel/hybrid/hybrid.h"
#include "trace/trace-hybrid.h"

/*
 * A thunk's code is written through @rw and run at @rx: two mappings of
 * the same memory, never one that is both writable and executable
 * (W^X, as TCG's split-wx code buffer; the RX one near TCG's code, for
 * near branches).
 */
typedef struct ThunkSlot {
    void *rx;
    void *rw;
} ThunkSlot;

typedef struct HybridEntry {
    TcgHostPatchSave save;
    TranslationBlock *tb;   /* the head TB whose entry is patched */
    ThunkSlot thunk;
} HybridEntry;

/* Thunk memory: fixed slots in chunks mapped near TCG's code. */
#define THUNK_SLOT  QEMU_ALIGN_UP(TCG_HOST_ENTRY_THUNK_MAX, 64)
#define THUNK_CHUNK (256 * 1024)

static struct {
    QemuMutex lock;
    GPtrArray *patch;       /* HybridTrace to patch, referenced */
    GPtrArray *restore;     /* HybridTrace to restore, referenced */
    GPtrArray *patched;     /* HybridTrace whose site is patched (no ref:
                               a patched trace is retired, hence restored
                               or flushed, before it can be freed) */
    bool work_queued;
    /* TCG's tb_ret_addr, found as tcg-host expects; NULL: do not patch */
    const void *epilogue;
    GArray *free_slots;     /* ThunkSlot */
    ThunkSlot chunk;        /* the chunk being carved, both views */
    size_t chunk_used;
} entry;

/* A new chunk: a memfd mapped read-execute near TCG's code, and writable. */
static bool thunk_chunk_new(void)
{
    /* ask for a place right after the code buffer: near branches */
    uint8_t *hint = (uint8_t *)tcg_ctx->code_gen_buffer +
                    tcg_ctx->code_gen_buffer_size;
    int fd = memfd_create("hybrid-thunks", MFD_CLOEXEC);
    void *rx, *rw;

    if (fd < 0 || ftruncate(fd, THUNK_CHUNK)) {
        goto fail;
    }
    rx = mmap(hint, THUNK_CHUNK, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (rx == MAP_FAILED) {
        goto fail;
    }
    rw = mmap(NULL, THUNK_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (rw == MAP_FAILED) {
        munmap(rx, THUNK_CHUNK);
        goto fail;
    }
    close(fd);
    entry.chunk = (ThunkSlot) { rx, rw };   /* chunks are never unmapped */
    entry.chunk_used = 0;
    return true;

fail:
    if (fd >= 0) {
        close(fd);
    }
    return false;
}

static bool thunk_alloc(ThunkSlot *slot)
{
    if (entry.free_slots->len) {
        *slot = g_array_index(entry.free_slots, ThunkSlot,
                              entry.free_slots->len - 1);
        g_array_set_size(entry.free_slots, entry.free_slots->len - 1);
        return true;
    }
    if ((!entry.chunk.rx || entry.chunk_used + THUNK_SLOT > THUNK_CHUNK) &&
        !thunk_chunk_new()) {
        return false;
    }
    slot->rx = (uint8_t *)entry.chunk.rx + entry.chunk_used;
    slot->rw = (uint8_t *)entry.chunk.rw + entry.chunk_used;
    entry.chunk_used += THUNK_SLOT;
    return true;
}

static void thunk_free_locked(const ThunkSlot *slot)
{
    g_array_append_val(entry.free_slots, *slot);
}

void hybrid_entry_free(void *e)
{
    HybridEntry *he = e;

    qemu_mutex_lock(&entry.lock);
    thunk_free_locked(&he->thunk);
    qemu_mutex_unlock(&entry.lock);
    g_free(he);
}

/* Can @tb's first bytes be replaced? */
static bool site_ok(const TranslationBlock *tb)
{
    size_t need = tcg_host_info.patch_site_size;

    if (tb_cflags(tb) & CF_INVALID || tb->tc.size < need ||
        ((uintptr_t)tb->tc.ptr & (tcg_host_info.patch_site_align - 1))) {
        return false;
    }
    /* a goto_tb displacement there would be rewritten by chaining */
    for (int i = 0; i < 2; i++) {
        if (tb->jmp_insn_offset[i] != TB_JMP_OFFSET_INVALID &&
            tb->jmp_insn_offset[i] < need) {
            return false;
        }
    }
    return true;
}

static void patch_one(HybridTrace *t)
{
    TranslationBlock *tb = (TranslationBlock *)t->head_tb;
    HybridTraceCodeFn fn = qatomic_read(&t->fn);
    HybridEntry *he;
    size_t n;

    if (qatomic_read(&t->state) != HYBRID_TRACE_INSTALLED ||
        !qatomic_read(&t->valid) || t->patched || !fn || !entry.epilogue) {
        return;
    }
    if (!site_ok(tb)) {
        qatomic_inc(&hybrid_stats.entry_unpatchable);
        return;
    }
    he = g_new0(HybridEntry, 1);
    he->tb = tb;
    if (!thunk_alloc(&he->thunk)) {
        g_free(he);
        qatomic_inc(&hybrid_stats.entry_unpatchable);
        return;
    }
    n = tcg_host_emit_entry_thunk(he->thunk.rx, he->thunk.rw, fn);
    tcg_host_flush_icache(he->thunk.rx, n);
    if (!tcg_host_patch_jump((void *)tb->tc.ptr,
                             tcg_splitwx_to_rw(tb->tc.ptr), he->thunk.rx,
                             &he->save)) {
        thunk_free_locked(&he->thunk);
        g_free(he);
        qatomic_inc(&hybrid_stats.entry_unpatchable);
        return;
    }
    t->entry = he;
    qatomic_set(&t->patched, 1);
    g_ptr_array_add(entry.patched, t);
    qatomic_inc(&hybrid_stats.entry_patched);
    trace_hybrid_head_patched(t->id, tb);
}

static void restore_one(HybridTrace *t)
{
    HybridEntry *he = t->entry;

    if (!t->patched) {
        return;     /* a flush came first: the site is gone */
    }
    tcg_host_patch_restore((void *)he->tb->tc.ptr,
                           tcg_splitwx_to_rw(he->tb->tc.ptr), &he->save);
    qatomic_set(&t->patched, 0);
    g_ptr_array_remove_fast(entry.patched, t);
    qatomic_inc(&hybrid_stats.entry_restored);
    trace_hybrid_head_restored(t->id, he->tb);
}

/* Exclusive: no vCPU is executing TB code. */
static void entry_work(CPUState *cpu, run_on_cpu_data data)
{
    g_autoptr(GPtrArray) done = g_ptr_array_new();

    qemu_mutex_lock(&entry.lock);
    entry.work_queued = false;
    /* restores first: a trace both installed and retired is not patched */
    for (guint i = 0; i < entry.restore->len; i++) {
        restore_one(g_ptr_array_index(entry.restore, i));
        g_ptr_array_add(done, g_ptr_array_index(entry.restore, i));
    }
    for (guint i = 0; i < entry.patch->len; i++) {
        patch_one(g_ptr_array_index(entry.patch, i));
        g_ptr_array_add(done, g_ptr_array_index(entry.patch, i));
    }
    g_ptr_array_set_size(entry.restore, 0);
    g_ptr_array_set_size(entry.patch, 0);
    qemu_mutex_unlock(&entry.lock);
    for (guint i = 0; i < done->len; i++) {
        hybrid_trace_unref(g_ptr_array_index(done, i));
    }
}

static void request_locked(GPtrArray *list, HybridTrace *t)
{
    hybrid_trace_ref(t);
    g_ptr_array_add(list, t);
    if (!entry.work_queued && first_cpu) {
        entry.work_queued = true;
        async_safe_run_on_cpu(first_cpu, entry_work, RUN_ON_CPU_NULL);
    }
}

/* @t was just installed (any thread): patch its head when safe. */
void hybrid_entry_installed(HybridTrace *t)
{
    if (!entry.epilogue) {
        return;
    }
    qemu_mutex_lock(&entry.lock);
    request_locked(entry.patch, t);
    qemu_mutex_unlock(&entry.lock);
}

/*
 * @t left the table (under its lock; valid already 0): restore its head
 * if patched. A patch request still pending sees valid == 0 and does
 * nothing; one running now holds entry.lock, so @patched is final here.
 */
void hybrid_entry_retired(HybridTrace *t)
{
    qemu_mutex_lock(&entry.lock);
    if (t->patched) {
        request_locked(entry.restore, t);
    }
    qemu_mutex_unlock(&entry.lock);
}

/* tb_flush (exclusive): every TB's code is gone, patched sites with it. */
void hybrid_entry_flush(void)
{
    qemu_mutex_lock(&entry.lock);
    for (guint i = 0; i < entry.patched->len; i++) {
        HybridTrace *t = g_ptr_array_index(entry.patched, i);

        qatomic_set(&t->patched, 0);
    }
    g_ptr_array_set_size(entry.patched, 0);
    qemu_mutex_unlock(&entry.lock);
}

void hybrid_entry_init(void)
{
    qemu_mutex_init(&entry.lock);
    entry.patch = g_ptr_array_new();
    entry.restore = g_ptr_array_new();
    entry.patched = g_ptr_array_new();
    entry.free_slots = g_array_new(false, false, sizeof(ThunkSlot));
    entry.epilogue = tcg_host_tb_ret_addr(tcg_code_gen_epilogue);
}
