/*
 * hybrid: the trace table shared by all vCPUs (see trace.h).
 *
 *   by_head    head key -> trace          (is this TB a trace head?)
 *   by_member  TB identity -> GSList of traces containing it
 *              (invalidation of any member drops the trace at once)
 *   by_pc      guest pc of a member TB -> GSList of traces (sampling)
 *   by_id      trace id -> trace
 *   installed  head TB -> installed trace: a QHT, so that vCPUs look it up
 *              without the lock (RCU); written under the lock
 *   live       every live trace, for the monitor
 *   recent     the last few invalidated traces, for the monitor
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bitops.h"
#include "qemu/xxhash.h"
#include "qemu/qht.h"
#include "hybrid.h"
#include "trace.h"
#include "hybrid-aborts.h"
#include "trace/trace-hybrid.h"

#define HYBRID_RECENT_INVALIDATED 16

const char *const hybrid_trace_state_name[HYBRID_TRACE__MAX] = {
    [HYBRID_TRACE_RECORDED] = "recorded",
    [HYBRID_TRACE_QUEUED] = "queued",
    [HYBRID_TRACE_COMPILING] = "compiling",
    [HYBRID_TRACE_INSTALLED] = "installed",
    [HYBRID_TRACE_INVALIDATED] = "invalidated",
    [HYBRID_TRACE_FAILED] = "failed",
};

const char *const hybrid_trace_end_name[HYBRID_END__MAX] = {
    [HYBRID_END_LOOP] = "loop",
    [HYBRID_END_TRACE_HEAD] = "trace-head",
    [HYBRID_END_MAX_TBS] = "max-tbs",
    [HYBRID_END_MODE] = "mode-change",
};

static struct {
    QemuMutex lock;
    GHashTable *by_head;    /* HybridTBDesc * (of tbs[0]) -> HybridTrace */
    GHashTable *by_member;  /* const void *tb -> GSList of HybridTrace */
    GHashTable *by_pc;      /* uint64_t *pc (owned copy) -> GSList */
    GHashTable *by_id;      /* uint64_t *id -> HybridTrace */
    struct qht installed;   /* HybridTrace, keyed by head_tb */
    GPtrArray *live;        /* HybridTrace, owned */
    GQueue recent;          /* invalidated HybridTrace, owned, newest first */
    uint64_t next_id;
} table;

static guint key_hash(gconstpointer p)
{
    const HybridTBDesc *d = p;

    return qemu_xxhash6(d->pcrel ? 0 : d->pc, d->phys0, d->flags,
                        d->cflags ^ d->cs_base);
}

bool hybrid_tb_same_key(const HybridTBDesc *a, const HybridTBDesc *b)
{
    return (a->pcrel ? b->pcrel : !b->pcrel && a->pc == b->pc) &&
           a->phys0 == b->phys0 && a->phys1 == b->phys1 &&
           a->cs_base == b->cs_base && a->flags == b->flags &&
           a->cflags == b->cflags;
}

bool hybrid_tb_next_is(const HybridTraceTB *tb, const HybridTBDesc *k)
{
    return tb->next_phys == k->phys0 && (k->pcrel || tb->next_pc == k->pc);
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return hybrid_tb_same_key(a, b);
}

static HybridTraceOps ops;
unsigned hybrid_installed_count;

/* The moves of a trace's life (trace.h), by state: the states it may take */
static const unsigned trace_moves[HYBRID_TRACE__MAX] = {
    [HYBRID_TRACE_RECORDED] = BIT(HYBRID_TRACE_QUEUED) |
                              BIT(HYBRID_TRACE_INVALIDATED),
    [HYBRID_TRACE_QUEUED] = BIT(HYBRID_TRACE_COMPILING) |
                            BIT(HYBRID_TRACE_RECORDED) |
                            BIT(HYBRID_TRACE_FAILED) |
                            BIT(HYBRID_TRACE_INVALIDATED),
    [HYBRID_TRACE_COMPILING] = BIT(HYBRID_TRACE_INSTALLED) |
                               BIT(HYBRID_TRACE_RECORDED) |
                               BIT(HYBRID_TRACE_FAILED) |
                               BIT(HYBRID_TRACE_INVALIDATED),
    [HYBRID_TRACE_INSTALLED] = BIT(HYBRID_TRACE_INVALIDATED),
    [HYBRID_TRACE_FAILED] = BIT(HYBRID_TRACE_INVALIDATED),
    [HYBRID_TRACE_INVALIDATED] = 0,
};

