/*
 * Unit tests of the lowering (llvm-backend/lower*.c) on op snapshots built
 * by hand: a few TBs of TCG ops for a made-up guest (TestEnv below), lowered
 * with hybrid_lower() and checked on their IR, then compiled with the
 * project's JIT and run, with the target's helpers, exits and edge check
 * played by this file. No QEMU core is needed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "tcg/tcg.h"
#include "exec/memop.h"
#include "exec/memopidx.h"
#include <llvm-c/Core.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include "llvm-backend/lower.h"

/*
 * The made-up guest. Its registers are TCG globals (env fields), its pc
 * and insn state (x86's cc_op) are fields the lowering keeps exact itself,
 * and exit requests sit before env, as icount_decr does in CPUState.
 */
typedef struct TestTLBEntry {       /* CPUTLBEntry of a 64-bit host */
    uint64_t addr_read, addr_write, addr_code;
    uintptr_t addend;
} TestTLBEntry;

typedef struct TestEnv {
    uint64_t reg[8];
    uint64_t pc;
    uint32_t cc_op;
    uint8_t can_do_io;
    uint64_t tlb_mask;              /* CPUTLBDescFast of MMU index 0 */
    TestTLBEntry *tlb_table;
    uint8_t xmm[2][16];
    uint32_t hflags, eflags;        /* TB flags: hflags | (eflags & 0xff) */
    uint64_t cs_base;
} TestEnv;

typedef struct TestCPU {
    int32_t exit_request;           /* negative: leave at the next TB */
    uint32_t pad;
    TestEnv env;
} TestCPU;

enum { RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8 };

#define REG_OFF(r) ((int64_t)offsetof(TestEnv, reg[r]))
#define EXIT_REQUEST_OFF (-(int64_t)offsetof(TestCPU, env))
#define CC_OP_DYNAMIC 1             /* insn state "already in env" */

/*
 * Guest RAM: two pages at RAM_BASE. The TLB (one entry) maps the first;
 * the helpers reach both.
 */
#define PAGE 4096
#define RAM_BASE 0x10000
static uint8_t ram[2 * PAGE];
static TestTLBEntry tlb[1];

/* What the code called, and what it saw then. */
static struct {
    unsigned ld, st, ld16, st16, edge_ok, edge_fill, exits, probes;
    uint32_t exit_code;
    uint64_t edge_pc, edge_phys0;
    bool edge_answer;
    /* env at the first helper call (probe or memory slow path) */
    bool saw;
    uint64_t pc, reg[8];
    uint32_t cc_op;
} seen;

static void saw(TestEnv *env)
{
    if (!seen.saw) {
        seen.saw = true;
        seen.pc = env->pc;
        seen.cc_op = env->cc_op;
        memcpy(seen.reg, env->reg, sizeof(seen.reg));
    }
}

static uint8_t *ram_at(uint64_t addr, unsigned size)
{
    g_assert_cmpuint(addr, >=, RAM_BASE);
    g_assert_cmpuint(addr + size, <=, RAM_BASE + sizeof(ram));
    return &ram[addr - RAM_BASE];
}

static uint64_t ram_ld(TestEnv *env, uint64_t addr, unsigned size)
{
    uint64_t v = 0;

    seen.ld++;
    saw(env);
    memcpy(&v, ram_at(addr, size), size);     /* little-endian host */
    return v;
}

static void ram_st(TestEnv *env, uint64_t addr, unsigned size, uint64_t v)
{
    seen.st++;
    saw(env);
    memcpy(ram_at(addr, size), &v, size);
}

#define LD(n, type)                                                        \
    static uint64_t ld##n(TestEnv *env, uint64_t addr, uint32_t oi,         \
                          uint64_t ra)                                      \
    {                                                                      \
        return (uint64_t)(type)ram_ld(env, addr, sizeof(type));            \
    }
LD(u1, uint8_t)
LD(u2, uint16_t)
LD(u4, uint32_t)
LD(u8, uint64_t)
LD(s1, int8_t)
LD(s2, int16_t)
LD(s4, int32_t)

#define ST(n, size, type)                                                  \
    static void st##n(TestEnv *env, uint64_t addr, type v, uint32_t oi,    \
                      uint64_t ra)                                          \
    {                                                                      \
        ram_st(env, addr, size, v);                                        \
    }
ST(1, 1, uint32_t)
ST(2, 2, uint32_t)
ST(4, 4, uint32_t)
ST(8, 8, uint64_t)

static unsigned __int128 ld16(TestEnv *env, uint64_t addr, uint32_t oi,
                              uint64_t ra)
{
    unsigned __int128 v;

    seen.ld16++;
    saw(env);
    memcpy(&v, ram_at(addr, 16), 16);
    return v;
}

static void st16(TestEnv *env, uint64_t addr, unsigned __int128 v,
                 uint32_t oi, uint64_t ra)
{
    seen.st16++;
    saw(env);
    memcpy(ram_at(addr, 16), &v, 16);
}

static uint64_t test_exit(TestEnv *env, void *owner, uint32_t code,
                          uint64_t from_tb)
{
    seen.exits++;
    seen.exit_code = code;
    return 0;
}

static bool test_edge_ok(TestEnv *env, uint64_t pc, uint64_t cs_base,
                         uint32_t flags, int64_t phys0, int64_t phys1)
{
    seen.edge_ok++;
    seen.edge_pc = pc;
    seen.edge_phys0 = phys0;
    return seen.edge_answer;
}

/*
 * The target's edge_fill: as test_edge_ok, and on yes the TB's in-line
 * check from the TLB entry (the one of MMU index 0), as hw-glue's does.
 */
static bool test_edge_fill(TestEnv *env, uint64_t pc, uint64_t cs_base,
                           uint32_t flags, int64_t phys0, int64_t phys1,
                           HybridEdgeCache *c)
{
    seen.edge_fill++;
    seen.edge_pc = pc;
    seen.edge_phys0 = phys0;
    if (seen.edge_answer) {
        c->host = (env->pc & ~(uint64_t)(PAGE - 1)) + tlb[0].addend;
        c->tlb_ofs = offsetof(TestEnv, tlb_mask);
    }
    return seen.edge_answer;
}

/* A helper that reads and writes globals: what does it see? */
static void probe(TestEnv *env)
{
    seen.probes++;
    saw(env);
    env->reg[RCX] = 77;
}

static uint64_t test_state_pc(const HybridSnapTB *tb, uint64_t pc)
{
    return pc;                      /* no segment base */
}

static const void *test_epilogue = (const void *)0x1234;

static const HybridTargetDesc test_desc = {
    .pc_offset = offsetof(TestEnv, pc),
    .pc_size = 8,
    .insn_state_offset = offsetof(TestEnv, cc_op),
    .insn_state_dynamic = CC_OP_DYNAMIC,
    .can_do_io_offset = offsetof(TestEnv, can_do_io),
    .page_mask = ~(uint64_t)(PAGE - 1),
    .pcrel = true,
    .trace_exit = test_exit,
    .code_gen_epilogue = &test_epilogue,
    .state_pc = test_state_pc,
    .edge_ok = (void *)test_edge_ok,
    .ld_helper = { ldu1, ldu2, ldu4, ldu8 },
    .lds_helper = { lds1, lds2, lds4 },
    .st_helper = { st1, st2, st4, st8 },
    .ld16_helper = ld16,
    .st16_helper = st16,
    .tlb_fast_offset = offsetof(TestEnv, tlb_mask),
    .tlb_entry_bits = 5,
    .page_bits = 12,
    .tlb_read_ofs = offsetof(TestTLBEntry, addr_read),
    .tlb_write_ofs = offsetof(TestTLBEntry, addr_write),
    .tlb_addend_ofs = offsetof(TestTLBEntry, addend),
    .tb_cflags_ofs = 0,
    .tb_code_ofs = 8,
    .tb_invalid = 1,
    .exit_hot_mask = 1023,
};

