/* Workload (e): a loop writing a global N times (argv[1]), state = i.
 * The benchmark condition `state == N-1` is true once, at the last write. */
#include <stdlib.h>

volatile long state = -1;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;

    for (long i = 0; i < n; i++)
        state = i;
    return 0;
}