bool hybrid_trace_may_move(HybridTraceState from, HybridTraceState to)
{
    return from < HYBRID_TRACE__MAX && to < HYBRID_TRACE__MAX &&
           (trace_moves[from] & BIT(to));
}

/* The one writer of a live trace's state (table lock). */
static bool move_locked(HybridTrace *t, HybridTraceState to)
{
    if (!hybrid_trace_may_move(t->state, to)) {
        return false;
    }
    qatomic_set(&t->state, to);
    return true;
}

static bool installed_cmp(const void *obj, const void *userp)
{
    return ((const HybridTrace *)obj)->head_tb == userp;
}

static uint32_t head_hash(const void *head_tb)
{
    return qemu_xxhash2((uintptr_t)head_tb);
}

void hybrid_table_init(const HybridTraceOps *o)
{
    ops = *o;
    qemu_mutex_init(&table.lock);
    table.by_head = g_hash_table_new(key_hash, key_equal);
    table.by_member = g_hash_table_new(g_direct_hash, g_direct_equal);
    table.by_pc = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                        NULL);
    table.by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    qht_init(&table.installed, installed_cmp, 256, QHT_MODE_AUTO_RESIZE);
    table.live = g_ptr_array_new();
    g_queue_init(&table.recent);
    table.next_id = 1;
}

HybridTrace *hybrid_trace_new(const HybridTraceTB *tbs, unsigned ntbs,
                              const void *head_tb, HybridTraceEnd end,
                              uint64_t hotness)
{
    HybridTrace *t = g_new0(HybridTrace, 1);
    g_autoptr(GHashTable) pfn = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autofree int64_t *pn = g_new(int64_t, 2 * ntbs);
    unsigned n = 0;

    t->head_tb = head_tb;
    t->user = tbs[0].key.user;
    t->ntbs = ntbs;
    t->tbs = g_memdup2(tbs, sizeof(*tbs) * ntbs);
    t->exits = g_new0(uint64_t, ntbs);
    t->links = g_new0(HybridExitSlot, HYBRID_SLOTS_PER_TB * ntbs);
    t->edge_cache = g_new0(HybridEdgeCache, ntbs);
    t->end = end;
    t->hotness = hotness;
    t->state = HYBRID_TRACE_RECORDED;
    t->refs = 1;            /* the table's */
    t->valid = 1;
    /* count distinct guest physical pages (4 KiB frames) */
    for (unsigned i = 0; i < ntbs; i++) {
        t->insns += tbs[i].key.insns;
        pn[n] = tbs[i].key.phys0 >> 12;
        g_hash_table_add(pfn, &pn[n++]);
        if (tbs[i].key.phys1 >= 0) {
            pn[n] = tbs[i].key.phys1 >> 12;
            g_hash_table_add(pfn, &pn[n++]);
        }
    }
    t->pages = g_hash_table_size(pfn);
    t->paths = 1;
    t->path_tbs = ntbs;
    /* a recorded path: each TB goes on to the next; a loop's last to the head */
    for (unsigned i = 0; i < ntbs; i++) {
        t->tbs[i].nsucc = i + 1 < ntbs || end == HYBRID_END_LOOP;
        t->tbs[i].succ[0] = i + 1 < ntbs ? i + 1 : 0;
        t->tbs[i].succ[1] = 0;
    }
    return t;
}

void hybrid_trace_free(HybridTrace *t)
{
    if (t) {
        hybrid_trace_unref(t->replaces);
        if (t->code && ops.code_free) {
            ops.code_free(t->code);
        }
        if (t->entry && ops.entry_free) {
            ops.entry_free(t->entry);
        }
        g_free(t->tbs);
        g_free(t->exits);
        g_free(t->links);
        g_free(t->edge_cache);
        g_free(t);
    }
}

/*
 * user_entries_gone: entries into user traces the table no longer shows.
 * A trace's entries move there when it leaves the recent list (so the
 * total never drops while it waits for its last reference and its grace
 * period), and what vCPUs still added meanwhile when it is freed.
 */
