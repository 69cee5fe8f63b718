/* How a program can end while breakpoints are armed.
 *
 * `rel_fault MODE N`: calls the noinline target(i) for i = 0..N-1, then ends as MODE says:
 *   exit     exit(3)
 *   segv     writes through a NULL pointer (SIGSEGV)
 *   abort    abort() (SIGABRT)
 *   kill     raise(SIGKILL)
 *   forever  keeps calling target(i) with i growing, until killed from outside; when it
 *            reaches N it writes its pid to the file named by argv[3] (if given) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile long sink;
int *volatile null_pointer;

__attribute__((noinline)) int target(int i)
{
    sink += i;
    return i;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    long n = argc > 2 ? atol(argv[2]) : 1000;

    if (strcmp(mode, "forever") == 0) {
        for (long i = 0;; i++) {
            target((int)i);
            if (i == n && argc > 3) {
                FILE *out = fopen(argv[3], "w");
                if (out) {
                    fprintf(out, "%d\n", (int)getpid());
                    fclose(out);
                }
            }
        }
    }
    for (long i = 0; i < n; i++)
        target((int)i);
    if (strcmp(mode, "segv") == 0)
        *null_pointer = 1;
    if (strcmp(mode, "abort") == 0)
        abort();
    if (strcmp(mode, "kill") == 0)
        raise(SIGKILL);
    exit(3);
}
