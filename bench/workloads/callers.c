/* Workload (g): a condition on who called.  helper() is called N times (argv[1]), from render()
 * and, at the last call only, from parse(): `$_caller_is("parse")` is true once, and the
 * predicate has to read the return address and find the function it lies in. */
#include <stdlib.h>

long g_calls;
volatile long sink;

__attribute__((noinline)) int helper(long i)
{
    g_calls++;
    sink += i;
    return (int)i;
}

__attribute__((noinline)) void render(long i)
{
    sink += helper(i);
}

__attribute__((noinline)) void parse(long i)
{
    sink += helper(i);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;

    for (long i = 0; i < n - 1; i++)
        render(i);
    parse(n - 1);
    return 0;
}
