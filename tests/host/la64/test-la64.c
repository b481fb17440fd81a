/*
 * The loongarch64 proof of the tcg-host layer: the cases of
 * tests/host/tcg-host-cases.h (the same the native test runs), built
 * freestanding with clang --target=loongarch64-linux-gnu against
 * tcg-host/loongarch64/, run under qemu-loongarch64 (or on a loongarch64
 * host) by scripts/check-loongarch64.sh. Prints TAP: one line per case,
 * diagnostics as comments; exits non-zero if any case failed.
 *
 * What this proves: encodings, reach, form selection, the entry thunk's
 * calling convention, all by executing the code. What it cannot: the
 * cross-core publication rules (qemu-user runs one vCPU per thread on an
 * x86 host and invalidates its translations on any store to code).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "la64-rt.h"

static int case_failed;
static const char *case_skip;

static void ht_fail(const char *what)
{
    la64_puts("# FAIL ");
    la64_puts(what);
    la64_puts("\n");
    case_failed = 1;
}

static void ht_note(const char *what, uint64_t value)
{
    la64_puts("# ");
    la64_puts(what);
    la64_puts(": ");
    la64_put_hex(value);
    la64_puts("\n");
}

#define HT_FAIL(what) ht_fail(what)
#define HT_SKIP(why) (case_skip = (why))
#define HT_NOTE(what, value) ht_note((what), (value))

static void *ht_map_at(uintptr_t addr, size_t len)
{
    void *p = la64_mmap((void *)addr, len,
                        LA64_PROT_READ | LA64_PROT_WRITE | LA64_PROT_EXEC,
                        LA64_MAP_PRIVATE | LA64_MAP_ANONYMOUS |
                        LA64_MAP_FIXED_NOREPLACE, -1);

    if (p && p != (void *)addr) {
        la64_munmap(p, len);
        return NULL;
    }
    return p;
}

static void ht_unmap(void *p, size_t len)
{
    la64_munmap(p, len);
}

static bool ht_map_split(size_t len, void **rx, void **rw)
{
    long fd = la64_syscall(LA64_SYS_MEMFD_CREATE, (long)"tcg-host-test", 0,
                           0, 0, 0, 0);
    void *x, *w;

    if (fd < 0) {
        return false;
    }
    if (la64_syscall(LA64_SYS_FTRUNCATE, fd, len, 0, 0, 0, 0) < 0) {
        la64_syscall(LA64_SYS_CLOSE, fd, 0, 0, 0, 0, 0);
        return false;
    }
    w = la64_mmap(NULL, len, LA64_PROT_READ | LA64_PROT_WRITE,
                  LA64_MAP_SHARED, fd);
    x = la64_mmap(NULL, len, LA64_PROT_READ | LA64_PROT_EXEC,
                  LA64_MAP_SHARED, fd);
    la64_syscall(LA64_SYS_CLOSE, fd, 0, 0, 0, 0, 0);
    if (!w || !x) {
        if (w) {
            la64_munmap(w, len);
        }
        if (x) {
            la64_munmap(x, len);
        }
        return false;
    }
    *rx = x;
    *rw = w;
    return true;
}

static void ht_unmap_split(void *rx, void *rw, size_t len)
{
    la64_munmap(rx, len);
    la64_munmap(rw, len);
}

/*
 * qemu-user drops its translations of a page only when the page loses
 * PROT_EXEC or gains PROT_WRITE (page_set_flags()), not on a store through
 * another mapping of the same memory, which is what split-wx does. Take
 * PROT_EXEC away and back so that the RX alias is translated afresh. On
 * hardware this is a no-op in effect: I-caches are coherent, and the
 * layer's ibar already covered this core.
 */
static void ht_alias_written(void *rx, size_t len)
{
    la64_syscall(LA64_SYS_MPROTECT, (long)rx, len, LA64_PROT_READ, 0, 0, 0);
    la64_syscall(LA64_SYS_MPROTECT, (long)rx, len,
                 LA64_PROT_READ | LA64_PROT_EXEC, 0, 0, 0);
}

#include "tests/host/tcg-host-cases.h"

int la64_main(void)
{
    const size_t n = sizeof(ht_cases) / sizeof(ht_cases[0]);
    int failed = 0;

    la64_puts("# tcg-host on ");
    la64_puts(tcg_host_info.llvm_triple);
    la64_puts(", cpu ");
    la64_puts(tcg_host_info.llvm_cpu);
    la64_puts("\n1..");
    la64_put_dec(n);
    la64_puts("\n");
    for (size_t i = 0; i < n; i++) {
        case_failed = 0;
        case_skip = NULL;
        ht_cases[i].fn();
        la64_puts(case_failed ? "not ok " : "ok ");
        la64_put_dec(i + 1);
        la64_puts(" /hybrid/tcg-host/loongarch64/");
        la64_puts(ht_cases[i].name);
        if (case_skip && !case_failed) {
            la64_puts(" # SKIP ");
            la64_puts(case_skip);
        }
        la64_puts("\n");
        failed |= case_failed;
    }
    return failed;
}
