/* N calls (argv[1], default 100) to a noinline lookup(word, i), with word cycling through a
 * small list: conditions on strings (raw C predicates) and their GDB equivalents. */
#include <stdlib.h>

static const char *const WORDS[] = {"hay", "needle", "needles", "straw", "needl", "hay"};
volatile long sink;

__attribute__((noinline)) int lookup(const char *word, int i)
{
    sink += word[0] + i;
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;

    for (int i = 0; i < n; i++)
        lookup(WORDS[i % 6], i);
    return 0;
}
