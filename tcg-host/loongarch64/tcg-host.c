/*
 * hybrid tcg-host: loongarch64 hosts (LP64D ABI, Linux).
 *
 * Facts from QEMU 10.0.2 tcg/loongarch64: TCG_AREG0 is $s0 (tcg-target.h);
 * the prologue allocates a 16-byte aligned frame and saves $s0-$s9 and
 * $ra in it, so a TB may call C directly and clobber $ra; tb_ret_addr
 * reloads them and returns $a0 to cpu_tb_exec; tcg_code_gen_epilogue is
 * "or $a0,$zero,$zero" right before it. QEMU patches goto_tb by storing
 * one aligned instruction and calling flush_idcache_range(), which on
 * this host takes util/cacheflush.c's generic __builtin___clear_cache()
 * path.
 *
 * Instructions are 4 bytes, little-endian, 4-aligned. Encodings (LoongArch
 * Reference Manual vol. 1, checked against llvm-mc-19):
 *   b       offs26  0x50000000 | offs[15:0] << 10 | offs[25:16]
 *   bl      offs26  0x54000000 | same
 *   jirl    rd, rj, offs16   0x4c000000 | offs16 << 10 | rj << 5 | rd
 *   pcaddu18i rd, si20       0x1e000000 | si20 << 5 | rd
 *   or      rd, rj, rk       0x00150000 | rk << 10 | rj << 5 | rd
 *   lu12i.w rd, si20         0x14000000 | si20 << 5 | rd
 *   ori     rd, rj, ui12     0x03800000 | ui12 << 10 | rj << 5 | rd
 *   lu32i.d rd, si20         0x16000000 | si20 << 5 | rd
 *   lu52i.d rd, rj, si12     0x03000000 | si12 << 10 | rj << 5 | rd
 *   andi    $zero,$zero,0    0x03400000 (the canonical nop)
 *   pcaddi  rd, si20         0x18000000 | si20 << 5 | rd
 *   ld.d    rd, rj, si12     0x28c00000 | si12 << 10 | rj << 5 | rd
 * with branch offsets counted in instructions.
 *
 * Compiled without qemu/osdep.h on purpose: the layer needs nothing from
 * QEMU, and tests/host/la64 builds it freestanding.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "tcg-host/tcg-host.h"

#if !defined(__loongarch__) || __loongarch_grlen != 64
#error "tcg-host/loongarch64 built for another host: check tcg-host/meson.build"
#endif

enum {
    REG_ZERO = 0,
    REG_RA = 1,
    REG_A0 = 4,
    REG_A1 = 5,
    REG_T0 = 12,
    REG_S0 = 23,
};

#define OPC_B           0x50000000u
#define OPC_BL          0x54000000u
#define OPC_JIRL        0x4c000000u
#define OPC_PCADDU18I   0x1e000000u
#define OPC_OR          0x00150000u
#define OPC_LU12I_W     0x14000000u
#define OPC_ORI         0x03800000u
#define OPC_LU32I_D     0x16000000u
#define OPC_LU52I_D     0x03000000u
#define OPC_NOP         0x03400000u
#define OPC_PCADDI      0x18000000u
#define OPC_LD_D        0x28c00000u
#define OPC_ADDI_D      0x02c00000u

#define SITE_ALIGN      8
#define RESERVED_LEN    24
#define SLOT_OFS        16

/* b/bl: signed 26-bit instruction offset, +-128 MiB */
#define NEAR_REACH      ((size_t)1 << 27)
/* pcaddu18i + jirl: signed 20-bit << 18 plus signed 18-bit, +-128 GiB */
#define FAR_REACH       ((size_t)1 << 37)

const TcgHostInfo tcg_host_info = {
    .llvm_triple = "loongarch64-unknown-linux-gnu",
    /*
     * la464 (3A5000 and later) is what QEMU's TCG backend targets in
     * practice: it requires UAL (tcg_target_init) and uses LSX. LLVM's
     * la464 includes 64bit, d, lsx, lasx; spelled out for clarity.
     */
    .llvm_cpu = "la464",
    .llvm_features = "+64bit,+d,+lsx,+ual",
    .areg0 = "s0",
    .ret_reg = "a0",
    .code_align = 16,
    .patch_site_size = 8,
    .patch_site_align = SITE_ALIGN,
    .near_reach = NEAR_REACH - 4,
    .far_reach = FAR_REACH - ((size_t)1 << 17) - 4,
};

/*
 * An unpatched reserved site: b .+24 over the far path, which loads the
 * target from the slot at +16 and jumps there.
 */
static const uint32_t reserved_code[4] = {
    OPC_B | (RESERVED_LEN / 4) << 10,               /* b .+24 */
    OPC_PCADDI | 3 << 5 | REG_T0,                   /* $t0 = site + 16 */
    OPC_LD_D | REG_T0 << 5 | REG_T0,                /* ld.d $t0, $t0, 0 */
    OPC_JIRL | REG_T0 << 5 | REG_ZERO,              /* jirl $zero, $t0, 0 */
};

