/* Five instances of one function template, each called N times (argv[1], default 1000):
 * `nudge` has five locations, one more than x86 has debug registers. */
#include <cstdlib>

volatile long sink;

template <int K> __attribute__((noinline)) int nudge(int i)
{
    sink += i + K;
    return i;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    for (int i = 0; i < n; i++)
        sink += nudge<1>(i) + nudge<2>(i) + nudge<3>(i) + nudge<4>(i) + nudge<5>(i);
    return 0;
}
