/*
 * The loop of the trace test programs (guest/programs/hotloop.c in Linux,
 * tests/system/kloop.c bare metal): xorshift with a data-dependent branch,
 * so the loop body spans several TBs.
 */
#define HOTLOOP_BODY(x, acc)   \
    do {                       \
        x ^= x << 13;          \
        x ^= x >> 7;           \
        x ^= x << 17;          \
        if (x & 1) {           \
            acc += x >> 3;     \
        } else {               \
            acc ^= x;          \
        }                      \
    } while (0)
