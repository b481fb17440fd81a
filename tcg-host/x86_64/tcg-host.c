/*
 * hybrid tcg-host: x86_64 hosts (System V ABI, Linux).
 *
 * Facts from QEMU 10.0.2 tcg/i386: TCG_AREG0 is %rbp (tcg-target.h); the
 * prologue pushes rbp, rbx, r12-r15 and subtracts FRAME_SIZE - PUSH_SIZE,
 * which leaves %rsp 16-byte aligned inside TBs, so a TB can call C
 * directly (as helper calls do); tb_ret_addr pops the frame and returns
 * %rax to cpu_tb_exec; tcg_code_gen_epilogue is "xor %eax,%eax" right
 * before it. Instruction fetch is coherent with stores, so QEMU patches
 * goto_tb with one aligned 4-byte store and no flush; we do the same with
 * wider atomic units.
 *
 * Compiled without qemu/osdep.h on purpose: the layer needs nothing from
 * QEMU and its tests build it without QEMU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "tcg-host/tcg-host.h"

#if !defined(__x86_64__)
#error "tcg-host/x86_64 built for another host: check tcg-host/meson.build"
#endif

#define JMP_REL32_LEN   5       /* e9 rel32 */
#define JMP_SLOT_LEN    6       /* ff 25 02000000: jmp *2(%rip) */
#define SLOT_OFS        8       /* where jmp *2(%rip) reads its target */
#define SITE_ALIGN      16      /* cmpxchg16b needs it; the rest 8 */
#define RESERVED_LEN    16

/* An unpatched reserved site's first 8 bytes: jmp .+16, int3 filler. */
static const uint8_t reserved_head[8] = {
    0xeb, RESERVED_LEN - 2, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc
};

/*
 * What tcg/i386's tcg_expand_vec_op() emits of its own ops (QEMU 10.0):
 * punpckl/punpckh/packss/packus for 8-bit shifts and multiplies, blend
 * for 64-bit arithmetic shifts, vpshld/vpshrd for rotates (AVX512VBMI2).
 */
static const TcgHostVecOp x86_vec_ops[] = {
    { "x86_punpckl_vec", TCG_HOST_VEC_INTERLEAVE_LO },
    { "x86_punpckh_vec", TCG_HOST_VEC_INTERLEAVE_HI },
    { "x86_packss_vec", TCG_HOST_VEC_PACK_SS },
    { "x86_packus_vec", TCG_HOST_VEC_PACK_US },
    { "x86_blend_vec", TCG_HOST_VEC_BLEND_IMM },
    { "x86_vpshldi_vec", TCG_HOST_VEC_FSHL_IMM },
    { "x86_vpshldv_vec", TCG_HOST_VEC_FSHL_VAR },
    { "x86_vpshrdv_vec", TCG_HOST_VEC_FSHR_VAR },
};

const TcgHostInfo tcg_host_info = {
    .llvm_triple = "x86_64-pc-linux-gnu",
    .llvm_cpu = "x86-64",
    .llvm_features = "",
    .areg0 = "rbp",
    .ret_reg = "rax",
    .code_align = 16,
    .patch_site_size = 16,
    .patch_site_align = SITE_ALIGN,
    /* rel32 counts from the end of the 5-byte jmp */
    .near_reach = INT32_MAX - JMP_REL32_LEN,
    .far_reach = SIZE_MAX,
    .vec_ops = x86_vec_ops,
    .n_vec_ops = sizeof(x86_vec_ops) / sizeof(x86_vec_ops[0]),
};

/* 16 bytes viewed as the CAS operand and as code bytes (little-endian). */
typedef union Unit16 {
    uint64_t q[2];
    uint8_t b[16];
} Unit16;

static bool fits_rel32(intptr_t disp)
{
    return disp == (int32_t)disp;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = v >> (8 * i);
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = v >> (8 * i);
    }
}

