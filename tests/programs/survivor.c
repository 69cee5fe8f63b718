/* N calls (argv[1]) to target(i), then writes "finished N" to the file argv[2] and exits 0.
 * With argv[3] == "wait", first waits until a debugger sets `go`, so a test can attach to it
 * before the loop starts. A program killed by a stray SIGTRAP leaves no file. */
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
    for (long i = 0; i < n; i++)
        target((int)i);
    FILE *out = fopen(argv[2], "w");
    if (!out)
        return 1;
    fprintf(out, "finished %ld\n", n);
    return fclose(out) != 0;
}
