/*
 * hw-glue: QMP query-hybrid-traces and HMP info hybrid-traces.
 *
 * The HMP command formats the QMP result, so both always agree.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-hybrid.h"
#include "qobject/qdict.h"
#include "monitor/monitor.h"
#include "monitor/hmp.h"
#include "accel/hybrid/hybrid.h"
#include "accel/hybrid/hybrid-aborts.h"
#include "accel/hybrid/trace.h"
#include "accel/hybrid/pool.h"
#include "llvm-backend/llvm-backend.h"

static HybridCounters *counters_snapshot(void)
{
    HybridCounters *c = g_new0(HybridCounters, 1);

    c->formed = qatomic_read(&hybrid_stats.formed);
    c->compiled = qatomic_read(&hybrid_stats.compiled);
    c->installed = qatomic_read(&hybrid_stats.installed);
    c->invalidated = qatomic_read(&hybrid_stats.invalidated);
    c->tbs_translated = qatomic_read(&hybrid_stats.tbs_translated);
    c->tbs_invalidated = qatomic_read(&hybrid_stats.tbs_invalidated);
    c->flushes = qatomic_read(&hybrid_stats.flushes);
    c->aborts = NULL;
    for (int i = HYBRID_ABORT__MAX - 1; i >= 0; i--) {
        HybridAbortCount *a = g_new0(HybridAbortCount, 1);

        a->reason = g_strdup(hybrid_abort_info[i].name);
        a->text = g_strdup(hybrid_abort_info[i].text);
        a->count = qatomic_read(&hybrid_abort_count[i]);
        c->aborted += a->count;     /* the sum of what is shown, read once */
        QAPI_LIST_PREPEND(c->aborts, a);
    }
    c->unsupported_ops = NULL;
    for (int i = HYBRID_MAX_OPCODES - 1; i >= 0; i--) {
        uint64_t n = qatomic_read(&hybrid_unsupported_op_count[i]);
        HybridAbortCount *a;

        if (!n) {
            continue;
        }
        a = g_new0(HybridAbortCount, 1);
        a->reason = g_strdup(hybrid_llvm_op_name(i));
        a->text = g_strdup("TCG op not lowered to LLVM IR");
        a->count = n;
        QAPI_LIST_PREPEND(c->unsupported_ops, a);
    }
    c->compile_ms = qatomic_read(&hybrid_compile_ns_total) / 1000000;
    c->compile_ms_vcpu = qatomic_read(&hybrid_compile_ns_vcpu) / 1000000;
    c->queued = hybrid_pool_queued();
    c->entry_patched = qatomic_read(&hybrid_stats.entry_patched);
    c->entry_restored = qatomic_read(&hybrid_stats.entry_restored);
    c->entry_unpatchable = qatomic_read(&hybrid_stats.entry_unpatchable);
    c->linked = qatomic_read(&hybrid_stats.linked);
    c->linked_indirect = qatomic_read(&hybrid_stats.linked_indirect);
    c->user_entries = hybrid_table_user_entries();
    c->regions = qatomic_read(&hybrid_stats.regions);
    return c;
}

static void add_trace(const HybridTrace *t, void *opaque)
{
    HybridTraceInfoList ***tail = opaque;
    HybridTraceInfo *ti = g_new0(HybridTraceInfo, 1);

    ti->id = t->id;
    ti->mode = g_strdup(t->user ? "user" : "kernel");
    ti->pc = t->tbs[0].key.pc;
    ti->tbs = t->ntbs;
    ti->insns = t->insns;
    ti->pages = t->pages;
    ti->paths = t->paths;
    ti->entries = qatomic_read(&t->entries);
    ti->samples = qatomic_read(&t->samples);
    ti->state = g_strdup(hybrid_trace_state_name[qatomic_read(&t->state)]);
    ti->end = g_strdup(hybrid_trace_end_name[t->end]);
    ti->compile_us = t->compile_ns / 1000;
    ti->code_size = t->code_size;
    ti->patched = qatomic_read(&t->patched);
    QAPI_LIST_APPEND(*tail, ti);
}

HybridTraces *qmp_query_hybrid_traces(bool has_count, uint32_t count,
                                      Error **errp)
{
    HybridTraces *r;

    if (!qatomic_read(&hybrid_in_use)) {
        error_setg(errp, "the hybrid accelerator is not in use "
                   "(start QEMU with -accel hybrid)");
        return NULL;
    }
    r = g_new0(HybridTraces, 1);
    r->counters = counters_snapshot();
    r->llvm_version = g_strdup(hybrid_llvm_version());
    r->traces = NULL;
    {
        HybridTraceInfoList **tail = &r->traces;

        hybrid_table_foreach_hottest(has_count ? count : UINT_MAX,
                                     add_trace, &tail);
    }
    return r;
}

