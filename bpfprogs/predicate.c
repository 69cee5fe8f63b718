/* predicate.c: the program a raw C predicate (`hbreak-if -c LOCATION 'C'`) becomes.
 *
 * gdb_plugin/cpred puts the user's text in place of the HBREAK_IF_PREDICATE line, after a
 * `#line 1 "predicate"` so that the compiler's messages give line numbers in the user's text:
 *
 *   - an expression (text without the keyword `return`) becomes `return (EXPR);`;
 *   - a body (text with `return`) is used as it is; a body that ends without returning
 *     reaches the `return 1` below and stops the program.
 *
 * The function returns _Bool, so any non-zero value, whatever its width, means "stop": the
 * kernel looks only at the low 32 bits of a perf_event program's result, and a plain int
 * conversion could turn a true 64-bit value into 0.  BCC compiles this file; hbreak_if.h has
 * the helpers the text may use. */
#include <hbreak_if.h>

/* The state behind STATE, STATE_INC and STATE_BY (hbreak_if.h).  They are here rather than in
 * the header because BCC creates maps, and turns their uses into map references, only in the
 * file it compiles.  Each compiled predicate gets its own maps. */
BPF_ARRAY(hbreak_if_state, u64, HBREAK_IF_STATE_SLOTS);
BPF_HASH(hbreak_if_state_by, u64, u64, HBREAK_IF_STATE_KEYS);

/* Memory a predicate could not read, by thread id: a page the program has not touched yet
 * cannot be faulted in here.  GDB reads it (which faults it in) and lets the hit happen
 * again, so the predicate decides on the real value. */
BPF_HASH(hbreak_if_unreadable, u32, u64, 4096);

static inline __attribute__((always_inline)) int hbreak_if_unreadable_at(u64 address)
{
	u32 thread = (u32)bpf_get_current_pid_tgid();

	hbreak_if_unreadable.update(&thread, &address);
	return 1;
}

static inline __attribute__((always_inline)) u64 *hbreak_if_state_slot(u32 index)
{
	return hbreak_if_state.lookup(&index);
}

static inline __attribute__((always_inline)) u64 *hbreak_if_state_key(u64 key)
{
	u64 zero = 0;

	return hbreak_if_state_by.lookup_or_try_init(&key, &zero);
}

_Bool hbreak_if_predicate(struct bpf_perf_event_data *ctx)
{
/* HBREAK_IF_PREDICATE */
	return 1;
}
