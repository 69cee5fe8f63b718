/* The C++ program of the condition corpus (tests/corpus/cpp.txt): Widget::step is called
 * once per iteration through the noinline target(w, k, ref); members of every kind, an enum
 * class, a thread_local, all a function of the iteration g_iter (deterministic).
 * `corpus_cpp N armed`: the armed protocol of armed.h. */
#include <cstdlib>

#include "armed.h"

enum Plain { PLAIN_A, PLAIN_B, PLAIN_C = 5 };
enum class Color { Red, Green, Blue = -3 };
enum class Level : unsigned char { Low = 1, High = 200 };

struct Widget {
    int id;
    unsigned count;
    bool active;
    char tag;
    const char *name;
    char code[8];
    Color color;
    Plain plain;
    Level level;
    unsigned flags : 4;
    int bias : 6;
    double weight;
    Widget *next;

    int step(int k) const;
};

int g_iter;
thread_local int tls_counter;
Widget widgets[4];
volatile long sink;
static const char *names[5] = {"omega", "sigma", "gamma", "go", "x"};

__attribute__((noinline)) int Widget::step(int k) const
{
    return id + k + (int)count + tag;
}

__attribute__((noinline)) int target(const Widget &w, int k, const int &ref)
{
    sink += w.step(k) + ref;
    return (int)sink;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 300;
    int armed = argc > 2 && strcmp(argv[2], "armed") == 0;
    if (n > MAX_N)
        n = MAX_N;
    for (int k = 0; k < 4; k++) {
        widgets[k].id = k;
        widgets[k].next = &widgets[(k + 1) % 4];
        snprintf(widgets[k].code, sizeof widgets[k].code, "w%d", k);
    }
    if (armed && armed_wait() != 0)
        return 2;
    for (int i = 0; i < n; i++) {
        g_iter = i;
        tls_counter = i;
        Widget &w = widgets[i % 4];
        w.count = (unsigned)i * 3;
        w.active = i % 3 == 0;
        w.name = names[i % 5];
        w.tag = w.name[0];
        w.color = i % 3 == 0 ? Color::Blue : (i % 3 == 1 ? Color::Green : Color::Red);
        w.plain = i % 2 ? PLAIN_C : PLAIN_A;
        w.level = i % 7 == 0 ? Level::High : Level::Low;
        w.flags = (unsigned)i % 16;
        w.bias = i % 63 - 31;
        w.weight = i * 0.25;
        int twice = i * 2;
        sink += target(w, i, twice);
    }
    if (armed)
        armed_report(n);
    return 0;
}
