/*
 * A minimal freestanding runtime for the loongarch64 tcg-host proof: raw
 * Linux syscalls, the few libc functions the compiler may call, and an
 * output routine without printf. No libc exists for this target here.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef LA64_RT_H
#define LA64_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* asm-generic syscall numbers, which loongarch64 uses */
#define LA64_SYS_CLOSE          57
#define LA64_SYS_FTRUNCATE      46
#define LA64_SYS_WRITE          64
#define LA64_SYS_EXIT_GROUP     94
#define LA64_SYS_MUNMAP         215
#define LA64_SYS_MMAP           222
#define LA64_SYS_MPROTECT       226
#define LA64_SYS_MEMFD_CREATE   279

#define LA64_PROT_READ          0x1
#define LA64_PROT_WRITE         0x2
#define LA64_PROT_EXEC          0x4
#define LA64_MAP_SHARED         0x01
#define LA64_MAP_PRIVATE        0x02
#define LA64_MAP_ANONYMOUS      0x20
#define LA64_MAP_FIXED_NOREPLACE 0x100000

long la64_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                  long a5);
/* mmap's result, or NULL on error */
void *la64_mmap(void *addr, size_t len, int prot, int flags, int fd);
void la64_munmap(void *addr, size_t len);

void la64_puts(const char *s);          /* no newline added */
void la64_put_hex(uint64_t v);
void la64_put_dec(uint64_t v);

/* the program's entry, called by _start; its result is the exit code */
int la64_main(void);

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);

#endif /* LA64_RT_H */
