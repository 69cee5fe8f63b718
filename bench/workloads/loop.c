/* Workload (a): a tight loop calling a noinline target(i) N times (argv[1]).
 * The benchmark condition `i == N-1` is true once, at the last call. */
#include <stdlib.h>

volatile long sink;

__attribute__((noinline)) int target(int i)
{
    sink += i;
    return i;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;

    for (long i = 0; i < n; i++)
        sink += target((int)i);
    return 0;
}
