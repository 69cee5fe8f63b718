/* Four threads each calling a noinline work(tid, i) N times (argv[1], default 1000): breakpoints
 * must be armed on every thread, including those created after the breakpoint was set. Each
 * thread keeps its tid and its count of calls in thread-locals. */
#include <pthread.h>
#include <stdlib.h>

#define NTHREADS 4

static int n;
volatile long sink;
__thread int tls_tid = -1;        /* each thread's tid, in its own thread-local storage */
__thread long tls_calls;          /* calls of work() so far in this thread */

__attribute__((noinline)) int work(int tid, int i)
{
    sink += tid * 1000000 + i;
    tls_calls++;
    return i;
}

static void *thread_main(void *arg)
{
    int tid = (int)(long)arg;
    tls_tid = tid;
    for (int i = 0; i < n; i++)
        sink += work(tid, i);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[NTHREADS];

    n = argc > 1 ? atoi(argv[1]) : 1000;
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&threads[t], NULL, thread_main, (void *)t) != 0)
            return 1;
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(threads[t], NULL);
    return 0;
}
