/*
 * hybrid: the host-specific layer under the LLVM trace tier.
 *
 * This header is the ONLY interface a host implements. Everything the
 * tier does that depends on the machine QEMU runs on (not the guest) goes
 * through it: which LLVM target the JIT compiles for, how a translation
 * block's entry is redirected to a compiled trace and back, how new code
 * is made visible to instruction fetch, and how a trace function (plain C
 * ABI) is entered from TCG's calling context.
 *
 * One implementation per host lives in tcg-host/<cpu_family>/; meson picks
 * the directory from host_machine.cpu_family() (see tcg-host/meson.build),
 * so there is no #ifdef on the host anywhere else in the tree. Supported:
 * x86_64 and loongarch64.
 *
 * The header is plain C11 with no QEMU or LLVM types, so it also compiles
 * freestanding (the loongarch64 proof in tests/host/la64/ links the
 * implementation without a libc). The implementations never allocate,
 * lock or print; they do not read QEMU state.
 *
 * Terms:
 *   rx / rw  QEMU may map the code buffer twice (split-wx): an executable
 *            alias (rx) and a writable one (rw) of the same memory. Every
 *            writer takes both: rx for displacements and cache maintenance,
 *            rw for the stores. Without split-wx they are equal.
 *   site     the first bytes of a TB's host code (tb->tc.ptr), where
 *            execution enters the TB, whether from cpu_tb_exec, a chained
 *            goto_tb or goto_ptr.
 *   AREG0    the host register TCG keeps the CPUArchState pointer (env) in
 *            while generated code runs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TCG_HOST_H
#define TCG_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Host-specific TCG vector ops. A TCG backend may expand a generic vector
 * op into ops of its own (its tcg-target-opc.h.inc), so op snapshots
 * taken on this host contain them. The host names each by its TCG name
 * and says what it computes in these host-independent terms; the trace
 * lowering implements the terms. Elements have the op's size (vece),
 * except where said; a "lane" is 128 bits; a, b, c are the inputs in TCG
 * argument order and imm the constant argument.
 */
typedef enum TcgHostVecKind {
    TCG_HOST_VEC_INTERLEAVE_LO, /* per lane: a0 b0 a1 b1 ... (low halves) */
    TCG_HOST_VEC_INTERLEAVE_HI, /* per lane: the same of the high halves */
    TCG_HOST_VEC_PACK_SS,       /* per lane: a then b, elements twice the
                                   size narrowed with signed saturation */
    TCG_HOST_VEC_PACK_US,       /* the same, signed to unsigned saturation */
    TCG_HOST_VEC_BLEND_IMM,     /* element i: b if bit i % 8 of imm, else a */
    TCG_HOST_VEC_FSHL_IMM,      /* high element of (a:b) << imm */
    TCG_HOST_VEC_FSHL_VAR,      /* high element of (a:b) << (c % bits) */
    TCG_HOST_VEC_FSHR_VAR,      /* low element of (b:a) >> (c % bits) */
} TcgHostVecKind;

typedef struct TcgHostVecOp {
    const char *name;           /* TCG's name, e.g. "x86_punpckl_vec" */
    TcgHostVecKind kind;
} TcgHostVecOp;

/*
 * Host facts. Constant for the life of the process; any thread may read
 * them at any time.
 */
typedef struct TcgHostInfo {
    /* LLVM target for the JIT: triple, CPU name, feature string */
    const char *llvm_triple;
    const char *llvm_cpu;
    const char *llvm_features;
    /*
     * ABI name of TCG's AREG0 ("rbp", "s0") and of the register the
     * epilogue returns to cpu_tb_exec ("rax", "a0"); no '%' or '$' prefix.
     */
    const char *areg0;
    const char *ret_reg;
    /* alignment the JIT should give trace code (bytes, power of 2) */
    size_t code_align;
    /*
     * A raw site (see "Sites" below): the TB must have at least
     * patch_site_size bytes of code at its entry, aligned to
     * patch_site_align (both aliases). TCG places TB code at
     * qemu_icache_linesize alignment (tcg_tb_alloc), at least 16, which
     * satisfies both hosts. A reserved site has the same alignment.
     */
    size_t patch_site_size;
    size_t patch_site_align;
    /*
     * tcg_host_patch_jump() uses the near (one instruction) form whenever
     * |target - site| <= near_reach; on a raw site it succeeds whenever
     * it is <= far_reach (SIZE_MAX: any address). A reserved site reaches
     * any address. Distances count in either direction.
     */
    size_t near_reach;
    size_t far_reach;
    /* the backend's own vector ops (see TcgHostVecKind); may be none */
    const TcgHostVecOp *vec_ops;
    size_t n_vec_ops;
} TcgHostInfo;