static void hmp_info_hybrid_traces(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    bool has_count = qdict_haskey(qdict, "count");
    int64_t count = qdict_get_try_int(qdict, "count", 0);
    HybridTraces *r;
    HybridCounters *c;
    g_autoptr(GString) buf = g_string_new("");

    if (has_count && (count < 0 || count > UINT32_MAX)) {
        monitor_printf(mon, "count must be in 0..%u\n", UINT32_MAX);
        return;
    }
    r = qmp_query_hybrid_traces(has_count, count, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    c = r->counters;
    g_string_append_printf(buf,
        "formed=%" PRIu64 " compiled=%" PRIu64 " installed=%" PRIu64
        " invalidated=%" PRIu64 " aborted=%" PRIu64
        " tbs-translated=%" PRIu64 " tbs-invalidated=%" PRIu64
        " flushes=%" PRIu64,
        c->formed, c->compiled, c->installed, c->invalidated, c->aborted,
        c->tbs_translated, c->tbs_invalidated, c->flushes);
    for (HybridAbortCountList *a = c->aborts; a; a = a->next) {
        g_string_append_printf(buf, " abort.%s=%" PRIu64,
                               a->value->reason, a->value->count);
    }
    for (HybridAbortCountList *a = c->unsupported_ops; a; a = a->next) {
        g_string_append_printf(buf, " unsupported.%s=%" PRIu64,
                               a->value->reason, a->value->count);
    }
    g_string_append_printf(buf, " compile-ms=%" PRIu64 " compile-ms-vcpu=%"
                           PRIu64 " queued=%u", c->compile_ms,
                           c->compile_ms_vcpu, c->queued);
    g_string_append_printf(buf, " entry-patched=%" PRIu64 " entry-restored=%"
                           PRIu64 " entry-unpatchable=%" PRIu64
                           " linked=%" PRIu64 " linked-indirect=%" PRIu64
                           " user-entries=%" PRIu64 " regions=%" PRIu64,
                           c->entry_patched, c->entry_restored,
                           c->entry_unpatchable, c->linked,
                           c->linked_indirect, c->user_entries,
                           c->regions);
    g_string_append_printf(buf, " llvm=%s\n", r->llvm_version);
    g_string_append_printf(buf,
                           "%6s %-6s %-18s %4s %6s %5s %5s %12s %8s %-11s %-11s %9s %6s %s\n",
                           "id", "mode", "pc", "tbs", "insns", "pages",
                           "paths", "entries", "samples", "state", "end",
                           "compile-us", "bytes", "entry");
    for (HybridTraceInfoList *t = r->traces; t; t = t->next) {
        HybridTraceInfo *ti = t->value;
        g_string_append_printf(buf,
            "%6" PRIu64 " %-6s 0x%016" PRIx64 " %4u %6u %5u %5u %12" PRIu64
            " %8" PRIu64 " %-11s %-11s %9" PRIu64 " %6" PRIu64 " %s\n",
            ti->id, ti->mode, ti->pc, ti->tbs, ti->insns, ti->pages,
            ti->paths, ti->entries, ti->samples, ti->state, ti->end, ti->compile_us,
            ti->code_size, ti->patched ? "patched" : "loop");
    }
    monitor_puts(mon, buf->str);
    qapi_free_HybridTraces(r);
}

HybridConformance *(*hybrid_conformance)(uint32_t runs, uint64_t seed,
                                         bool mutate, const char *filter,
                                         Error **errp);

HybridConformance *qmp_x_hybrid_conformance(bool has_runs, uint32_t runs,
                                            bool has_seed, uint64_t seed,
                                            bool has_mutate, bool mutate,
                                            const char *filter, Error **errp)
{
    if (!hybrid_conformance) {
        error_setg(errp, "x-hybrid-conformance is a self-test: it is in "
                   "qemu-system-x86_64-hybrid-selftest only");
        return NULL;
    }
    if (!qatomic_read(&hybrid_in_use)) {
        error_setg(errp, "x-hybrid-conformance needs -accel hybrid");
        return NULL;
    }
    if (has_runs && (runs < 1 || runs > 100000)) {
        error_setg(errp, "x-hybrid-conformance: runs must be 1..100000");
        return NULL;
    }
    return hybrid_conformance(has_runs ? runs : 64, has_seed ? seed : 1,
                              has_mutate && mutate, filter, errp);
}

static void hybrid_monitor_register(void)
{
    monitor_register_hmp("hybrid-traces", true, hmp_info_hybrid_traces);
}
type_init(hybrid_monitor_register);
