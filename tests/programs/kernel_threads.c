/* Subject for the kernel-layer tests of inherited perf events: once the test has armed its
 * events on the main thread, starts T threads (argv[1]) numbered k = 1..T, and thread k calls
 * the noinline target(x) for x = k * 1000 + j, j = 0..N-1 (argv[2]).  argv[3] adds threads
 * made by threads, not by main, numbered T + k:
 *   "nested"   thread k first starts thread T + k, which makes the same calls;
 *   "orphans"  thread k starts thread T + k and exits; T + k makes its calls once every
 *              thread 1..T has exited.
 *
 * Protocol: prints "ready <pid> <&target>" once its handler of SIGTRAP and of signal 40 (the
 * kernel-signal tier's) is installed, waits for one byte on stdin, runs the threads, then
 * prints "traps K" and one line per signal: "trap thread=<k> lwp=<lwp> x=<x> sig=<signo>
 * code=<si_code> data=<si_perf_data>", where k and lwp are the thread that received the
 * signal and x the argument of its call in progress. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TRAPS 4096
#define MAX_THREADS 256
#define MATCH_SIGNAL 40
#define SI_PERF_DATA(si) (*(unsigned long *)((char *)(si) + 24))

struct trap {
    int thread, lwp, sig, code;
    long x;
    unsigned long data;
};

static struct trap traps[MAX_TRAPS];
static int ntraps;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long calls;
static int nthreads;
static const char *mode = "";
static pthread_barrier_t creators_gone, orphans_done;
static __thread int my_thread;
static __thread volatile long current_x = -1;
volatile long sink;

__attribute__((noinline)) long target(long x)
{
    sink += x;
    __asm__ volatile("" ::: "memory");
    return x;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&lock);
    if (ntraps < MAX_TRAPS)
        traps[ntraps] = (struct trap){my_thread, (int)gettid(), sig, si->si_code, current_x,
                                      SI_PERF_DATA(si)};
    ntraps++;
    pthread_mutex_unlock(&lock);
}

static void make_calls(void)
{
    for (long j = 0; j < calls; j++) {
        current_x = my_thread * 1000L + j;
        target(current_x);
    }
    current_x = -1;
}

static void *orphan_main(void *arg)
{
    my_thread = (int)(long)arg;
    pthread_barrier_wait(&creators_gone);
    make_calls();
    pthread_barrier_wait(&orphans_done);
    return NULL;
}

static void *thread_main(void *arg)
{
    pthread_t child;
    int nested = strcmp(mode, "nested") == 0 && (long)arg <= nthreads;

    my_thread = (int)(long)arg;
    if (strcmp(mode, "orphans") == 0) {
        pthread_attr_t detached;
        pthread_attr_init(&detached);
        pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&child, &detached, orphan_main, (void *)(long)(my_thread + nthreads)))
            exit(1);
        return NULL;
    }
    if (nested && pthread_create(&child, NULL, thread_main, (void *)(long)(my_thread + nthreads)))
        exit(1);
    make_calls();
    if (nested)
        pthread_join(child, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[MAX_THREADS];
    struct sigaction sa;
    char go;

    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    calls = argc > 2 ? atol(argv[2]) : 100;
    mode = argc > 3 ? argv[3] : "";
    if (nthreads > MAX_THREADS)
        nthreads = MAX_THREADS;
    pthread_barrier_init(&creators_gone, NULL, nthreads + 1);
    pthread_barrier_init(&orphans_done, NULL, nthreads + 1);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
    sigaction(MATCH_SIGNAL, &sa, NULL);
    printf("ready %d %p\n", (int)getpid(), (void *)target);
    fflush(stdout);
    if (read(0, &go, 1) != 1)
        return 2;

    for (long k = 1; k <= nthreads; k++)
        if (pthread_create(&threads[k - 1], NULL, thread_main, (void *)k) != 0)
            return 1;
    for (int k = 0; k < nthreads; k++)
        pthread_join(threads[k], NULL);
    if (strcmp(mode, "orphans") == 0) {
        pthread_barrier_wait(&creators_gone);
        pthread_barrier_wait(&orphans_done);
    }

    printf("traps %d\n", ntraps);
    for (int i = 0; i < ntraps && i < MAX_TRAPS; i++)
        printf("trap thread=%d lwp=%d x=%ld sig=%d code=%d data=%lu\n", traps[i].thread,
               traps[i].lwp, traps[i].x, traps[i].sig, traps[i].code, traps[i].data);
    return 0;
}
