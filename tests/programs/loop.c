/* The workhorse: N calls (argv[1], default 1000) to a noinline target(i), with globals, a
 * struct array and a pointer into it, so conditions can use locals, globals, struct fields,
 * pointers, arrays, signed and unsigned widths, and negative numbers.
 * At entry to the call with argument i: g_counter == i, g_cur == &items[i % NITEMS],
 * g_cur->big == -i, g_unsigned == i * 2654435761u (wraps). */
#include <stdlib.h>

#define NITEMS 16

struct item {
    int id;
    short s;
    unsigned char flags;
    long long big;
    char name[8];
};

struct item items[NITEMS];
struct item *g_cur;
int g_counter;
unsigned int g_unsigned;
volatile long long sink;

__attribute__((noinline)) int target(int i)
{
    g_counter++;
    sink += i + g_cur->id;
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;

    for (int k = 0; k < NITEMS; k++) {
        items[k].id = k;
        items[k].s = (short)(-100 * k);          /* negative 16-bit */
        items[k].flags = (unsigned char)(0x81 * k); /* high bit set for odd k */
        items[k].name[0] = 'a' + k;
    }
    for (int i = 0; i < n; i++) {
        g_cur = &items[i % NITEMS];
        g_cur->big = -(long long)i;
        g_unsigned = (unsigned int)i * 2654435761u;
        sink += target(i);
    }
    return 0;
}
