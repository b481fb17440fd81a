/*
 * A kernel-mode (CPL 0) program with one hot loop, for the trace tests.
 * Built on QEMU's tests/tcg x86_64 system boot stub and minilib: prints
 * the loop function's address range, runs it for a few seconds, prints a
 * checksum that must match across tiers.
 */
#include <minilib.h>
#include "../../guest/programs/hotloop-body.h"

__attribute__((noinline, aligned(64)))
static unsigned long kernel_loop(unsigned long n, unsigned long seed)
{
    unsigned long x = seed, acc = 0;

    for (unsigned long i = 0; i < n; i++) {
        HOTLOOP_BODY(x, acc);
    }
    return acc;
}

__attribute__((noinline)) static void kernel_loop_end(void)
{
}

int main(void)
{
    ml_printf("kloop: func=%lx end=%lx\n", (unsigned long)kernel_loop,
              (unsigned long)kernel_loop_end);
    ml_printf("kloop: result=%lx\n", kernel_loop(100000000, 0x9e3779b97f4a7c15ul));
    return 0;
}