/*
 * lock cmpxchg16b, written out so that the layer does not depend on -mcx16
 * or libatomic. QEMU's x86_64 build requires CX16 (meson adds -mcx16 for
 * every supported x86_version), so it is always there.
 */
static bool cas16(void *p, Unit16 *expect, const Unit16 *desired)
{
    uint64_t lo = expect->q[0], hi = expect->q[1];
    bool ok;

    asm volatile("lock cmpxchg16b %[mem]"
                 : "=@ccz"(ok), [mem] "+m"(*(volatile Unit16 *)p),
                   "+a"(lo), "+d"(hi)
                 : "b"(desired->q[0]), "c"(desired->q[1])
                 : "memory");
    expect->q[0] = lo;
    expect->q[1] = hi;
    return ok;
}

/*
 * Bytes a patch of @len bytes changes: all of them, except that the raw
 * far form leaves bytes 6-7 (between the jmp and its slot, never
 * executed) as they are.
 */
static unsigned patch_mask(unsigned len)
{
    return len == 16 ? 0xff3f : (1u << len) - 1;
}

/*
 * Atomically replace the bytes selected by @mask of the naturally aligned
 * @width-byte unit at @p with those of @bytes, keeping the other bytes as
 * they are at the time of the store. If @check is non-NULL, give up
 * (return false) unless the selected bytes currently equal @check's. @old
 * gets the unit's previous contents.
 */
static bool replace_unit(void *p, unsigned width, unsigned mask,
                         const uint8_t *bytes, const uint8_t *check,
                         Unit16 *old)
{
    Unit16 cur, want;

    cur.q[0] = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
    /* for cas16, a torn read only makes the first CAS fail and reload */
    cur.q[1] = width == 16
               ? __atomic_load_n((uint64_t *)p + 1, __ATOMIC_RELAXED) : 0;
    for (;;) {
        want = cur;
        for (unsigned i = 0; i < width; i++) {
            if (!(mask & (1u << i))) {
                continue;
            }
            if (check && cur.b[i] != check[i]) {
                return false;
            }
            want.b[i] = bytes[i];
        }
        if (width == 8) {
            /* seq_cst: orders the target's code stores before the branch */
            if (__atomic_compare_exchange_n((uint64_t *)p, &cur.q[0],
                                            want.q[0], false,
                                            __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED)) {
                break;
            }
        } else if (cas16(p, &cur, &want)) {
            break;
        }
    }
    *old = cur;
    return true;
}

static bool is_reserved(const uint8_t *site)
{
    for (int i = 0; i < 8; i++) {
        if (site[i] != reserved_head[i]) {
            return false;
        }
    }
    return true;
}

bool tcg_host_patch_jump(void *site_rx, void *site_rw, const void *target,
                         TcgHostPatchSave *save)
{
    uintptr_t rx = (uintptr_t)site_rx;
    intptr_t disp = (intptr_t)((uintptr_t)target - (rx + JMP_REL32_LEN));
    bool reserved = is_reserved(site_rw);
    uint8_t code[TCG_HOST_PATCH_MAX];
    unsigned len, width;
    Unit16 old;

    if ((rx | (uintptr_t)site_rw) & (SITE_ALIGN - 1)) {
        return false;
    }
    if (fits_rel32(disp)) {
        code[0] = 0xe9;                         /* jmp rel32 */
        put32(code + 1, disp);
        len = JMP_REL32_LEN;
        width = 8;
        save->form = TCG_HOST_PATCH_NEAR;
    } else {
        code[0] = 0xff;                         /* jmp *2(%rip) */
        code[1] = 0x25;
        put32(code + 2, SLOT_OFS - JMP_SLOT_LEN);
        save->form = TCG_HOST_PATCH_FAR;
        if (reserved) {
            /*
             * The slot is data: an aligned 8-byte store, before the jmp
             * that reads it is published (the CAS below is a full
             * barrier). It keeps whatever it last held until the next far
             * patch, see "Sites".
             */
            __atomic_store_n((uint64_t *)((uint8_t *)site_rw + SLOT_OFS),
                             (uintptr_t)target, __ATOMIC_RELAXED);
            len = JMP_SLOT_LEN;
            width = 8;
        } else {
            code[6] = code[7] = 0;              /* not written: patch_mask */
            put64(code + SLOT_OFS, (uintptr_t)target);
            len = 16;
            width = 16;
        }
    }
    replace_unit(site_rw, width, patch_mask(len), code, NULL, &old);
    for (unsigned i = 0; i < len; i++) {
        save->orig[i] = old.b[i];
        save->patch[i] = patch_mask(len) & (1u << i) ? code[i] : old.b[i];
    }
    save->len = len;
    save->reserved = reserved;
    tcg_host_flush_icache(site_rx, len);
    return true;
}

