/*
 * llvm-backend: optimise and compile traces with ORC LLJIT.
 *
 *   snapshot ─► hybrid_lower() ─► default<O2> ─► LLJIT (one
 *   ResourceTracker per trace: removing it frees the trace's code)
 *
 * One LLJIT for the process; each compile has its own ThreadSafeContext,
 * so optimizer threads compile in parallel. Object code passes through a
 * transform that measures its .text; the code is named for profilers
 * through HybridJitOptions.name_code (QEMU's -perfmap and -jitdump).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qemu/thread.h"
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/ErrorHandling.h>
#include <setjmp.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Object.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include "tcg-host/tcg-host.h"
#include "lower.h"

struct HybridCode {
    LLVMOrcResourceTrackerRef rt;
    HybridTraceFn fn;
    size_t size;
};

/*
 * The optimisation pipeline and code generation level. Chosen by
 * measurement (README, Speed): default<O2>, the default level; the
 * x-opt-level and x-codegen-level properties choose others, to measure.
 */
static char passes[16] = "default<O2>";
static LLVMCodeGenOptLevel codegen_level = LLVMCodeGenLevelDefault;

static LLVMOrcLLJITRef jit;
static LLVMOrcJITDylibRef jd;
/*
 * LLJIT's default compiler owns one TargetMachine, which is not safe for
 * concurrent code generation (the C API cannot ask for a concurrent
 * compiler): code generation and linking are serialised, lowering and
 * the IR optimisation pipeline run in parallel.
 */
static QemuMutex codegen_lock;
/* HybridJitOptions.name_code */
static void (*name_code)(const void *start, size_t size, const char *name);

/*
 * LLVM reports some failures (e.g. a type the code generator cannot
 * legalise) as fatal errors, which would end QEMU. While a compile runs,
 * its thread jumps back to hybrid_jit_compile() instead: the trace stays
 * with TCG (abort reason "llvm") and the guest goes on. What LLVM had
 * allocated for that compile is leaked, deliberately.
 */
static __thread sigjmp_buf *fatal_jmp;

/*
 * QEMU may exit() while an optimizer (or vCPU) thread compiles, and LLVM's
 * static objects are destroyed at exit: compiles hold this for reading,
 * and an exit handler takes it for writing, so no compile is running (or
 * starts) once destruction begins.
 */
static pthread_rwlock_t exit_rwlock = PTHREAD_RWLOCK_INITIALIZER;

static bool exiting;

static void jit_atexit(void)
{
    if (!qatomic_read(&exiting)) {  /* registered more than once, see below */
        /* no new compile starts: the exit waits for those running only */
        qatomic_set(&exiting, true);
        pthread_rwlock_wrlock(&exit_rwlock);
    }
}

/*
 * exit() runs handlers in reverse order of registration, and LLVM builds
 * some global state lazily, during compiles, with destructors registered
 * then. Registering the handler again after compiles keeps it ahead of
 * them: often at first, rarely later, when new state is unlikely.
 */
static void jit_atexit_refresh(void)
{
    static unsigned compiles;
    unsigned n = qatomic_fetch_inc(&compiles);

    if (n < 256 || n % 256 == 0) {
        atexit(jit_atexit);
    }
}

static void warm_up(void);
static __thread const char *fatal_reason;

static void fatal_handler(const char *reason)
{
    if (fatal_jmp) {
        fatal_reason = reason;
        siglongjmp(*fatal_jmp, 1);
    }
    fprintf(stderr, "hybrid: LLVM fatal error outside a compile: %s\n",
            reason);
    abort();
}

/* .text size of the object being linked on this thread */
static __thread size_t last_text_size;

static LLVMErrorRef measure_object(void *ctx, LLVMMemoryBufferRef *obj)
{
    LLVMBinaryRef bin = LLVMCreateBinary(*obj, NULL, NULL);
    size_t text = 0;

    if (bin) {
        LLVMSectionIteratorRef it = LLVMObjectFileCopySectionIterator(bin);

        for (; !LLVMObjectFileIsSectionIteratorAtEnd(bin, it);
             LLVMMoveToNextSection(it)) {
            const char *name = LLVMGetSectionName(it);
            /* .ltext: the large code model the JIT uses on x86_64 */
            if (name && (g_str_has_prefix(name, ".text") ||
                         g_str_has_prefix(name, ".ltext"))) {
                text += LLVMGetSectionSize(it);
            }
        }
        LLVMDisposeSectionIterator(it);
        LLVMDisposeBinary(bin);
    }
    last_text_size = text;
    return NULL;
}

