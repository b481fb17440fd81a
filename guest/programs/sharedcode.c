/*
 * sharedcode: the same code at different virtual addresses, as every shared
 * library of a Linux userland is (ASLR: each process maps libc elsewhere,
 * all of them over the same physical pages). x86 system TBs are
 * PC-relative, so one TB, and one compiled trace, serves every alias.
 *
 * The code is a loop in a memfd: it reads and writes every word of a
 * fresh private mapping of a data file, so it takes page faults (a read
 * fault, then copy-on-write) at each new page, in the middle of the
 * loop's compiled trace: the guest kernel must see the faulting
 * instruction at the address this process runs it at, and return there.
 *
 *   phase 1   one process runs the loop at address A (hot: traced and
 *             compiled there), then at B (another mapping of the same
 *             memfd in the same process), in turn
 *   phase 2   a child maps the code at C only (A and B unmapped) and
 *             runs it there, alone, for about 1.5 s ("sharedcode: child at C"
 *             ... "sharedcode: child done"); then parent (at A) and child (at
 *             C) run it at the same time (-smp 2: on two vCPUs)
 *
 * Output: checksums, equal under -accel tcg and -accel hybrid.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define NPAGES 16
#define ADDR_A ((void *)0x500000000000ull)
#define ADDR_B ((void *)0x5a0000003000ull)
#define ADDR_C ((void *)0x6b7000011000ull)

/*
 * uint64_t loop(uint64_t *p, uint64_t nwords):
 *  0: 31 c0                  xor  %eax,%eax
 *  2: 48 03 07               add  (%rdi),%rax       (read fault)
 *  5: 48 89 07               mov  %rax,(%rdi)       (COW fault)
 *  8: 48 81 c7 08 00 00 00   add  $8,%rdi
 * 15: 48 ff ce               dec  %rsi
 * 18: 75 ee                  jne  2
 * 20: c3                     ret
 */
static const uint8_t code[] = {
    0x31, 0xc0, 0x48, 0x03, 0x07, 0x48, 0x89, 0x07, 0x48, 0x81, 0xc7,
    0x08, 0x00, 0x00, 0x00, 0x48, 0xff, 0xce, 0x75, 0xee, 0xc3,
};

typedef uint64_t (*loop_fn)(uint64_t *p, uint64_t nwords);

static int code_fd, data_fd;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static loop_fn map_code(void *at)
{
    void *p = mmap(at, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
                   code_fd, 0);

    if (p == MAP_FAILED) {
        die("mmap code");
    }
    return (loop_fn)p;
}

/* One call on a fresh private mapping of the data: faults on every page. */
static uint64_t run_once(loop_fn f)
{
    uint64_t *d = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE, data_fd, 0);
    uint64_t r;

    if (d == MAP_FAILED) {
        die("mmap data");
    }
    r = f(d, NPAGES * PAGE / sizeof(uint64_t));
    munmap(d, NPAGES * PAGE);
    return r;
}

static uint64_t mix(uint64_t sum, uint64_t v)
{
    return (sum ^ v) * 0x100000001b3ull;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @rounds calls of the loop at @f; or, with @rounds 0, for @secs seconds */
static uint64_t run(loop_fn f, int rounds, double secs, uint64_t sum)
{
    double end = now() + secs;

    for (int i = 0; rounds ? i < rounds : now() < end; i++) {
        sum = mix(sum, run_once(f));
    }
    return sum;
}

int main(void)
{
    uint64_t sum = 0xcbf29ce484222325ull, csum;
    loop_fn a, b, c;
    int pipefd[2], status;
    pid_t pid;
    char go;

    code_fd = memfd_create("sharedcode", 0);
    data_fd = memfd_create("sharedcode-data", 0);
    if (code_fd < 0 || data_fd < 0) {
        die("memfd_create");
    }
    if (ftruncate(code_fd, PAGE) || ftruncate(data_fd, NPAGES * PAGE)) {
        die("ftruncate");
    }
    if (pwrite(code_fd, code, sizeof(code), 0) != sizeof(code)) {
        die("write code");
    }
    for (uint64_t i = 0; i < NPAGES; i++) {
        uint64_t v = i * 0x9e3779b97f4a7c15ull + 1;

        if (pwrite(data_fd, &v, sizeof(v), i * PAGE) != sizeof(v)) {
            die("write data");
        }
    }

    /* phase 1: hot at A, then at B and A in turn, in one process */
    a = map_code(ADDR_A);
    b = map_code(ADDR_B);
    sum = run(a, 400, 0, sum);
    for (int k = 0; k < 20; k++) {
        sum = run(b, 20, 0, sum);
        sum = run(a, 20, 0, sum);
    }
    printf("sharedcode: same-process sum=%016llx\n", (unsigned long long)sum);
    fflush(stdout);

    /* phase 2: a child at C alone, then parent at A and child at C */
    if (pipe(pipefd)) {
        die("pipe");
    }
    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        munmap(ADDR_A, PAGE);
        munmap(ADDR_B, PAGE);
        c = map_code(ADDR_C);
        printf("sharedcode: child at C\n");
        fflush(stdout);
        run(c, 0, 1.5, 0);                  /* timed: not in the output */
        printf("sharedcode: child done\n");
        fflush(stdout);
        close(pipefd[0]);
        if (write(pipefd[1], "g", 1) != 1) {
            die("write pipe");
        }
        csum = run(c, 300, 0, 0xcbf29ce484222325ull);
        printf("sharedcode: child sum=%016llx\n", (unsigned long long)csum);
        return 0;
    }
    close(pipefd[1]);
    if (read(pipefd[0], &go, 1) != 1) {
        die("read pipe");
    }
    sum = run(a, 300, 0, 0xcbf29ce484222325ull);
    if (waitpid(pid, &status, 0) != pid) {
        die("waitpid");
    }
    printf("sharedcode: parent sum=%016llx\n", (unsigned long long)sum);
    printf("sharedcode: child %s\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exited 0" :
           WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "failed");
    return 0;
}
