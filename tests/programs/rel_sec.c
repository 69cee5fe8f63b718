/* Names that are also GDB commands or shell words, so that a condition can be valid C for
 * GDB's parser and, cut at a newline, a GDB command too: `i\n| p | rel_sec_marker` is
 * `i | p | rel_sec_marker` to GDB's parser, and line 2 is GDB's pipe command running the
 * shell command rel_sec_marker.  `rel_sec N` calls target(i) for i = 0..N-1. */
#include <stdlib.h>

int p;
int rel_sec_marker;
int echo;
volatile long sink;

__attribute__((noinline)) int python(int x)
{
    return x + 1;
}

__attribute__((noinline)) int target(int i)
{
    sink += i + p + rel_sec_marker + echo;
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    for (int i = 0; i < n; i++)
        sink += target(i);
    return python(0) - 1;
}
