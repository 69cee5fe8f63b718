/* The armed protocol of the programs of tests/harness/conditions.py.
 *
 * `PROG N armed`: armed_wait() prints "ready PID" and waits for one byte on stdin; a SIGTRAP
 * handler then records g_iter (the program's iteration) at every perf breakpoint trap
 * (si_code TRAP_PERF), and armed_report(N) prints "hits: i i i ..." at the end. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef TRAP_PERF
#define TRAP_PERF 6
#endif
#define MAX_N 4096

extern int g_iter;
static volatile unsigned char armed_hit[MAX_N];

static void armed_on_trap(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    if (info->si_code == TRAP_PERF && g_iter >= 0 && g_iter < MAX_N)
        armed_hit[g_iter] = 1;
}

static int armed_wait(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = armed_on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char go;
    return read(0, &go, 1) == 1 ? 0 : 2;
}

static void armed_report(int n)
{
    printf("hits:");
    for (int i = 0; i < n; i++)
        if (armed_hit[i])
            printf(" %d", i);
    printf("\n");
}
