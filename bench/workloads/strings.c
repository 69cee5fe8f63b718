/* Workload (f): a string condition.  lookup(name) is called N times (argv[1]) with names from a
 * table, "needle" only at the last call, so `$_streq(name, "needle")` is true once and the
 * predicate has to read a string through a pointer argument and compare it. */
#include <stdlib.h>

static const char *names[] = {"alpha", "needles", "gamma", "needl", "delta", "needle-"};
long g_calls;
volatile long sink;

__attribute__((noinline)) int lookup(const char *name)
{
    g_calls++;
    sink += name[0];
    return name[0];
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;

    for (long i = 0; i < n - 1; i++)
        sink += lookup(names[i % 6]);
    sink += lookup("needle");
    return 0;
}