static void count_gone(HybridTrace *t)
{
    uint64_t n = qatomic_read(&t->entries);

    if (t->user) {
        qatomic_add(&hybrid_stats.user_entries_gone, n - t->entries_counted);
    }
    t->entries_counted = n;
}

static void trace_free_rcu(HybridTrace *t)
{
    count_gone(t);  /* no vCPU is in its code any more: the count is final */
    trace_hybrid_trace_freed(t->id, t->code_size);
    hybrid_trace_free(t);
}

void hybrid_trace_ref(HybridTrace *t)
{
    qatomic_inc(&t->refs);
}

void hybrid_trace_unref(HybridTrace *t)
{
    if (t && qatomic_fetch_dec(&t->refs) == 1) {
        g_assert(qatomic_read(&t->state) == HYBRID_TRACE_INVALIDATED);
        call_rcu(t, trace_free_rcu, rcu);
    }
}

/*
 * @map: key -> GSList of traces. A list that changes is stolen from the
 * map and put back with the key already stored: g_hash_table_insert() of
 * a key that is there frees the key passed in (by_pc owns its keys), and
 * that would be the stored one.
 */
static void multimap_add(GHashTable *map, gpointer key, HybridTrace *t)
{
    gpointer stored;
    GSList *l;

    if (g_hash_table_steal_extended(map, key, &stored, (gpointer *)&l)) {
        if (!g_slist_find(l, t)) {
            l = g_slist_prepend(l, t);
        }
        g_hash_table_insert(map, stored, l);
        return;
    }
    if (map == table.by_pc) {
        key = g_memdup2(key, sizeof(uint64_t));    /* by_pc owns its keys */
    }
    g_hash_table_insert(map, key, g_slist_prepend(NULL, t));
}

static void multimap_del(GHashTable *map, gconstpointer key, HybridTrace *t)
{
    gpointer stored;
    GSList *l;

    if (!g_hash_table_steal_extended(map, key, &stored, (gpointer *)&l)) {
        return;
    }
    l = g_slist_remove(l, t);
    if (l) {
        g_hash_table_insert(map, stored, l);
    } else if (map == table.by_pc) {
        g_free(stored);     /* stolen: the map's key_destroy did not run */
    }
}

static void remove_locked(HybridTrace *t)
{
    /* (a pending region has no head of its own: that one is another's) */
    if (g_hash_table_lookup(table.by_head, &t->tbs[0].key) == t) {
        g_hash_table_remove(table.by_head, &t->tbs[0].key);
    }
    if (t->replaces && t->replaces->replaced_by == t) {
        qatomic_set(&t->replaces->replaced_by, NULL);
    }
    multimap_del(table.by_member, t->head_tb, t);
    for (unsigned i = 0; i < t->ntbs; i++) {
        multimap_del(table.by_member, t->tbs[i].key.tb, t);
        multimap_del(table.by_pc, &t->tbs[i].key.pc, t);
    }
    g_ptr_array_remove_fast(table.live, t);
    g_hash_table_remove(table.by_id, &t->id);
    if (t->state == HYBRID_TRACE_INSTALLED) {
        qht_remove(&table.installed, t, head_hash(t->head_tb));
        qatomic_dec(&hybrid_installed_count);
    }
}

uint64_t hybrid_table_head_id(const HybridTBDesc *d)
{
    HybridTrace *t;
    uint64_t id;

    qemu_mutex_lock(&table.lock);
    t = g_hash_table_lookup(table.by_head, d);
    id = t ? t->id : 0;
    qemu_mutex_unlock(&table.lock);
    return id;
}

bool hybrid_table_has_head(const HybridTBDesc *d)
{
    return hybrid_table_head_id(d) != 0;    /* ids start at 1 */
}

HybridTrace *hybrid_table_claim(uint64_t id)
{
    HybridTrace *t;

    qemu_mutex_lock(&table.lock);
    t = g_hash_table_lookup(table.by_id, &id);
    if (t && move_locked(t, HYBRID_TRACE_QUEUED)) {
        hybrid_trace_ref(t);
    } else {
        t = NULL;
    }
    qemu_mutex_unlock(&table.lock);
    return t;
}

