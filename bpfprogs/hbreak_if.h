/* hbreak_if.h: helpers for raw C predicates (`hbreak-if -c LOCATION 'C'`).
 *
 * A raw C predicate runs in the kernel at every hit of the hardware breakpoint, as the body of
 *
 *     _Bool hbreak_if_predicate(struct bpf_perf_event_data *ctx)
 *
 * (see predicate.c).  True stops the program (GDB reports the hit); false lets the hit pass
 * without leaving the kernel.  bpfprogs/README.md describes the two forms of predicate text
 * (an expression, or a body with `return`) and has examples.
 *
 * The rule every helper here follows: what the predicate cannot decide counts as a stop.  A
 * helper that fails (unreadable user memory, a full map) makes the predicate return true at
 * once, so the kernel filter can only let too many hits through, never hide one.
 *
 * Summary (x86_64):
 *   REG(rdi), REG(edi), REG(rip), ...   register at the hit, by name (u64, or u32 for e-names)
 *   ARG(1) ... ARG(6)                   integer argument registers (rdi rsi rdx rcx r8 r9)
 *   read_user(dst, size, addr);         copy user memory into a local buffer
 *   load_user(type, addr)               read one value of `type` from user memory
 *   str_eq_user(addr, "literal")        the NUL-terminated string at addr equals the literal
 *   STATE(i)                            u64 slot i (0..63) kept across hits, starts at 0
 *   STATE_INC(i)                        atomically add 1 to STATE(i); the new value
 *   STATE_BY(key)                       u64 kept across hits per u64 key, starts at 0
 */
#ifndef HBREAK_IF_H
#define HBREAK_IF_H

#include <uapi/linux/bpf_perf_event.h>

/* ---- Registers ---------------------------------------------------------------------------
 *
 * REG(name) is the value of a register when the breakpoint was hit, named as in GDB and the
 * x86_64 manuals: rax rbx rcx rdx rsi rdi rbp rsp r8..r15 rip eflags cs ss orig_rax (u64),
 * or the low halves eax ebx ecx edx esi edi ebp esp r8d..r15d (u32).  Cast for signedness:
 * (int)REG(edi), (long)REG(rdi), (const char *)REG(rsi) -- but a pointer into the program
 * must be read with the *_user helpers below, never dereferenced.
 *
 * ARG(n), n = 1..6, is the n-th integer or pointer argument register of the System V calling
 * convention.  It holds the argument at the function's first instruction (`*func`); after
 * the prologue, code may already have reused the register.
 *
 * `ctx` itself is struct bpf_perf_event_data *: ctx->regs (struct pt_regs, kernel member
 * names di, si, ip, ...), ctx->addr. */
#define REG(name) ((HBREAK_IF_T_##name)ctx->regs.HBREAK_IF_R_##name)
#define ARG(n) HBREAK_IF_ARG_##n

#define HBREAK_IF_ARG_1 REG(rdi)
#define HBREAK_IF_ARG_2 REG(rsi)
#define HBREAK_IF_ARG_3 REG(rdx)
#define HBREAK_IF_ARG_4 REG(rcx)
#define HBREAK_IF_ARG_5 REG(r8)
#define HBREAK_IF_ARG_6 REG(r9)

#define HBREAK_IF_R_rax ax
#define HBREAK_IF_R_rbx bx
#define HBREAK_IF_R_rcx cx
#define HBREAK_IF_R_rdx dx
#define HBREAK_IF_R_rsi si
#define HBREAK_IF_R_rdi di
#define HBREAK_IF_R_rbp bp
#define HBREAK_IF_R_rsp sp
#define HBREAK_IF_R_r8 r8
#define HBREAK_IF_R_r9 r9
#define HBREAK_IF_R_r10 r10
#define HBREAK_IF_R_r11 r11
#define HBREAK_IF_R_r12 r12
#define HBREAK_IF_R_r13 r13
#define HBREAK_IF_R_r14 r14
#define HBREAK_IF_R_r15 r15
#define HBREAK_IF_R_rip ip
#define HBREAK_IF_R_eflags flags
#define HBREAK_IF_R_cs cs
#define HBREAK_IF_R_ss ss
#define HBREAK_IF_R_orig_rax orig_ax
#define HBREAK_IF_R_eax ax
#define HBREAK_IF_R_ebx bx
#define HBREAK_IF_R_ecx cx
#define HBREAK_IF_R_edx dx
#define HBREAK_IF_R_esi si
#define HBREAK_IF_R_edi di
#define HBREAK_IF_R_ebp bp
#define HBREAK_IF_R_esp sp
#define HBREAK_IF_R_r8d r8
#define HBREAK_IF_R_r9d r9
#define HBREAK_IF_R_r10d r10
#define HBREAK_IF_R_r11d r11
#define HBREAK_IF_R_r12d r12
#define HBREAK_IF_R_r13d r13
#define HBREAK_IF_R_r14d r14
#define HBREAK_IF_R_r15d r15

