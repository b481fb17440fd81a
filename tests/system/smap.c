/*
 * SMAP: kernel-mode (CPL 0) reads and writes of a user page between stac
 * and clac (EFLAGS.AC set), with CR4.SMAP on, in a hot loop. x86 takes
 * the MMU index of kernel accesses from EFLAGS.AC under SMAP: the TB
 * after stac is translated for AC set (its flags say so), whatever the
 * CPU's state when a compiled trace's TBs are translated again. Needs
 * -cpu max (SMAP). Prints the loop's address range and a checksum that
 * must match across tiers, then halts (so that the test can still ask
 * the monitor about the loop's trace); a wrong MMU index faults, with no
 * IDT: a triple fault.
 */
#include <minilib.h>

#define USER_PAGE 0x600000ul       /* the one 2 MiB user page */
#define CR4_SMAP (1ul << 21)

static unsigned long read_cr3(void)
{
    unsigned long v;

    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

/* Every 2 MiB page of the boot stub's tables supervisor, but one. */
static void setup(void)
{
    unsigned long *pml4 = (unsigned long *)(read_cr3() & ~0xfffUL);
    unsigned long *pdp = (unsigned long *)(pml4[0] & ~0xfffUL);
    unsigned long cr4;

    for (int g = 0; g < 4; g++) {
        unsigned long *pd = (unsigned long *)(pdp[g] & ~0xfffUL);

        for (int i = 0; i < 512; i++) {
            pd[i] &= ~4ul;
            if (g == 0 && i == (int)(USER_PAGE >> 21)) {
                pd[i] |= 4ul;
            }
        }
    }
    asm volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_SMAP) : "memory");
}

__attribute__((noinline, aligned(64)))
static unsigned long smap_loop(unsigned long n)
{
    volatile unsigned long *u = (volatile unsigned long *)USER_PAGE;
    unsigned long acc = 0;

    for (unsigned long i = 0; i < n; i++) {
        asm volatile("stac" ::: "memory");
        acc += u[i & 511] ^ i;
        u[(i * 7) & 511] = acc;
        asm volatile("clac" ::: "memory");
    }
    return acc;
}

__attribute__((noinline)) static void smap_loop_end(void)
{
}

int main(void)
{
    setup();
    ml_printf("smap: func=%lx end=%lx\n", (unsigned long)smap_loop,
              (unsigned long)smap_loop_end);
    ml_printf("smap: result=%lx\n", smap_loop(20000000));
    for (;;) {
        asm volatile("cli; hlt");
    }
}
