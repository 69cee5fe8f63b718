/* A program that traps on purpose, as assertion macros and debug-break helpers do.
 *
 * `traps HOW THREADS CALLS AT [handler]`: THREADS threads (1: the main thread alone), tid 0 to
 * THREADS-1, each call the noinline work(tid, j) CALLS times; thread 0 traps just before its
 * call with j == AT.  With several threads they go through every call in step (a barrier), so
 * thread 0's trap and the other threads' calls with j == AT happen at the same moment.
 * HOW: int3 (at the symbol trap_int3), raise (raise(SIGTRAP)), kill (kill(getpid(), SIGTRAP)),
 * rt (raise(SIG40)).
 * With `handler` the program handles SIGTRAP and SIG40 itself and says so on stdout; the
 * last line gives how many signals it handled. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 8
#define SIG40 40

static const char *how;
static int threads, calls, at;
static pthread_barrier_t in_step;
static volatile sig_atomic_t handled;
volatile int g_iter;  /* thread 0's j */
volatile long sink;

__attribute__((noinline)) int work(int tid, int j)
{
    sink += tid * 1000 + j;
    return j;
}

static void on_signal(int signo, siginfo_t *info, void *context)
{
    char line[64];
    int n = snprintf(line, sizeof line, "traps: handled signal %d, si_code %d\n", signo,
                     info->si_code);
    (void)context;
    handled++;
    write(1, line, n);
}

static void trap(void)
{
    if (strcmp(how, "int3") == 0)
        __asm__ volatile(".globl trap_int3\ntrap_int3: int3");
    else if (strcmp(how, "raise") == 0)
        raise(SIGTRAP);
    else if (strcmp(how, "kill") == 0)
        kill(getpid(), SIGTRAP);
    else if (strcmp(how, "rt") == 0)
        raise(SIG40);
}

static void *run_calls(void *arg)
{
    int tid = (int)(long)arg;
    for (int j = 0; j < calls; j++) {
        if (threads > 1)
            pthread_barrier_wait(&in_step);
        if (tid == 0) {
            g_iter = j;
            if (j == at)
                trap();
        }
        sink += work(tid, j);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t ids[MAX_THREADS];

    if (argc < 5) {
        fprintf(stderr, "usage: traps int3|raise|kill|rt THREADS CALLS AT [handler]\n");
        return 2;
    }
    how = argv[1];
    threads = atoi(argv[2]);
    calls = atoi(argv[3]);
    at = atoi(argv[4]);
    if (threads < 1 || threads > MAX_THREADS)
        return 2;
    if (argc > 5 && strcmp(argv[5], "handler") == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_signal;
        action.sa_flags = SA_SIGINFO;
        sigaction(SIGTRAP, &action, NULL);
        sigaction(SIG40, &action, NULL);
    }
    pthread_barrier_init(&in_step, NULL, threads);
    for (long t = 1; t < threads; t++)
        pthread_create(&ids[t], NULL, run_calls, (void *)t);
    run_calls((void *)0);
    for (int t = 1; t < threads; t++)
        pthread_join(ids[t], NULL);
    printf("traps: done, %d signals handled\n", (int)handled);
    return 0;
}
