/*
 * A minimal freestanding runtime for the loongarch64 tcg-host proof.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "la64-rt.h"

/*
 * Process entry: the kernel leaves argc/argv on an aligned stack; we need
 * neither. Clear the frame pointer for debuggers, keep $sp 16-aligned as
 * the ABI wants, exit with la64_main()'s result.
 */
__asm__(
    "    .pushsection .text\n"
    "    .globl _start\n"
    "    .type _start, @function\n"
    "_start:\n"
    "    move $fp, $zero\n"
    "    bstrins.d $sp, $zero, 3, 0\n"
    "    bl la64_main\n"
    "    li.w $a7, 94\n"                    /* exit_group(a0) */
    "    syscall 0\n"
    "    .size _start, . - _start\n"
    "    .popsection\n");

long la64_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                  long a5)
{
    register long r_a0 __asm__("$a0") = a0;
    register long r_a1 __asm__("$a1") = a1;
    register long r_a2 __asm__("$a2") = a2;
    register long r_a3 __asm__("$a3") = a3;
    register long r_a4 __asm__("$a4") = a4;
    register long r_a5 __asm__("$a5") = a5;
    register long r_a7 __asm__("$a7") = nr;

    /* the kernel may clobber $t0-$t8 */
    __asm__ volatile("syscall 0"
                     : "+r"(r_a0)
                     : "r"(r_a1), "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a5),
                       "r"(r_a7)
                     : "$t0", "$t1", "$t2", "$t3", "$t4", "$t5", "$t6",
                       "$t7", "$t8", "memory");
    return r_a0;
}

void *la64_mmap(void *addr, size_t len, int prot, int flags, int fd)
{
    long r = la64_syscall(LA64_SYS_MMAP, (long)addr, len, prot, flags, fd, 0);

    /* errors are -4095..-1 */
    return (unsigned long)r >= -4095ul ? NULL : (void *)r;
}

void la64_munmap(void *addr, size_t len)
{
    la64_syscall(LA64_SYS_MUNMAP, (long)addr, len, 0, 0, 0, 0);
}

void la64_puts(const char *s)
{
    size_t n = 0;

    while (s[n]) {
        n++;
    }
    la64_syscall(LA64_SYS_WRITE, 1, (long)s, n, 0, 0, 0);
}

void la64_put_hex(uint64_t v)
{
    char buf[19];
    int i = 18;

    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    la64_puts(buf + i);
}

void la64_put_dec(uint64_t v)
{
    char buf[21];
    int i = 20;

    buf[i] = 0;
    do {
        buf[--i] = '0' + v % 10;
        v /= 10;
    } while (v);
    la64_puts(buf + i);
}

/*
 * The compiler lowers struct copies and the __builtin_mem* calls to these;
 * volatile keeps it from turning the loops back into calls to themselves.
 */
void *memcpy(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const unsigned char *s = src;

    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    volatile unsigned char *d = dst;

    for (size_t i = 0; i < n; i++) {
        d[i] = c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;

    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    const volatile unsigned char *x = (const unsigned char *)a;
    const volatile unsigned char *y = (const unsigned char *)b;

    while (*x && *x == *y) {
        x++;
        y++;
    }
    return *x - *y;
}
