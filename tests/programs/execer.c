/* Calls target(i) 3 times, then execs itself once with the argument "exec", and the new image
 * calls target(i) N times (run as `execer [N]`, default 10); g_phase is 0 before the exec, 1 after.
 * Breakpoint events are dropped by exec and must be re-armed on the new image. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int g_phase;
volatile long sink;

__attribute__((noinline)) int target(int i)
{
    sink += i + 1000 * g_phase;
    return i;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        int n = argc > 2 ? atoi(argv[2]) : 10;
        g_phase = 1;
        for (int i = 0; i < n; i++)
            sink += target(i);
        return 0;
    }
    for (int i = 0; i < 3; i++)
        sink += target(i);
    char *const args[] = { argv[0], "exec", argc > 1 ? argv[1] : NULL, NULL };
    execv("/proc/self/exe", args);
    return 127;
}
