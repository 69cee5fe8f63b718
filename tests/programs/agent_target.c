/* Subject of the agent's kernel tests: prints "ready", waits for a line on stdin, calls the
 * noinline agent_call(i) for i = 0..N-1 (N = argv[1]), prints "called N", and exits 0 at the
 * end of its stdin, so that the test can read the agent's counters while it lives. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

volatile long sink;

__attribute__((noinline)) void agent_call(long i)
{
    sink += i;
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    struct rlimit no_core = {0, 0};
    char line[64];

    setrlimit(RLIMIT_CORE, &no_core); /* a test lets the agent kill it with SIGTRAP */
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        return 2;
    for (long i = 0; i < n; i++)
        agent_call(i);
    printf("called %ld\n", n);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin))
        ;
    return 0;
}
