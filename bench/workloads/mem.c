/* Workload (b): a memory condition.  target(p) is called N times (argv[1]) with p pointing
 * into an array of structs; p->id is the call's index, so `p->id == N-1` is true once and
 * the predicate has to read a struct field through a pointer argument. */
#include <stdlib.h>

#define NITEMS 64

struct item {
    long long big;
    short s;
    unsigned char flags;
    int id;
    char name[8];
};

struct item items[NITEMS];
struct item *g_cur;
int g_counter;
unsigned int g_unsigned;
volatile long sink;

__attribute__((noinline)) int target(struct item *p)
{
    g_counter++;
    sink += p->id;
    return p->id;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;

    for (int k = 0; k < NITEMS; k++) {
        items[k].s = (short)(-100 * k);
        items[k].flags = (unsigned char)(0x81 * k);
        items[k].name[0] = 'a' + k % 26;
    }
    for (long i = 0; i < n; i++) {
        g_cur = &items[i % NITEMS];
        g_cur->id = (int)i;
        g_cur->big = -i;
        g_unsigned = (unsigned int)i * 2654435761u;
        sink += target(g_cur);
    }
    return 0;
}