/* A new live trace, found by its members, pcs and id. */
static void add_locked(HybridTrace *t)
{
    t->id = table.next_id++;
    multimap_add(table.by_member, (gpointer)t->head_tb, t);
    for (unsigned i = 0; i < t->ntbs; i++) {
        multimap_add(table.by_member, (gpointer)t->tbs[i].key.tb, t);
        multimap_add(table.by_pc, &t->tbs[i].key.pc, t);
    }
    g_ptr_array_add(table.live, t);
    g_hash_table_insert(table.by_id, &t->id, t);
}

int hybrid_table_insert(HybridTrace *t, bool (*tb_valid)(const void *tb))
{
    int why = -1;

    qemu_mutex_lock(&table.lock);
    if (g_hash_table_contains(table.by_head, &t->tbs[0].key)) {
        why = HYBRID_ABORT_DUPLICATE;
        goto out;
    }
    /*
     * Invalidation marks a TB invalid before its hook takes this lock: a
     * member invalidated before now is seen here, one invalidated later
     * finds the trace in by_member.
     */
    if (!tb_valid(t->head_tb)) {
        why = HYBRID_ABORT_INVALIDATED;
        goto out;
    }
    for (unsigned i = 0; i < t->ntbs; i++) {
        if (!tb_valid(t->tbs[i].key.tb)) {
            why = HYBRID_ABORT_INVALIDATED;
            goto out;
        }
    }
    g_hash_table_insert(table.by_head, &t->tbs[0].key, t);
    add_locked(t);
out:
    qemu_mutex_unlock(&table.lock);
    return why;
}

/* hybrid_table_merge(), for live trace @t (or NULL), under the lock */
static uint64_t merge_locked(HybridTrace *t, unsigned from_tb,
                             const HybridTraceTB *side, unsigned nside,
                             unsigned max_tbs,
                             bool (*tb_valid)(const void *tb))
{
    g_autofree HybridTraceTB *tbs = NULL;
    HybridTrace *r;
    unsigned n, rejoin = 0;

    if (!t || t->state != HYBRID_TRACE_INSTALLED || t->replaced_by ||
        from_tb >= t->ntbs || t->tbs[from_tb].nsucc >= 2 || !nside ||
        !hybrid_tb_next_is(&side[nside - 1], &t->tbs[0].key)) {
        return 0;
    }
    /* the side path, up to the first TB the trace has too */
    tbs = g_new(HybridTraceTB, t->ntbs + nside);
    memcpy(tbs, t->tbs, sizeof(*tbs) * t->ntbs);
    n = t->ntbs;
    for (unsigned k = 0; k < nside && !rejoin; k++) {
        for (unsigned j = 0; j < t->ntbs; j++) {
            if (hybrid_tb_same_key(&side[k].key, &t->tbs[j].key)) {
                rejoin = j + 1;
                break;
            }
        }
        if (!rejoin) {
            if (!tb_valid(side[k].key.tb)) {
                return 0;
            }
            tbs[n++] = side[k];
        }
    }
    if (n == t->ntbs || n > max_tbs) {
        return 0;
    }
    r = hybrid_trace_new(tbs, n, t->head_tb, t->end, t->hotness);
    for (unsigned i = 0; i < t->ntbs; i++) {
        r->tbs[i].nsucc = t->tbs[i].nsucc;
        memcpy(r->tbs[i].succ, t->tbs[i].succ, sizeof(r->tbs[i].succ));
    }
    r->tbs[from_tb].succ[r->tbs[from_tb].nsucc++] = t->ntbs;
    for (unsigned i = t->ntbs; i < n; i++) {
        r->tbs[i].nsucc = 1;
        r->tbs[i].succ[0] = i + 1 < n ? i + 1 : rejoin ? rejoin - 1 : 0;
    }
    r->paths = t->paths + 1;
    r->path_tbs = t->path_tbs;
    r->replaces = t;
    hybrid_trace_ref(t);
    qatomic_set(&t->replaced_by, r);
    add_locked(r);
    return r->id;
}

