/* <uapi/linux/bpf_perf_event.h> -> /usr/include/linux/bpf_perf_event.h */
#include <linux/bpf_perf_event.h>
