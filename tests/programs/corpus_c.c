/* The C program of the condition corpus (tests/corpus/c.txt): a scheduler-like loop that
 * calls the noinline target(t, name, k, len, c, st, ratio) once per iteration, with strings,
 * characters, enums, bit-fields, a union, a double, a float and a thread-local, all a function
 * of the iteration g_iter (deterministic). `corpus_c N armed`: the armed protocol of armed.h. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "armed.h"

enum state { ST_IDLE, ST_BUSY, ST_DONE = 9 };
enum result { RES_FAIL = -4, RES_OK, RES_RETRY };

union word {
    unsigned int u;
    unsigned char b[4];
};

struct task {
    int id;
    const char *name;
    char tag;
    char label[12];
    enum state state;
    enum result result;
    unsigned int prio : 3;
    int delta : 5;
    union word w;
    double load;
    float scale;
    struct task *parent;
    long long stamp;
};

int g_iter;
__thread int tls_count;
struct task tasks[6];
struct task *g_current;
const char *g_mode = "fast";
volatile long sink;
static const char *names[6] = {"alpha", "beta", "gamma", "omega", "", "delta"};

__attribute__((noinline)) int target(struct task *t, const char *name, int k, unsigned len,
                                     char c, enum state st, double ratio)
{
    sink += t->id + name[0] + k + (long)len + c + st + (long)ratio;
    return (int)sink;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 300;
    int armed = argc > 2 && strcmp(argv[2], "armed") == 0;
    if (n > MAX_N)
        n = MAX_N;
    for (int k = 0; k < 6; k++) {
        tasks[k].id = k;
        tasks[k].name = names[k];
        tasks[k].tag = (char)('a' + k);
        snprintf(tasks[k].label, sizeof tasks[k].label, "task-%d", k);
        tasks[k].parent = &tasks[(k + 1) % 6];
    }
    if (armed && armed_wait() != 0)
        return 2;
    for (int i = 0; i < n; i++) {
        g_iter = i;
        tls_count = i / 3;
        struct task *t = &tasks[i % 6];
        g_current = t;
        t->state = i % 4 == 3 ? ST_DONE : (enum state)(i % 2);
        t->result = (enum result)(i % 5 == 0 ? RES_FAIL : i % 2);
        t->prio = (unsigned)i % 8;
        t->delta = i % 31 - 15;
        t->w.u = (unsigned)i * 0x01010101u;
        t->load = i / 8.0;
        t->scale = i / 10.0f - 3.0f;
        t->stamp = (long long)i * 1000;
        const char *name = names[(i * 7) % 6];
        sink += target(t, name, i, (unsigned)strlen(name), name[0] ? name[0] : '-', t->state,
                       i * 0.5);
    }
    if (armed)
        armed_report(n);
    return 0;
}
