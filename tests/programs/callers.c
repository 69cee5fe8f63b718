/* helper(i) called N times (argv[1], default 60) from five places, for conditions on who
 * called: parse and render (noinline), wrap (always inlined into main), dispatch (a tail call
 * at -O2, which GDB shows as a frame of its own) and a call through a pointer to parse.
 * g_from says which: 1 parse, 2 render, 3 wrap, 4 dispatch. */
#include <stdlib.h>

volatile long sink;
volatile int g_from;

__attribute__((noinline)) int helper(int i)
{
    sink += i;
    return i;
}

__attribute__((noinline)) void parse(int i)
{
    g_from = 1;
    helper(i);
    sink++;
}

__attribute__((noinline)) void render(int i)
{
    g_from = 2;
    helper(i * 2);
    sink++;
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
    void (*indirect)(int) = parse;
    for (int i = 0; i < n; i++) {
        parse(i);
        render(i);
        if (i % 5 == 0)
            wrap(i);
        if (i % 7 == 0)
            sink += dispatch(i);
        if (i % 11 == 0)
            indirect(i);
    }
    return 0;
}