extern const TcgHostInfo tcg_host_info;

/* Largest number of bytes one patch replaces; sizes TcgHostPatchSave. */
#define TCG_HOST_PATCH_MAX 16

/* Largest entry thunk tcg_host_emit_entry_thunk() writes. */
#define TCG_HOST_ENTRY_THUNK_MAX 64

/* Largest reserved site tcg_host_emit_patch_site() writes. */
#define TCG_HOST_PATCH_SITE_MAX 24

typedef enum TcgHostPatchForm {
    TCG_HOST_PATCH_NONE,    /* not patched */
    TCG_HOST_PATCH_NEAR,    /* x86_64 jmp rel32; loongarch64 b offs26 */
    TCG_HOST_PATCH_FAR,     /* beyond near_reach; per host and site kind */
} TcgHostPatchForm;

/*
 * What tcg_host_patch_jump() replaced, for tcg_host_patch_restore().
 * Owned by the caller, opaque apart from @form and @reserved.
 */
typedef struct TcgHostPatchSave {
    uint8_t orig[TCG_HOST_PATCH_MAX];   /* site bytes before the patch */
    uint8_t patch[TCG_HOST_PATCH_MAX];  /* bytes the patch wrote */
    uint8_t len;                        /* both valid in [0, len) */
    uint8_t form;                       /* TcgHostPatchForm */
    uint8_t reserved;                   /* the site was a reserved site */
} TcgHostPatchSave;

/*
 * Sites. tcg_host_patch_jump() redirects one of two kinds of TB entry,
 * telling them apart by content (an unpatched reserved site is a fixed
 * sequence that TCG never generates at a TB entry):
 *
 * Reserved site: what tcg_host_emit_patch_site() wrote, emitted by the
 *   backend at TB start. Its first instruction is the only one that ever
 *   changes: unpatched it skips the rest of the site (and costs one taken
 *   direct branch); near, it is the branch to the target; far, it enters
 *   fixed code in the site that jumps through a data slot, also in the
 *   site, holding the target (written before the instruction; never
 *   cleared, so a thread that took the far path just before a restore or
 *   a re-patch reads a target that was valid). Patch and restore are
 *   therefore safe while any number of threads execute the TB, or are
 *   stopped anywhere in it.
 *     x86_64 (16 bytes): jmp .+16 | jmp rel32 | jmp *2(%rip), then int3
 *       filler, then the slot at +8.
 *     loongarch64 (24 bytes): b .+24 | b offs26 | nop, then
 *       pcaddi $t0,3; ld.d $t0,$t0,0; jirl $zero,$t0,0, then the slot at
 *       +16.
 *
 * Raw site: the TB's own first instructions (no backend change needed).
 *   The patch replaces the instructions it overlaps:
 *     x86_64: near jmp rel32 (5 bytes), far jmp *2(%rip) with the target
 *       at +8 (16 bytes);
 *     loongarch64: near b offs26 (4 bytes), far pcaddu18i $t0 + jirl
 *       $zero,$t0 (8 bytes, +-128 GiB).
 *   This is safe only while no other thread is executing the site, i.e.
 *   patch and restore in an exclusive section (start_exclusive(),
 *   async_safe_run_on_cpu()): a thread stopped (preempted, in a signal
 *   handler) between two of the replaced instructions would resume in
 *   the middle of the new sequence, and on x86_64 a thread that fetched
 *   the far jmp reads its target when it executes it, after a restore
 *   may have put code bytes back there. One exception: the near form
 *   replaces a single instruction when the TB's first instruction is at
 *   least as long (always on loongarch64; x86_64 TBs start with a 3 or
 *   4 byte load).
 *
 * Publication, both kinds: all bytes that change in one step lie in one
 * naturally aligned unit (x86_64: 8 or 16 bytes; loongarch64: 4 or 8)
 * written with one atomic compare-and-swap, so a thread entering the site
 * sees the whole old or the whole new instruction(s), and a concurrent
 * store to the unit's other bytes (TCG chaining a goto_tb whose
 * displacement shares the unit) is not lost: the CAS retries. This is the
 * property QEMU's tb_target_set_jmp_target() relies on. The CAS is a full
 * barrier, ordering the target's code (and the slot) before the branch,
 * and is followed by tcg_host_flush_icache() on the site.
 */

