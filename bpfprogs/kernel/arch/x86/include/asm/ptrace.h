/* struct pt_regs as the kernel names its members on x86_64.
 *
 * A perf_event BPF program sees the registers of the hit as `ctx->regs`, a struct pt_regs.
 * Kernel code (and BCC's PT_REGS_* macros) names the members `di`, `si`, `ip`, ...; the
 * user-space header in /usr/include names them `rdi`, `rsi`, `rip`.  This file replaces the
 * user-space one so that a predicate compiles the same way here as against a real kernel
 * tree.  The layout is the x86_64 ABI: 21 unsigned longs, r15 at offset 0 ... ss at 160
 * (hbreak_if.h checks the offsets at compile time). */
#ifndef HBREAK_IF_STUB_PTRACE_H
#define HBREAK_IF_STUB_PTRACE_H

struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};

#endif
