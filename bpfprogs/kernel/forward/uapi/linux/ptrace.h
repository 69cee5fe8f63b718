/* <uapi/linux/ptrace.h> -> /usr/include/linux/ptrace.h (its <asm/ptrace.h> is the kernel-named
 * struct pt_regs in ../../../arch/x86/include/asm/ptrace.h) */
#include <linux/ptrace.h>