/*
 * tcg_host_patch_jump: redirect the entry of a TB to @target.
 *
 * Writes the near form when @target is within near_reach of @site_rx,
 * else the far form, and records what it replaced in @save. @target must
 * already be executable: its bytes written and tcg_host_flush_icache()
 * called on them.
 *
 * Returns false, leaving the site and @save untouched, if the site is
 * misaligned or (raw site) @target is beyond far_reach; on loongarch64
 * then emit a reserved site, or put a thunk nearer (in the code buffer).
 *
 * Caller: the thread that installs a compiled trace (vCPU or compile
 * thread), holding whatever serialises patching of this site: two
 * patch/restore calls on one site must not overlap, and a site is
 * restored before it is patched again. See "Sites" for what other
 * threads may do meanwhile.
 */
bool tcg_host_patch_jump(void *site_rx, void *site_rw, const void *target,
                         TcgHostPatchSave *save);

/*
 * tcg_host_patch_restore: undo tcg_host_patch_jump(), atomically.
 *
 * Writes @save->orig back over the bytes the patch replaced (a reserved
 * site's slot keeps the last target), with the same single atomic store,
 * if the site still holds exactly what the patch wrote; then flushes.
 * Returns false (and writes nothing) if it does not: not patched, already
 * restored, or re-patched by someone else. Marks @save
 * TCG_HOST_PATCH_NONE on success.
 *
 * Same caller rules as tcg_host_patch_jump(). Threads that already took
 * the branch keep running the target: the caller must keep it alive until
 * they are out (RCU grace period, exclusive section or tb_flush).
 */
bool tcg_host_patch_restore(void *site_rx, void *site_rw,
                            TcgHostPatchSave *save);

/*
 * tcg_host_emit_patch_site: write an unpatched reserved site (see
 * "Sites") at @buf_rw, executable alias @buf_rx, aligned to
 * patch_site_align, and return its length (<= TCG_HOST_PATCH_SITE_MAX).
 * The TB's code follows it. For the backend's tcg_out_tb_start(); any
 * thread; does not flush.
 */
size_t tcg_host_emit_patch_site(void *buf_rx, void *buf_rw);

/*
 * tcg_host_flush_icache: make code written to [@start, @start + @len)
 * executable by instruction fetch on this thread and, by the host's
 * coherence, all others. @start is the executable (rx) address. Any
 * thread. x86_64: compiler barrier only (fetch is coherent with stores);
 * loongarch64: dbar 0 (stores complete) then ibar 0 (drop instructions
 * already fetched); I-caches are kept coherent across cores in hardware,
 * as Linux's flush_icache_range (a local ibar) relies on.
 */
void tcg_host_flush_icache(void *start, size_t len);

/*
 * tcg_host_emit_entry_thunk: write, at @buf_rw (executable alias
 * @buf_rx, aligned to code_align), code that a TB site may branch to:
 *
 *     next = trace_fn(env, 1);    uintptr_t trace_fn(void *env,
 *     goto *next;                                    uintptr_t from_tb)
 *
 * The trace returns where TCG's code goes on: a TB's entry (tb->tc.ptr,
 * as helper_lookup_tb_ptr() gives it) or tcg_code_gen_epilogue (back to
 * cpu_tb_exec() with 0), both entered in a TB's context. @from_tb = 1
 * tells a trace it was entered this way (the execution loop calls it
 * with 0, and then only returns).
 *
 * It runs in a TB's context: env in AREG0, the stack pointer as TCG's
 * prologue left it (aligned for a call). It clobbers only registers the
 * C ABI lets a call clobber (plus the return address register on
 * loongarch64, which TCG's prologue saved), so AREG0 and TCG's frame are
 * intact when it jumps on.
 *
 * Returns the length written (<= TCG_HOST_ENTRY_THUNK_MAX). Uses a direct
 * call when in reach of @buf_rx, else an absolute one: any addresses
 * work. Does not flush: call tcg_host_flush_icache() before publishing.
 * Any thread.
 */
size_t tcg_host_emit_entry_thunk(void *buf_rx, void *buf_rw,
                                 const void *trace_fn);

/*
 * tcg_host_tb_ret_addr: TCG's tb_ret_addr, given tcg_code_gen_epilogue.
 *
 * QEMU 10.0's backends emit the goto_ptr return path as "return register
 * = 0" followed directly by the epilogue proper (tb_ret_addr, static to
 * the backend): x86_64 "xor %eax,%eax" (33 c0), loongarch64
 * "or $a0,$zero,$zero" (0x00150004). Returns the address after that
 * instruction, or NULL if the code there is not what this host expects
 * (a different QEMU): then do not patch TB entries, whose thunks jump
 * into that code. Any thread.
 */
const void *tcg_host_tb_ret_addr(const void *code_gen_epilogue);

#endif /* TCG_HOST_H */