/*
 * Building a TB's ops as TCG's front end would have emitted them: temps
 * and labels are indices local to the TB, args in TCG's order (outputs,
 * inputs, constants).
 */
typedef struct Build {
    GArray *ops, *args, *temps, *helpers;
    unsigned nlabels;
} Build;

static void build_init(Build *b)
{
    b->ops = g_array_new(false, false, sizeof(HybridSnapOp));
    b->args = g_array_new(false, false, sizeof(uint64_t));
    b->temps = g_array_new(false, false, sizeof(HybridSnapTemp));
    b->helpers = g_array_new(false, false, sizeof(HybridSnapHelper));
    b->nlabels = 0;
}

static uint64_t temp(Build *b, unsigned kind, unsigned type, int64_t val)
{
    HybridSnapTemp t = { .kind = kind, .type = type, .val = val };

    g_array_append_val(b->temps, t);
    return b->temps->len - 1;
}

static uint64_t reg(Build *b, int r)
{
    return temp(b, HYBRID_TEMP_GLOBAL, TCG_TYPE_I64, REG_OFF(r));
}

static uint64_t pc_global(Build *b)
{
    return temp(b, HYBRID_TEMP_GLOBAL, TCG_TYPE_I64,
                offsetof(TestEnv, pc));
}

static uint64_t k64(Build *b, int64_t v)
{
    return temp(b, HYBRID_TEMP_CONST, TCG_TYPE_I64, v);
}

static uint64_t k32(Build *b, int32_t v)
{
    return temp(b, HYBRID_TEMP_CONST, TCG_TYPE_I32, v);
}

static uint64_t local(Build *b, unsigned type)
{
    return temp(b, HYBRID_TEMP_LOCAL, type, 0);
}

static uint64_t env_temp(Build *b)
{
    return temp(b, HYBRID_TEMP_ENV, TCG_TYPE_I64, 0);
}

static uint64_t label(Build *b)
{
    return b->nlabels++;
}

static void op_n(Build *b, unsigned opc, unsigned p1, unsigned p2,
                 const uint64_t *args, unsigned n)
{
    HybridSnapOp op = {
        .opc = opc, .nargs = n, .param1 = p1, .param2 = p2,
        .first_arg = b->args->len,
    };

    g_array_append_vals(b->args, args, n);
    g_array_append_val(b->ops, op);
}

#define ARGS(...) ((const uint64_t[]){ __VA_ARGS__ })
#define NARGS(...) (sizeof(ARGS(__VA_ARGS__)) / sizeof(uint64_t))
#define OP(b, name, ...) \
    op_n(b, INDEX_op_##name, 0, 0, ARGS(__VA_ARGS__), NARGS(__VA_ARGS__))
/* vector ops: param1 the TCG type, param2 log2 of the element size */
#define VOP(b, name, type, vece, ...) \
    op_n(b, INDEX_op_##name, type, vece, ARGS(__VA_ARGS__), \
         NARGS(__VA_ARGS__))

/* insn_start: the page offset of the insn (PC-relative TBs), its cc_op */
static void insn(Build *b, uint64_t page_off, uint32_t cc_op)
{
    OP(b, insn_start, page_off, cc_op);
}

/* A call of @fn (@name, @typemask, @flags: TCG's) with outputs, inputs. */
static void call(Build *b, void *fn, const char *name, uint32_t typemask,
                 unsigned flags, const uint64_t *out, unsigned nout,
                 const uint64_t *in, unsigned nin)
{
    HybridSnapHelper h = {
        .func = fn, .name = name, .typemask = typemask, .flags = flags,
    };
    uint64_t a[16];
    unsigned n = 0;

    for (unsigned i = 0; i < nout; i++) {
        a[n++] = out[i];
    }
    for (unsigned i = 0; i < nin; i++) {
        a[n++] = in[i];
    }
    a[n++] = b->helpers->len;
    g_array_append_val(b->helpers, h);
    op_n(b, INDEX_op_call, nin, nout, a, n);
}

/*
 * The exit-request check TCG puts at the start of every TB: leave with
 * exit_tb if the word before env is negative.
 */
static uint64_t exit_check(Build *b)
{
    uint64_t t = local(b, TCG_TYPE_I32), l = label(b);

    OP(b, ld_i32, t, env_temp(b), EXIT_REQUEST_OFF);
    OP(b, brcond_i32, t, k32(b, 0), TCG_COND_LT, l);
    return l;
}

static void exit_requested(Build *b, uint64_t l)
{
    OP(b, set_label, l);
    OP(b, exit_tb, 3);
}

/* pc += @delta, as PC-relative x86 TBs update eip. */
static void pc_add(Build *b, int64_t delta)
{
    uint64_t pc = pc_global(b);

    OP(b, add_i64, pc, pc, k64(b, delta));
}

/* TB @i of @s, from @b, at guest pc @pc (physical @phys). */
static void build_tb(HybridSnapshot *s, unsigned i, Build *b, uint64_t pc,
                     int64_t phys, unsigned nsucc, unsigned succ0,
                     unsigned succ1)
{
    HybridSnapTB *tb = &s->tbs[i];

    tb->pc = pc;
    tb->phys0 = phys;
    tb->phys1 = -1;
    tb->nsucc = nsucc;
    tb->succ[0] = succ0;
    tb->succ[1] = succ1;
    tb->nops = b->ops->len;
    tb->nargs = b->args->len;
    tb->ntemps = b->temps->len;
    tb->nlabels = b->nlabels;
    tb->nhelpers = b->helpers->len;
    tb->ops = (HybridSnapOp *)g_array_free(b->ops, false);
    tb->args = (uint64_t *)g_array_free(b->args, false);
    tb->temps = (HybridSnapTemp *)g_array_free(b->temps, false);
    tb->helpers = (HybridSnapHelper *)g_array_free(b->helpers, false);
}

static HybridSnapshot *snapshot(unsigned ntbs, bool loop)
{
    HybridSnapshot *s = g_new0(HybridSnapshot, 1);

    s->trace_id = 1;
    s->ntbs = ntbs;
    s->loop = loop;
    s->tbs = g_new0(HybridSnapTB, ntbs);
    s->target = &test_desc;
    return s;
}

/* The trace's run-time state (HybridCodeRefs), owned by the test. */
typedef struct Refs {
    uint8_t valid;
    uint64_t entries;
    HybridExitSlot links[8];
    uint64_t exits[4];
    HybridEdgeCache edges[4];
    HybridCodeRefs refs;
} Refs;

static void refs_init(Refs *r)
{
    memset(r, 0, sizeof(*r));
    r->valid = 1;
    r->refs = (HybridCodeRefs) {
        .valid = &r->valid, .entries = &r->entries, .owner = r,
        .links = r->links, .exits = r->exits, .edges = r->edges,
    };
}

/* Lower @s into a new module (portable IR if @refs is NULL). */
static LLVMModuleRef lower(LLVMContextRef ctx, const HybridSnapshot *s,
                           const HybridCodeRefs *refs, HybridCompileError *err)
{
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("test", ctx);
    char *msg = NULL;

    if (!hybrid_lower(ctx, mod, "trace", s, refs, err)) {
        LLVMDisposeModule(mod);
        return NULL;
    }
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        g_test_message("%s", msg);
        g_assert_not_reached();
    }
    LLVMDisposeMessage(msg);
    return mod;
}