bool tcg_host_patch_restore(void *site_rx, void *site_rw,
                            TcgHostPatchSave *save)
{
    Unit16 old;

    if (save->form == TCG_HOST_PATCH_NONE) {
        return false;
    }
    if (!replace_unit(site_rw, save->len > 8 ? 16 : 8,
                      patch_mask(save->len), save->orig, save->patch,
                      &old)) {
        return false;
    }
    save->form = TCG_HOST_PATCH_NONE;
    tcg_host_flush_icache(site_rx, save->len);
    return true;
}

size_t tcg_host_emit_patch_site(void *buf_rx, void *buf_rw)
{
    uint8_t *p = buf_rw;

    (void)buf_rx;
    /*
     * One 2-byte instruction that skips the rest: nothing executes bytes
     * 2..15, so no thread can stop inside the site; int3 makes a stray
     * jump into the filler loud.
     */
    for (int i = 0; i < 8; i++) {
        p[i] = reserved_head[i];
    }
    put64(p + SLOT_OFS, 0);
    return RESERVED_LEN;
}

void tcg_host_flush_icache(void *start, size_t len)
{
    (void)start;
    (void)len;
    /* Coherent instruction fetch: only keep the compiler from sinking stores. */
    asm volatile("" ::: "memory");
}

size_t tcg_host_emit_entry_thunk(void *buf_rx, void *buf_rw,
                                 const void *trace_fn)
{
    uintptr_t rx = (uintptr_t)buf_rx;
    uint8_t *p = buf_rw;
    size_t n = 0;
    intptr_t disp;

    /* mov %rbp, %rdi: env is the first argument */
    p[n++] = 0x48;
    p[n++] = 0x89;
    p[n++] = 0xef;
    /* mov $1, %esi: entered from a TB */
    p[n++] = 0xbe;
    put32(p + n, 1);
    n += 4;

    /*
     * call trace_fn. %rsp is 16-aligned here (TCG's frame), as the ABI
     * wants before a call; %r11 is the scratch register of the ABI.
     */
    disp = (intptr_t)((uintptr_t)trace_fn - (rx + n + 5));
    if (fits_rel32(disp)) {
        p[n++] = 0xe8;                          /* call rel32 */
        put32(p + n, disp);
        n += 4;
    } else {
        p[n++] = 0x49;                          /* movabs $trace_fn, %r11 */
        p[n++] = 0xbb;
        put64(p + n, (uintptr_t)trace_fn);
        n += 8;
        p[n++] = 0x41;                          /* call *%r11 */
        p[n++] = 0xff;
        p[n++] = 0xd3;
    }

    /* jmp *%rax: where the trace says TCG's code goes on */
    p[n++] = 0xff;
    p[n++] = 0xe0;
    return n;
}

const void *tcg_host_tb_ret_addr(const void *code_gen_epilogue)
{
    const uint8_t *p = code_gen_epilogue;

    /* tcg_out_movi(eax, 0) -> tgen_arithr(ARITH_XOR): 33 c0 (31 c0 alike) */
    if (p && (p[0] == 0x33 || p[0] == 0x31) && p[1] == 0xc0) {
        return p + 2;
    }
    return NULL;
}