static bool take_error(LLVMErrorRef e, char *buf, size_t len)
{
    char *msg;

    if (!e) {
        return false;
    }
    msg = LLVMGetErrorMessage(e);
    pstrcpy(buf, len, msg);
    LLVMDisposeErrorMessage(msg);
    return true;
}

bool hybrid_jit_init(const HybridJitOptions *o, Error **errp)
{
    LLVMOrcJITTargetMachineBuilderRef jtmb;
    LLVMOrcLLJITBuilderRef builder;
    LLVMTargetMachineRef tm;
    LLVMTargetRef target;
    LLVMErrorRef e;
    char *emsg = NULL, *host_cpu = NULL, *host_features = NULL;
    const char *cpu;
    char msg[256];

    if (jit) {
        return true;
    }
    snprintf(passes, sizeof(passes), "default<O%u>", MIN(o->opt_level, 3));
    codegen_level = MIN(o->codegen_level, 3);
    hybrid_lower_state_mapping = o->state_mapping;
    name_code = o->name_code;
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInstallFatalErrorHandler(fatal_handler);
    /* the host layer names the target: triple, CPU and features */
    if (LLVMGetTargetFromTriple(tcg_host_info.llvm_triple, &target, &emsg)) {
        error_setg(errp, "hybrid: LLVM cannot target %s: %s",
                   tcg_host_info.llvm_triple, emsg);
        LLVMDisposeMessage(emsg);
        return false;
    }
    /* x-native-cpu: the CPU QEMU runs on, with all its features */
    cpu = tcg_host_info.llvm_cpu;
    if (o->native_cpu) {
        host_cpu = LLVMGetHostCPUName();
        host_features = LLVMGetHostCPUFeatures();
    }
    tm = LLVMCreateTargetMachine(target, tcg_host_info.llvm_triple,
                                 host_cpu ?: cpu,
                                 host_features ?: tcg_host_info.llvm_features,
                                 codegen_level, LLVMRelocDefault,
                                 LLVMCodeModelJITDefault);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_features);
    jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm);
    builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    e = LLVMOrcCreateLLJIT(&jit, builder);
    if (take_error(e, msg, sizeof(msg))) {
        error_setg(errp, "hybrid: cannot create the LLVM JIT: %s", msg);
        jit = NULL;
        return false;
    }
    jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcObjectTransformLayerSetTransform(
        LLVMOrcLLJITGetObjTransformLayer(jit), measure_object, NULL);
    qemu_mutex_init(&codegen_lock);
    warm_up();
    /* after the warm-up: ahead of what it built (see jit_atexit_refresh) */
    atexit(jit_atexit);
    return true;
}

static LLVMModuleRef lower_module(LLVMContextRef ctx, const HybridSnapshot *s,
                                  const HybridCodeRefs *refs, const char *name,
                                  HybridCompileError *err);
static bool optimise(LLVMModuleRef mod, HybridCompileError *err);

/*
 * Compile a small function that exercises what traces use (branches,
 * loads and stores, calls, an intrinsic) once, on the init thread, so that
 * LLVM's lazily built global state exists before any optimizer thread.
 */