static LLVMModuleRef lower_ok(LLVMContextRef ctx, const HybridSnapshot *s,
                              const HybridCodeRefs *refs)
{
    HybridCompileError err;
    LLVMModuleRef mod = lower(ctx, s, refs, &err);

    if (!mod) {
        g_test_message("not lowered: %s", err.detail);
    }
    g_assert_nonnull(mod);
    return mod;
}

/* -O2 on @mod; returns its trace function */
static LLVMValueRef optimise(LLVMModuleRef mod)
{
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();

    g_assert_null(LLVMRunPasses(mod, "default<O2>", NULL, o));
    LLVMDisposePassBuilderOptions(o);
    return LLVMGetNamedFunction(mod, "trace");
}

/* Compile @s with the JIT and run it from its head at guest pc @pc. */
static void run(const HybridSnapshot *s, Refs *r, TestCPU *cpu, uint64_t pc)
{
    HybridCompileError err;
    HybridCode *code = hybrid_jit_compile(s, &r->refs, &err);
    uint64_t ret;

    if (!code) {
        g_test_message("not compiled: %s", err.detail);
    }
    g_assert_nonnull(code);
    cpu->env.pc = pc;
    ret = hybrid_code_fn(code)(&cpu->env, 0);
    g_assert_cmpuint(ret, ==, 0);       /* called as by the loop */
    hybrid_code_free(code);
}

static void reset_seen(bool edge_answer)
{
    memset(&seen, 0, sizeof(seen));
    seen.edge_answer = edge_answer;
}

/* Walking IR: the instructions of @fn, in order. */
#define FOR_EACH_INSN(fn, bb, i)                                           \
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;            \
         bb = LLVMGetNextBasicBlock(bb))                                   \
        for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i;              \
             i = LLVMGetNextInstruction(i))

static bool is_const_int(LLVMValueRef v, uint64_t k)
{
    return LLVMIsAConstantInt(v) && LLVMConstIntGetZExtValue(v) == k;
}

/* Is @p env + @off (a GEP of the function's first argument)? */
static bool is_env_field(LLVMValueRef p, int64_t off)
{
    return LLVMIsAGetElementPtrInst(p) &&
           LLVMIsAArgument(LLVMGetOperand(p, 0)) &&
           LLVMGetNumOperands(p) == 2 &&
           LLVMIsAConstantInt(LLVMGetOperand(p, 1)) &&
           LLVMConstIntGetSExtValue(LLVMGetOperand(p, 1)) == off;
}

/*
 * Stores to env + @off in blocks reachable from the entry (the lowering
 * keeps emitting after a TB's exit, into blocks nothing branches to).
 */
static unsigned count_env_stores(LLVMValueRef fn, int64_t off)
{
    g_autoptr(GHashTable) seen_bb = g_hash_table_new(NULL, NULL);
    g_autoptr(GPtrArray) work = g_ptr_array_new();
    unsigned n = 0;

    g_ptr_array_add(work, LLVMGetEntryBasicBlock(fn));
    while (work->len) {
        LLVMBasicBlockRef bb = g_ptr_array_steal_index(work, work->len - 1);
        LLVMValueRef term = LLVMGetBasicBlockTerminator(bb);

        if (!g_hash_table_add(seen_bb, bb)) {
            continue;
        }
        for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i;
             i = LLVMGetNextInstruction(i)) {
            if (LLVMIsAStoreInst(i) &&
                is_env_field(LLVMGetOperand(i, 1), off)) {
                n++;
            }
        }
        for (unsigned k = 0; term && k < LLVMGetNumSuccessors(term); k++) {
            g_ptr_array_add(work, LLVMGetSuccessor(term, k));
        }
    }
    return n;
}

/* Calls whose callee is the constant host address of @f. */
static unsigned count_calls_to(LLVMValueRef fn, const void *f)
{
    unsigned n = 0;

    FOR_EACH_INSN(fn, bb, i) {
        LLVMValueRef c;

        if (!LLVMIsACallInst(i)) {
            continue;
        }
        c = LLVMGetCalledValue(i);
        if (LLVMIsAConstantExpr(c) && LLVMGetConstOpcode(c) == LLVMIntToPtr &&
            is_const_int(LLVMGetOperand(c, 0), (uintptr_t)f)) {
            n++;
        }
    }
    return n;
}

static bool named(LLVMValueRef v, const char *name)
{
    size_t len;
    const char *n = LLVMGetValueName2(v, &len);

    return len == strlen(name) && !memcmp(n, name, len);
}

/*
 * Integer ops on globals, one TB, no edges: the function verifies, and
 * running it computes what the ops say.
 */
static HybridSnapshot *arith_trace(void)
{
    HybridSnapshot *s = snapshot(1, false);
    Build b;
    uint64_t t = 0, lo, hi, t32, lx;

    build_init(&b);
    insn(&b, 0, CC_OP_DYNAMIC);
    lx = exit_check(&b);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), reg(&b, RBX));
    OP(&b, sub_i64, reg(&b, RCX), reg(&b, RAX), k64(&b, 3));
    OP(&b, xor_i64, reg(&b, RDX), reg(&b, RCX), reg(&b, RBX));
    OP(&b, shl_i64, reg(&b, RSI), reg(&b, RAX), k64(&b, 68));   /* & 63 */
    OP(&b, sar_i64, reg(&b, RDI), reg(&b, RBX), k64(&b, 4));
    OP(&b, setcond_i64, reg(&b, RBP), reg(&b, RDX), reg(&b, RCX),
       TCG_COND_LTU);
    OP(&b, movcond_i64, reg(&b, R8), reg(&b, RBP), k64(&b, 0),
       reg(&b, RAX), reg(&b, RBX), TCG_COND_NE);
    t = local(&b, TCG_TYPE_I64);
    OP(&b, divu_i64, t, reg(&b, RAX), k64(&b, 0));      /* no trap */
    OP(&b, deposit_i64, reg(&b, RBX), reg(&b, RBX), reg(&b, RAX), 8, 16);
    lo = local(&b, TCG_TYPE_I64);
    hi = local(&b, TCG_TYPE_I64);
    OP(&b, mulu2_i64, lo, hi, reg(&b, RAX), k64(&b, -1));
    OP(&b, add_i64, reg(&b, RAX), hi, lo);
    t32 = local(&b, TCG_TYPE_I32);
    OP(&b, extrl_i64_i32, t32, reg(&b, RCX));
    OP(&b, ctpop_i32, t32, t32);
    OP(&b, extu_i32_i64, reg(&b, RCX), t32);
    OP(&b, bswap64_i64, reg(&b, RDX), reg(&b, RDX), 0);
    pc_add(&b, 8);
    OP(&b, exit_tb, 0);
    exit_requested(&b, lx);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    return s;
}

