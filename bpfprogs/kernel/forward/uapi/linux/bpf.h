/* <uapi/linux/bpf.h> -> /usr/include/linux/bpf.h, unless BCC's own copy of the BPF API
 * (force-included first, guarded by _UAPI__LINUX_BPF_H__) is already in. */
#ifndef _UAPI__LINUX_BPF_H__
#include <linux/bpf.h>
#endif
