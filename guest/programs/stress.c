/*
 * stress: compile-heavy work on every vCPU plus self-modifying and
 * remapped code, for the MTTCG stress test of compiled traces.
 *
 * Each of NTHREADS threads owns a code region. Every round it writes
 * NFUNC fresh loop functions there (two shapes, immediates that depend on
 * thread, round and function), calls each until it is hot (so every
 * round gives the optimizer pool a batch of new traces from every vCPU),
 * rewrites half of them in place and calls them again, then either
 * unmaps the region or takes it through an mprotect cycle. Every result
 * is checked against the same computation in C, so a stale or wrong
 * trace shows as FAILED; the per-thread checksums must also equal what
 * -accel tcg prints.
 *
 * Usage: stress [rounds] (default 30). Output: "stress: thread T sum=..." per thread,
 * then "stress: ok" or "stress: FAILED n".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define NTHREADS 4
#define NFUNC 24
#define REGION_PAGES 8
#define REGION(t) ((uint8_t *)0x7d0000000000ull + (t) * 0x1000000ull)

/*
 * Shape 0: n additions of imm.
 *  0: 31 c0             xor  %eax,%eax
 *  2: 48 85 ff          test %rdi,%rdi
 *  5: 74 0b             je   18
 *  7: 48 05 ii ii ii ii add  $imm32,%rax      (imm at 9)
 * 13: 48 ff cf          dec  %rdi
 * 16: 75 f5             jne  7
 * 18: c3                ret
 */
static const uint8_t shape0[] = {
    0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x0b, 0x48, 0x05, 0, 0, 0, 0,
    0x48, 0xff, 0xcf, 0x75, 0xf5, 0xc3,
};

/*
 * Shape 1: a branch inside the loop.
 *  0: 31 c0             xor  %eax,%eax
 *  2: 48 85 ff          test %rdi,%rdi
 *  5: 74 16             je   1d
 *  7: 48 89 f9          mov  %rdi,%rcx
 *  a: 83 e1 03          and  $3,%ecx
 *  d: 75 06             jne  15
 *  f: 48 05 ii ii ii ii add  $imm32,%rax      (imm at 0x11)
 * 15: 48 31 f8          xor  %rdi,%rax
 * 18: 48 ff cf          dec  %rdi
 * 1b: 75 ea             jne  7
 * 1d: c3                ret
 */
static const uint8_t shape1[] = {
    0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x16, 0x48, 0x89, 0xf9, 0x83, 0xe1,
    0x03, 0x75, 0x06, 0x48, 0x05, 0, 0, 0, 0, 0x48, 0x31, 0xf8, 0x48, 0xff,
    0xcf, 0x75, 0xea, 0xc3,
};

typedef uint64_t (*loop_fn)(uint64_t n);

typedef struct Func {
    unsigned ofs, shape;
    uint32_t imm;
} Func;

typedef struct Thread {
    unsigned id, rounds;
    uint64_t sum;
    unsigned bad;
} Thread;

static uint64_t reference(const Func *f, uint64_t n)
{
    uint64_t rax = 0;

    for (uint64_t rdi = n; rdi; rdi--) {
        if (f->shape == 0) {
            rax += (int64_t)(int32_t)f->imm;
        } else {
            if (!(rdi & 3)) {
                rax += (int64_t)(int32_t)f->imm;
            }
            rax ^= rdi;
        }
    }
    return rax;
}

static void put_imm(uint8_t *code, const Func *f)
{
    unsigned at = f->shape ? 0x11 : 9;

    __atomic_store_n((uint32_t *)(code + f->ofs + at), f->imm,
                     __ATOMIC_SEQ_CST);
}

static void write_func(uint8_t *code, const Func *f)
{
    if (f->shape) {
        memcpy(code + f->ofs, shape1, sizeof(shape1));
    } else {
        memcpy(code + f->ofs, shape0, sizeof(shape0));
    }
    put_imm(code, f);
}

static uint8_t *map_region(uint8_t *at)
{
    void *p = mmap(at, REGION_PAGES * PAGE,
                   PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

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

static void call_all(Thread *t, uint8_t *code, const Func *fs, int reps)
{
    for (int r = 0; r < reps; r++) {
        for (unsigned j = 0; j < NFUNC; j++) {
            uint64_t n = 400 + j * 7 + r;
            uint64_t got = ((loop_fn)(code + fs[j].ofs))(n);

            t->bad += got != reference(&fs[j], n);
            t->sum = mix(t->sum, got);
        }
    }
}

static void *worker(void *arg)
{
    Thread *t = arg;
    uint8_t *code = map_region(REGION(t->id));
    Func fs[NFUNC];

    t->sum = 0xcbf29ce484222325ull;
    for (unsigned round = 0; round < t->rounds; round++) {
        for (unsigned j = 0; j < NFUNC; j++) {
            fs[j].shape = (j + round + t->id) % 2;
            /* spread over the pages, at odd offsets */
            fs[j].ofs = (j % REGION_PAGES) * PAGE + (j / REGION_PAGES) * 1100
                        + (j % 5) * 3;
            fs[j].imm = t->id * 1000003u + round * 7919u + j * 104729u;
            write_func(code, &fs[j]);
        }
        call_all(t, code, fs, 4);
        /* self-modifying: half the functions get another immediate */
        for (unsigned j = round % 2; j < NFUNC; j += 2) {
            fs[j].imm = fs[j].imm * 3 + 1;
            put_imm(code, &fs[j]);
        }
        call_all(t, code, fs, 3);
        if (round % 3 == 2) {
            /* the region is unmapped; next round maps fresh pages */
            munmap(code, REGION_PAGES * PAGE);
            code = map_region(REGION(t->id));
        } else {
            mprotect(code, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE);
            mprotect(code, REGION_PAGES * PAGE,
                     PROT_READ | PROT_WRITE | PROT_EXEC);
        }
    }
    munmap(code, REGION_PAGES * PAGE);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? atoi(argv[1]) : 30;
    pthread_t th[NTHREADS];
    Thread ts[NTHREADS];
    unsigned bad = 0;

    setvbuf(stdout, NULL, _IONBF, 0);
    for (unsigned i = 0; i < NTHREADS; i++) {
        ts[i] = (Thread){ .id = i, .rounds = rounds };
        pthread_create(&th[i], NULL, worker, &ts[i]);
    }
    for (unsigned i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
    }
    for (unsigned i = 0; i < NTHREADS; i++) {
        printf("stress: thread %u sum=%016llx\n", i,
               (unsigned long long)ts[i].sum);
        bad += ts[i].bad;
    }
    if (bad) {
        printf("stress: FAILED %u\n", bad);
    } else {
        printf("stress: ok\n");
    }
    return 0;
}
