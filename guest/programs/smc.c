/*
 * smc: self-modifying, remapped and cross-modifying code, for the
 * correctness tests of compiled traces (run under -accel tcg and
 * -accel hybrid; the output must be the same).
 *
 *   self    a hot loop whose add immediate is rewritten in place, many
 *           times; each version runs long enough to be traced (and,
 *           with low thresholds, compiled) before it is rewritten
 *   remap   the same function mapped fresh at the same virtual address
 *           (munmap + mmap MAP_FIXED) with another immediate each round,
 *           and in turn through mprotect cycles
 *   pagecross  a loop whose TBs end and start at a page boundary, one
 *           TB spanning it; the second page is mapped in turn from two
 *           pages of a memfd holding different code. No code byte is
 *           ever written after mapping: only the mapping changes, so
 *           only the MMU check of edges into the second page notices
 *   cross   one thread runs the loop while another rewrites the
 *           immediate (x86 cross-modifying code): every result must be
 *           n times a value that was written, the values never going
 *           back, and the last result must use the last value
 *
 * Output: one line per mode with a checksum (self, remap) or "ok".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define ADDR ((void *)0x7e0000000000ull)

/*
 *  0: 31 c0             xor  %eax,%eax
 *  2: 48 85 ff          test %rdi,%rdi
 *  5: 74 0b             je   18
 *  7: 48 05 ii ii ii ii add  $imm32,%rax      (imm at offset 9)
 * 13: 48 ff cf          dec  %rdi
 * 16: 75 f5             jne  7
 * 18: c3                ret
 */
static const uint8_t code_tmpl[] = {
    0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x0b, 0x48, 0x05, 0, 0, 0, 0,
    0x48, 0xff, 0xcf, 0x75, 0xf5, 0xc3,
};
#define IMM_OFS 9

typedef uint64_t (*loop_fn)(uint64_t n);

static void put_imm(volatile uint8_t *code, uint32_t imm)
{
    /* one aligned-enough 4-byte store: a thread sees old or new */
    __atomic_store_n((uint32_t *)(code + IMM_OFS), imm, __ATOMIC_SEQ_CST);
}

