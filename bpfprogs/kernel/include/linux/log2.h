/* BCC's helpers.h includes <linux/log2.h> for roundup_pow_of_two(), which only its
 * BPF_STACK_TRACE macros use; a predicate has no stack-trace maps, so nothing is needed here. */
