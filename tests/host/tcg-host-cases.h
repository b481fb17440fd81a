/*
 * Test cases of the tcg-host layer, shared by the native GLib test
 * (tests/host/test-tcg-host.c) and the freestanding loongarch64 proof
 * (tests/host/la64/test-la64.c), so both hosts pass the same checks.
 *
 * Each case writes real code into mmap'd memory, redirects it with the
 * layer and executes it. The includer provides, before #include:
 *
 *   HT_FAIL(what)           report a failed check (a string), continue
 *   HT_SKIP(why)            report the case as skipped (a string)
 *   HT_NOTE(what, value)    diagnostic line, value a uint64_t
 *   void *ht_map_at(uintptr_t addr, size_t len)
 *                           RWX anonymous memory exactly at @addr, or NULL
 *   void ht_unmap(void *p, size_t len)
 *   bool ht_map_split(size_t len, void **rx, void **rw)
 *                           one memory mapped twice, RX and RW (QEMU's
 *                           split-wx); false if the system cannot
 *   void ht_unmap_split(void *rx, void *rw, size_t len)
 *   void ht_alias_written(void *rx, size_t len)
 *                           called after code was changed through the RW
 *                           alias only; nothing to do on hardware (see
 *                           la64/test-la64.c for qemu-user)
 *
 * and memcpy/memcmp/memset (the cases use the builtins, which may call
 * them). HT_CHECK returns from the case after the first failure.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_HOST_TCG_HOST_CASES_H
#define TESTS_HOST_TCG_HOST_CASES_H

#include "tcg-host/tcg-host.h"

#define HT_STR_(x) #x
#define HT_STR(x) HT_STR_(x)
#define HT_CHECK(cond)                                                  \
    do {                                                                \
        if (!(cond)) {                                                  \
            HT_FAIL(__FILE__ ":" HT_STR(__LINE__) ": " #cond);          \
            return;                                                     \
        }                                                               \
    } while (0)

/* Mapping granule: loongarch64 Linux (and qemu-user) uses 16 KiB pages. */
#define HT_MAP_SIZE ((size_t)64 << 10)
#define HT_MiB ((uint64_t)1 << 20)
#define HT_GiB ((uint64_t)1 << 30)

/* What the "TB" the trace function goes on to returns. */
#define HT_TRACE_VALUE 2

typedef struct HtEnv {
    const void *next;       /* where the trace function says to go on */
} HtEnv;

/*
 * Host code for the tests, assembled once into the test binary:
 *
 * hyb_tmpl_ret1/2/3 .. _end: position-independent functions returning
 *   1, 2, 3, copied into buffers as a patch site's original code and as
 *   patch targets. ret1 is exactly patch_site_size bytes long (x86_64:
 *   "mov $1,%eax" then nops then ret: the near patch replaces just the
 *   mov).
 * hyb_tmpl_tb1 .. _end: a "TB" body returning 1 to the TB epilogue, for
 *   code entered by hyb_test_tb_exec: "result = 1; goto *%rbx/$s1".
 * hyb_tmpl_tb2: the same returning 2 (HT_TRACE_VALUE): where the trace
 *   function tells the entry thunk to go on.
 * hyb_test_tb_exec(env, tb): a stand-in for TCG's prologue: saves the
 *   callee-saved registers, builds a 16-byte aligned frame, env in AREG0,
 *   the TB epilogue address in %rbx/$s1 for hyb_tmpl_tb1, records the
 *   stack pointer, poisons the argument registers (TCG's prologue leaves
 *   env only in AREG0), jumps to @tb.
 * hyb_test_code_gen_epilogue: "return register = 0", exactly as QEMU's
 *   backend emits it, falling into
 * hyb_test_tb_ret: TCG's tb_ret_addr stand-in: flags a stack pointer or
 *   AREG0 that differs from the TB entry's, unwinds, returns the return
 *   register.
 * hyb_test_probe: the trace function given to the entry thunk: records
 *   the stack pointer on entry, tail-calls hyb_test_trace_c, which
 *   returns env->next.
 */
extern const char hyb_tmpl_ret1[], hyb_tmpl_ret1_end[];
extern const char hyb_tmpl_ret2[], hyb_tmpl_ret2_end[];
extern const char hyb_tmpl_ret3[], hyb_tmpl_ret3_end[];
extern const char hyb_tmpl_tb1[], hyb_tmpl_tb1_end[], hyb_tmpl_tb2[];
extern const char hyb_test_code_gen_epilogue[], hyb_test_tb_ret[];
extern const char hyb_test_probe[];
uintptr_t hyb_test_tb_exec(void *env, const void *tb);
uintptr_t hyb_test_trace_c(void *env, uintptr_t from_tb);

