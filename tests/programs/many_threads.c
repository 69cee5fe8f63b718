/* Many threads calling one function: breakpoints armed on hundreds of threads at once.
 *
 * `many_threads N CALLS [LATE]`: starts N threads (tid 0..N-1) that wait until all exist; then
 * main calls all_started(N), the place to set breakpoints, and releases them: each calls the
 * noinline target(tid, i) for i = 0..CALLS-1.  Then main starts LATE more threads (tid N..),
 * created after the breakpoints, which make the same calls at once. */
#include <pthread.h>
#include <stdlib.h>

static int calls;
static pthread_barrier_t start;
volatile long sink;

__attribute__((noinline)) int target(int tid, int i)
{
    sink += tid * 1000000L + i;
    return i;
}

__attribute__((noinline)) void all_started(int n)
{
    sink += n;
}

static void *thread_main(void *arg)
{
    int tid = (int)(long)arg;
    for (int i = 0; i < calls; i++)
        sink += target(tid, i);
    return NULL;
}

static void *waiting_thread_main(void *arg)
{
    pthread_barrier_wait(&start);
    return thread_main(arg);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 512;
    int late = argc > 3 ? atoi(argv[3]) : 0;
    pthread_t *threads = calloc(n + late, sizeof *threads);
    pthread_attr_t small_stack;

    calls = argc > 2 ? atoi(argv[2]) : 1000;
    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 64 * 1024);
    pthread_barrier_init(&start, NULL, n + 1);
    for (long t = 0; t < n; t++)
        if (pthread_create(&threads[t], &small_stack, waiting_thread_main, (void *)t) != 0)
            return 1;
    all_started(n);
    pthread_barrier_wait(&start);
    for (long t = n; t < n + late; t++)
        if (pthread_create(&threads[t], &small_stack, thread_main, (void *)t) != 0)
            return 1;
    for (int t = 0; t < n + late; t++)
        pthread_join(threads[t], NULL);
    return 0;
}