uint64_t hybrid_table_merge(uint64_t from_id, unsigned from_tb,
                            const HybridTraceTB *side, unsigned nside,
                            unsigned max_tbs,
                            bool (*tb_valid)(const void *tb))
{
    uint64_t id;

    qemu_mutex_lock(&table.lock);
    id = merge_locked(g_hash_table_lookup(table.by_id, &from_id), from_tb,
                      side, nside, max_tbs, tb_valid);
    qemu_mutex_unlock(&table.lock);
    return id;
}

/*
 * Undo the links into and out of @t: code of other traces stops calling
 * it (a call already made finds @valid 0 and returns), and @t's slots
 * leave their targets' lists before @t is freed.
 */
static void unlink_locked(HybridTrace *t)
{
    for (GSList *l = t->incoming; l; l = l->next) {
        HybridExitSlot *slot = l->data;

        qatomic_set(&slot->fn, NULL);
        slot->target = NULL;
    }
    g_slist_free(t->incoming);
    t->incoming = NULL;
    for (unsigned i = 0; i < HYBRID_SLOTS_PER_TB * t->ntbs; i++) {
        HybridExitSlot *slot = &t->links[i];

        if (slot->target) {
            slot->target->incoming = g_slist_remove(slot->target->incoming,
                                                    slot);
            qatomic_set(&slot->fn, NULL);
            slot->target = NULL;
        }
    }
}

void hybrid_table_link(HybridTrace *from, HybridExitSlot *slot,
                       HybridTrace *t, uint64_t pc)
{
    hybrid_table_link_ptr(from, slot, t, pc, 0, 0, 0);
}

void hybrid_table_link_ptr(HybridTrace *from, HybridExitSlot *slot,
                           HybridTrace *t, uint64_t pc, uint32_t flags,
                           int32_t tlb_ofs, uint64_t addend)
{
    /*
     * A slot's key is set once: code that read @fn and then the key of
     * a later link must not see another target's key (see
     * HybridExitSlot); a slot unlinked from a trace that was retired
     * links again only to a trace for the same key. (Read under the
     * lock: another vCPU may set the key meanwhile.)
     */
    bool fresh;

    qemu_mutex_lock(&table.lock);
    fresh = !slot->pc && !slot->flags && !slot->tlb_ofs && !slot->addend;
    if (qatomic_read(&from->state) == HYBRID_TRACE_INSTALLED &&
        qatomic_read(&t->state) == HYBRID_TRACE_INSTALLED &&
        !slot->target &&
        (fresh || (slot->pc == pc && slot->flags == flags &&
                   slot->tlb_ofs == tlb_ofs && slot->addend == addend))) {
        slot->pc = pc;
        slot->flags = flags;
        slot->tlb_ofs = tlb_ofs;
        slot->addend = addend;
        slot->target = t;
        t->incoming = g_slist_prepend(t->incoming, slot);
        /* the pc before the function: code reads fn, then pc */
        qatomic_store_release(&slot->fn, t->fn);
        qatomic_inc(&hybrid_stats.linked);
        if (slot->tlb_ofs) {
            qatomic_inc(&hybrid_stats.linked_indirect);
        }
    }
    qemu_mutex_unlock(&table.lock);
}

/* After remove_locked(): code still running stops at its next edge. */
static void retire_locked(HybridTrace *t)
{
    unlink_locked(t);
    qatomic_set(&t->valid, 0);
    move_locked(t, HYBRID_TRACE_INVALIDATED);
    qatomic_inc(&hybrid_stats.invalidated);
    trace_hybrid_trace_invalidated(t->id, qatomic_read(&t->entries));
    if (ops.retired) {
        ops.retired(t);
    }
    g_queue_push_head(&table.recent, t);
    while (g_queue_get_length(&table.recent) > HYBRID_RECENT_INVALIDATED) {
        HybridTrace *old = g_queue_pop_tail(&table.recent);

        count_gone(old);
        hybrid_trace_unref(old);
    }
}

uint64_t hybrid_table_merge_trace(uint64_t from_id, unsigned from_tb,
                                  const HybridTrace *u, unsigned max_tbs,
                                  bool (*tb_valid)(const void *tb))
{
    HybridTrace *t;
    unsigned n;
    uint64_t id = 0;

    /* @u's path is immutable; its members are checked under the lock */
    qemu_mutex_lock(&table.lock);
    t = g_hash_table_lookup(table.by_id, &from_id);
    n = t && t != u ? hybrid_trace_path_to(u, &t->tbs[0].key) : 0;
    if (n) {
        id = merge_locked(t, from_tb, u->tbs, n, max_tbs, tb_valid);
    }
    qemu_mutex_unlock(&table.lock);
    return id;
}