/* written by the assembly above */
uintptr_t hyb_test_tb_sp, hyb_test_probe_sp;
void *hyb_test_env;
int hyb_test_bad_sp, hyb_test_bad_areg0;
/* written by hyb_test_trace_c */
void *hyb_test_trace_env;
int hyb_test_trace_calls;
uintptr_t hyb_test_trace_from_tb;

#if defined(__x86_64__)
__asm__(
    "    .pushsection .text\n"
    "    .p2align 4\n"
    "    .globl hyb_tmpl_ret1, hyb_tmpl_ret1_end, hyb_tmpl_ret2\n"
    "    .globl hyb_tmpl_ret2_end, hyb_tmpl_ret3, hyb_tmpl_ret3_end\n"
    "    .globl hyb_tmpl_tb1, hyb_tmpl_tb1_end, hyb_test_probe\n"
    "    .globl hyb_test_code_gen_epilogue, hyb_test_tb_ret\n"
    "hyb_tmpl_ret1:\n"
    "    movl $1, %eax\n"
    "    .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"      /* nopl 0(%rax,%rax) */
    "    .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
    "    ret\n"
    "hyb_tmpl_ret1_end:\n"
    "hyb_tmpl_ret2:\n"
    "    movl $2, %eax\n"
    "    ret\n"
    "hyb_tmpl_ret2_end:\n"
    "hyb_tmpl_ret3:\n"
    "    movl $3, %eax\n"
    "    ret\n"
    "hyb_tmpl_ret3_end:\n"
    "hyb_tmpl_tb1:\n"
    "    movl $1, %eax\n"
    "    jmp *%rbx\n"
    "    .fill 9, 1, 0xcc\n"                        /* to 16 bytes */
    "hyb_tmpl_tb1_end:\n"
    "    .globl hyb_tmpl_tb2\n"
    "hyb_tmpl_tb2:\n"
    "    movl $2, %eax\n"
    "    jmp *%rbx\n"
    "    .p2align 4\n"
    "    .globl hyb_test_tb_exec\n"
    "    .type hyb_test_tb_exec, @function\n"
    "hyb_test_tb_exec:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $136, %rsp\n"                 /* %rsp = 0 mod 16, as in TCG */
    "    movq %rdi, %rbp\n"
    "    movq %rdi, hyb_test_env(%rip)\n"
    "    leaq hyb_test_tb_ret(%rip), %rbx\n"
    "    movq %rsp, hyb_test_tb_sp(%rip)\n"
    "    movq %rsi, %rax\n"
    "    movq $-1, %rdi\n"                 /* TBs get env in AREG0 only */
    "    movq $-1, %rsi\n"
    "    jmp *%rax\n"
    "hyb_test_code_gen_epilogue:\n"
    "    .byte 0x33, 0xc0\n"                /* xor %eax,%eax as TCG emits */
    "hyb_test_tb_ret:\n"
    "    cmpq hyb_test_tb_sp(%rip), %rsp\n"
    "    je 1f\n"
    "    movl $1, hyb_test_bad_sp(%rip)\n"
    "1:  cmpq hyb_test_env(%rip), %rbp\n"
    "    je 2f\n"
    "    movl $1, hyb_test_bad_areg0(%rip)\n"
    "2:  addq $136, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    "    .size hyb_test_tb_exec, . - hyb_test_tb_exec\n"
    "hyb_test_probe:\n"
    "    movq %rsp, hyb_test_probe_sp(%rip)\n"
    "    jmp hyb_test_trace_c\n"
    "    .popsection\n");