static void test_arith(void)
{
    HybridSnapshot *s = arith_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    TestCPU cpu = { 0 };
    uint64_t rax = 0x123456789abcdef0ull, rbx = 0xf00dull, rcx, rdx, x;
    Refs r;

    LLVMDisposeModule(lower_ok(ctx, s, NULL));
    refs_init(&r);
    LLVMDisposeModule(lower_ok(ctx, s, &r.refs));
    LLVMContextDispose(ctx);

    reset_seen(true);
    cpu.env.reg[RAX] = rax;
    cpu.env.reg[RBX] = rbx;
    run(s, &r, &cpu, 0x401000);
    x = rax + rbx;
    rcx = x - 3;
    rdx = rcx ^ rbx;
    g_assert_cmphex(cpu.env.reg[RSI], ==, x << 4);
    g_assert_cmphex(cpu.env.reg[RDI], ==, (uint64_t)((int64_t)rbx >> 4));
    g_assert_cmphex(cpu.env.reg[RBP], ==, rdx < rcx);
    g_assert_cmphex(cpu.env.reg[R8], ==, rdx < rcx ? x : rbx);
    g_assert_cmphex(cpu.env.reg[RBX], ==,
                    (rbx & ~0xffff00ull) | ((x & 0xffff) << 8));
    /* x * (2^64 - 1) = x * 2^64 - x: high x - 1, low -x */
    g_assert_cmphex(cpu.env.reg[RAX], ==, (x - 1) + -x);
    g_assert_cmphex(cpu.env.reg[RCX], ==, __builtin_popcount((uint32_t)rcx));
    g_assert_cmphex(cpu.env.reg[RDX], ==, __builtin_bswap64(rdx));
    g_assert_cmphex(cpu.env.pc, ==, 0x401008);
    g_assert_cmpuint(seen.exits, ==, 1);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(0, HYBRID_EXIT_TB));
    g_assert_cmpuint(r.entries, ==, 1);

    /* an exit request leaves at the TB's start, nothing done */
    reset_seen(true);
    memset(&cpu, 0, sizeof(cpu));
    cpu.exit_request = -1;
    cpu.env.reg[RAX] = 5;
    run(s, &r, &cpu, 0x401000);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 5);
    g_assert_cmphex(cpu.env.pc, ==, 0x401000);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(0, HYBRID_EXIT_TB));
    hybrid_snapshot_free(s);
}

/*
 * A loop: one TB at 0x401000 (physical 0x5000) adds the 8 bytes at rsi to
 * rdx and 1 to rax, and goes back to itself (goto_tb 0) while rax != rbx,
 * else on to 0x401008 (goto_tb 1, out of the trace).
 */
static HybridSnapshot *loop_trace(void)
{
    HybridSnapshot *s = snapshot(1, true);
    Build b;
    uint64_t lx, again, t;

    build_init(&b);
    insn(&b, 0, CC_OP_DYNAMIC);
    lx = exit_check(&b);
    again = label(&b);
    t = local(&b, TCG_TYPE_I64);
    OP(&b, qemu_ld_i64, t, reg(&b, RSI), make_memop_idx(MO_LEUQ, 0));
    OP(&b, add_i64, reg(&b, RDX), reg(&b, RDX), t);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 1));
    OP(&b, brcond_i64, reg(&b, RAX), reg(&b, RBX), TCG_COND_NE, again);
    pc_add(&b, 8);
    OP(&b, goto_tb, 1);
    OP(&b, exit_tb, 1);
    OP(&b, set_label, again);
    OP(&b, goto_tb, 0);
    OP(&b, exit_tb, 0);
    exit_requested(&b, lx);
    build_tb(s, 0, &b, 0x401000, 0x5000, 1, 0, 0);
    return s;
}

/*
 * rax, a global the loop sets, is a phi around the back edge: not stored
 * to env and loaded again after the memory access (whose slow path calls
 * a helper, which may write env), as it would be if it lived in env.
 */
static void test_loop_phi(void)
{
    HybridSnapshot *s = loop_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    LLVMValueRef fn;
    bool found = false;
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    fn = optimise(mod);
    FOR_EACH_INSN(fn, bb, i) {
        if (!LLVMIsAPHINode(i) ||
            LLVMTypeOf(i) != LLVMInt64TypeInContext(ctx)) {
            continue;
        }
        for (unsigned k = 0; k < LLVMCountIncoming(i); k++) {
            LLVMValueRef v = LLVMGetIncomingValue(i, k);

            /* rax' = phi + 1, coming back into the phi */
            if (LLVMIsAInstruction(v) &&
                LLVMGetInstructionOpcode(v) == LLVMAdd &&
                LLVMGetOperand(v, 0) == i &&
                is_const_int(LLVMGetOperand(v, 1), 1)) {
                found = true;
            }
        }
    }
    if (!found) {
        char *ir = LLVMPrintModuleToString(mod);

        g_test_message("%s", ir);
        LLVMDisposeMessage(ir);
    }
    g_assert_true(found);
    /* rbx, only read, is never stored */
    g_assert_cmpuint(count_env_stores(fn, REG_OFF(RBX)), ==, 0);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    hybrid_snapshot_free(s);
}

/*
 * The loop's back edge is checked by the pc's page offset alone (a goto_tb
 * to the same physical page), so the trace runs at any virtual alias of
 * its code: here at 0x7ff000 instead of the recorded 0x401000.
 */
static void test_page_offset_edge(void)
{
    HybridSnapshot *s = loop_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    LLVMValueRef fn;
    TestCPU cpu = { 0 };
    bool found = false;
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    fn = LLVMGetNamedFunction(mod, "trace");
    /* icmp eq (and (xor pc, 0x401000), 0xfff), 0; no edge_ok call */
    FOR_EACH_INSN(fn, bb, i) {
        LLVMValueRef x;

        if (!LLVMIsAInstruction(i) ||
            LLVMGetInstructionOpcode(i) != LLVMAnd ||
            !is_const_int(LLVMGetOperand(i, 1), PAGE - 1)) {
            continue;
        }
        x = LLVMGetOperand(i, 0);
        if (LLVMIsAInstruction(x) && LLVMGetInstructionOpcode(x) == LLVMXor &&
            is_const_int(LLVMGetOperand(x, 1), 0x401000) &&
            LLVMIsALoadInst(LLVMGetOperand(x, 0)) &&
            is_env_field(LLVMGetOperand(LLVMGetOperand(x, 0), 0),
                         offsetof(TestEnv, pc))) {
            found = true;
        }
    }
    g_assert_true(found);
    g_assert_cmpuint(count_calls_to(fn, test_edge_ok), ==, 0);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    reset_seen(false);
    cpu.env.reg[RBX] = 1000;
    cpu.env.reg[RSI] = RAM_BASE + 8;
    cpu.env.tlb_table = tlb;
    memset(ram, 0, sizeof(ram));
    ram[8] = 3;
    tlb[0] = (TestTLBEntry) {
        .addr_read = RAM_BASE, .addr_write = RAM_BASE,
        .addend = (uintptr_t)ram - RAM_BASE,
    };
    run(s, &r, &cpu, 0x7ff000);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 1000);   /* all in the trace */
    g_assert_cmpuint(cpu.env.reg[RDX], ==, 3000);
    g_assert_cmphex(cpu.env.pc, ==, 0x7ff008);
    g_assert_cmpuint(seen.exits, ==, 1);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(0, 1));
    g_assert_cmpuint(seen.edge_ok, ==, 0);
    g_assert_cmpuint(r.entries, ==, 1);

    /* an invalidated trace does nothing */
    reset_seen(false);
    r.valid = 0;
    cpu.env.reg[RAX] = 0;
    run(s, &r, &cpu, 0x7ff000);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 0);
    g_assert_cmpuint(seen.exits, ==, 0);
    hybrid_snapshot_free(s);
}

