/* A small function inlined at SITES call sites (-DSITES=1 to 6), as -O2 and -O3 inline it:
 * note(v) in site1(i) .. site6(i), each passing its own function of i, with a local of the
 * caller's.  main calls every site for i = 0 .. N-1 (argv[1], default 100). */
#include <stdlib.h>

#ifndef SITES
#define SITES 2
#endif

volatile long sink;

static inline void note(long v)
{
    sink += v;
}

#define SITE(k, value)                                                          \
    __attribute__((noinline)) void site##k(long i)                              \
    {                                                                           \
        long local = i * 10 + k;                                                \
        note(value);                                                            \
        sink += local;                                                          \
    }

SITE(1, i)
#if SITES >= 2
SITE(2, i * 2)
#endif
#if SITES >= 3
SITE(3, i + 1000)
#endif
#if SITES >= 4
SITE(4, -i)
#endif
#if SITES >= 5
SITE(5, i * i)
#endif
#if SITES >= 6
SITE(6, i ^ 5)
#endif

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    for (long i = 0; i < n; i++) {
        site1(i);
#if SITES >= 2
        site2(i);
#endif
#if SITES >= 3
        site3(i);
#endif
#if SITES >= 4
        site4(i);
#endif
#if SITES >= 5
        site5(i);
#endif
#if SITES >= 6
        site6(i);
#endif
    }
    return 0;
}
