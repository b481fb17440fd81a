/*
 * Unit tests of the accelerator property table and parser.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "accel/hybrid/hybrid-params.h"

static void test_defaults(void)
{
    HybridParams p;

    hybrid_params_set_defaults(&p);
    g_assert_cmpint(p.threads, ==, 1);
    g_assert_cmpint(p.hot, ==, 50);
    g_assert_cmpint(p.trace_max_tbs, ==, 16);
    /* every row: default within range, help text present */
    for (size_t i = 0; i < hybrid_param_count; i++) {
        const HybridParamInfo *pi = &hybrid_param_info[i];
        g_assert_cmpint(pi->def, >=, pi->min);
        g_assert_cmpint(pi->def, <=, pi->max);
        g_assert_true(pi->help && pi->help[0]);
        g_assert_true(hybrid_param_find(pi->name) == pi);
    }
}

static void test_good_values(void)
{
    HybridParams p;
    const HybridParamInfo *pi = hybrid_param_find("threads");

    hybrid_params_set_defaults(&p);
    g_assert_true(hybrid_param_set(&p, pi, "0", &error_abort));
    g_assert_cmpint(p.threads, ==, 0);
    g_assert_true(hybrid_param_set(&p, pi, "64", &error_abort));
    g_assert_cmpint(p.threads, ==, 64);
    g_assert_true(hybrid_param_set(&p, hybrid_param_find("hot"), "0x10",
                                   &error_abort));
    g_assert_cmpint(p.hot, ==, 16);
    g_assert_true(hybrid_param_set(&p, hybrid_param_find("trace-max-tbs"),
                                   "256", &error_abort));
    g_assert_cmpint(p.trace_max_tbs, ==, 256);
}

static void check_bad(const char *name, const char *value, const char *range)
{
    HybridParams p, before;
    Error *err = NULL;
    const HybridParamInfo *pi = hybrid_param_find(name);

    g_assert_nonnull(pi);
    hybrid_params_set_defaults(&p);
    before = p;
    g_assert_false(hybrid_param_set(&p, pi, value, &err));
    g_assert_nonnull(err);
    /* one line, naming the property, the value and the accepted range */
    g_assert_null(strchr(error_get_pretty(err), '\n'));
    g_assert_nonnull(strstr(error_get_pretty(err), name));
    g_assert_nonnull(strstr(error_get_pretty(err), range));
    g_assert_nonnull(strstr(error_get_pretty(err), value));
    g_assert_true(memcmp(&p, &before, sizeof(p)) == 0);
    error_free(err);
}

static void test_bad_values(void)
{
    check_bad("threads", "banana", "0..64");
    check_bad("threads", "65", "0..64");
    check_bad("threads", "-1", "0..64");
    check_bad("threads", "", "0..64");
    check_bad("threads", "2x", "0..64");
    check_bad("hot", "-1", "1..1000000");
    check_bad("hot", "0", "1..1000000");
    check_bad("hot", "99999999999999999999", "1..1000000");
    check_bad("trace-max-tbs", "0", "1..256");
    check_bad("trace-max-tbs", "1.5", "1..256");
}

static void test_unknown(void)
{
    g_assert_null(hybrid_param_find("banana"));
    g_assert_null(hybrid_param_find(""));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hybrid/params/defaults", test_defaults);
    g_test_add_func("/hybrid/params/good", test_good_values);
    g_test_add_func("/hybrid/params/bad", test_bad_values);
    g_test_add_func("/hybrid/params/unknown", test_unknown);
    return g_test_run();
}