/*
 * Edges the page offset cannot check go through the target's edge_ok: a
 * goto_tb into a TB on another physical page (TB0 -> TB1) and a goto_ptr
 * (TB1 -> TB2, after lookup_tb_ptr).
 */
static HybridSnapshot *edge_trace(void)
{
    HybridSnapshot *s = snapshot(3, false);
    uint64_t ptr;
    Build b;

    build_init(&b);
    insn(&b, 0xff8, CC_OP_DYNAMIC);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 1));
    pc_add(&b, 8);
    OP(&b, goto_tb, 0);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401ff8, 0x5ff8, 1, 1, 0);

    build_init(&b);
    insn(&b, 0x000, CC_OP_DYNAMIC);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 2));
    pc_add(&b, 0x10);
    ptr = local(&b, TCG_TYPE_I64);
    call(&b, (void *)0x999, "lookup_tb_ptr", 6 | 6 << 3,
         TCG_CALL_NO_WRITE_GLOBALS, &ptr, 1, ARGS(env_temp(&b)), 1);
    OP(&b, goto_ptr, ptr);
    build_tb(s, 1, &b, 0x402000, 0x6000, 1, 2, 0);

    build_init(&b);
    insn(&b, 0x010, CC_OP_DYNAMIC);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 4));
    OP(&b, exit_tb, 0);
    build_tb(s, 2, &b, 0x402010, 0x6010, 0, 0, 0);
    return s;
}

static void test_edge_check(void)
{
    HybridSnapshot *s = edge_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    TestCPU cpu = { 0 };
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    g_assert_cmpuint(count_calls_to(LLVMGetNamedFunction(mod, "trace"),
                                    test_edge_ok), ==, 2);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    reset_seen(true);
    run(s, &r, &cpu, 0x401ff8);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 7);
    g_assert_cmpuint(seen.edge_ok, ==, 2);
    g_assert_cmphex(seen.edge_pc, ==, 0x402010);
    g_assert_cmphex(seen.edge_phys0, ==, 0x6010);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(2, HYBRID_EXIT_TB));

    /* refused: the trace leaves at the first edge, state exact */
    reset_seen(false);
    memset(&cpu, 0, sizeof(cpu));
    run(s, &r, &cpu, 0x401ff8);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 1);
    g_assert_cmphex(cpu.env.pc, ==, 0x402000);
    g_assert_cmpuint(seen.edge_ok, ==, 1);
    g_assert_cmphex(seen.edge_pc, ==, 0x402000);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(0, 0));
    hybrid_snapshot_free(s);
}

/*
 * With a target that checks edges in line (edge_fill, 64-bit flags): the
 * first run of each edge calls edge_fill, which fills the TB's check;
 * after that the edges are taken with no call, also at another virtual
 * address of the same code (the TLB maps it to the same host page). A
 * TLB entry mapping the page elsewhere (other guest RAM), other TB flags
 * or another code segment base go back to edge_fill, whose no leaves the
 * trace at the edge, state exact.
 */
static const HybridTargetDesc *edge_fill_desc(void)
{
    static HybridTargetDesc d;

    d = test_desc;
    d.edge_fill = (void *)test_edge_fill;
    d.flags_ofs[0] = offsetof(TestEnv, hflags);
    d.flags_ofs[1] = offsetof(TestEnv, eflags);
    d.flags_mask1 = 0xff;
    d.flags_linear = 0x100;
    d.cs_base_ofs = offsetof(TestEnv, cs_base);
    d.tlb_code_ofs = offsetof(TestTLBEntry, addr_code);
    return &d;
}

static void map_code(TestCPU *cpu, uint64_t vpage, uint64_t host)
{
    cpu->env.tlb_mask = 0;              /* one entry */
    cpu->env.tlb_table = tlb;
    tlb[0].addr_code = vpage;
    tlb[0].addend = host - vpage;
}

static void edge_fill_run(const HybridSnapshot *s, Refs *r, TestCPU *cpu,
                          uint64_t pc, uint64_t vpage, uint64_t host,
                          bool answer)
{
    memset(cpu, 0, sizeof(*cpu));
    cpu->env.hflags = 0x100;
    map_code(cpu, vpage, host);
    reset_seen(answer);
    run(s, r, cpu, pc);
}

static void test_edge_inline(void)
{
    HybridSnapshot *s = edge_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    TestCPU cpu;
    Refs r;

    s->target = edge_fill_desc();
    for (unsigned i = 0; i < s->ntbs; i++) {
        s->tbs[i].flags = 0x100;
    }
    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    g_assert_cmpuint(count_calls_to(LLVMGetNamedFunction(mod, "trace"),
                                    test_edge_ok), ==, 0);
    g_assert_cmpuint(count_calls_to(LLVMGetNamedFunction(mod, "trace"),
                                    test_edge_fill), ==, 2);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    /* first run: both edges ask, and fill their TBs' checks */
    edge_fill_run(s, &r, &cpu, 0x401ff8, 0x402000, 0x7f0000002000, true);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 7);
    g_assert_cmpuint(seen.edge_fill, ==, 2);
    g_assert_cmphex(r.edges[1].host, ==, 0x7f0000002000);
    g_assert_cmphex(r.edges[2].host, ==, 0x7f0000002000);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(2, HYBRID_EXIT_TB));

    /* then in line: no call, at this address or another alias */
    edge_fill_run(s, &r, &cpu, 0x401ff8, 0x402000, 0x7f0000002000, false);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 7);
    g_assert_cmpuint(seen.edge_fill + seen.edge_ok, ==, 0);
    edge_fill_run(s, &r, &cpu, 0x9a1ff8, 0x9a2000, 0x7f0000002000, false);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 7);
    g_assert_cmpuint(seen.edge_fill + seen.edge_ok, ==, 0);

    /* the page mapped to other RAM: asked, refused, left at the edge */
    edge_fill_run(s, &r, &cpu, 0x401ff8, 0x402000, 0x7f0000005000, false);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 1);
    g_assert_cmphex(cpu.env.pc, ==, 0x402000);
    g_assert_cmpuint(seen.edge_fill, ==, 1);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(0, 0));

    /*
     * other TB flags, another code segment base, the TLB entry of another
     * page (a miss): asked, refused, left at the first edge
     */
    for (unsigned i = 0; i < 3; i++) {
        memset(&cpu, 0, sizeof(cpu));
        cpu.env.hflags = 0x100;
        cpu.env.eflags = i == 0 ? 0x4 : 0;
        cpu.env.cs_base = i == 1 ? 0x10 : 0;
        map_code(&cpu, i == 2 ? 0x403000 : 0x402000, 0x7f0000002000);
        reset_seen(false);
        run(s, &r, &cpu, 0x401ff8);
        g_assert_cmpuint(cpu.env.reg[RAX], ==, 1);
        g_assert_cmpuint(seen.edge_fill, ==, 1);
    }
    hybrid_snapshot_free(s);
}

