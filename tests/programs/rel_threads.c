/* Threads created and destroyed rapidly while breakpoints are armed.
 *
 * `rel_threads WAVES PER_WAVE CALLS`: WAVES times, start PER_WAVE threads that each call the
 * noinline work(tid, j) CALLS times and exit, then join them; tid counts threads from 0.
 * Meanwhile the main thread calls tick(w) once per wave.  A stray SIGTRAP kills the program
 * (no handler), so "exited normally" means no thread was harmed. */
#include <pthread.h>
#include <stdlib.h>

#define MAX_PER_WAVE 64

static int calls;
volatile long sink;

__attribute__((noinline)) int work(int tid, int j)
{
    sink += tid * 1000 + j;
    return j;
}

__attribute__((noinline)) void tick(int wave)
{
    sink += wave;
}

static void *thread_main(void *arg)
{
    int tid = (int)(long)arg;
    for (int j = 0; j < calls; j++)
        sink += work(tid, j);
    return NULL;
}

int main(int argc, char **argv)
{
    int waves = argc > 1 ? atoi(argv[1]) : 20;
    int per_wave = argc > 2 ? atoi(argv[2]) : 8;
    pthread_t threads[MAX_PER_WAVE];

    calls = argc > 3 ? atoi(argv[3]) : 5;
    if (per_wave > MAX_PER_WAVE)
        per_wave = MAX_PER_WAVE;
    for (int w = 0; w < waves; w++) {
        for (int t = 0; t < per_wave; t++)
            if (pthread_create(&threads[t], NULL, thread_main, (void *)(long)(w * per_wave + t)))
                return 1;
        tick(w);
        for (int t = 0; t < per_wave; t++)
            pthread_join(threads[t], NULL);
    }
    return 0;
}