static void warm_up(void)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("warm", ctx);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMTypeRef fty = LLVMFunctionType(i64, &ptr, 1, false);
    LLVMValueRef fn, env, v, c, args[3];
    LLVMBasicBlockRef entry, yes, no;
    LLVMOrcResourceTrackerRef rt;
    LLVMOrcExecutorAddress addr;
    HybridCompileError err;
    unsigned id;

    LLVMSetTarget(mod, LLVMOrcLLJITGetTripleString(jit));
    LLVMSetDataLayout(mod, LLVMOrcLLJITGetDataLayoutStr(jit));
    fn = LLVMAddFunction(mod, "hybrid_warm_up", fty);
    env = LLVMGetParam(fn, 0);
    entry = LLVMAppendBasicBlockInContext(ctx, fn, "");
    yes = LLVMAppendBasicBlockInContext(ctx, fn, "");
    no = LLVMAppendBasicBlockInContext(ctx, fn, "");
    LLVMPositionBuilderAtEnd(b, entry);
    v = LLVMBuildLoad2(b, i64, env, "");
    id = LLVMLookupIntrinsicID("llvm.fshl", 9);
    args[0] = v;
    args[1] = v;
    args[2] = LLVMConstInt(i64, 3, false);
    v = LLVMBuildCall2(b, LLVMIntrinsicGetType(ctx, id, &i64, 1),
                       LLVMGetIntrinsicDeclaration(mod, id, &i64, 1),
                       args, 3, "");
    LLVMBuildStore(b, v, env);
    c = LLVMBuildICmp(b, LLVMIntEQ, v, LLVMConstInt(i64, 0, false), "");
    LLVMBuildCondBr(b, c, yes, no);
    LLVMPositionBuilderAtEnd(b, yes);
    LLVMBuildCall2(b, LLVMFunctionType(LLVMVoidTypeInContext(ctx), &ptr, 1,
                                       false),
                   LLVMConstIntToPtr(LLVMConstInt(i64, 4096, false), ptr),
                   &env, 1, "");
    LLVMBuildRet(b, v);
    LLVMPositionBuilderAtEnd(b, no);
    LLVMBuildRet(b, LLVMConstInt(i64, 1, false));
    LLVMDisposeBuilder(b);
    optimise(mod, &err);
    rt = LLVMOrcJITDylibCreateResourceTracker(jd);
    if (!LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, rt,
            LLVMOrcCreateNewThreadSafeModule(mod, tsc))) {
        LLVMErrorRef e = LLVMOrcLLJITLookup(jit, &addr, "hybrid_warm_up");
        if (e) {
            LLVMConsumeError(e);
        }
    }
    LLVMOrcDisposeThreadSafeContext(tsc);
    LLVMConsumeError(LLVMOrcResourceTrackerRemove(rt));
    LLVMOrcReleaseResourceTracker(rt);
}

static void name_trace_code(uintptr_t addr, size_t size, uint64_t id)
{
    char name[32];

    if (name_code) {
        snprintf(name, sizeof(name), "hybrid_trace_%" PRIu64, id);
        name_code((const void *)addr, size, name);
    }
}

static LLVMModuleRef lower_module(LLVMContextRef ctx, const HybridSnapshot *s,
                                  const HybridCodeRefs *refs, const char *name,
                                  HybridCompileError *err)
{
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(name, ctx);

    if (jit) {
        LLVMSetTarget(mod, LLVMOrcLLJITGetTripleString(jit));
        LLVMSetDataLayout(mod, LLVMOrcLLJITGetDataLayoutStr(jit));
    }
    if (!hybrid_lower(ctx, mod, name, s, refs, err)) {
        LLVMDisposeModule(mod);
        return NULL;
    }
    return mod;
}

static bool optimise(LLVMModuleRef mod, HybridCompileError *err)
{
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(mod, passes, NULL, o);

    LLVMDisposePassBuilderOptions(o);
    if (take_error(e, err->detail, sizeof(err->detail))) {
        err->reason = HYBRID_ABORT_LLVM;
        return false;
    }
    return true;
}

static HybridCode *jit_compile(const HybridSnapshot *s, const HybridCodeRefs *refs,
                               HybridCompileError *err, volatile bool *locked);

