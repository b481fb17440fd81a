/*
 * hybrid: parsing and validating accelerator properties (hybrid-params.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "hybrid-params.h"

const HybridParamInfo hybrid_param_info[] = {
#define HYBRID_PARAM_INFO(field, name_, def_, min_, max_, help_) \
    { .name = name_, .help = help_, .def = def_, .min = min_, .max = max_, \
      .offset = offsetof(HybridParams, field) },
    HYBRID_PARAMS(HYBRID_PARAM_INFO)
#undef HYBRID_PARAM_INFO
#define HYBRID_STR_PARAM_INFO(field, name_, help_) \
    { .name = name_, .help = help_, .str = true, \
      .offset = offsetof(HybridParams, field) },
    HYBRID_STR_PARAMS(HYBRID_STR_PARAM_INFO)
#undef HYBRID_STR_PARAM_INFO
};
const size_t hybrid_param_count = ARRAY_SIZE(hybrid_param_info);

HybridParams hybrid_params;

static int64_t *param_ptr(HybridParams *p, const HybridParamInfo *pi)
{
    return (int64_t *)((char *)p + pi->offset);
}

static char **param_str_ptr(HybridParams *p, const HybridParamInfo *pi)
{
    return (char **)((char *)p + pi->offset);
}

void hybrid_params_set_defaults(HybridParams *p)
{
    for (size_t i = 0; i < hybrid_param_count; i++) {
        const HybridParamInfo *pi = &hybrid_param_info[i];

        if (pi->str) {
            *param_str_ptr(p, pi) = NULL;
        } else {
            *param_ptr(p, pi) = pi->def;
        }
    }
}

const HybridParamInfo *hybrid_param_find(const char *name)
{
    for (size_t i = 0; i < hybrid_param_count; i++) {
        if (strcmp(hybrid_param_info[i].name, name) == 0) {
            return &hybrid_param_info[i];
        }
    }
    return NULL;
}

int64_t hybrid_param_get(const HybridParams *p, const HybridParamInfo *pi)
{
    return *param_ptr((HybridParams *)p, pi);
}

const char *hybrid_param_get_str(const HybridParams *p,
                                 const HybridParamInfo *pi)
{
    return *param_str_ptr((HybridParams *)p, pi);
}

bool hybrid_param_set(HybridParams *p, const HybridParamInfo *pi,
                      const char *value, Error **errp)
{
    int64_t v;

    if (pi->str) {
        if (!value || !value[0]) {
            error_setg(errp, "hybrid: property '%s' needs a non-empty value",
                       pi->name);
            return false;
        }
        g_free(*param_str_ptr(p, pi));
        *param_str_ptr(p, pi) = g_strdup(value);
        return true;
    }
    if (!value || qemu_strtoi64(value, NULL, 0, &v) < 0 ||
        v < pi->min || v > pi->max) {
        error_setg(errp, "hybrid: invalid value '%s' for property '%s': "
                   "expected an integer in %" PRId64 "..%" PRId64,
                   value ? value : "", pi->name, pi->min, pi->max);
        return false;
    }
    *param_ptr(p, pi) = v;
    return true;
}
