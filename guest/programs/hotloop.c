/*
 * A user-mode program with one hot loop, for the trace tests: prints the
 * address range of the loop's function, then runs it for a few seconds
 * (guest time), then prints a checksum that must match across tiers.
 *
 *   hotloop [iterations]
 */
/* keep the branch: the loop body must span several TBs */
#pragma GCC optimize("no-if-conversion", "no-if-conversion2")

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include "hotloop-body.h"

__attribute__((noinline, aligned(64)))
static uint64_t hot_loop(uint64_t n, uint64_t seed)
{
    uint64_t x = seed, acc = 0;

    for (uint64_t i = 0; i < n; i++) {
        HOTLOOP_BODY(x, acc);
    }
    return acc;
}

__attribute__((noinline)) static void hot_loop_end(void)
{
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 600000000;

    printf("hotloop: func=%p end=%p\n", (void *)hot_loop, (void *)hot_loop_end);
    fflush(stdout);
    printf("hotloop: result=%016llx\n",
           (unsigned long long)hot_loop(n, 0x9e3779b97f4a7c15ull));
    return 0;
}
