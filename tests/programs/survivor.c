/* N calls (argv[1]) to target(i), then writes "finished N" to the file argv[2] and exits 0.
 * argv[3] "wait": first waits for a debugger to set `go` (to attach before the loop); "paced":
 * pauses 1 ms after each call, working between hits. A SIGTRAP-killed one leaves no file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile long sink;
volatile int go;

__attribute__((noinline)) int target(int i)
{
    sink += i;
    return i;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 3 && strcmp(argv[3], "wait") == 0)
        while (!go)
            usleep(1000);
    int paced = argc > 3 && strcmp(argv[3], "paced") == 0;
    for (long i = 0; i < n; i++) {
        target((int)i);
        if (paced)
            usleep(1000);
    }
    FILE *out = fopen(argv[2], "w");
    if (!out)
        return 1;
    fprintf(out, "finished %ld\n", n);
    return fclose(out) != 0;
}