/*
 * A helper call in the TB's second insn sees the exact pc (TB entry pc +
 * 4, whatever virtual address the TB runs at), the insn's cc_op, and the
 * globals set before it; what it writes is read back.
 */
static HybridSnapshot *probe_trace(void)
{
    HybridSnapshot *s = snapshot(1, false);
    Build b;

    build_init(&b);
    insn(&b, 0x000, 7);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 5));
    insn(&b, 0x004, 9);
    call(&b, probe, "probe", 6 << 3, 0, NULL, 0, ARGS(env_temp(&b)), 1);
    OP(&b, add_i64, reg(&b, RCX), reg(&b, RCX), k64(&b, 1));
    pc_add(&b, 8);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    return s;
}

static void test_exact_pc(void)
{
    HybridSnapshot *s = probe_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    LLVMValueRef fn;
    TestCPU cpu = { 0 };
    unsigned from_tb_pc = 0;
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    fn = LLVMGetNamedFunction(mod, "trace");
    /* every store to the pc field: tb_pc + offset, no recorded constant */
    FOR_EACH_INSN(fn, bb, i) {
        LLVMValueRef v;

        if (!LLVMIsAStoreInst(i) ||
            !is_env_field(LLVMGetOperand(i, 1), offsetof(TestEnv, pc))) {
            continue;
        }
        v = LLVMGetOperand(i, 0);
        g_assert_false(LLVMIsAConstant(v));
        if (LLVMIsAInstruction(v) && LLVMGetInstructionOpcode(v) == LLVMAdd &&
            named(LLVMGetOperand(v, 0), "tb_pc") &&
            is_const_int(LLVMGetOperand(v, 1), 4)) {
            from_tb_pc++;
        }
    }
    g_assert_cmpuint(from_tb_pc, ==, 1);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    reset_seen(true);
    cpu.env.reg[RAX] = 10;
    cpu.env.cc_op = CC_OP_DYNAMIC + 1;
    run(s, &r, &cpu, 0x7ff000);
    g_assert_cmpuint(seen.probes, ==, 1);
    g_assert_cmphex(seen.pc, ==, 0x7ff004);
    g_assert_cmpuint(seen.cc_op, ==, 9);
    g_assert_cmpuint(seen.reg[RAX], ==, 15);
    /* the translator's view is back after the call; rcx was reloaded */
    g_assert_cmpuint(cpu.env.cc_op, ==, CC_OP_DYNAMIC + 1);
    g_assert_cmphex(cpu.env.pc, ==, 0x7ff008);
    g_assert_cmpuint(cpu.env.reg[RCX], ==, 78);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 15);

    /* portable IR names only the harness's helpers: not this one */
    {
        HybridCompileError err;

        ctx = LLVMContextCreate();
        g_assert_null(lower(ctx, s, NULL, &err));
        g_assert_cmpint(err.reason, ==, HYBRID_ABORT_UNSUPPORTED_OP);
        g_assert_cmpint(err.opc, ==, INDEX_op_call);
        LLVMContextDispose(ctx);
    }
    hybrid_snapshot_free(s);
}

/*
 * State mapping over edges: TB0 sets rbx and goes on to TB1, whose helper
 * call must see it (rbx is dirty on entry to TB1). Only what may differ
 * from env is stored: rcx is only read, never stored; rbx is stored where
 * TB0 leaves the trace and before the call, not again at TB1's exit.
 */
static HybridSnapshot *dirty_trace(void)
{
    HybridSnapshot *s = snapshot(2, false);
    Build b;

    build_init(&b);
    insn(&b, 0x000, CC_OP_DYNAMIC);
    OP(&b, mov_i64, reg(&b, RBX), k64(&b, 42));
    pc_add(&b, 8);
    OP(&b, goto_tb, 0);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401000, 0x5000, 1, 1, 0);

    build_init(&b);
    insn(&b, 0x008, CC_OP_DYNAMIC);
    call(&b, probe, "probe", 6 << 3, 0, NULL, 0, ARGS(env_temp(&b)), 1);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), reg(&b, RDX));
    pc_add(&b, 8);
    OP(&b, exit_tb, 0);
    build_tb(s, 1, &b, 0x401008, 0x5008, 0, 0, 0);
    return s;
}

static void test_dirty_edge(void)
{
    HybridSnapshot *s = dirty_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    LLVMValueRef fn;
    TestCPU cpu = { 0 };
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    fn = LLVMGetNamedFunction(mod, "trace");
    g_assert_cmpuint(count_env_stores(fn, REG_OFF(RDX)), ==, 0);
    g_assert_cmpuint(count_env_stores(fn, REG_OFF(RBX)), ==, 2);
    g_assert_cmpuint(count_env_stores(fn, REG_OFF(RAX)), ==, 1);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    reset_seen(true);
    cpu.env.reg[RAX] = 1;
    cpu.env.reg[RDX] = 2;
    run(s, &r, &cpu, 0x401000);
    g_assert_cmpuint(seen.probes, ==, 1);
    g_assert_cmpuint(seen.reg[RBX], ==, 42);
    g_assert_cmphex(seen.pc, ==, 0x401008);
    g_assert_cmpuint(cpu.env.reg[RAX], ==, 3);
    g_assert_cmpuint(cpu.env.reg[RBX], ==, 42);
    g_assert_cmphex(seen.exit_code, ==, HYBRID_EXIT_CODE(1, HYBRID_EXIT_TB));
    hybrid_snapshot_free(s);
}

/*
 * Guest memory, every shape the lowering has: an 8-byte load and store
 * (at rsi), a sign-extending 4-byte load (rbp), a 1-byte load into an i32
 * temp, a 16-byte load (rdi) and store (r8), and an xmm register through
 * ld_vec/add_vec/st_vec in env. rdx is set first: the helpers must see it.
 */
static HybridSnapshot *mem_trace(void)
{
    HybridSnapshot *s = snapshot(1, false);
    MemOpIdx q = make_memop_idx(MO_LEUQ, 0), sl = make_memop_idx(MO_LESL, 0);
    MemOpIdx ub = make_memop_idx(MO_UB, 0);
    MemOpIdx o = make_memop_idx(MO_128 | MO_LE | MO_ATOM_IFALIGN_PAIR, 0);
    uint64_t t, lo, hi, t32, v;
    Build b;

    build_init(&b);
    insn(&b, 0x000, CC_OP_DYNAMIC);
    OP(&b, mov_i64, reg(&b, RDX), k64(&b, 99));
    insn(&b, 0x004, CC_OP_DYNAMIC);
    t = local(&b, TCG_TYPE_I64);
    OP(&b, qemu_ld_i64, t, reg(&b, RSI), q);
    OP(&b, add_i64, t, t, k64(&b, 1));
    OP(&b, qemu_st_i64, t, reg(&b, RSI), q);
    OP(&b, qemu_ld_i64, reg(&b, RAX), reg(&b, RBP), sl);
    t32 = local(&b, TCG_TYPE_I32);
    OP(&b, qemu_ld_i32, t32, reg(&b, RBP), ub);
    OP(&b, extu_i32_i64, reg(&b, RBX), t32);
    lo = local(&b, TCG_TYPE_I64);
    hi = local(&b, TCG_TYPE_I64);
    OP(&b, qemu_ld_i128, lo, hi, reg(&b, RDI), o);
    OP(&b, qemu_st_i128, lo, hi, reg(&b, R8), o);
    v = local(&b, TCG_TYPE_V128);
    VOP(&b, ld_vec, TCG_TYPE_V128, MO_32, v, env_temp(&b),
        offsetof(TestEnv, xmm[0]));
    VOP(&b, add_vec, TCG_TYPE_V128, MO_32, v, v, v);
    VOP(&b, st_vec, TCG_TYPE_V128, MO_32, v, env_temp(&b),
        offsetof(TestEnv, xmm[1]));
    pc_add(&b, 8);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    return s;
}

