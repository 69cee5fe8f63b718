/* Subject for the raw C predicate tests: calls a noinline target(const char *s) N times
 * (argv[1], default 1000) with s = WORDS[x % NWORDS] for x = 0..N-1, once the test has armed
 * its perf breakpoint.
 *
 * Same protocol as kernel_calls.c, so tests/test_kernel_perf.py's Subject drives it: prints
 * "ready <pid> <&target>" once its SIGTRAP handler is installed, waits for one byte on stdin,
 * makes the calls, then prints "calls N", "traps K" and one line per SIGTRAP:
 * "trap x=<x> code=<si_code> data=<si_perf_data> addr=<si_addr> flags=<si_perf_flags>".
 *
 * WORDS[7] is not a readable address: target() never reads its argument, so only a
 * predicate that tries to will notice. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TRAPS 4096
#define NWORDS 8

/* x86_64 siginfo_t: si_perf_data at 24, si_perf_flags at 36. */
#define SI_PERF_DATA(si) (*(unsigned long *)((char *)(si) + 24))
#define SI_PERF_FLAGS(si) (*(unsigned int *)((char *)(si) + 36))

static const char *const WORDS[NWORDS] = {
	"hay",          /* 0 */
	"needle",       /* 1 */
	"needles",      /* 2: longer */
	"needl",        /* 3: shorter */
	"",             /* 4 */
	"xneedle",      /* 5 */
	"needle",       /* 6 */
	(const char *)16, /* 7: unreadable */
};

struct trap {
	long x;
	int code;
	unsigned int flags;
	unsigned long data;
	void *addr;
};

static struct trap traps[MAX_TRAPS];
static volatile int ntraps;
static volatile long current_x = -1;
const char *volatile sink;

__attribute__((noinline)) void target(const char *s)
{
	sink = s;
	__asm__ volatile("" ::: "memory");
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	int i = ntraps;

	(void)sig;
	(void)ctx;
	if (i < MAX_TRAPS) {
		traps[i].x = current_x;
		traps[i].code = si->si_code;
		traps[i].data = SI_PERF_DATA(si);
		traps[i].flags = SI_PERF_FLAGS(si);
		traps[i].addr = si->si_addr;
	}
	ntraps = i + 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	struct sigaction sa;
	char go;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGTRAP, &sa, NULL);
	printf("ready %d %p\n", (int)getpid(), (void *)target);
	fflush(stdout);
	if (read(0, &go, 1) != 1)
		return 2;

	for (long x = 0; x < n; x++) {
		current_x = x;
		target(WORDS[x % NWORDS]);
	}
	current_x = -1;

	printf("calls %ld\ntraps %d\n", n, ntraps);
	for (int i = 0; i < ntraps && i < MAX_TRAPS; i++)
		printf("trap x=%ld code=%d data=%lu addr=%p flags=%u\n", traps[i].x, traps[i].code,
		       traps[i].data, traps[i].addr, traps[i].flags);
	return 0;
}
