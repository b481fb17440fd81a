/*
 * Runs real traces, lowered to portable LLVM IR by the project's own
 * lowering (hybrid_lower_portable(), exported by QEMU with
 * -accel hybrid,x-export=DIR from the x86_64 guest), on a recorded guest
 * state: the same IR built for loongarch64 (run under qemu-loongarch64,
 * freestanding on tests/host/la64/la64-rt.c) and for x86_64 (native)
 * must end in the same guest state. tests/guest/test_port.py builds it
 * with a generated table of traces (port-traces.c) and compares.
 *
 * What the harness provides in place of QEMU:
 *   guest memory   a fixed pattern: byte at guest address a is
 *                  mix(a) & 0xff; loads read it little-endian, stores go
 *                  into a running hash of (address, size, value)
 *   valid flag     true for the first PORT_EDGES checks, so that every
 *                  trace ends (a loop trace exits on its own or then)
 *   edge check     goto_ptr edges always continue
 *   exit           records where the trace left; returns 0
 *
 * Output, one line per trace:
 *   port: trace ID exit=CODE checks=N loads=N stores=N mem=HASH env=HASH
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include <stdint.h>
#include "port-harness.h"

#if defined(__loongarch__)
#include "la64/la64-rt.h"
#define out_str la64_puts
#define out_hex la64_put_hex
#define out_dec la64_put_dec
#else
#include <stdio.h>
#include <string.h>
static void out_str(const char *s)
{
    fputs(s, stdout);
}

static void out_hex(uint64_t v)
{
    printf("0x%llx", (unsigned long long)v);     /* as la64_put_hex */
}

static void out_dec(uint64_t v)
{
    printf("%llu", (unsigned long long)v);
}
#endif

#define PORT_EDGES 20000
#define PORT_ENV_MAX (64 * 1024)

static uint64_t checks, loads, stores, mem_hash, exit_code;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t mem_load(uint64_t addr, unsigned size)
{
    uint64_t v = 0;

    loads++;
    for (unsigned i = 0; i < size; i++) {
        v |= (mix(addr + i) & 0xff) << (8 * i);
    }
    return v;
}

static void mem_store(uint64_t addr, unsigned size, uint64_t v)
{
    uint64_t rec[3] = { addr, size, v };

    stores++;
    mem_hash = fnv(mem_hash, (const uint8_t *)rec, sizeof(rec));
}

uint32_t hybrid_port_valid(void)
{
    return ++checks <= PORT_EDGES;
}

#define LD(name, size, type)                                               \
    uint64_t name(void *env, uint64_t addr, uint32_t oi, uint64_t ra)      \
    {                                                                      \
        return (uint64_t)(type)mem_load(addr, size);                       \
    }
LD(hybrid_port_ld_u1, 1, uint8_t)
LD(hybrid_port_ld_u2, 2, uint16_t)
LD(hybrid_port_ld_u4, 4, uint32_t)
LD(hybrid_port_ld_u8, 8, uint64_t)
LD(hybrid_port_ld_s1, 1, int8_t)
LD(hybrid_port_ld_s2, 2, int16_t)
LD(hybrid_port_ld_s4, 4, int32_t)

#define ST(name, size, type)                                               \
    void name(void *env, uint64_t addr, type v, uint32_t oi, uint64_t ra)  \
    {                                                                      \
        mem_store(addr, size, v);                                          \
    }
ST(hybrid_port_st1, 1, uint32_t)
ST(hybrid_port_st2, 2, uint32_t)
ST(hybrid_port_st4, 4, uint32_t)
ST(hybrid_port_st8, 8, uint64_t)

unsigned __int128 hybrid_port_ld16(void *env, uint64_t addr, uint32_t oi,
                                   uint64_t ra)
{
    return mem_load(addr, 8) |
           (unsigned __int128)mem_load(addr + 8, 8) << 64;
}

void hybrid_port_st16(void *env, uint64_t addr, unsigned __int128 v,
                      uint32_t oi, uint64_t ra)
{
    mem_store(addr, 8, (uint64_t)v);
    mem_store(addr + 8, 8, (uint64_t)(v >> 64));
}

_Bool hybrid_port_edge_ok(void *env, uint64_t pc, uint64_t cs_base,
                          uint32_t flags, int64_t phys0, int64_t phys1)
{
    return 1;
}

uint64_t hybrid_port_exit(void *env, void *trace, uint32_t code,
                          uint64_t from_tb)
{
    exit_code = code;
    return 0;
}

static uint8_t envbuf[PORT_ENV_MAX] __attribute__((aligned(64)));

static int run_all(void)
{
    int failed = 0;

    for (size_t i = 0; i < port_ntraces; i++) {
        const PortTrace *t = &port_traces[i];
        uint8_t *env = envbuf + PORT_ENV_NEG;

        if (t->env_size > sizeof(envbuf)) {
            out_str("port: env too large\n");
            failed = 1;
            continue;
        }
        memcpy(envbuf, t->env, t->env_size);
        /* no exit request pending: icount_decr (env - 8) = 0 */
        memset(env - 8, 0, 4);
        checks = loads = stores = 0;
        mem_hash = 0xcbf29ce484222325ull;
        exit_code = UINT64_MAX;
        t->fn(env, 0);
        out_str("port: trace ");
        out_dec(t->id);
        out_str(" exit=");
        out_hex(exit_code);
        out_str(" checks=");
        out_dec(checks);
        out_str(" loads=");
        out_dec(loads);
        out_str(" stores=");
        out_dec(stores);
        out_str(" mem=");
        out_hex(mem_hash);
        out_str(" env=");
        out_hex(fnv(0xcbf29ce484222325ull, envbuf, t->env_size));
        out_str("\n");
    }
    out_str("port: done\n");
    return failed;
}

#if defined(__loongarch__)
int la64_main(void)
{
    return run_all();
}
#else
int main(void)
{
    return run_all();
}
#endif