static void ram_put(uint64_t addr, uint64_t v)
{
    memcpy(ram_at(addr, 8), &v, 8);
}

static uint64_t ram_get(uint64_t addr)
{
    uint64_t v;

    memcpy(&v, ram_at(addr, 8), 8);
    return v;
}

/* Run the memory trace with the 8-byte access at @a8; TLB entry @in_tlb. */
static void mem_run(const HybridSnapshot *s, Refs *r, uint64_t a8,
                    bool in_tlb)
{
    TestCPU cpu = { 0 };
    uint32_t x[4];

    memset(ram, 0, sizeof(ram));
    ram_put(a8, 0x1122334455667788ull);
    ram_put(RAM_BASE + 0x20, 0x80000001u);
    ram_put(RAM_BASE + 0x30, 0x0102030405060708ull);
    ram_put(RAM_BASE + 0x38, 0x1112131415161718ull);
    tlb[0] = (TestTLBEntry) {
        .addr_read = in_tlb ? RAM_BASE : -1,
        .addr_write = in_tlb ? RAM_BASE : -1,
        .addend = (uintptr_t)ram - RAM_BASE,
    };
    cpu.env.tlb_mask = 0;               /* one entry */
    cpu.env.tlb_table = tlb;
    cpu.env.reg[RSI] = a8;
    cpu.env.reg[RBP] = RAM_BASE + 0x20;
    cpu.env.reg[RDI] = RAM_BASE + 0x30;
    cpu.env.reg[R8] = RAM_BASE + 0x40;
    for (unsigned i = 0; i < 4; i++) {
        x[i] = 0x40000000u + i;
    }
    memcpy(cpu.env.xmm[0], x, 16);
    reset_seen(true);
    run(s, r, &cpu, 0x7ff000);
    g_assert_cmphex(ram_get(a8), ==, 0x1122334455667789ull);
    g_assert_cmphex(cpu.env.reg[RAX], ==, 0xffffffff80000001ull);
    g_assert_cmphex(cpu.env.reg[RBX], ==, 0x01);
    g_assert_cmphex(ram_get(RAM_BASE + 0x40), ==, 0x0102030405060708ull);
    g_assert_cmphex(ram_get(RAM_BASE + 0x48), ==, 0x1112131415161718ull);
    memcpy(x, cpu.env.xmm[1], 16);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_cmphex(x[i], ==, 2 * (0x40000000u + i));
    }
    g_assert_cmphex(cpu.env.pc, ==, 0x7ff008);
}