HybridCode *hybrid_jit_compile(const HybridSnapshot *s, const HybridCodeRefs *refs,
                               HybridCompileError *err)
{
    sigjmp_buf jb;
    /* changed between sigsetjmp() and a siglongjmp() to it: volatile */
    volatile bool locked = false;
    HybridCode *c;

    pthread_rwlock_rdlock(&exit_rwlock);
    if (qatomic_read(&exiting)) {
        pthread_rwlock_unlock(&exit_rwlock);
        err->reason = HYBRID_ABORT_LLVM;
        err->opc = -1;
        pstrcpy(err->detail, sizeof(err->detail), "QEMU is exiting");
        return NULL;
    }
    if (sigsetjmp(jb, 0)) {
        fatal_jmp = NULL;
        if (locked) {
            qemu_mutex_unlock(&codegen_lock);
        }
        pthread_rwlock_unlock(&exit_rwlock);
        err->reason = HYBRID_ABORT_LLVM;
        err->opc = -1;
        snprintf(err->detail, sizeof(err->detail), "fatal: %s",
                 fatal_reason ? fatal_reason : "?");
        return NULL;
    }
    fatal_jmp = &jb;
    c = jit_compile(s, refs, err, &locked);
    fatal_jmp = NULL;
    jit_atexit_refresh();
    pthread_rwlock_unlock(&exit_rwlock);
    return c;
}

static HybridCode *jit_compile(const HybridSnapshot *s, const HybridCodeRefs *refs,
                               HybridCompileError *err, volatile bool *locked)
{
    g_autofree char *name = g_strdup_printf("hybrid_trace_%" PRIu64,
                                            s->trace_id);
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMOrcThreadSafeModuleRef tsm;
    LLVMOrcExecutorAddress addr;
    LLVMModuleRef mod;
    HybridCode *c;
    LLVMErrorRef e;

    mod = lower_module(ctx, s, refs, name, err);
    if (!mod || !optimise(mod, err)) {
        if (mod) {
            LLVMDisposeModule(mod);
        }
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc);   /* the module keeps it alive */

    c = g_new0(HybridCode, 1);
    qemu_mutex_lock(&codegen_lock);
    *locked = true;
    c->rt = LLVMOrcJITDylibCreateResourceTracker(jd);
    e = LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, c->rt, tsm);
    if (!e) {
        /* compiles now, on this thread */
        last_text_size = 0;
        e = LLVMOrcLLJITLookup(jit, &addr, name);
    }
    *locked = false;
    qemu_mutex_unlock(&codegen_lock);
    if (take_error(e, err->detail, sizeof(err->detail))) {
        err->reason = HYBRID_ABORT_LLVM;
        hybrid_code_free(c);
        return NULL;
    }
    c->fn = (HybridTraceFn)(uintptr_t)addr;
    c->size = last_text_size;
    name_trace_code(addr, c->size, s->trace_id);
    return c;
}

HybridTraceFn hybrid_code_fn(const HybridCode *c)
{
    return c->fn;
}

size_t hybrid_code_size(const HybridCode *c)
{
    return c->size;
}

void hybrid_code_free(HybridCode *c)
{
    if (c) {
        LLVMErrorRef e;

        pthread_rwlock_rdlock(&exit_rwlock);
        qemu_mutex_lock(&codegen_lock);
        e = LLVMOrcResourceTrackerRemove(c->rt);
        qemu_mutex_unlock(&codegen_lock);
        pthread_rwlock_unlock(&exit_rwlock);
        if (e) {
            LLVMConsumeError(e);
        }
        LLVMOrcReleaseResourceTracker(c->rt);
        g_free(c);
    }
}

char *hybrid_lower_portable(const HybridSnapshot *s, const char *name,
                            HybridCompileError *err)
{
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(name, ctx);
    char *ir = NULL, *text;

    if (hybrid_lower(ctx, mod, name, s, NULL, err)) {
        text = LLVMPrintModuleToString(mod);
        ir = g_strdup(text);
        LLVMDisposeMessage(text);
    }
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    return ir;
}

char *hybrid_lower_to_string(const HybridSnapshot *s, const HybridCodeRefs *refs,
                             bool optimised, HybridCompileError *err)
{
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = lower_module(ctx, s, refs, "trace", err);
    char *ir = NULL, *text;

    if (mod && (!optimised || optimise(mod, err))) {
        text = LLVMPrintModuleToString(mod);
        ir = g_strdup(text);
        LLVMDisposeMessage(text);
    }
    if (mod) {
        LLVMDisposeModule(mod);
    }
    LLVMContextDispose(ctx);
    return ir;
}