/* the stack pointer on entry to a function called with an aligned stack */
#define HT_CALLEE_SP_MOD16 8
#elif defined(__loongarch__) && __loongarch_grlen == 64
__asm__(
    "    .pushsection .text\n"
    "    .p2align 4\n"
    "    .globl hyb_tmpl_ret1, hyb_tmpl_ret1_end, hyb_tmpl_ret2\n"
    "    .globl hyb_tmpl_ret2_end, hyb_tmpl_ret3, hyb_tmpl_ret3_end\n"
    "    .globl hyb_tmpl_tb1, hyb_tmpl_tb1_end, hyb_test_probe\n"
    "    .globl hyb_test_code_gen_epilogue, hyb_test_tb_ret\n"
    "hyb_tmpl_ret1:\n"
    "    addi.w $a0, $zero, 1\n"
    "    jirl $zero, $ra, 0\n"
    "hyb_tmpl_ret1_end:\n"
    "hyb_tmpl_ret2:\n"
    "    addi.w $a0, $zero, 2\n"
    "    jirl $zero, $ra, 0\n"
    "hyb_tmpl_ret2_end:\n"
    "hyb_tmpl_ret3:\n"
    "    addi.w $a0, $zero, 3\n"
    "    jirl $zero, $ra, 0\n"
    "hyb_tmpl_ret3_end:\n"
    "hyb_tmpl_tb1:\n"
    "    addi.w $a0, $zero, 1\n"
    "    jirl $zero, $s1, 0\n"
    "hyb_tmpl_tb1_end:\n"
    "    .globl hyb_tmpl_tb2\n"
    "hyb_tmpl_tb2:\n"
    "    addi.w $a0, $zero, 2\n"
    "    jirl $zero, $s1, 0\n"
    "    .p2align 4\n"
    "    .globl hyb_test_tb_exec\n"
    "    .type hyb_test_tb_exec, @function\n"
    "hyb_test_tb_exec:\n"
    "    addi.d $sp, $sp, -128\n"           /* 16-aligned, as in TCG */
    "    st.d $ra, $sp, 0\n"
    "    st.d $fp, $sp, 8\n"
    "    st.d $s0, $sp, 16\n"
    "    st.d $s1, $sp, 24\n"
    "    st.d $s2, $sp, 32\n"
    "    st.d $s3, $sp, 40\n"
    "    st.d $s4, $sp, 48\n"
    "    st.d $s5, $sp, 56\n"
    "    st.d $s6, $sp, 64\n"
    "    st.d $s7, $sp, 72\n"
    "    st.d $s8, $sp, 80\n"
    "    or $s0, $a0, $zero\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_env)\n"
    "    st.d $a0, $t0, %pc_lo12(hyb_test_env)\n"
    "    pcalau12i $s1, %pc_hi20(hyb_test_tb_ret)\n"
    "    addi.d $s1, $s1, %pc_lo12(hyb_test_tb_ret)\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_tb_sp)\n"
    "    st.d $sp, $t0, %pc_lo12(hyb_test_tb_sp)\n"
    "    or $t1, $a1, $zero\n"
    "    addi.d $a0, $zero, -1\n"          /* TBs get env in AREG0 only */
    "    addi.d $a1, $zero, -1\n"
    "    jirl $zero, $t1, 0\n"
    "hyb_test_code_gen_epilogue:\n"
    "    or $a0, $zero, $zero\n"            /* as TCG emits */
    "hyb_test_tb_ret:\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_tb_sp)\n"
    "    ld.d $t1, $t0, %pc_lo12(hyb_test_tb_sp)\n"
    "    beq $t1, $sp, 1f\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_bad_sp)\n"
    "    addi.w $t1, $zero, 1\n"
    "    st.w $t1, $t0, %pc_lo12(hyb_test_bad_sp)\n"
    "1:  pcalau12i $t0, %pc_hi20(hyb_test_env)\n"
    "    ld.d $t1, $t0, %pc_lo12(hyb_test_env)\n"
    "    beq $t1, $s0, 2f\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_bad_areg0)\n"
    "    addi.w $t1, $zero, 1\n"
    "    st.w $t1, $t0, %pc_lo12(hyb_test_bad_areg0)\n"
    "2:  ld.d $ra, $sp, 0\n"
    "    ld.d $fp, $sp, 8\n"
    "    ld.d $s0, $sp, 16\n"
    "    ld.d $s1, $sp, 24\n"
    "    ld.d $s2, $sp, 32\n"
    "    ld.d $s3, $sp, 40\n"
    "    ld.d $s4, $sp, 48\n"
    "    ld.d $s5, $sp, 56\n"
    "    ld.d $s6, $sp, 64\n"
    "    ld.d $s7, $sp, 72\n"
    "    ld.d $s8, $sp, 80\n"
    "    addi.d $sp, $sp, 128\n"
    "    jirl $zero, $ra, 0\n"
    "    .size hyb_test_tb_exec, . - hyb_test_tb_exec\n"
    "hyb_test_probe:\n"
    "    pcalau12i $t0, %pc_hi20(hyb_test_probe_sp)\n"
    "    st.d $sp, $t0, %pc_lo12(hyb_test_probe_sp)\n"
    "    b hyb_test_trace_c\n"
    "    .popsection\n");
