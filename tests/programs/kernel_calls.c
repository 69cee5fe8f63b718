/* Subject for the kernel-layer tests: calls a noinline target(x) for x = 0..N-1 (argv[1],
 * default 1000) after the test has armed its perf breakpoints.
 *
 * Protocol: prints "ready <pid> <&target>" once its SIGTRAP handler is installed, waits for
 * one byte on stdin, makes the calls, then prints "calls N", "traps K" and one line per
 * SIGTRAP: "trap x=<x> code=<si_code> data=<si_perf_data> addr=<si_addr> flags=<flags>".
 * With argv[2] == "block", SIGTRAP stays blocked and is collected with sigtimedwait after
 * each call instead (what the probe does). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRAPS 4096

/* x86_64 siginfo_t: si_perf_data at 24, si_perf_flags at 36 (older glibc headers lack the
 * names, so read them by offset). */
#define SI_PERF_DATA(si) (*(unsigned long *)((char *)(si) + 24))
#define SI_PERF_FLAGS(si) (*(unsigned int *)((char *)(si) + 36))

struct trap {
    long x;
    int code;
    unsigned int flags;
    unsigned long data;
    void *addr;
};

static struct trap traps[MAX_TRAPS];
static volatile int ntraps;
static volatile long current_x = -1;
volatile long sink;

__attribute__((noinline)) long target(long x)
{
    sink += x;
    __asm__ volatile("" ::: "memory");
    return x;
}

static void record(const siginfo_t *si)
{
    int i = ntraps;
    if (i < MAX_TRAPS) {
        traps[i].x = current_x;
        traps[i].code = si->si_code;
        traps[i].data = SI_PERF_DATA(si);
        traps[i].flags = SI_PERF_FLAGS(si);
        traps[i].addr = si->si_addr;
    }
    ntraps = i + 1;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    record(si);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int block = argc > 2 && strcmp(argv[2], "block") == 0;
    sigset_t trapset;
    struct sigaction sa;
    char go;

    sigemptyset(&trapset);
    sigaddset(&trapset, SIGTRAP);
    if (block) {
        sigprocmask(SIG_BLOCK, &trapset, NULL);
    } else {
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_trap;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGTRAP, &sa, NULL);
    }
    printf("ready %d %p\n", (int)getpid(), (void *)target);
    fflush(stdout);
    if (read(0, &go, 1) != 1)
        return 2;

    for (long x = 0; x < n; x++) {
        current_x = x;
        target(x);
        if (block) {
            siginfo_t si;
            struct timespec zero = {0, 0};
            if (sigtimedwait(&trapset, &si, &zero) == SIGTRAP)
                record(&si);
        }
    }
    current_x = -1;

    printf("calls %ld\ntraps %d\n", n, ntraps);
    for (int i = 0; i < ntraps && i < MAX_TRAPS; i++)
        printf("trap x=%ld code=%d data=%lu addr=%p flags=%u\n", traps[i].x, traps[i].code,
               traps[i].data, traps[i].addr, traps[i].flags);
    return 0;
}
