/* Arming at scale: `scale EXISTING LATE CALLS`.  Starts EXISTING threads, which wait until all
 * exist; calls all_started(), where the breakpoints are set; lets them run and joins them; then
 * starts LATE threads (created after the breakpoints), which wait until all exist; calls
 * all_created(); lets them run.  Every thread calls the noinline target(tid, i) CALLS times and
 * times its own calls.  Prints "SCALE create_late_s=S existing_ns_per_call=E late_ns_per_call=L":
 * how long creating the LATE threads took, and each group's mean time per call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int calls;
static pthread_barrier_t start;
volatile long sink;

__attribute__((noinline)) int target(int tid, int i)
{
    sink += tid + i;
    return i;
}

__attribute__((noinline)) void all_started(int n) { sink += n; }
__attribute__((noinline)) void all_created(int n) { sink += n; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *thread_main(void *arg)
{
    int tid = (int)(long)arg;
    double *seconds = malloc(sizeof *seconds), begin;

    pthread_barrier_wait(&start);
    begin = now();
    for (int i = 0; i < calls; i++)
        sink += target(tid, i);
    *seconds = now() - begin;
    return seconds;
}

/* Starts n threads numbered from first, lets them run once `ready` returns; the mean seconds
 * per call, and in *create_s the time it took to create them. */
static double group(int first, int n, void (*ready)(int), double *create_s)
{
    pthread_t *threads = calloc(n, sizeof *threads);
    pthread_attr_t small_stack;
    double begin = now(), total = 0;

    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 64 * 1024);
    pthread_barrier_init(&start, NULL, n + 1);
    for (long t = 0; t < n; t++)
        if (pthread_create(&threads[t], &small_stack, thread_main, (void *)(first + t)) != 0)
            exit(1);
    *create_s = now() - begin;
    ready(n);
    pthread_barrier_wait(&start);
    for (int t = 0; t < n; t++) {
        void *seconds;
        pthread_join(threads[t], &seconds);
        total += *(double *)seconds;
        free(seconds);
    }
    pthread_barrier_destroy(&start);
    free(threads);
    return n && calls ? total / n / calls : 0;
}

int main(int argc, char **argv)
{
    int existing = argc > 1 ? atoi(argv[1]) : 2000;
    int late = argc > 2 ? atoi(argv[2]) : 0;
    double create_existing_s, create_late_s, existing_per_call, late_per_call;

    calls = argc > 3 ? atoi(argv[3]) : 1;
    existing_per_call = group(0, existing, all_started, &create_existing_s);
    late_per_call = group(existing, late, all_created, &create_late_s);
    printf("SCALE create_late_s=%.6f existing_ns_per_call=%.1f late_ns_per_call=%.1f\n",
           create_late_s, existing_per_call * 1e9, late_per_call * 1e9);
    return 0;
}