#define HT_CALLEE_SP_MOD16 0
#else
#error "no tcg-host test shim for this host"
#endif

uintptr_t hyb_test_trace_c(void *env, uintptr_t from_tb)
{
    hyb_test_trace_env = env;
    hyb_test_trace_calls++;
    hyb_test_trace_from_tb = from_tb;
    /* a wrong env is reported by the caller, not by a crash here */
    return (uintptr_t)(env == hyb_test_env ? ((HtEnv *)env)->next
                                           : hyb_test_code_gen_epilogue);
}

typedef uintptr_t HtFn(void);

static size_t ht_tmpl_len(const char *start, const char *end)
{
    return end - start;
}

/* Copy a template to @rw, make it executable at @rx. */
static void ht_put(void *rx, void *rw, const char *start, const char *end)
{
    __builtin_memcpy(rw, start, ht_tmpl_len(start, end));
    tcg_host_flush_icache(rx, ht_tmpl_len(start, end));
}

static uintptr_t ht_call(const void *fn)
{
    return ((HtFn *)(uintptr_t)fn)();
}

static uintptr_t ht_align_down(uintptr_t a, uintptr_t align)
{
    return a & -align;
}

/*
 * Map HT_MAP_SIZE bytes about @dist bytes from @base (dist may be
 * negative): tries @dist, then up to 1.5 * @dist in steps, so that the
 * distance stays in [|dist| - HT_MAP_SIZE, 1.5 * |dist|]. NULL if nothing
 * there is free.
 */
static void *ht_map_near(uintptr_t base, int64_t dist)
{
    int64_t step = dist ? dist / 32 : (int64_t)(2 * HT_MAP_SIZE);

    for (int i = 0; i < 16; i++) {
        uintptr_t a = ht_align_down(base + dist + i * step, HT_MAP_SIZE);
        void *p;

        if ((dist > 0 && a < base) || (dist < 0 && a > base) || a == 0) {
            break;                              /* wrapped */
        }
        p = ht_map_at(a, HT_MAP_SIZE);
        if (p) {
            return p;
        }
    }
    return NULL;
}

/*
 * Where the tests put far-apart buffers: a round address well above the
 * test program, with room for +-(far distance) around it.
 */
static uintptr_t ht_region(void)
{
    uintptr_t text = (uintptr_t)hyb_test_tb_exec;

    return ht_align_down(text, HT_GiB) + 64 * HT_GiB;
}

/* A distance beyond the near form's reach, within the far form's. */
static int64_t ht_far_dist(void)
{
    return (int64_t)(tcg_host_info.near_reach + 1) * 2;
}

static void case_info(void)
{
    const TcgHostInfo *hi = &tcg_host_info;

    HT_CHECK(hi->llvm_triple && hi->llvm_triple[0]);
    HT_CHECK(hi->llvm_cpu && hi->llvm_cpu[0]);
    HT_CHECK(hi->llvm_features);
    HT_CHECK(hi->areg0 && hi->areg0[0] && hi->ret_reg && hi->ret_reg[0]);
    HT_CHECK(hi->code_align && !(hi->code_align & (hi->code_align - 1)));
    HT_CHECK(hi->patch_site_align &&
             !(hi->patch_site_align & (hi->patch_site_align - 1)));
    HT_CHECK(hi->patch_site_size >= 4 &&
             hi->patch_site_size <= TCG_HOST_PATCH_MAX);
    HT_CHECK(hi->near_reach > 0 && hi->far_reach >= hi->near_reach);
    /* QEMU aligns TB code to the icache line, at least 16 */
    HT_CHECK(hi->patch_site_align <= 16);
    HT_CHECK(ht_tmpl_len(hyb_tmpl_ret1, hyb_tmpl_ret1_end) ==
             hi->patch_site_size);
#if defined(__x86_64__)
    HT_CHECK(!__builtin_strcmp(hi->llvm_triple, "x86_64-pc-linux-gnu"));
    HT_CHECK(!__builtin_strcmp(hi->areg0, "rbp"));
#else
    HT_CHECK(!__builtin_strcmp(hi->llvm_triple,
                               "loongarch64-unknown-linux-gnu"));
    HT_CHECK(!__builtin_strcmp(hi->areg0, "s0"));
#endif
}

