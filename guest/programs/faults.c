/*
 * faults: exceptions raised from the middle of hot loops, for the
 * correctness tests of compiled traces. Each loop first runs without
 * faulting for a second (so its trace is compiled and installed however
 * slowly the optimizer gets the CPU), then once more, faulting at its
 * last iteration:
 *
 *   div0   idiv by a divisor that becomes zero              (SIGFPE)
 *   segv   a load from an address that becomes unmapped      (SIGSEGV)
 *   ud2    an undefined instruction on the last iteration   (SIGILL)
 *   rep    rep movsq into a page that becomes unmapped, in the string
 *          insn's last iteration, preceded in its TB by insns that change
 *          its count (Linux's copy_user_generic_string)   (SIGSEGV)
 *   spin   no fault: a loop that must see SIGALRM (timer interrupts
 *          taken inside compiled code), then `spin forever` spins until
 *          killed (for the monitor's stop/quit test)
 *
 * For each fault the signal handler prints the signal, its code, the
 * faulting address (segv) and the registers the guest sees: rip relative
 * to the loop function, the general registers but rsp, and the
 * arithmetic flags. Address randomisation is turned off (re-exec), so the
 * output is the same on every run: -accel tcg and -accel hybrid must
 * print exactly the same.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define N 300000

static sigjmp_buf env;
static uintptr_t fn_start;

static void handler(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    greg_t *r = uc->uc_mcontext.gregs;
    static const struct { int i; const char *n; } regs[] = {
        { REG_RAX, "rax" }, { REG_RBX, "rbx" }, { REG_RCX, "rcx" },
        { REG_RDX, "rdx" }, { REG_RSI, "rsi" }, { REG_RDI, "rdi" },
        { REG_RBP, "rbp" }, { REG_R8, "r8" }, { REG_R9, "r9" },
        { REG_R10, "r10" }, { REG_R11, "r11" }, { REG_R12, "r12" },
        { REG_R13, "r13" }, { REG_R14, "r14" }, { REG_R15, "r15" },
    };

    printf("faults: sig=%d code=%d", sig, si->si_code);
    if (sig == SIGSEGV) {
        printf(" addr=%p", si->si_addr);
    }
    printf(" rip=fn+%#lx", (unsigned long)(r[REG_RIP] - fn_start));
    for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        printf(" %s=%llx", regs[i].n, (unsigned long long)r[regs[i].i]);
    }
    /* CF PF AF ZF SF OF */
    printf(" flags=%llx\n", (unsigned long long)(r[REG_EFL] & 0x8d5));
    siglongjmp(env, 1);
}

static __attribute__((noinline)) int64_t loop_div(int64_t n, int fault)
{
    int64_t acc = 1;

    for (int64_t i = 0; i < n; i++) {
        int64_t d = n - 1 - i + !fault;  /* zero on the last iteration */

        acc = acc * 31 + i;
        asm volatile("" : "+r"(d));
        acc ^= (acc >> 3) / (d | (d == 0 ? 0 : 1));
    }
    return acc;
}

static volatile int64_t *segv_ptr;
static int64_t buf[64];

static __attribute__((noinline)) int64_t loop_segv(int64_t n, int fault)
{
    int64_t acc = 7;

    for (int64_t i = 0; i < n; i++) {
        volatile int64_t *p = i == n - 1 && fault ? segv_ptr : &buf[i & 63];

        acc = acc * 17 + *p + i;
        buf[(i + 1) & 63] = acc;
    }
    return acc;
}

static __attribute__((noinline)) int64_t loop_ud2(int64_t n, int fault)
{
    int64_t acc = 3;

    for (int64_t i = 0; i < n; i++) {
        acc = (acc << 1) ^ (acc >> 5) ^ i;
        if (i == n - 1 && fault) {
            asm volatile("ud2" : : "a"(acc), "c"(i));
        }
    }
    return acc;
}

/*
 * The copy's last iteration is the only one at the last loop iteration (8
 * bytes), elsewhere one or two (8 or 16 bytes): x86's translation of rep
 * writes the pc on its way back to the insn, and the last iteration's
 * access comes after that on another branch, where the fault must still
 * report the rep insn's address and its registers as they were.
 */
static int64_t rep_src[2] = { 0x1111, 0x2222 };
static int64_t rep_dst[2];
static void *rep_to[2] = { rep_dst };   /* [1]: the page that goes */

static __attribute__((noinline)) int64_t loop_rep(int64_t n, int fault)
{
    int64_t acc = 5;

    for (int64_t i = 0; i < n; i++) {
        /* no branch: the copy runs in the loop's own (compiled) TB */
        uint64_t last = i == n - 1;
        void *dst = rep_to[last & (fault != 0)];
        const void *src = rep_src;
        uint64_t len = 8 + ((i & 8) & (last - 1));

        asm volatile("movl %%edx, %%ecx\n\t"
                     "shrl $3, %%ecx\n\t"
                     "andl $7, %%edx\n\t"
                     "rep movsq\n\t"
                     "movl %%edx, %%ecx\n\t"
                     "rep movsb"
                     : "+D"(dst), "+S"(src), "+d"(len)
                     : : "rcx", "memory");
        acc = acc * 3 + rep_dst[0] + rep_dst[1] + i;
        rep_dst[0] = rep_dst[1] = 0;
    }
    return acc;
}

static volatile int64_t sink;

/*
 * Run @loop without its fault for a second of wall time. A function of
 * its own: the registers main() keeps (and the handler prints) do not
 * depend on how many times it ran.
 */
static __attribute__((noinline)) void warm_up(int64_t (*loop)(int64_t, int))
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sink += loop(N, 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000ll +
             (t.tv_nsec - t0.tv_nsec) < 1000000000ll);
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
    alarmed = 1;
}

static __attribute__((noinline)) uint64_t spin(int forever)
{
    uint64_t x = 1;

    while (forever || !alarmed) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    }
    return x;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    void *page;

    if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
        personality(ADDR_NO_RANDOMIZE);
        execv("/proc/self/exe", argv);
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 2 && !strcmp(argv[1], "spin") && !strcmp(argv[2], "forever")) {
        printf("faults: spinning\n");
        spin(1);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);

    fn_start = (uintptr_t)loop_div;
    warm_up(loop_div);
    if (!sigsetjmp(env, 1)) {
        printf("faults: div0 returned %lld\n", (long long)loop_div(N, 1));
    }
    /* a page that is mapped, then not */
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(page, 4096);
    segv_ptr = page;
    fn_start = (uintptr_t)loop_segv;
    warm_up(loop_segv);
    memset(buf, 0, sizeof(buf));
    if (!sigsetjmp(env, 1)) {
        printf("faults: segv returned %lld\n", (long long)loop_segv(N, 1));
    }
    fn_start = (uintptr_t)loop_ud2;
    warm_up(loop_ud2);
    if (!sigsetjmp(env, 1)) {
        printf("faults: ud2 returned %lld\n", (long long)loop_ud2(N, 1));
    }
    rep_to[1] = page;                   /* unmapped, as for segv */
    fn_start = (uintptr_t)loop_rep;
    warm_up(loop_rep);
    if (!sigsetjmp(env, 1)) {
        printf("faults: rep returned %lld\n", (long long)loop_rep(N, 1));
    }

    signal(SIGALRM, on_alarm);
    alarm(1);
    spin(0);
    printf("faults: spin saw the alarm\n");
    return 0;
}