static bool fits_signed(int64_t v, unsigned bits)
{
    return v >= -((int64_t)1 << (bits - 1)) && v < ((int64_t)1 << (bits - 1));
}

static uint32_t insn_b26(uint32_t opc, int64_t byte_disp)
{
    uint32_t offs = (uint32_t)(byte_disp >> 2);

    return opc | (offs & 0xffff) << 10 | (offs >> 16 & 0x3ff);
}

static uint32_t insn_jirl(unsigned rd, unsigned rj, int64_t byte_disp)
{
    return OPC_JIRL | ((uint32_t)(byte_disp >> 2) & 0xffff) << 10
           | rj << 5 | rd;
}

static uint32_t insn_si20(uint32_t opc, unsigned rd, int64_t si20)
{
    return opc | ((uint32_t)si20 & 0xfffff) << 5 | rd;
}

static uint32_t insn_rri12(uint32_t opc, unsigned rd, unsigned rj,
                           uint64_t imm12)
{
    return opc | ((uint32_t)imm12 & 0xfff) << 10 | rj << 5 | rd;
}

static uint32_t insn_or(unsigned rd, unsigned rj, unsigned rk)
{
    return OPC_OR | rk << 10 | rj << 5 | rd;
}

/* Byte distance from @pc to @target if b/bl reaches it, else false. */
static bool near_disp(uintptr_t pc, uintptr_t target, int64_t *disp)
{
    *disp = (int64_t)(target - pc);
    return !(*disp & 3) && fits_signed(*disp >> 2, 26);
}

/*
 * pcaddu18i @rd, hi; jirl @link, @rd, lo reaches pc + (hi << 18) + lo,
 * lo a signed 18-bit byte offset. False if out of reach.
 */
static bool far_pair(uintptr_t pc, uintptr_t target, unsigned rd,
                     unsigned link, uint32_t insn[2])
{
    int64_t disp = (int64_t)(target - pc);
    int64_t lo = (int64_t)((uint64_t)disp << 46) >> 46;
    int64_t hi = (disp - lo) >> 18;

    if ((disp & 3) || !fits_signed(hi, 20)) {
        return false;
    }
    insn[0] = insn_si20(OPC_PCADDU18I, rd, hi);
    insn[1] = insn_jirl(link, rd, lo);
    return true;
}

/* @rd = @v in four instructions, for targets beyond pcaddu18i's reach. */
static unsigned load_abs(uint32_t *p, unsigned rd, uint64_t v)
{
    p[0] = insn_si20(OPC_LU12I_W, rd, (int64_t)(v >> 12));
    p[1] = insn_rri12(OPC_ORI, rd, rd, v);
    p[2] = insn_si20(OPC_LU32I_D, rd, (int64_t)(v >> 32));
    p[3] = insn_rri12(OPC_LU52I_D, rd, rd, v >> 52);
    return 4;
}

/*
 * Replace the first @n (1 or 2) instructions of the naturally aligned
 * (4 * @n)-byte unit at @p with one CAS: ll/sc, so a concurrent store to
 * the unit makes it retry rather than be lost. If @check, only while they
 * equal @check. @old gets the previous contents.
 */