/*
 * Patch a function at @site to jump to a function at @target (both in
 * RWX memory), check the form chosen, that the branch is taken and that
 * the site's bytes after the replaced ones survive; restore, check the
 * original runs and the site is byte-for-byte the original; check a
 * second restore is refused.
 */
static void ht_patch_roundtrip(char *site, char *target, uintptr_t want,
                               TcgHostPatchForm form)
{
    size_t len = tcg_host_info.patch_site_size;
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };

    HT_CHECK(ht_call(site) == 1);
    HT_CHECK(ht_call(target) == want);
    HT_CHECK(tcg_host_patch_jump(site, site, target, &save));
    HT_CHECK(save.form == form);
    HT_CHECK(!save.reserved);
    HT_CHECK(save.len > 0 && save.len <= len);
    HT_CHECK(__builtin_memcmp(save.orig, hyb_tmpl_ret1, save.len) == 0);
    HT_CHECK(__builtin_memcmp(site, hyb_tmpl_ret1, save.len) != 0);
    HT_CHECK(__builtin_memcmp(site + save.len, hyb_tmpl_ret1 + save.len,
                              len - save.len) == 0);
    HT_CHECK(ht_call(site) == want);
    HT_CHECK(tcg_host_patch_restore(site, site, &save));
    HT_CHECK(save.form == TCG_HOST_PATCH_NONE);
    HT_CHECK(__builtin_memcmp(site, hyb_tmpl_ret1, len) == 0);
    HT_CHECK(ht_call(site) == 1);
    HT_CHECK(!tcg_host_patch_restore(site, site, &save));
    HT_CHECK(ht_call(site) == 1);
}

