/* The main thread exits first (pthread_exit) and leaves a thread running: /proc/PID/maps of
 * the process is then empty.  The thread calls ready() once main has gone, then the noinline
 * target(i) for i = 0..N-1 (argv[1], default 100). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int n;
volatile long sink;

__attribute__((noinline)) int target(int i)
{
    sink += i;
    return i;
}

__attribute__((noinline)) void ready(void)
{
    sink++;
}

static void *worker(void *main_thread)
{
    pthread_join(*(pthread_t *)main_thread, NULL);
    ready();
    for (int i = 0; i < n; i++)
        target(i);
    return NULL;
}

int main(int argc, char **argv)
{
    static pthread_t main_thread;
    pthread_t thread;

    n = argc > 1 ? atoi(argv[1]) : 100;
    main_thread = pthread_self();
    if (pthread_create(&thread, NULL, worker, &main_thread) != 0)
        return 1;
    pthread_exit(NULL);
}