#define HBREAK_IF_T_rax u64
#define HBREAK_IF_T_rbx u64
#define HBREAK_IF_T_rcx u64
#define HBREAK_IF_T_rdx u64
#define HBREAK_IF_T_rsi u64
#define HBREAK_IF_T_rdi u64
#define HBREAK_IF_T_rbp u64
#define HBREAK_IF_T_rsp u64
#define HBREAK_IF_T_r8 u64
#define HBREAK_IF_T_r9 u64
#define HBREAK_IF_T_r10 u64
#define HBREAK_IF_T_r11 u64
#define HBREAK_IF_T_r12 u64
#define HBREAK_IF_T_r13 u64
#define HBREAK_IF_T_r14 u64
#define HBREAK_IF_T_r15 u64
#define HBREAK_IF_T_rip u64
#define HBREAK_IF_T_eflags u64
#define HBREAK_IF_T_cs u64
#define HBREAK_IF_T_ss u64
#define HBREAK_IF_T_orig_rax u64
#define HBREAK_IF_T_eax u32
#define HBREAK_IF_T_ebx u32
#define HBREAK_IF_T_ecx u32
#define HBREAK_IF_T_edx u32
#define HBREAK_IF_T_esi u32
#define HBREAK_IF_T_edi u32
#define HBREAK_IF_T_ebp u32
#define HBREAK_IF_T_esp u32
#define HBREAK_IF_T_r8d u32
#define HBREAK_IF_T_r9d u32
#define HBREAK_IF_T_r10d u32
#define HBREAK_IF_T_r11d u32
#define HBREAK_IF_T_r12d u32
#define HBREAK_IF_T_r13d u32
#define HBREAK_IF_T_r14d u32
#define HBREAK_IF_T_r15d u32

/* The perf_event context layout is ABI; whichever headers defined struct pt_regs, it must be
 * this one. */
_Static_assert(__builtin_offsetof(struct pt_regs, r15) == 0, "pt_regs layout");
_Static_assert(__builtin_offsetof(struct pt_regs, ax) == 80, "pt_regs layout");
_Static_assert(__builtin_offsetof(struct pt_regs, di) == 112, "pt_regs layout");
_Static_assert(__builtin_offsetof(struct pt_regs, ip) == 128, "pt_regs layout");
_Static_assert(__builtin_offsetof(struct pt_regs, ss) == 160, "pt_regs layout");

/* ---- User memory -------------------------------------------------------------------------
 *
 * read_user(dst, size, addr);   copy `size` bytes at user address `addr` (an integer or a
 *                               pointer) into `dst`, a buffer on the predicate's stack (at most
 *                               512 bytes of stack in all); `size` must be a constant.
 * load_user(type, addr)         the `type` value at `addr`, e.g. load_user(int, ARG(1) + 8).
 *
 * If the memory cannot be read in the kernel (a page the program has not touched yet), the
 * predicate stops the program there and says where; GDB reads that memory, which brings the
 * page in, and lets the same hit happen again.  Memory GDB cannot read either stops the
 * program with GDB's error. */
#define read_user(dst, size, addr)                                                          \
	({                                                                                  \
		if (bpf_probe_read_user((dst), (size),                                      \
					(const void *)(unsigned long)(addr)) != 0)          \
			return hbreak_if_unreadable_at((unsigned long)(addr));              \
	})

#define load_user(type, addr)                                                               \
	({                                                                                  \
		type hbreak_if_value_;                                                      \
		read_user(&hbreak_if_value_, sizeof(hbreak_if_value_), (addr));             \
		hbreak_if_value_;                                                           \
	})

