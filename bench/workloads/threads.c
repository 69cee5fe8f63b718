/* Workload (c): T threads (argv[2], default 4) each calling a noinline target(tid, i)
 * N times (argv[1]).  `tid == T-1 && i == N-1` is true once in T*N calls. */
#include <pthread.h>
#include <stdlib.h>

#define MAX_THREADS 64

static long n;
volatile long sink;

__attribute__((noinline)) int target(int tid, int i)
{
    sink += tid + i;
    return i;
}

static void *thread_main(void *arg)
{
    int tid = (int)(long)arg;

    for (long i = 0; i < n; i++)
        sink += target(tid, (int)i);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[MAX_THREADS];
    long nthreads;

    n = argc > 1 ? atol(argv[1]) : 1000;
    nthreads = argc > 2 ? atol(argv[2]) : 4;
    if (nthreads < 1 || nthreads > MAX_THREADS)
        return 2;
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&threads[t], NULL, thread_main, (void *)t) != 0)
            return 1;
    for (long t = 0; t < nthreads; t++)
        pthread_join(threads[t], NULL);
    return 0;
}
