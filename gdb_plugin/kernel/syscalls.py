"""Raw system calls through ctypes: bpf(2), perf_event_open(2), ioctl(2).

Python's os module has none of these, so they go through libc's generic
syscall()/ioctl() entry points with errno captured by ctypes.  Failures are
raised as the typed errors of errors.py.  The syscall numbers are this
machine's (arch/): x86-64 and AArch64.
"""

import ctypes
import platform

from .. import arch
from .errors import Unsupported, from_errno

MACHINE = arch.of_machine()

# perf_event_open flags: close-on-exec, so that an event fd opened inside
# GDB never leaks into the program GDB forks and execs.
PERF_FLAG_FD_CLOEXEC = 1 << 3

# ioctl request numbers (include/uapi/linux/perf_event.h; _IO/_IOW encode alike on
# x86-64 and AArch64).
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_REFRESH = 0x2402
PERF_EVENT_IOC_RESET = 0x2403
PERF_EVENT_IOC_SET_BPF = 0x40042408
PERF_EVENT_IOC_MODIFY_ATTRIBUTES = 0x4008240B

_libc = None


def libc():
    global _libc
    if _libc is None:
        # CDLL(None) is the process's own symbol namespace, which always
        # contains libc; use_errno makes ctypes.get_errno() meaningful.
        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.ioctl.restype = ctypes.c_int
        _libc = lib
    return _libc


def syscall_number(name):
    """The number of syscall `name` on this machine, or raise Unsupported."""
    if MACHINE is None:
        raise Unsupported(
            0, "hardware-breakpoint conditions in the kernel are implemented "
            "for %s (this machine is %s)" % (
                " and ".join(a.name for a in arch.ARCHES),
                platform.machine() or "unknown"),
            name)
    return MACHINE.syscalls[name]


def _as_arg(value):
    # syscall() is variadic: every argument must be passed as a full
    # machine word, or the upper half of the register is garbage.
    if isinstance(value, (ctypes._SimpleCData, ctypes._Pointer)):
        return value
    if value is None:
        return ctypes.c_long(0)
    return ctypes.c_long(value)


def syscall(name, *args, operation=None, attribute=None):
    """Call syscall `name`; return its result or raise a KernelError."""
    nr = syscall_number(name)
    ctypes.set_errno(0)
    ret = libc().syscall(ctypes.c_long(nr), *[_as_arg(a) for a in args])
    if ret < 0:
        raise from_errno(ctypes.get_errno(), operation or name, attribute)
    return ret


def tgkill(pid, tid, signo):
    """Send `signo` to thread `tid` of process `pid` (kill() sends to any thread)."""
    syscall("tgkill", pid, tid, signo,
            operation="tgkill(%d, %d, %d)" % (pid, tid, signo))


def bpf(cmd, attr, operation="bpf", attribute=None):
    """bpf(cmd, &attr, sizeof(attr)); `attr` is a ctypes Structure."""
    return syscall("bpf", cmd, ctypes.addressof(attr), ctypes.sizeof(attr),
                   operation=operation, attribute=attribute)


def perf_event_open(attr, pid, cpu=-1, group_fd=-1,
                    flags=PERF_FLAG_FD_CLOEXEC, operation="perf_event_open",
                    attribute=None):
    """perf_event_open(&attr, pid, cpu, group_fd, flags) -> new fd."""
    return syscall("perf_event_open", ctypes.addressof(attr), pid, cpu,
                   group_fd, flags, operation=operation, attribute=attribute)


def ioctl(fd, request, arg=0, operation="ioctl", attribute=None):
    """ioctl(fd, request, arg) with an integer (or ctypes pointer) arg."""
    ctypes.set_errno(0)
    ret = libc().ioctl(ctypes.c_int(fd), ctypes.c_ulong(request),
                       _as_arg(arg))
    if ret < 0:
        raise from_errno(ctypes.get_errno(), operation, attribute)
    return ret
