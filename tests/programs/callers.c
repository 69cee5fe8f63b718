/* helper(i) called N times (argv[1], default 60) from five places, for conditions on who
 * called: cfg_parse and cfg_render (noinline), wrap (always inlined into main), dispatch (a
 * tail call at -O2, which GDB shows as a frame of its own) and a call through a pointer to
 * cfg_parse.  g_from says which: 1 cfg_parse, 2 cfg_render, 3 wrap, 4 dispatch.  cfg_parse
 * and cfg_render also call getpid(), a function of the C library.  (The C library has a
 * function of its own named parse.) */
#include <stdlib.h>
#include <unistd.h>

volatile long sink;
volatile int g_from;

__attribute__((noinline)) int helper(int i)
{
    sink += i;
    return i;
}

__attribute__((noinline)) void cfg_parse(int i)
{
    g_from = 1;
    helper(i);
    sink += getpid() & 1;
}

__attribute__((noinline)) void cfg_render(int i)
{
    g_from = 2;
    helper(i * 2);
    sink += getpid() & 1;
}

static inline __attribute__((always_inline)) void wrap(int i)
{
    g_from = 3;
    helper(i + 3);
    sink++;
}

__attribute__((noinline)) int dispatch(int i)
{
    g_from = 4;
    return helper(i + 1);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 60;
    void (*indirect)(int) = cfg_parse;
    for (int i = 0; i < n; i++) {
        cfg_parse(i);
        cfg_render(i);
        if (i % 5 == 0)
            wrap(i);
        if (i % 7 == 0)
            sink += dispatch(i);
        if (i % 11 == 0)
            indirect(i);
    }
    return 0;
}
