/* fork(): parent and child each call target(i) N times (argv[1], default 10); g_child tells them
 * apart. Breakpoint events must neither leak into nor kill the process GDB does not follow: the
 * parent writes "parent finished" to the file argv[2], if given, once the child has exited 0. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int g_child;
volatile long sink;

__attribute__((noinline)) int target(int i)
{
    sink += i + 1000 * g_child;
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    int status = 0;
    pid_t pid = fork();

    if (pid < 0)
        return 1;
    g_child = pid == 0;
    for (int i = 0; i < n; i++)
        sink += target(i);
    if (pid == 0)
        return 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 1;
    if (argc > 2 && WEXITSTATUS(status) == 0) {
        FILE *out = fopen(argv[2], "w");
        if (!out || fputs("parent finished\n", out) < 0 || fclose(out))
            return 1;
    }
    return WEXITSTATUS(status);
}
