/*
 * hybrid: every accelerator property, in one table.
 *
 * The table is used by the QOM property code (-accel hybrid,prop=value and
 * -accel hybrid,help), by the parser and its tests, and by the README.
 * Later stages add rows here, nowhere else.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_PARAMS_H
#define HYBRID_PARAMS_H

/*     field          name             default  min  max      help */
#define HYBRID_PARAMS(X)                                                     \
    X(threads,        "threads",       1,       0,   64,                     \
      "optimizer threads shared by all vCPUs; 0 compiles in the vCPU thread") \
    X(hot,            "hot",           50,      1,   1000000,                \
      "executions of a trace head before its trace is recorded")            \
    X(trace_max_tbs,  "trace-max-tbs", 16,      1,   256,                    \
      "most translation blocks in one trace")                               \
    X(region_max_tbs, "region-max-tbs", 64,     0,   256,                    \
      "most TBs in a trace grown by merging its hot side paths (0: none)") \
    X(blacklist,      "blacklist",     4,       1,   64,                     \
      "aborted recordings after which a trace head is never tried again")  \
    X(jit,            "jit",           1,       0,   1,                      \
      "1: compile traces with LLVM and run them; 0: form traces only")     \
    X(jit_hot,        "jit-hot",       50,      1,   1000000,                \
      "entries into a formed trace's head before it is compiled")         \
    X(max_traces,     "max-traces",    0,       0,   1000000000,             \
      "compile at most this many traces (0: no limit; for bisecting)")    \
    X(x_state_mapping, "x-state-mapping", 1,    0,   1,                      \
      "experiment: 1 keeps guest globals in SSA values across a trace, "    \
      "0 in env")                                                           \
    X(x_opt_level,    "x-opt-level",   2,       0,   3,                      \
      "experiment: LLVM optimisation pipeline default<On>")                 \
    X(x_codegen_level, "x-codegen-level", 2,    0,   3,                      \
      "experiment: LLVM code generation level (0 none .. 3 aggressive)")   \
    X(x_native_cpu,   "x-native-cpu",  0,       0,   1,                      \
      "experiment: 1 compiles for the host CPU and all its features, "      \
      "0 for the host layer's baseline")                                   \
    X(x_opt_nice,     "x-opt-nice",    0,       0,   19,                     \
      "experiment: nice value of the optimizer threads (0: the vCPUs')")  \
    X(x_link_indirect, "x-link-indirect", 1,    0,   1,                      \
      "experiment: 1 links indirect exits (returns, indirect calls) to "   \
      "the trace of their last target, checked in line; 0 never")          \
    X(x_edge_inline,  "x-edge-inline", 1,       0,   1,                      \
      "experiment: 1 checks a trace's edges into TBs on other pages (and "  \
      "indirect ones) in line once seen; 0 always calls the edge check")  \
    X(x_compile_mode, "x-compile-mode", 0,      0,   2,                      \
      "bisecting: compile 0 all traces, 1 only user-mode ones, 2 only "    \
      "kernel-mode ones")

/* String properties: field, name, help (default: unset, NULL). */
#define HYBRID_STR_PARAMS(X)                                                 \
    X(x_export,       "x-export",                                           \
      "tests: write the portable IR and vCPU state of the first traces "    \
      "that touch only guest memory into this directory")

typedef struct HybridParams {
#define HYBRID_PARAM_FIELD(field, name, def, min, max, help) int64_t field;
    HYBRID_PARAMS(HYBRID_PARAM_FIELD)
#undef HYBRID_PARAM_FIELD
#define HYBRID_STR_PARAM_FIELD(field, name, help) char *field;
    HYBRID_STR_PARAMS(HYBRID_STR_PARAM_FIELD)
#undef HYBRID_STR_PARAM_FIELD
} HybridParams;

typedef struct HybridParamInfo {
    const char *name;
    const char *help;
    bool str;                   /* a string (def, min, max unused) */
    int64_t def, min, max;
    size_t offset;              /* of the int64_t (or char *) field */
} HybridParamInfo;

extern const HybridParamInfo hybrid_param_info[];
extern const size_t hybrid_param_count;

/* The values in use; written only while the accelerator is configured. */
extern HybridParams hybrid_params;

void hybrid_params_set_defaults(HybridParams *p);
const HybridParamInfo *hybrid_param_find(const char *name);
int64_t hybrid_param_get(const HybridParams *p, const HybridParamInfo *pi);
/* A string property's value (NULL: unset). */
const char *hybrid_param_get_str(const HybridParams *p,
                                 const HybridParamInfo *pi);
/* Parse @value for @pi into @p; on error, @p is unchanged. */
bool hybrid_param_set(HybridParams *p, const HybridParamInfo *pi,
                      const char *value, Error **errp);

#endif /* HYBRID_PARAMS_H */
