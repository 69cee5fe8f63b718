/* 32 functions called in turn, N times each: one thread, one breakpoint per function
   (tests/test_gdb_uprobes.py).  Each stores to its stack and to a global, so a stop before
   an instruction shows what that instruction would change. */
#include <stdio.h>
#include <stdlib.h>

long acc[4];

#define F(k)                                                                              \
    __attribute__((noinline)) long f##k(long i, long *out) {                              \
        long local = i * (k + 1);                                                          \
        out[k % 4] += local;                                                               \
        return local ^ k;                                                                  \
    }
#define F10(a) F(a##0) F(a##1) F(a##2) F(a##3) F(a##4) F(a##5) F(a##6) F(a##7) F(a##8) F(a##9)
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F10(1) F10(2) F(30) F(31)

typedef long (*function)(long, long *);
static const function functions[32] = {
    f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15,
    f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31,
};

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100, total = 0;
    for (long i = 0; i < n; i++)
        for (int k = 0; k < 32; k++)
            total += functions[k](i, acc);
    printf("total %ld\n", total);
    return 0;
}
