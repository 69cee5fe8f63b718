"""The kernel's BPF helper functions the programs call (`enum bpf_func_id`, include/uapi/linux/
bpf.h): one number per helper, the operand of `call`."""
import enum


class Helper(enum.IntEnum):
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_TASK = 35
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    SEND_SIGNAL_THREAD = 117
    GET_NS_CURRENT_PID_TGID = 120  # Linux 5.7+