static void *map_code(void *at)
{
    void *p = mmap(at, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static uint64_t mix(uint64_t sum, uint64_t v)
{
    return (sum ^ v) * 0x100000001b3ull;
}

static void mode_self(void)
{
    uint8_t *code = map_code(NULL);
    uint64_t sum = 0xcbf29ce484222325ull;

    memcpy(code, code_tmpl, sizeof(code_tmpl));
    for (uint32_t round = 0; round < 300; round++) {
        put_imm(code, round * 7 + 1);
        /* several calls per version: the loop and its caller get hot */
        for (int k = 0; k < 4; k++) {
            sum = mix(sum, ((loop_fn)code)(3000 + k));
        }
    }
    printf("smc: self sum=%016llx\n", (unsigned long long)sum);
    munmap(code, PAGE);
}

static void mode_remap(void)
{
    uint64_t sum = 0xcbf29ce484222325ull;

    for (uint32_t round = 0; round < 150; round++) {
        uint8_t *code = map_code(ADDR);

        memcpy(code, code_tmpl, sizeof(code_tmpl));
        put_imm(code, round * 13 + 5);
        for (int k = 0; k < 4; k++) {
            sum = mix(sum, ((loop_fn)code)(3000 + k));
        }
        if (round % 2) {
            munmap(code, PAGE);
        } else {
            /* not executable for a while, then again with new code */
            mprotect(code, PAGE, PROT_READ | PROT_WRITE);
            put_imm(code, round * 13 + 6);
            mprotect(code, PAGE, PROT_READ | PROT_EXEC);
            for (int k = 0; k < 4; k++) {
                sum = mix(sum, ((loop_fn)code)(3000 + k));
            }
            munmap(code, PAGE);
        }
    }
    printf("smc: remap sum=%016llx\n", (unsigned long long)sum);
}

/*
 * pagecross, at the end of the first page (ofs from page start):
 *  ff0: 31 c0             xor  %eax,%eax
 *  ff2: 48 85 ff          test %rdi,%rdi
 *  ff5: 74 10             je   1007
 *  ff7: 48 ff c0          inc  %rax            loop: TB A, first page only
 *  ffa: 48 ff cf          dec  %rdi
 *  ffd: 74 08             je   1007
 *  fff: 48 05 ii ii ii ii add  $imm32,%rax     TB B: spans both pages
 * 1005: eb f0             jmp  ff7             (A -> B is a direct jump)
 * 1007: c3                ret
 */
static const uint8_t pc_head[] = {
    0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0xff, 0xc0,
    0x48, 0xff, 0xcf, 0x74, 0x08, 0x48,
};
#define PC_HEAD_OFS (PAGE - sizeof(pc_head))

static void mode_pagecross(void)
{
    uint64_t sum = 0xcbf29ce484222325ull;
    unsigned bad = 0;
    uint8_t page[PAGE];
    uint8_t *at = (uint8_t *)ADDR + 16 * PAGE;
    int fd = memfd_create("pagecross", 0);

    if (fd < 0 || ftruncate(fd, 3 * PAGE)) {
        perror("memfd");
        exit(1);
    }
    memset(page, 0xcc, PAGE);
    memcpy(page + PC_HEAD_OFS, pc_head, sizeof(pc_head));
    pwrite(fd, page, PAGE, 0);
    /* two versions of the second page: other immediates */
    for (int v = 1; v <= 2; v++) {
        uint8_t tail[] = { 0x05, 0, 0, 0, 0, 0xeb, 0xf0, 0xc3 };
        uint32_t imm = v == 1 ? 1000 : 7;

        memcpy(tail + 1, &imm, 4);
        memset(page, 0xcc, PAGE);
        memcpy(page, tail, sizeof(tail));
        pwrite(fd, page, PAGE, v * PAGE);
    }
    if (mmap(at, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0)
        == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    for (uint32_t round = 0; round < 60; round++) {
        loop_fn f = (loop_fn)(at + PC_HEAD_OFS);

        if (mmap(at + PAGE, PAGE, PROT_READ | PROT_EXEC,
                 MAP_SHARED | MAP_FIXED, fd, (1 + round % 2) * PAGE)
            == MAP_FAILED) {
            perror("mmap");
            exit(1);
        }
        for (int k = 0; k < 6; k++) {
            uint64_t n = 2000 + k, r = f(n);

            /* n increments, n - 1 adds of the mapped version's imm */
            bad += r != n + (n - 1) * (round % 2 ? 7 : 1000);
            sum = mix(sum, r);
        }
    }
    printf("smc: pagecross sum=%016llx %s\n", (unsigned long long)sum,
           bad ? "FAILED" : "ok");
    munmap(at, 2 * PAGE);
    close(fd);
}

#define CROSS_N 2000
#define CROSS_WRITES 400

static uint8_t *cross_code;
static volatile uint32_t cross_last;     /* last immediate written */
static volatile int cross_done;

static void *cross_writer(void *arg)
{
    for (uint32_t v = 2; v <= CROSS_WRITES; v++) {
        put_imm(cross_code, v);
        cross_last = v;
        for (volatile int spin = 0; spin < 20000; spin++) {
        }
    }
    cross_done = 1;
    return NULL;
}

static void mode_cross(void)
{
    pthread_t th;
    uint64_t prev = 1, calls = 0;
    int bad = 0;

    cross_code = map_code(NULL);
    memcpy(cross_code, code_tmpl, sizeof(code_tmpl));
    put_imm(cross_code, 1);
    cross_last = 1;
    pthread_create(&th, NULL, cross_writer, NULL);
    while (!cross_done || calls < 100) {
        uint64_t r = ((loop_fn)cross_code)(CROSS_N);
        uint64_t v = r / CROSS_N;

        calls++;
        /*
         * The immediate may change in the middle of a call (x86 makes a
         * cross-modification visible at some instruction boundary), so
         * a result lies between n*old and n*new; it never goes back.
         */
        if (v < prev || v > CROSS_WRITES) {
            bad++;
        }
        prev = v > prev ? v : prev;
    }
    pthread_join(th, NULL);
    /* all writes done: the code must now run with the last value */
    if (((loop_fn)cross_code)(CROSS_N) != (uint64_t)CROSS_N * cross_last) {
        bad++;
    }
    printf("smc: cross %s\n", bad ? "FAILED" : "ok");
    munmap(cross_code, PAGE);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;

    setvbuf(stdout, NULL, _IONBF, 0);
    if (!only || !strcmp(only, "self")) {
        mode_self();
    }
    if (!only || !strcmp(only, "remap")) {
        mode_remap();
    }
    if (!only || !strcmp(only, "pagecross")) {
        mode_pagecross();
    }
    if (!only || !strcmp(only, "cross")) {
        mode_cross();
    }
    return 0;
}