unsigned hybrid_trace_path_to(const HybridTrace *u, const HybridTBDesc *key)
{
    for (unsigned k = 0; k < u->path_tbs; k++) {
        if (hybrid_tb_next_is(&u->tbs[k], key)) {
            return k + 1;
        }
    }
    return 0;
}

void hybrid_table_tb_invalidated(const void *tb)
{
    GSList *list;

    qemu_mutex_lock(&table.lock);
    /* take the whole list at once: each of its traces is dropped once */
    list = g_hash_table_lookup(table.by_member, tb);
    if (list) {
        g_hash_table_steal(table.by_member, tb);
        for (GSList *l = list; l; l = l->next) {
            HybridTrace *t = l->data;

            if (t->state != HYBRID_TRACE_INVALIDATED) {
                remove_locked(t);
                retire_locked(t);
            }
        }
        g_slist_free(list);
    }
    qemu_mutex_unlock(&table.lock);
}

void hybrid_table_flush(void)
{
    qemu_mutex_lock(&table.lock);
    while (table.live->len) {
        HybridTrace *t = g_ptr_array_index(table.live, 0);

        remove_locked(t);
        retire_locked(t);
    }
    /* TB identities die with the code cache: keep no stale pointer */
    for (GList *l = table.recent.head; l; l = l->next) {
        HybridTrace *t = l->data;

        t->head_tb = NULL;
        for (unsigned i = 0; i < t->ntbs; i++) {
            t->tbs[i].key.tb = NULL;
        }
    }
    qemu_mutex_unlock(&table.lock);
}

void hybrid_table_sample(uint64_t pc, bool user)
{
    qemu_mutex_lock(&table.lock);
    for (GSList *l = g_hash_table_lookup(table.by_pc, &pc); l; l = l->next) {
        HybridTrace *t = l->data;

        if (t->user == user) {
            qatomic_inc(&t->samples);
        }
    }
    qemu_mutex_unlock(&table.lock);
}

static gint hotter_first(gconstpointer a, gconstpointer b)
{
    const HybridTrace *x = *(HybridTrace *const *)a;
    const HybridTrace *y = *(HybridTrace *const *)b;
    uint64_t ex = qatomic_read(&x->entries), ey = qatomic_read(&y->entries);

    if (ex != ey) {
        return ex > ey ? -1 : 1;
    }
    ex = qatomic_read(&x->samples);
    ey = qatomic_read(&y->samples);
    if (ex != ey) {
        return ex > ey ? -1 : 1;
    }
    return x->id < y->id ? -1 : x->id > y->id;
}

uint64_t hybrid_table_user_entries(void)
{
    uint64_t n = qatomic_read(&hybrid_stats.user_entries_gone);

    qemu_mutex_lock(&table.lock);
    for (unsigned i = 0; i < table.live->len; i++) {
        const HybridTrace *t = g_ptr_array_index(table.live, i);

        n += t->user ? qatomic_read(&t->entries) : 0;
    }
    for (GList *l = table.recent.head; l; l = l->next) {
        const HybridTrace *t = l->data;

        n += t->user ? qatomic_read(&t->entries) : 0;
    }
    qemu_mutex_unlock(&table.lock);
    return n;
}

void hybrid_table_foreach_hottest(unsigned max,
                                  void (*fn)(const HybridTrace *t, void *opaque),
                                  void *opaque)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new();

    qemu_mutex_lock(&table.lock);
    for (unsigned i = 0; i < table.live->len; i++) {
        g_ptr_array_add(all, g_ptr_array_index(table.live, i));
    }
    g_ptr_array_sort(all, hotter_first);
    for (GList *l = table.recent.head; l; l = l->next) {
        g_ptr_array_add(all, l->data);
    }
    for (unsigned i = 0; i < all->len && i < max; i++) {
        fn(g_ptr_array_index(all, i), opaque);
    }
    qemu_mutex_unlock(&table.lock);
}

