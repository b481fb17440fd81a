/*
 * Unit tests of the tcg-host layer on the build host: real code is
 * written, patched and executed (see tcg-host-cases.h for the cases,
 * shared with the loongarch64 proof), plus a stress test of patching
 * while another thread executes the site.
 *
 * Built without QEMU headers (qemu/osdep.h) on purpose, like the layer
 * itself, so that it also builds standalone:
 *   tests/host/run-native.sh
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create, MAP_FIXED_NOREPLACE */
#endif
#include <glib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tcg-host/tcg-host.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define HT_FAIL(what)                                                   \
    do {                                                                \
        g_test_message("%s", (what));                                   \
        g_test_fail();                                                  \
    } while (0)
#define HT_SKIP(why) g_test_skip(why)
#define HT_NOTE(what, value)                                            \
    g_test_message("%s: 0x%" G_GINT64_MODIFIER "x", (what),             \
                   (guint64)(value))

static void *ht_map_at(uintptr_t addr, size_t len)
{
    void *p = mmap((void *)addr, len, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

    if (p == MAP_FAILED) {
        return NULL;
    }
    if (p != (void *)addr) {
        /* a kernel before 4.17 took the address as a hint only */
        munmap(p, len);
        return NULL;
    }
    return p;
}

static void ht_unmap(void *p, size_t len)
{
    munmap(p, len);
}

static bool ht_map_split(size_t len, void **rx, void **rw)
{
    int fd = memfd_create("tcg-host-test", MFD_CLOEXEC);
    void *x, *w;

    if (fd < 0) {
        return false;
    }
    if (ftruncate(fd, len) < 0) {
        close(fd);
        return false;
    }
    w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    x = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    if (w == MAP_FAILED || x == MAP_FAILED) {
        if (w != MAP_FAILED) {
            munmap(w, len);
        }
        if (x != MAP_FAILED) {
            munmap(x, len);
        }
        return false;
    }
    *rx = x;
    *rw = w;
    return true;
}

static void ht_unmap_split(void *rx, void *rw, size_t len)
{
    munmap(rx, len);
    munmap(rw, len);
}

static void ht_alias_written(void *rx, size_t len)
{
    /* the hardware sees stores through any alias */
}

#include "tests/host/tcg-host-cases.h"

/*
 * Patching while another thread keeps calling the site: it must only ever
 * see the original (1), the near target (2) or the far target (3), never
 * a torn mix (which returns garbage or crashes the test). Sites on which
 * tcg_host_patch_jump() promises this: a reserved site, both forms; a raw
 * site whose first instruction the near form replaces exactly (here the
 * 5-byte "mov $1,%eax" of hyb_tmpl_ret1, or one loongarch64 instruction).
 */
typedef struct StressState {
    const char *site;
    gint stop;
    guint64 seen[4];
    guint64 bad;
} StressState;

static gpointer stress_runner(gpointer opaque)
{
    StressState *s = opaque;

    while (!g_atomic_int_get(&s->stop)) {
        uintptr_t v = ht_call(s->site);

        if (v >= 1 && v <= 3) {
            s->seen[v]++;
        } else {
            s->bad++;
        }
    }
    return NULL;
}

static void stress(bool reserved)
{
    char *buf = ht_map_near(ht_region(), 0);
    char *far = reserved ? ht_map_near(ht_region(), ht_far_dist()) : NULL;
    StressState s = { 0 };
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };
    GThread *runner;
    gint64 end;
    guint64 rounds = 0;
    size_t n = 0;

    if (!buf) {
        g_test_skip("no memory at the test region");
        goto out;
    }
    if (reserved) {
        n = tcg_host_emit_patch_site(buf, buf);
    }
    ht_put(buf + n, buf + n, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    tcg_host_flush_icache(buf, n);
    ht_put(buf + 4096, buf + 4096, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    if (far) {
        ht_put(far, far, hyb_tmpl_ret3, hyb_tmpl_ret3_end);
    } else if (reserved) {
        g_test_message("no memory for a far target: near form only");
    }
    s.site = buf;
    runner = g_thread_new("tcg-host-stress", stress_runner, &s);
    end = g_get_monotonic_time() + 300 * 1000;
    while (g_get_monotonic_time() < end) {
        for (int i = 0; i < 1000; i++) {
            g_assert_true(tcg_host_patch_jump(buf, buf, buf + 4096, &save));
            g_assert_true(tcg_host_patch_restore(buf, buf, &save));
            if (far) {
                g_assert_true(tcg_host_patch_jump(buf, buf, far, &save));
                g_assert_cmpint(save.form, ==, TCG_HOST_PATCH_FAR);
                g_assert_true(tcg_host_patch_restore(buf, buf, &save));
            }
        }
        rounds += 1000;
    }
    g_atomic_int_set(&s.stop, 1);
    g_thread_join(runner);
    g_test_message("%" G_GUINT64_FORMAT " patch rounds; runner saw 1: %"
                   G_GUINT64_FORMAT ", 2: %" G_GUINT64_FORMAT ", 3: %"
                   G_GUINT64_FORMAT, rounds, s.seen[1], s.seen[2], s.seen[3]);
    g_assert_cmpuint(s.bad, ==, 0);
    g_assert_cmpuint(s.seen[1] + s.seen[2] + s.seen[3], >, 0);
    g_assert_cmpint(ht_call(buf), ==, 1);
out:
    if (buf) {
        ht_unmap(buf, HT_MAP_SIZE);
    }
    if (far) {
        ht_unmap(far, HT_MAP_SIZE);
    }
}

static void test_concurrent_site(void)
{
    stress(true);
}

static void test_concurrent_raw_near(void)
{
    stress(false);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(ht_cases); i++) {
        g_autofree char *path = g_strdup_printf("/hybrid/tcg-host/%s",
                                                ht_cases[i].name);

        g_test_add_func(path, ht_cases[i].fn);
    }
    g_test_add_func("/hybrid/tcg-host/concurrent-site",
                    test_concurrent_site);
    g_test_add_func("/hybrid/tcg-host/concurrent-raw-near",
                    test_concurrent_raw_near);
    return g_test_run();
}