static bool replace_insns(void *p, unsigned n, const uint32_t *insn,
                          const uint32_t *check, uint32_t *old)
{
    if (n == 1) {
        uint32_t cur = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);

        do {
            if (check && cur != check[0]) {
                return false;
            }
            /* seq_cst: dbar orders the target's code before the branch */
        } while (!__atomic_compare_exchange_n((uint32_t *)p, &cur, insn[0],
                                              false, __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        old[0] = cur;
    } else {
        uint64_t want = insn[0] | (uint64_t)insn[1] << 32;
        uint64_t cur = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);

        do {
            if (check && cur != (check[0] | (uint64_t)check[1] << 32)) {
                return false;
            }
        } while (!__atomic_compare_exchange_n((uint64_t *)p, &cur, want,
                                              false, __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        old[0] = (uint32_t)cur;
        old[1] = (uint32_t)(cur >> 32);
    }
    return true;
}

static void save_insns(uint8_t *dst, const uint32_t *insn, unsigned n)
{
    for (unsigned i = 0; i < 4 * n; i++) {
        dst[i] = insn[i / 4] >> (8 * (i % 4));
    }
}

static void load_insns(uint32_t *insn, const uint8_t *src, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        insn[i] = src[4 * i] | src[4 * i + 1] << 8 | src[4 * i + 2] << 16
                  | (uint32_t)src[4 * i + 3] << 24;
    }
}

static bool is_reserved(const uint32_t *site)
{
    for (int i = 0; i < 4; i++) {
        if (site[i] != reserved_code[i]) {
            return false;
        }
    }
    return true;
}

bool tcg_host_patch_jump(void *site_rx, void *site_rw, const void *target,
                         TcgHostPatchSave *save)
{
    uintptr_t rx = (uintptr_t)site_rx;
    uint32_t insn[2], old[2];
    TcgHostPatchForm form = TCG_HOST_PATCH_FAR;
    bool reserved;
    unsigned n;
    int64_t disp;

    if ((rx | (uintptr_t)site_rw) & (SITE_ALIGN - 1)) {
        return false;
    }
    reserved = is_reserved(site_rw);
    if (near_disp(rx, (uintptr_t)target, &disp)) {
        insn[0] = insn_b26(OPC_B, disp);
        n = 1;
        form = TCG_HOST_PATCH_NEAR;
    } else if (reserved) {
        /*
         * Fall into the site's far path. The slot is data: an aligned
         * 8-byte store, ordered before the nop by the CAS's barrier, and
         * kept until the next far patch (see "Sites").
         */
        __atomic_store_n((uint64_t *)((char *)site_rw + SLOT_OFS),
                         (uint64_t)(uintptr_t)target, __ATOMIC_RELAXED);
        insn[0] = OPC_NOP;
        n = 1;
    } else if (far_pair(rx, (uintptr_t)target, REG_T0, REG_ZERO, insn)) {
        /*
         * $t0 is free at a TB entry: TCG keeps no temporaries in registers
         * across TBs, only env ($s0) and guest_base ($s1) live there.
         */
        n = 2;
    } else {
        return false;
    }
    replace_insns(site_rw, n, insn, NULL, old);
    save_insns(save->orig, old, n);
    save_insns(save->patch, insn, n);
    save->len = 4 * n;
    save->reserved = reserved;
    save->form = form;
    tcg_host_flush_icache(site_rx, 4 * n);
    return true;
}

bool tcg_host_patch_restore(void *site_rx, void *site_rw,
                            TcgHostPatchSave *save)
{
    uint32_t orig[2], patch[2], old[2];
    unsigned n = save->len / 4;

    if (save->form == TCG_HOST_PATCH_NONE || n < 1 || n > 2) {
        return false;
    }
    load_insns(orig, save->orig, n);
    load_insns(patch, save->patch, n);
    if (!replace_insns(site_rw, n, orig, patch, old)) {
        return false;
    }
    save->form = TCG_HOST_PATCH_NONE;
    tcg_host_flush_icache(site_rx, 4 * n);
    return true;
}

size_t tcg_host_emit_patch_site(void *buf_rx, void *buf_rw)
{
    uint32_t *p = buf_rw;

    (void)buf_rx;
    /*
     * Only p[0] ever changes. A thread stopped anywhere after it runs the
     * far path to the slot's target, which stays valid (see "Sites");
     * $t0 is dead at a TB entry.
     */
    for (int i = 0; i < 4; i++) {
        p[i] = reserved_code[i];
    }
    p[4] = p[5] = 0;                                /* the slot */
    return RESERVED_LEN;
}

void tcg_host_flush_icache(void *start, size_t len)
{
    (void)start;
    (void)len;
    /*
     * dbar 0: our stores are complete; ibar 0: this core's fetch sees them.
     * Other cores' I-caches are coherent in hardware (Linux defines
     * flush_icache_range as the local ibar). Written out rather than
     * __builtin___clear_cache(), which clang lowers to a call to the
     * runtime's __clear_cache, absent from the freestanding proof.
     */
    asm volatile("dbar 0\n\tibar 0" ::: "memory");
}

size_t tcg_host_emit_entry_thunk(void *buf_rx, void *buf_rw,
                                 const void *trace_fn)
{
    uintptr_t rx = (uintptr_t)buf_rx;
    uint32_t *p = buf_rw;
    unsigned n = 0;
    int64_t disp;

    /* or $a0, $s0, $zero: env is the first argument */
    p[n++] = insn_or(REG_A0, REG_S0, REG_ZERO);
    /* addi.d $a1, $zero, 1: entered from a TB */
    p[n++] = insn_rri12(OPC_ADDI_D, REG_A1, REG_ZERO, 1);

    /*
     * Call trace_fn; $sp is 16-aligned (TCG's frame) as the ABI wants.
     * Clobbering $ra is fine: the prologue saved it and tb_ret_addr
     * reloads it.
     */
    if (near_disp(rx + 4 * n, (uintptr_t)trace_fn, &disp)) {
        p[n] = insn_b26(OPC_BL, disp);
        n += 1;
    } else if (far_pair(rx + 4 * n, (uintptr_t)trace_fn, REG_RA, REG_RA,
                        p + n)) {
        n += 2;
    } else {
        n += load_abs(p + n, REG_T0, (uintptr_t)trace_fn);
        p[n++] = insn_jirl(REG_RA, REG_T0, 0);
    }

    /* jirl $zero, $a0, 0: where the trace says TCG's code goes on */
    p[n++] = insn_jirl(REG_ZERO, REG_A0, 0);
    return 4 * n;
}

const void *tcg_host_tb_ret_addr(const void *code_gen_epilogue)
{
    const uint32_t *p = code_gen_epilogue;

    /* tcg_out_mov(TCG_REG_A0, TCG_REG_ZERO) -> or $a0, $zero, $zero */
    if (p && *p == insn_or(REG_A0, REG_ZERO, REG_ZERO)) {
        return p + 1;
    }
    return NULL;
}