static void case_patch_near(void)
{
    char *buf = ht_map_near(ht_region(), 0);

    if (!buf) {
        HT_SKIP("no memory at the test region");
        return;
    }
    /* forwards: site at 0, target at 4 KiB */
    ht_put(buf, buf, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(buf + 4096, buf + 4096, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    ht_patch_roundtrip(buf, buf + 4096, 2, TCG_HOST_PATCH_NEAR);
    /* backwards: site at 8 KiB, target at 0 */
    ht_put(buf + 8192, buf + 8192, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(buf, buf, hyb_tmpl_ret3, hyb_tmpl_ret3_end);
    ht_patch_roundtrip(buf + 8192, buf, 3, TCG_HOST_PATCH_NEAR);
    ht_unmap(buf, HT_MAP_SIZE);
}

static void case_patch_far(void)
{
    int64_t dist = ht_far_dist();
    char *site = ht_map_near(ht_region(), 0);
    char *up = ht_map_near(ht_region(), dist);
    char *down = ht_map_near(ht_region(), -dist);

    if (!site || !up || !down) {
        HT_SKIP("no memory beyond the near form's reach");
        goto out;
    }
    HT_NOTE("far distance", (uint64_t)dist);
    ht_put(site, site, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(up, up, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    ht_put(down, down, hyb_tmpl_ret3, hyb_tmpl_ret3_end);
    ht_patch_roundtrip(site, up, 2, TCG_HOST_PATCH_FAR);
    ht_patch_roundtrip(site, down, 3, TCG_HOST_PATCH_FAR);
out:
    if (site) {
        ht_unmap(site, HT_MAP_SIZE);
    }
    if (up) {
        ht_unmap(up, HT_MAP_SIZE);
    }
    if (down) {
        ht_unmap(down, HT_MAP_SIZE);
    }
}

/*
 * Beyond the raw far form's reach the patch is refused and nothing
 * changes; a reserved site reaches the same target through its slot.
 */
static void case_patch_unreachable(void)
{
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };
    char *site, *far;
    size_t n;

    if (tcg_host_info.far_reach == SIZE_MAX) {
        HT_SKIP("the far form reaches every address on this host");
        return;
    }
    site = ht_map_near(ht_region(), 0);
    far = ht_map_near(ht_region(), tcg_host_info.far_reach + HT_GiB);
    if (!site || !far) {
        HT_SKIP("no memory beyond the far form's reach");
        goto out;
    }
    ht_put(site, site, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(far, far, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    HT_CHECK(!tcg_host_patch_jump(site, site, far, &save));
    HT_CHECK(save.form == TCG_HOST_PATCH_NONE);
    HT_CHECK(__builtin_memcmp(site, hyb_tmpl_ret1,
                              tcg_host_info.patch_site_size) == 0);
    HT_CHECK(ht_call(site) == 1);

    n = tcg_host_emit_patch_site(site, site);
    ht_put(site + n, site + n, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    tcg_host_flush_icache(site, n);
    HT_CHECK(ht_call(site) == 1);
    HT_CHECK(tcg_host_patch_jump(site, site, far, &save));
    HT_CHECK(save.form == TCG_HOST_PATCH_FAR && save.reserved);
    HT_CHECK(ht_call(site) == 2);
    HT_CHECK(tcg_host_patch_restore(site, site, &save));
    HT_CHECK(ht_call(site) == 1);
out:
    if (site) {
        ht_unmap(site, HT_MAP_SIZE);
    }
    if (far) {
        ht_unmap(far, HT_MAP_SIZE);
    }
}

/* A site that is not patch_site_align aligned is refused. */
static void case_patch_misaligned(void)
{
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };
    char *buf = ht_map_near(ht_region(), 0);
    char *site;

    if (!buf) {
        HT_SKIP("no memory at the test region");
        return;
    }
    site = buf + 4;
    ht_put(site, site, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(buf + 4096, buf + 4096, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    HT_CHECK(!tcg_host_patch_jump(site, site, buf + 4096, &save));
    HT_CHECK(save.form == TCG_HOST_PATCH_NONE);
    HT_CHECK(__builtin_memcmp(site, hyb_tmpl_ret1,
                              tcg_host_info.patch_site_size) == 0);
    HT_CHECK(ht_call(site) == 1);
    ht_unmap(buf, HT_MAP_SIZE);
}

/*
 * Patch and restore a reserved site at @buf (followed by hyb_tmpl_ret1)
 * to @target, returning @want. Only the bytes the patch replaced (its
 * first instruction) change back; a far patch leaves its slot.
 */
static void ht_site_roundtrip(char *buf, const uint8_t *site0, char *target,
                              uintptr_t want, TcgHostPatchForm form)
{
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };

    HT_CHECK(tcg_host_patch_jump(buf, buf, target, &save));
    HT_CHECK(save.form == form);
    HT_CHECK(save.reserved);
    HT_CHECK(ht_call(buf) == want);
    HT_CHECK(tcg_host_patch_restore(buf, buf, &save));
    HT_CHECK(__builtin_memcmp(buf, site0, save.len) == 0);
    HT_CHECK(ht_call(buf) == 1);
    HT_CHECK(!tcg_host_patch_restore(buf, buf, &save));
}

/*
 * The reserved site: falls through to the code after it unpatched, and
 * takes either form, again and again, in any order.
 */
static void case_patch_site(void)
{
    int64_t dist = ht_far_dist();
    char *buf = ht_map_near(ht_region(), 0);
    char *far = ht_map_near(ht_region(), dist);
    uint8_t site0[TCG_HOST_PATCH_SITE_MAX];
    size_t n;

    if (!buf || !far) {
        HT_SKIP("no memory at the test region");
        goto out;
    }
    n = tcg_host_emit_patch_site(buf, buf);
    HT_CHECK(n >= tcg_host_info.patch_site_size &&
             n <= TCG_HOST_PATCH_SITE_MAX &&
             n % tcg_host_info.patch_site_align == 0);
    __builtin_memcpy(site0, buf, n);
    ht_put(buf + n, buf + n, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(buf + 4096, buf + 4096, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    ht_put(far, far, hyb_tmpl_ret3, hyb_tmpl_ret3_end);
    HT_CHECK(ht_call(buf) == 1);
    for (int i = 0; i < 2; i++) {
        ht_site_roundtrip(buf, site0, buf + 4096, 2, TCG_HOST_PATCH_NEAR);
        ht_site_roundtrip(buf, site0, far, 3, TCG_HOST_PATCH_FAR);
    }
    /* unpatched again: all but the far form's data slot as emitted */
    ht_site_roundtrip(buf, site0, buf + 4096, 2, TCG_HOST_PATCH_NEAR);
out:
    if (buf) {
        ht_unmap(buf, HT_MAP_SIZE);
    }
    if (far) {
        ht_unmap(far, HT_MAP_SIZE);
    }
}

/*
 * split-wx: write through the RW alias, execute through the RX one; the
 * branch displacement must be computed from the RX address.
 */
static void case_split_wx(void)
{
    void *rx, *rw;
    char *x, *w;
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };

    if (!ht_map_split(HT_MAP_SIZE, &rx, &rw)) {
        HT_SKIP("cannot map memory twice (memfd)");
        return;
    }
    x = rx;
    w = rw;
    HT_CHECK(x != w);
    ht_put(x, w, hyb_tmpl_ret1, hyb_tmpl_ret1_end);
    ht_put(x + 4096, w + 4096, hyb_tmpl_ret2, hyb_tmpl_ret2_end);
    ht_alias_written(x, HT_MAP_SIZE);
    HT_CHECK(ht_call(x) == 1);
    HT_CHECK(tcg_host_patch_jump(x, w, x + 4096, &save));
    HT_CHECK(save.form == TCG_HOST_PATCH_NEAR);
    ht_alias_written(x, HT_MAP_SIZE);
    HT_CHECK(ht_call(x) == 2);
    HT_CHECK(tcg_host_patch_restore(x, w, &save));
    ht_alias_written(x, HT_MAP_SIZE);
    HT_CHECK(ht_call(x) == 1);
    HT_CHECK(__builtin_memcmp(x, hyb_tmpl_ret1,
                              tcg_host_info.patch_site_size) == 0);
    ht_unmap_split(rx, rw, HT_MAP_SIZE);
}

/* tb_ret_addr is found from tcg_code_gen_epilogue, or not at all. */
static void case_tb_ret(void)
{
    HtEnv env = { .next = NULL };

    HT_CHECK(tcg_host_tb_ret_addr(hyb_test_code_gen_epilogue) ==
             hyb_test_tb_ret);
    HT_CHECK(tcg_host_tb_ret_addr(hyb_tmpl_ret2) == NULL);
    HT_CHECK(tcg_host_tb_ret_addr(NULL) == NULL);
    /* the stand-in prologue/epilogue pair works on its own */
    hyb_test_bad_sp = hyb_test_bad_areg0 = 0;
    HT_CHECK(hyb_test_tb_exec(&env, hyb_tmpl_tb1) == 1);
    HT_CHECK(hyb_test_tb_exec(&env, hyb_test_code_gen_epilogue) == 0);
    HT_CHECK(!hyb_test_bad_sp && !hyb_test_bad_areg0);
}

/*
 * Emit an entry thunk at @thunk (RWX), enter it as a TB with @env in
 * AREG0, and check: the trace function got (env, 1), the thunk went on
 * at the code address it returned, the stack was call-aligned, the
 * epilogue saw the TB entry's stack pointer and AREG0. Returns the thunk's size, 0 on failure.
 */
static size_t ht_run_thunk(char *thunk)
{
    HtEnv env = { .next = hyb_tmpl_tb2 };
    size_t n;

    __builtin_memset(thunk, 0, TCG_HOST_ENTRY_THUNK_MAX);
    n = tcg_host_emit_entry_thunk(thunk, thunk, hyb_test_probe);
    if (n == 0 || n > TCG_HOST_ENTRY_THUNK_MAX) {
        HT_FAIL("thunk size out of range");
        return 0;
    }
    tcg_host_flush_icache(thunk, n);
    hyb_test_trace_env = NULL;
    hyb_test_trace_calls = 0;
    hyb_test_bad_sp = hyb_test_bad_areg0 = 0;
    hyb_test_probe_sp = 1;
    if (hyb_test_tb_exec(&env, thunk) != HT_TRACE_VALUE) {
        HT_FAIL("the thunk did not go on where the trace said");
        return 0;
    }
    if (hyb_test_trace_env != &env || hyb_test_trace_calls != 1 ||
        hyb_test_trace_from_tb != 1) {
        HT_FAIL("trace function not called once with env, 1");
        return 0;
    }
    if (hyb_test_probe_sp % 16 != HT_CALLEE_SP_MOD16) {
        HT_FAIL("stack not aligned for the call");
        return 0;
    }
    if (hyb_test_bad_sp || hyb_test_bad_areg0) {
        HT_FAIL("epilogue entered with another stack pointer or AREG0");
        return 0;
    }
    return n;
}

/*
 * Entry thunk at increasing distances from the trace function (in the
 * test's text): the host's direct, PC-relative and
 * absolute forms. Sizes must not shrink with distance, and the nearest
 * and farthest must differ (both code paths ran).
 */
static void case_entry_thunk(void)
{
    uintptr_t text = (uintptr_t)hyb_test_tb_exec;
    int64_t dists[4];
    size_t sizes[4], nd = 0, nsizes = 0;

    dists[nd++] = (int64_t)(tcg_host_info.near_reach / 4);
    dists[nd++] = ht_far_dist();
    if (tcg_host_info.far_reach != SIZE_MAX) {
        dists[nd++] = (int64_t)(tcg_host_info.far_reach + HT_GiB);
    }
    for (size_t i = 0; i < nd; i++) {
        char *buf = ht_map_near(text, dists[i]);
        size_t n;

        if (!buf) {
            HT_NOTE("no memory for a thunk at distance", (uint64_t)dists[i]);
            continue;
        }
        n = ht_run_thunk(buf);
        ht_unmap(buf, HT_MAP_SIZE);
        if (!n) {
            HT_NOTE("thunk failed at distance", (uint64_t)dists[i]);
            return;
        }
        HT_NOTE("thunk bytes", n);
        sizes[nsizes++] = n;
    }
    if (nsizes < nd) {
        HT_SKIP("no memory at some thunk distance");
        return;
    }
    for (size_t i = 1; i < nsizes; i++) {
        HT_CHECK(sizes[i] >= sizes[i - 1]);
    }
    HT_CHECK(sizes[0] < sizes[nsizes - 1]);
}

/*
 * The whole path: a TB whose entry (the TB's own first instruction, and
 * a reserved site) is patched to an entry thunk runs the trace function
 * and goes on where it says (another "TB"); restored, it runs the TB.
 */
static void case_patch_to_thunk(void)
{
    HtEnv env = { .next = hyb_tmpl_tb2 };
    char *buf = ht_map_near(ht_region(), 0);
    TcgHostPatchSave save = { .form = TCG_HOST_PATCH_NONE };
    char *thunk, *tb2;
    size_t n;

    if (!buf) {
        HT_SKIP("no memory at the test region");
        return;
    }
    thunk = buf + 4096;
    n = tcg_host_emit_entry_thunk(thunk, thunk, hyb_test_probe);
    tcg_host_flush_icache(thunk, n);

    /* the TB's own first instruction(s) as the site */
    ht_put(buf, buf, hyb_tmpl_tb1, hyb_tmpl_tb1_end);
    HT_CHECK(hyb_test_tb_exec(&env, buf) == 1);
    HT_CHECK(tcg_host_patch_jump(buf, buf, thunk, &save));
    hyb_test_trace_calls = 0;
    hyb_test_bad_sp = hyb_test_bad_areg0 = 0;
    HT_CHECK(hyb_test_tb_exec(&env, buf) == HT_TRACE_VALUE);
    HT_CHECK(hyb_test_trace_calls == 1 && hyb_test_trace_env == &env);
    HT_CHECK(!hyb_test_bad_sp && !hyb_test_bad_areg0);
    HT_CHECK(tcg_host_patch_restore(buf, buf, &save));
    HT_CHECK(hyb_test_tb_exec(&env, buf) == 1);
    HT_CHECK(hyb_test_trace_calls == 1);

    /* a reserved site in front of the TB */
    tb2 = buf + 8192;
    n = tcg_host_emit_patch_site(tb2, tb2);
    ht_put(tb2 + n, tb2 + n, hyb_tmpl_tb1, hyb_tmpl_tb1_end);
    tcg_host_flush_icache(tb2, n);
    HT_CHECK(hyb_test_tb_exec(&env, tb2) == 1);
    HT_CHECK(tcg_host_patch_jump(tb2, tb2, thunk, &save));
    HT_CHECK(hyb_test_tb_exec(&env, tb2) == HT_TRACE_VALUE);
    HT_CHECK(hyb_test_trace_calls == 2);
    HT_CHECK(tcg_host_patch_restore(tb2, tb2, &save));
    HT_CHECK(hyb_test_tb_exec(&env, tb2) == 1);
    HT_CHECK(!hyb_test_bad_sp && !hyb_test_bad_areg0);
    ht_unmap(buf, HT_MAP_SIZE);
}

typedef struct HtCase {
    const char *name;
    void (*fn)(void);
} HtCase;

static const HtCase ht_cases[] = {
    { "info", case_info },
    { "patch-near", case_patch_near },
    { "patch-far", case_patch_far },
    { "patch-unreachable", case_patch_unreachable },
    { "patch-misaligned", case_patch_misaligned },
    { "patch-site", case_patch_site },
    { "split-wx", case_split_wx },
    { "tb-ret", case_tb_ret },
    { "entry-thunk", case_entry_thunk },
    { "patch-to-thunk", case_patch_to_thunk },
};

#endif /* TESTS_HOST_TCG_HOST_CASES_H */