/* str_eq_user(addr, "literal"): 1 if the NUL-terminated string at user address `addr` is
 * exactly `literal` (a string literal of at most 255 characters), else 0.  Reads at most
 * strlen(literal) + 2 bytes, up to the string's NUL; unreadable memory as for read_user.
 * The comparison loop is unrolled at compile time. */
#define str_eq_user(addr, literal)                                                          \
	({                                                                                  \
		_Static_assert(sizeof("" literal) <= 256,                                   \
			       "str_eq_user: literal longer than 255 characters");          \
		char hbreak_if_str_[sizeof("" literal) + 1];                                \
		long hbreak_if_len_ = bpf_probe_read_user_str(                              \
			hbreak_if_str_, sizeof(hbreak_if_str_),                             \
			(const void *)(unsigned long)(addr));                               \
		if (hbreak_if_len_ < 0)                                                     \
			return hbreak_if_unreadable_at((unsigned long)(addr));              \
		/* the copy holds the NUL only if the string is not longer */               \
		int hbreak_if_eq_ = hbreak_if_len_ == sizeof(literal);                      \
		_Pragma("unroll")                                                           \
		for (unsigned int hbreak_if_i_ = 0; hbreak_if_i_ + 1 < sizeof(literal);     \
		     hbreak_if_i_++)                                                        \
			hbreak_if_eq_ &= hbreak_if_str_[hbreak_if_i_] == (literal)[hbreak_if_i_]; \
		hbreak_if_eq_;                                                              \
	})

/* ---- State across hits -------------------------------------------------------------------
 *
 * Each breakpoint has its own maps, zero when the breakpoint is created, shared by all the
 * threads the breakpoint is armed on:
 *
 * STATE(i)       slot i (0 <= i < HBREAK_IF_STATE_SLOTS = 64) of a BPF array of u64; an
 *                lvalue: STATE(0) = REG(rdi); STATE(1) += 2; if (STATE(2)++ == 10) ...
 * STATE_INC(i)   atomically add 1 to STATE(i) and give the new value; safe when threads
 *                hit the breakpoint at the same time: (REG(rdi) & 1) && STATE_INC(0) == 3
 * STATE_BY(key)  a u64 per u64 key (up to HBREAK_IF_STATE_KEYS = 4096 keys) in a BPF hash,
 *                created as 0 on first use; an lvalue: STATE_BY(REG(rdi))++ == 2
 *
 * An index out of range, or a full hash, stops the program. */
#define HBREAK_IF_STATE_SLOTS 64
#define HBREAK_IF_STATE_KEYS 4096

/* The maps (hbreak_if_state, hbreak_if_state_by) and their accessors hbreak_if_state_slot()
 * and hbreak_if_state_key() are in predicate.c: BCC creates maps, and turns their uses into
 * map references, only in the file it compiles, not in the headers that file includes. */

#define STATE(i)                                                                            \
	(*({                                                                                \
		u64 *hbreak_if_slot_ = hbreak_if_state_slot(i);                             \
		if (!hbreak_if_slot_)                                                       \
			return 1;                                                           \
		hbreak_if_slot_;                                                            \
	}))

#define STATE_BY(key)                                                                       \
	(*({                                                                                \
		u64 *hbreak_if_slot_ = hbreak_if_state_key(key);                            \
		if (!hbreak_if_slot_)                                                       \
			return 1;                                                           \
		hbreak_if_slot_;                                                            \
	}))

/* LLVM 20 and later refuse __sync_add_and_fetch's value for the BPF cpu BCC compiles for
 * ("Invalid usage of the XADD return value"); earlier ones emit the fetching add for it (Linux
 * 5.12+), which is written out for the later ones, whose assembler knows it. */
#if __clang_major__ >= 20
#define STATE_INC(i)                                                                        \
	({                                                                                  \
		u64 *hbreak_if_counter_ = &STATE(i);                                        \
		u64 hbreak_if_before_ = 1;                                                  \
		asm volatile("%0 = atomic_fetch_add((u64 *)(%1 + 0), %0)"                   \
			     : "+r"(hbreak_if_before_)                                      \
			     : "r"(hbreak_if_counter_)                                      \
			     : "memory");                                                   \
		hbreak_if_before_ + 1;                                                      \
	})
#else
#define STATE_INC(i) __sync_add_and_fetch(&STATE(i), 1)
#endif

#endif /* HBREAK_IF_H */
