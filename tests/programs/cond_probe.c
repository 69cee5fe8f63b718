/* Test subject for compiled predicates on real breakpoint hits.
 *
 * Prints "probe=ADDR page=ADDR" and then serves batches from stdin: a u32 count n (0 ends),
 * then n vectors of six u64 arguments and VARIED bytes of memory. For each vector it copies
 * the bytes to the start of `page` (a page with unmapped pages on both sides) and calls
 * probe(a0..a5); a perf breakpoint on probe's first instruction sees the arguments in
 * rdi, rsi, rdx, rcx, r8, r9. It answers with n bytes: how many perf SIGTRAPs (si_code
 * TRAP_PERF) each call raised. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef TRAP_PERF
#define TRAP_PERF 6
#endif
#define VARIED 256
#define PAGE 4096

struct vector {
    uint64_t args[6];
    uint8_t mem[VARIED];
};

static volatile size_t current;
static volatile unsigned char *hits;
static volatile uint64_t sink;

__attribute__((noinline)) uint64_t probe(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                                         uint64_t e, uint64_t f)
{
    __asm__ volatile("" ::: "memory");
    return a ^ b ^ c ^ d ^ e ^ f;
}

static void on_trap(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    if (info->si_code == TRAP_PERF)
        hits[current]++;
}

static int read_full(void *buf, size_t size)
{
    for (size_t done = 0; done < size;) {
        ssize_t n = read(0, (char *)buf + done, size - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int write_full(const void *buf, size_t size)
{
    for (size_t done = 0; done < size;) {
        ssize_t n = write(1, (const char *)buf + done, size - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);

    unsigned char *area = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 2;
    munmap(area, PAGE);
    munmap(area + 2 * PAGE, PAGE);
    unsigned char *page = area + PAGE;

    printf("probe=%p page=%p\n", (void *)probe, (void *)page);
    fflush(stdout);

    for (;;) {
        uint32_t n;
        if (read_full(&n, sizeof n) || n == 0)
            return 0;
        struct vector *v = malloc(n * sizeof *v);
        unsigned char *counts = calloc(n, 1);
        if (!v || !counts || read_full(v, n * sizeof *v))
            return 3;
        hits = counts;
        for (size_t i = 0; i < n; i++) {
            memcpy(page, v[i].mem, VARIED);
            current = i;
            sink += probe(v[i].args[0], v[i].args[1], v[i].args[2], v[i].args[3],
                          v[i].args[4], v[i].args[5]);
        }
        if (write_full(counts, n))
            return 4;
        free(v);
        free(counts);
    }
}
