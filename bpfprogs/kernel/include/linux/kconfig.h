/* Stand-in for the kconfig.h of a kernel build tree (BCC force-includes it first).
 *
 * This directory is what hbreak-if points BCC_KERNEL_SOURCE at when the machine has no kernel
 * build tree and no /sys/kernel/kheaders.tar.xz; see ../README.md.  It holds only what a
 * perf_event predicate and BCC's own helpers.h need; the user-space API headers themselves
 * come from /usr/include (linux-libc-dev) at compile time.
 *
 * BCC's helpers.h refuses to compile without CONFIG_BPF_SYSCALL; nothing else here depends on
 * the kernel configuration. */
#ifndef HBREAK_IF_STUB_KCONFIG_H
#define HBREAK_IF_STUB_KCONFIG_H

#define CONFIG_BPF_SYSCALL 1
#define CONFIG_X86_64 1

#endif
