/* Kernel-side <linux/types.h>: the user-space one (/usr/include/linux/types.h, reached by
 * #include_next) plus the short type names kernel code and BCC's helpers.h use. */
#ifndef HBREAK_IF_STUB_TYPES_H
#define HBREAK_IF_STUB_TYPES_H

#include_next <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

typedef __kernel_size_t size_t;
typedef __kernel_ssize_t ssize_t;
typedef unsigned long uintptr_t;
typedef _Bool bool;

#endif
