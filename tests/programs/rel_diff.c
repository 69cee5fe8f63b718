/* Subject of the randomized differential suite (tests/test_reliability_differential.py).
 *
 * `rel_diff N ROUNDS` runs ROUNDS identical rounds of N iterations.  Every round starts with a
 * call to round_start(r) (where the test drivers arm that round's breakpoints) and the program
 * ends with round_start(ROUNDS).  Iteration i sets every global from a table of boundary
 * values (0, -1, INT_MIN, 0x80, 1 << 40, ...) indexed by i, then reaches four slots:
 *   slot 0  f_int   entry: int, unsigned, short, signed char, unsigned char, long arguments
 *   slot 1  f_wide  entry: 64-bit arguments, a parameter named `ax` (shadows the register)
 *   slot 2  f_ptr   entry: struct and string pointers, a pointer that is NULL every 3rd call
 *   slot 3  f_loop  the line marked @inner, reached 0..3 times per iteration, with locals
 * Before each slot is reached, the volatile g_tick is incremented: (round, g_tick) names a hit.
 * Everything is a function of i and the round: no time, no heap, no randomness. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#define NOIPA __attribute__((noipa))

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

enum color { RED = -1, GREEN = 1, BLUE = 100 };

static const long long VALUES[] = {
    0, 1, -1, 2, -2, 3, 7, -7, 31, 32, 33, 63, 64, 65, 100, -100, 127, 128, -128, -129,
    255, 256, 1000, -1000, 32767, 32768, -32768, -32769, 65535, 65536, 0x7fffffffLL,
    -0x80000000LL, 0x80000000LL, 0xffffffffLL, 0x100000000LL, 1LL << 40, -(1LL << 40),
    0x5555555555555555LL, 0x7fffffffffffffffLL, -0x7fffffffffffffffLL - 1, 0xdeadbeefLL,
    0x1234, 0xff00, 12345678, -12345678, 5, 6, 10,
};
#define NVALUES ((int)(sizeof VALUES / sizeof VALUES[0]))

struct rec recs[8];
struct rec *g_cur;
struct rec *g_maybe;          /* NULL every 3rd iteration */
int *g_ptr;                   /* NULL every 4th iteration */
volatile int g_tick;
int g_iter;
int g_round;
int g_i;
unsigned int g_u;
long g_l;
unsigned long g_ul;
short g_s;
unsigned short g_us;
signed char g_sc;
unsigned char g_uc;
char g_c;
long long g_ll;
unsigned long long g_ull;
int8_t g_i8;
uint16_t g_u16;
int32_t g_i32;
uint64_t g_u64;
_Bool g_b;
enum color g_color;
int g_div;                    /* 0 every 5th iteration */
int g_arr[16];
char g_name[16];
int cx;                       /* a global named like a register: bare `cx` means it */
double g_d;
volatile long long sink;
static const char *const names[4] = {"alpha", "beta", "gamma", "delta"};

static long long value(int i, int k)
{
    return VALUES[(unsigned)(i * (2 * k + 3) + k * 7) % NVALUES];
}

NOIPA long f_int(int a, unsigned int b, short c, signed char d, unsigned char e, long f)
{
    long acc = a + (long)b + c + d + e + f;
    sink += acc;
    return acc;
}

NOIPA long long f_wide(long long a, unsigned long long b, long c, unsigned long ax, int *p,
                       struct rec *r)
{
    long long acc = a ^ (long long)b ^ c ^ (long long)ax ^ (p ? *p : 0) ^ r->id;
    sink += acc;
    return acc;
}

NOIPA int f_ptr(struct rec *r, const char *s, int *p, int k)
{
    int acc = s[0] + k + (r ? r->id : 0) + (p ? *p : 0);
    sink += acc;
    return acc;
}

NOIPA long f_loop(int n, int seed)
{
    long acc = seed;
    for (int j = 0; j < n; j++) {
        int tmp = (int)(acc * 3 + j);
        g_tick++;
        acc += tmp ^ seed; /* @inner */
        sink += acc;
    }
    return acc;
}

NOIPA void round_start(int round)
{
    g_round = round;
    sink += round;
}

static void set_values(int i)
{
    g_iter = i;
    g_i = (int)value(i, 0);
    g_u = (unsigned int)value(i, 1);
    g_l = (long)value(i, 2);
    g_ul = (unsigned long)value(i, 3);
    g_s = (short)value(i, 4);
    g_us = (unsigned short)value(i, 5);
    g_sc = (signed char)value(i, 6);
    g_uc = (unsigned char)value(i, 7);
    g_c = (char)value(i, 8);
    g_ll = value(i, 9);
    g_ull = (unsigned long long)value(i, 10);
    g_i8 = (int8_t)value(i, 11);
    g_u16 = (uint16_t)value(i, 12);
    g_i32 = (int32_t)value(i, 13);
    g_u64 = (uint64_t)value(i, 14);
    g_b = (i % 3) == 1;
    g_color = i % 3 == 0 ? RED : i % 3 == 1 ? GREEN : BLUE;
    g_div = i % 5;
    cx = (int)value(i, 15);
    g_d = (double)value(i, 16) / 4.0;
    g_arr[i % 16] = (int)value(i, 17);
    g_name[i % 15] = (char)('a' + i % 26);
    g_cur = &recs[i % 8];
    g_cur->big = value(i, 18);
    g_cur->ubig = (unsigned long long)value(i, 19);
    g_cur->s = (short)value(i, 20);
    g_cur->u = (unsigned int)value(i, 21);
    g_cur->flags = (unsigned char)value(i, 22);
    g_cur->sc = (signed char)value(i, 23);
    g_cur->pt.x = (int)value(i, 24);
    g_cur->bf_b = (int)value(i, 25);
    g_cur->bf_c = (unsigned int)value(i, 26);
    g_cur->ptr = i % 3 == 0 ? NULL : &g_arr[i % 16];
    g_maybe = i % 3 == 2 ? NULL : &recs[(i + 3) % 8];
    g_ptr = i % 4 == 3 ? NULL : &g_arr[(i * 5) % 16];
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64;
    int rounds = argc > 2 ? atoi(argv[2]) : 1;

    for (int k = 0; k < 8; k++) {
        recs[k].id = k;
        recs[k].pt.y = 9 - k;
        recs[k].bf_a = (unsigned)k;
        recs[k].name[0] = (char)('a' + k);
        recs[k].name[1] = (char)('A' + k);
        recs[k].next = &recs[(k + 5) % 8];
    }
    for (int r = 0; r < rounds; r++) {
        round_start(r);
        for (int i = 0; i < n; i++) {
            set_values(i);
            g_tick++;
            sink += f_int((int)value(i, 30), (unsigned)value(i, 31), (short)value(i, 32),
                          (signed char)value(i, 33), (unsigned char)value(i, 34),
                          (long)value(i, 35));
            g_tick++;
            sink += f_wide(value(i, 36), (unsigned long long)value(i, 37), (long)value(i, 38),
                           (unsigned long)value(i, 39), g_ptr, g_cur);
            g_tick++;
            sink += f_ptr(g_maybe, names[i % 4], g_cur->ptr, (int)value(i, 40));
            sink += f_loop(i % 4, (int)value(i, 41));
        }
    }
    round_start(rounds);
    return 0;
}
