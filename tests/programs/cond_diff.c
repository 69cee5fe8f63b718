/* Subject of the GDB-versus-kernel differential test of compiled conditions.
 *
 * `cond_diff N` calls the noinline target(i, l, u, s, r, str) for i = 0..N-1, with globals,
 * a struct array (bit-fields, nested struct, pointers that are sometimes NULL), enums and values
 * of every width and signedness, all a function of i (deterministic, no heap, no time).
 *
 * `cond_diff N armed`: the armed protocol of armed.h. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "armed.h"

struct point {
    int x;
    int y;
};

struct rec {
    int id;
    short s;
    unsigned char flags;
    signed char sc;
    long long big;
    unsigned long long ubig;
    unsigned int u;
    char name[8];
    struct point pt;
    int *ptr;
    struct rec *next;
    unsigned int bf_a : 3;
    int bf_b : 5;
    unsigned int bf_c : 12;
};

enum mode { MODE_IDLE, MODE_RUN, MODE_STOP = 7 };
enum delta { DELTA_DOWN = -1, DELTA_NONE, DELTA_UP };

struct rec recs[8];
struct rec *g_cur;
int *g_null;
int *g_bad = (int *)0x10;
int g_iter;
unsigned int g_u;
long g_l;
short g_s;
unsigned char g_uc;
signed char g_sc;
int g_arr[16];
long long g_big;
unsigned long long g_ubig;
int g_div;
/* GDB 16 and 18 know the type _Bool only from the program's debug information (GDB 13 has it
 * built in), so the conditions that cast to it need a _Bool here. */
_Bool g_flag;
enum mode g_mode;
enum delta g_delta;
volatile long sink;
static const char *names[4] = {"alpha", "beta", "gamma", "delta"};

__attribute__((noinline)) long target(int i, long l, unsigned int u, short s, struct rec *r,
                                      const char *str)
{
    long acc = i + l + u + s + r->id + str[0];
    sink += acc;
    return acc;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 400;
    int armed = argc > 2 && strcmp(argv[2], "armed") == 0;
    if (n > MAX_N)
        n = MAX_N;

    for (int k = 0; k < 8; k++) {
        recs[k].id = k;
        recs[k].s = (short)(-100 * k);
        recs[k].flags = (unsigned char)(0x81 * k);
        recs[k].sc = (signed char)(k * 40);
        recs[k].ubig = ~0ULL - (unsigned long long)k * 5;
        recs[k].u = 0xFFFFFFF0u + (unsigned)k;
        memcpy(recs[k].name, "abcdefg", 8);
        recs[k].name[1] = (char)('a' + k);
        recs[k].pt.x = k;
        recs[k].pt.y = 9 - k;
        recs[k].next = &recs[(k + 5) % 8];
        recs[k].bf_a = (unsigned)k;
        recs[k].bf_b = k * 3 - 12;
        recs[k].bf_c = (unsigned)k * 600;
    }

    if (armed && armed_wait() != 0)
        return 2;

    for (int i = 0; i < n; i++) {
        g_iter = i;
        g_cur = &recs[i % 8];
        g_cur->big = -(long long)i * 1000;
        g_cur->ptr = (i % 3 == 0) ? NULL : &g_arr[i % 16];
        g_u = (unsigned)i * 2654435761u;
        g_l = (long)i - 200;
        g_s = (short)(i * 300);
        g_uc = (unsigned char)(i * 7);
        g_sc = (signed char)(i * 5);
        g_div = i % 5;
        g_mode = i % 3 == 2 ? MODE_STOP : (enum mode)(i % 3);
        g_delta = (enum delta)(i % 3 - 1);
        g_big = (long long)i << 40;
        g_ubig = ~(unsigned long long)i;
        g_arr[i % 16] = i;
        sink += target(i, (long)i * -3, (unsigned)i * 3u, (short)-i, g_cur, names[i % 4]);
    }

    if (armed)
        armed_report(n);
    return 0;
}