static void test_memory(void)
{
    HybridSnapshot *s = mem_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    char *ir;
    Refs r;

    refs_init(&r);
    LLVMDisposeModule(lower_ok(ctx, s, &r.refs));

    /* portable IR: the harness's helpers by name, no host address */
    mod = lower_ok(ctx, s, NULL);
    ir = LLVMPrintModuleToString(mod);
    g_assert_null(strstr(ir, "inttoptr"));
    g_assert_nonnull(strstr(ir, "@hybrid_port_ld_u8("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_st8("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_ld_s4("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_ld_u1("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_ld16("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_st16("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_exit("));
    g_assert_nonnull(strstr(ir, "@hybrid_port_valid("));
    LLVMDisposeMessage(ir);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    /* all in the TLB: the inline fast path, no helper */
    mem_run(s, &r, RAM_BASE + 0x10, true);
    g_assert_cmpuint(seen.ld + seen.st + seen.ld16 + seen.st16, ==, 0);

    /* TLB miss: every access through its helper, with state exact */
    mem_run(s, &r, RAM_BASE + 0x10, false);
    g_assert_cmpuint(seen.ld, ==, 3);
    g_assert_cmpuint(seen.st, ==, 1);
    g_assert_cmpuint(seen.ld16, ==, 1);
    g_assert_cmpuint(seen.st16, ==, 1);
    g_assert_cmphex(seen.pc, ==, 0x7ff004);
    g_assert_cmpuint(seen.reg[RDX], ==, 99);

    /* page-crossing 8 bytes: a miss though the first page is mapped */
    mem_run(s, &r, RAM_BASE + PAGE - 4, true);
    g_assert_cmpuint(seen.ld, ==, 1);
    g_assert_cmpuint(seen.st, ==, 1);
    g_assert_cmpuint(seen.ld16 + seen.st16, ==, 0);
    g_assert_cmphex(seen.pc, ==, 0x7ff004);
    g_assert_cmpuint(seen.reg[RDX], ==, 99);
    hybrid_snapshot_free(s);
}

/*
 * Other vCPUs see guest memory: every guest access the trace makes stays,
 * once and in program order (x86 is TSO; a seqlock reader loads its count
 * twice around the data, a writer stores it twice around the data, and
 * neither has a fence on x86). Two loads of [rsi] around a load of [rdi],
 * then two stores to [rsi] around a store to [rdi]: all six after -O2.
 * Today each access's slow-path call keeps LLVM from merging them; the
 * test is there for whoever removes that (one TLB check per page, say):
 * then guest accesses must become volatile, or ordered.
 */
static HybridSnapshot *order_trace(void)
{
    HybridSnapshot *s = snapshot(1, false);
    MemOpIdx q = make_memop_idx(MO_LEUQ, 0);
    Build b;

    build_init(&b);
    insn(&b, 0x000, CC_OP_DYNAMIC);
    OP(&b, qemu_ld_i64, reg(&b, RAX), reg(&b, RSI), q);
    insn(&b, 0x003, CC_OP_DYNAMIC);
    OP(&b, qemu_ld_i64, reg(&b, RBX), reg(&b, RDI), q);
    insn(&b, 0x006, CC_OP_DYNAMIC);
    OP(&b, qemu_ld_i64, reg(&b, RCX), reg(&b, RSI), q);
    insn(&b, 0x009, CC_OP_DYNAMIC);
    OP(&b, qemu_st_i64, k64(&b, 1), reg(&b, RSI), q);
    insn(&b, 0x00c, CC_OP_DYNAMIC);
    OP(&b, qemu_st_i64, reg(&b, RAX), reg(&b, RDI), q);
    insn(&b, 0x00f, CC_OP_DYNAMIC);
    OP(&b, qemu_st_i64, k64(&b, 2), reg(&b, RSI), q);
    pc_add(&b, 0x12);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    return s;
}

/* Is @i a load or store tagged as guest memory (set_tbaa's "guest")? */
static bool guest_access(LLVMContextRef ctx, LLVMValueRef i)
{
    LLVMValueRef tag, type, name;
    unsigned len;

    if (!LLVMIsALoadInst(i) && !LLVMIsAStoreInst(i)) {
        return false;
    }
    tag = LLVMGetMetadata(i, LLVMGetMDKindIDInContext(ctx, "tbaa", 4));
    if (!tag) {
        return false;
    }
    type = LLVMGetOperand(tag, 0);
    name = LLVMGetOperand(type, 0);
    return !strcmp(LLVMGetMDString(name, &len), "guest");
}

static void test_memory_order(void)
{
    HybridSnapshot *s = order_trace();
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod;
    LLVMValueRef fn;
    unsigned loads = 0, stores = 0;
    Refs r;

    refs_init(&r);
    mod = lower_ok(ctx, s, &r.refs);
    fn = optimise(mod);
    FOR_EACH_INSN(fn, bb, i) {
        if (guest_access(ctx, i)) {
            if (LLVMIsALoadInst(i)) {
                loads++;
            } else {
                stores++;
            }
        }
    }
    /* the fast paths (the helpers on a miss are calls) */
    g_assert_cmpuint(loads, ==, 3);
    g_assert_cmpuint(stores, ==, 3);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);

    /* and it runs: the values of one vCPU alone */
    memset(ram, 0, sizeof(ram));
    ram_put(RAM_BASE + 0x10, 5);
    ram_put(RAM_BASE + 0x18, 7);
    tlb[0] = (TestTLBEntry) {
        .addr_read = RAM_BASE, .addr_write = RAM_BASE,
        .addend = (uintptr_t)ram - RAM_BASE,
    };
    {
        TestCPU cpu = { 0 };

        cpu.env.tlb_table = tlb;
        cpu.env.reg[RSI] = RAM_BASE + 0x10;
        cpu.env.reg[RDI] = RAM_BASE + 0x18;
        reset_seen(true);
        run(s, &r, &cpu, 0x7ff000);
        g_assert_cmpuint(cpu.env.reg[RAX], ==, 5);
        g_assert_cmpuint(cpu.env.reg[RBX], ==, 7);
        g_assert_cmpuint(cpu.env.reg[RCX], ==, 5);
        g_assert_cmpuint(ram_get(RAM_BASE + 0x10), ==, 2);
        g_assert_cmpuint(ram_get(RAM_BASE + 0x18), ==, 5);
        g_assert_cmpuint(seen.ld + seen.st, ==, 0);
    }
    hybrid_snapshot_free(s);
}

/*
 * The shape of x86's rep string loop (do_gen_rep): one insn whose ops
 * write the pc on one branch (back to the insn itself, then goto_tb) and
 * make a guest memory access on the other, at a label after it. If that
 * access misses (a page fault, in the guest: copy_to_user into a
 * copy-on-write page, the last iteration of rep movsq), its helper must
 * see the insn's exact pc and cc_op, as TCG's unwinding would restore
 * them; the pc write on the other branch says nothing of this one. (It
 * did: the guest resumed at the TB's first insn with registers already
 * changed, and pipe() left its result unwritten.)
 */
static HybridSnapshot *rep_trace(void)
{
    HybridSnapshot *s = snapshot(1, false);
    MemOpIdx q = make_memop_idx(MO_LEUQ, 0);
    uint64_t last;
    Build b;

    build_init(&b);
    insn(&b, 0x000, CC_OP_DYNAMIC);
    OP(&b, mov_i64, reg(&b, RCX), k64(&b, 1));
    insn(&b, 0x007, 9);                     /* the rep insn, cc_op 9 */
    last = label(&b);
    OP(&b, brcond_i64, reg(&b, RCX), k64(&b, 1), TCG_COND_EQ, last);
    /* more than one left: (loop, elided) then back to the insn itself */
    pc_add(&b, 0x007);
    OP(&b, goto_tb, 0);
    OP(&b, exit_tb, 0);
    /* the last iteration */
    OP(&b, set_label, last);
    OP(&b, qemu_st_i64, reg(&b, RAX), reg(&b, RDI), q);
    OP(&b, mov_i64, reg(&b, RCX), k64(&b, 0));
    pc_add(&b, 0x009);
    OP(&b, goto_tb, 1);
    OP(&b, exit_tb, 1);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    return s;
}

static void test_pc_on_path(void)
{
    HybridSnapshot *s = rep_trace();
    TestCPU cpu = { 0 };
    Refs r;

    memset(ram, 0, sizeof(ram));
    tlb[0] = (TestTLBEntry) { .addr_read = -1, .addr_write = -1 };
    cpu.env.tlb_table = tlb;
    cpu.env.reg[RAX] = 0x1234;
    cpu.env.reg[RDI] = RAM_BASE + 0x40;
    cpu.env.cc_op = CC_OP_DYNAMIC;
    refs_init(&r);
    reset_seen(true);
    run(s, &r, &cpu, 0x7ff000);
    g_assert_cmpuint(seen.st, ==, 1);
    g_assert_cmphex(seen.pc, ==, 0x7ff007);     /* the rep insn's */
    g_assert_cmpuint(seen.cc_op, ==, 9);
    g_assert_cmpuint(seen.reg[RCX], ==, 1);
    g_assert_cmphex(ram_get(RAM_BASE + 0x40), ==, 0x1234);
    /* and after the access the translator's view is back: it exits */
    g_assert_cmphex(cpu.env.pc, ==, 0x7ff009);
    g_assert_cmpuint(cpu.env.reg[RCX], ==, 0);
    hybrid_snapshot_free(s);
}

/* An op the lowering does not know: fails, saying which. */
static void test_unsupported(void)
{
    HybridSnapshot *s = snapshot(1, false);
    LLVMContextRef ctx = LLVMContextCreate();
    HybridCompileError err;
    Build b;
    Refs r;

    build_init(&b);
    insn(&b, 0, CC_OP_DYNAMIC);
    OP(&b, add_i64, reg(&b, RAX), reg(&b, RAX), k64(&b, 1));
    OP(&b, plugin_cb, 0);
    OP(&b, exit_tb, 0);
    build_tb(s, 0, &b, 0x401000, 0x5000, 0, 0, 0);
    refs_init(&r);
    g_assert_null(lower(ctx, s, &r.refs, &err));
    g_assert_cmpint(err.reason, ==, HYBRID_ABORT_UNSUPPORTED_OP);
    g_assert_cmpint(err.opc, ==, INDEX_op_plugin_cb);
    g_assert_cmpstr(err.detail, ==, "plugin_cb");
    g_assert_cmpstr(hybrid_llvm_op_name(err.opc), ==, "plugin_cb");
    LLVMContextDispose(ctx);
    hybrid_snapshot_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    hybrid_jit_init(&(HybridJitOptions) {
                        .opt_level = 2, .codegen_level = 2,
                        .state_mapping = true,  /* it is tested */
                    }, &error_abort);
    g_test_add_func("/hybrid/lower/arith", test_arith);
    g_test_add_func("/hybrid/lower/loop-phi", test_loop_phi);
    g_test_add_func("/hybrid/lower/page-offset-edge", test_page_offset_edge);
    g_test_add_func("/hybrid/lower/edge-check", test_edge_check);
    g_test_add_func("/hybrid/lower/edge-inline", test_edge_inline);
    g_test_add_func("/hybrid/lower/exact-pc", test_exact_pc);
    g_test_add_func("/hybrid/lower/dirty-edge", test_dirty_edge);
    g_test_add_func("/hybrid/lower/memory", test_memory);
    g_test_add_func("/hybrid/lower/memory-order", test_memory_order);
    g_test_add_func("/hybrid/lower/pc-on-path", test_pc_on_path);
    g_test_add_func("/hybrid/lower/unsupported-op", test_unsupported);
    return g_test_run();
}