unsigned hybrid_table_size(void)
{
    unsigned n;

    qemu_mutex_lock(&table.lock);
    n = table.live->len;
    qemu_mutex_unlock(&table.lock);
    return n;
}

unsigned hybrid_drop_epoch;

void hybrid_table_drop(HybridTrace *t)
{
    qemu_mutex_lock(&table.lock);
    if (t->state == HYBRID_TRACE_QUEUED || t->state == HYBRID_TRACE_COMPILING) {
        /* like aborted recordings: after `blacklist` drops, for good */
        bool again = !t->replaces && ++t->drops < hybrid_params.blacklist;

        move_locked(t, again ? HYBRID_TRACE_RECORDED : HYBRID_TRACE_FAILED);
        qatomic_inc(&hybrid_drop_epoch);
    }
    qemu_mutex_unlock(&table.lock);
}

unsigned hybrid_table_dropped(uint64_t id)
{
    HybridTrace *t;
    unsigned n = 0;

    qemu_mutex_lock(&table.lock);
    t = g_hash_table_lookup(table.by_id, &id);
    if (t && t->state == HYBRID_TRACE_RECORDED) {
        n = t->drops;
    }
    qemu_mutex_unlock(&table.lock);
    return n;
}

bool hybrid_table_set_state(HybridTrace *t, HybridTraceState state)
{
    bool moved = false;

    qemu_mutex_lock(&table.lock);
    if (state == HYBRID_TRACE_QUEUED || state == HYBRID_TRACE_COMPILING ||
        state == HYBRID_TRACE_FAILED) {
        moved = move_locked(t, state);
    }
    qemu_mutex_unlock(&table.lock);
    return moved;
}

bool hybrid_table_install(HybridTrace *t, void *code, HybridTraceCodeFn fn,
                          uint64_t code_size, uint64_t compile_ns)
{
    bool ok;

    qemu_mutex_lock(&table.lock);
    t->compile_ns = compile_ns;
    ok = code && hybrid_trace_may_move(t->state, HYBRID_TRACE_INSTALLED);
    if (ok && t->replaces) {
        /*
         * A region takes its trace's place. That trace is live: they share
         * its member TBs, so an invalidation would have dropped both.
         */
        HybridTrace *old = t->replaces;

        if (old->state != HYBRID_TRACE_INVALIDATED) {
            remove_locked(old);
            retire_locked(old);
        }
        t->replaces = NULL;
        hybrid_trace_unref(old);
        ok = !g_hash_table_contains(table.by_head, &t->tbs[0].key);
        if (ok) {
            g_hash_table_insert(table.by_head, &t->tbs[0].key, t);
            qatomic_inc(&hybrid_stats.regions);
        }
    }
    if (ok) {
        t->code = code;
        t->code_size = code_size;
        /* code and size are visible before the trace can be found */
        qatomic_store_release(&t->fn, fn);
        /*
         * One installed trace per head TB: by_head holds one live trace
         * per head key, and a PC-relative key is its TB's (every alias).
         */
        ok = qht_insert(&table.installed, t, head_hash(t->head_tb), NULL);
        if (ok) {
            move_locked(t, HYBRID_TRACE_INSTALLED);
        } else {
            qatomic_set(&t->fn, NULL);
            t->code = NULL;
            t->code_size = 0;
        }
    }
    if (ok) {
        qatomic_inc(&hybrid_installed_count);
        qatomic_inc(&hybrid_stats.installed);
        trace_hybrid_trace_installed(t->id, t->tbs[0].key.pc, (void *)fn);
    } else {
        move_locked(t, HYBRID_TRACE_FAILED);    /* unless invalidated */
    }
    if (ok) {
        hybrid_trace_ref(t);    /* for the observer, outside the lock */
    }
    qemu_mutex_unlock(&table.lock);
    if (!ok && code && ops.code_free) {
        ops.code_free(code);            /* never published: free now */
    }
    if (ok) {
        if (ops.installed) {
            ops.installed(t);
        }
        hybrid_trace_unref(t);
    }
    return ok;
}

HybridTrace *hybrid_table_installed(const void *head_tb)
{
    return qht_lookup(&table.installed, head_tb, head_hash(head_tb));
}
