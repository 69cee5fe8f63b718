// A template member function inlined at two call sites (-O2): Counter<long>::add(value) in
// twice(i) and thrice(i), each with a local `scale` of its own.
#include <cstdlib>

volatile long sink;

template <typename T> struct Counter {
    T total = 0;
    inline void add(T value) { total += value; sink += total; }
};

static Counter<long> counter;

__attribute__((noinline)) void twice(long i)
{
    long scale = 2;
    counter.add(i * scale);
}

__attribute__((noinline)) void thrice(long i)
{
    long scale = 3;
    counter.add(i * scale);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? std::atol(argv[1]) : 100;
    for (long i = 0; i < n; i++) {
        twice(i);
        thrice(i);
    }
    return 0;
}
