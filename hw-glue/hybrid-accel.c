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
#include "accel/hybrid/hybrid.h"

#define TYPE_HYBRID_ACCEL ACCEL_CLASS_NAME("hybrid")

static int (*tcg_init_machine_fn)(MachineState *ms);

static void hybrid_tb_translated(CPUState *cpu, TranslationBlock *tb,
                                 vaddr pc)
{
    qatomic_inc(&hybrid_stats.tbs_translated);
}

static void hybrid_tb_linked(CPUState *cpu, TranslationBlock *tb, vaddr pc)
{
}

static void hybrid_tb_invalidated(TranslationBlock *tb)
{
    qatomic_inc(&hybrid_stats.tbs_invalidated);
}

static void hybrid_tb_flushed(void)
{
    qatomic_inc(&hybrid_stats.flushes);
}

static HybridExecAction hybrid_tb_exec(CPUState *cpu,
                                       TranslationBlock *last_tb,
                                       int tb_exit, TranslationBlock *tb,
                                       vaddr pc)
{
    return HYBRID_EXEC_CHAIN;
}

static void hybrid_cpu_event(CPUState *cpu)
{
}

static const HybridHooks hybrid_hook_table = {
    .tb_translated = hybrid_tb_translated,
    .tb_linked = hybrid_tb_linked,
    .tb_invalidated = hybrid_tb_invalidated,
    .tb_flushed = hybrid_tb_flushed,
    .tb_exec = hybrid_tb_exec,
    .cpu_event = hybrid_cpu_event,
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
    qatomic_set(&hybrid_in_use, true);
    qatomic_set(&hybrid_hooks, &hybrid_hook_table);
    return 0;
}

static void hybrid_param_prop_get(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    const HybridParamInfo *pi = opaque;
    int64_t value = hybrid_param_get(&hybrid_params, pi);

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
        g_autofree char *desc =
            g_strdup_printf("%s (%" PRId64 "..%" PRId64 ", default %" PRId64
                            ")", pi->help, pi->min, pi->max, pi->def);

        object_class_property_add(oc, pi->name, "int",
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
