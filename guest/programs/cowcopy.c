/*
 * cowcopy: the kernel writing into copy-on-write user pages, as fork()
 * leaves every page of both processes. Each copy below is the first write
 * to its page since fork, so the kernel takes the copy-on-write fault in
 * the middle of its own copy instruction (x86_64 Linux copies to user
 * memory with rep movsq, then rep movsb), handles it, and resumes that
 * instruction with its registers as they were:
 *
 *   pipe()   returns its two descriptors with an 8-byte copy_to_user (one
 *            iteration of rep movsq: the fault is in its last iteration)
 *   read()   copies 12 bytes from a pipe into a buffer that straddles two
 *            pages (a byte loop to align, then rep movsq on the second)
 *
 * in a fresh child, then in the parent, N rounds (argument 1, default
 * 2000), every result checked. If the fault's instruction pointer is not
 * the copy's, the kernel resumes elsewhere: descriptors or bytes are not
 * written, and the check says so. First the same copies run many times
 * into pages that take no fault, so that their kernel code is hot (and,
 * under -accel hybrid, compiled: a recording that meets a fault stops
 * there) before the faults come.
 *
 * Output: "cowcopy: rounds N bad M" (M is 0 under -accel tcg), then
 * "cowcopy: done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

/* four pages, each written by the parent before every fork */
static char area[4 * PAGE] __attribute__((aligned(PAGE)));

static const char msg[12] = "cow-copy-12b";

/* pipe() into @fds (a page not written since fork); 0 if right */
static int pipe_check(int *fds)
{
    char c = 0;
    int bad = 0;

    if (pipe(fds) < 0) {
        return 1;
    }
    if (fds[0] < 0 || fds[1] < 0 || fds[0] == fds[1]) {
        return 2;       /* not written: the area's 0xff bytes are -1 */
    }
    if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1 || c != 'x') {
        bad = 3;
    }
    close(fds[0]);
    close(fds[1]);
    return bad;
}

/* read() 12 bytes into @buf, straddling a page boundary; 0 if right */
static int read_check(char *buf)
{
    int p[2];
    int bad = 0;

    if (pipe(p) < 0) {
        return 4;
    }
    if (write(p[1], msg, sizeof(msg)) != sizeof(msg) ||
        read(p[0], buf, sizeof(msg)) != sizeof(msg) ||
        memcmp(buf, msg, sizeof(msg))) {
        bad = 5;
    }
    close(p[0]);
    close(p[1]);
    return bad;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    int bad = 0, first = 0;

    /* warm-up: the same copies, no fault (the area is written) */
    memset(area, 0xff, sizeof(area));
    for (int i = 0; i < 20 * rounds; i++) {
        if (pipe_check((int *)area) || read_check(area + 2 * PAGE - 4)) {
            bad++;
        }
        memset(area, 0xff, sizeof(area));
    }
    usleep(300000);     /* time for a compile */

    for (int i = 0; i < rounds; i++) {
        int st, why;
        pid_t pid;

        memset(area, 0xff, sizeof(area));     /* present and writable */
        pid = fork();
        if (pid < 0) {
            perror("cowcopy: fork");
            return 1;
        }
        if (pid == 0) {
            why = pipe_check((int *)area);
            if (!why) {
                why = read_check(area + 2 * PAGE - 4);
            }
            _exit(why);
        }
        /* the parent's pages are copy-on-write as well, until it writes */
        why = pipe_check((int *)(area + 3 * PAGE));
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
            why = why ? why : 6;
        } else if (WEXITSTATUS(st)) {
            why = WEXITSTATUS(st);
        }
        if (why) {
            bad++;
            if (!first) {
                first = why;
                printf("cowcopy: round %d: check %d failed\n", i, why);
            }
        }
    }
    printf("cowcopy: rounds %d bad %d\n", rounds, bad);
    printf("cowcopy: done\n");
    return 0;
}
