"""perf hardware breakpoints: perf_event_attr, perf_event_open, ioctls.

A PerfBreakpoint is one perf event of type PERF_TYPE_BREAKPOINT on one
thread.  With sample_period=1 every hit is an overflow; with sigtrap the
overflow sends the thread a synchronous SIGTRAP (si_code TRAP_PERF,
si_perf_data = sig_data) unless an attached BPF program returns 0 (Linux
6.10+: the program's verdict suppresses every side effect of the sample).

Counting (measured on Linux 6.18, see tests/test_kernel_perf.py): count()
is the number of times the hardware saw the breakpoint, including the hits
the BPF program suppressed; the counter is incremented before the overflow
handler runs the program.
"""

import ctypes
import enum
import errno
import fcntl
import os
import struct

from .. import arch
from . import syscalls
from .syscalls import MACHINE
from .errors import InvalidAttribute, KernelError, Unsupported, from_errno
from .owned import OwnedFd

PERF_TYPE_BREAKPOINT = 5
PERF_ATTR_SIZE_VER8 = 136
FD_SETSIZE = 1024  # select() handles descriptors below this, and glibc aborts above it


class BpType(enum.IntEnum):
    """HW_BREAKPOINT_* (include/uapi/linux/hw_breakpoint.h)."""
    R = 1
    W = 2
    RW = 3
    X = 4


class AttrFlag(enum.IntFlag):
    """Bits of the perf_event_attr flag word (the u64 at offset 40)."""
    DISABLED = 1 << 0
    INHERIT = 1 << 1
    PINNED = 1 << 2
    EXCLUSIVE = 1 << 3
    EXCLUDE_USER = 1 << 4
    EXCLUDE_KERNEL = 1 << 5
    EXCLUDE_HV = 1 << 6
    EXCLUDE_IDLE = 1 << 7
    MMAP = 1 << 8
    COMM = 1 << 9
    FREQ = 1 << 10
    INHERIT_STAT = 1 << 11
    ENABLE_ON_EXEC = 1 << 12
    TASK = 1 << 13
    WATERMARK = 1 << 14
    PRECISE_IP_LO = 1 << 15     # precise_ip is a 2-bit field (15..16)
    PRECISE_IP_HI = 1 << 16
    MMAP_DATA = 1 << 17
    SAMPLE_ID_ALL = 1 << 18
    EXCLUDE_HOST = 1 << 19
    EXCLUDE_GUEST = 1 << 20
    EXCLUDE_CALLCHAIN_KERNEL = 1 << 21
    EXCLUDE_CALLCHAIN_USER = 1 << 22
    MMAP2 = 1 << 23
    COMM_EXEC = 1 << 24
    USE_CLOCKID = 1 << 25
    CONTEXT_SWITCH = 1 << 26
    WRITE_BACKWARD = 1 << 27
    NAMESPACES = 1 << 28
    KSYMBOL = 1 << 29
    BPF_EVENT = 1 << 30
    AUX_OUTPUT = 1 << 31
    CGROUP = 1 << 32
    TEXT_POKE = 1 << 33
    BUILD_ID = 1 << 34
    INHERIT_THREAD = 1 << 35
    REMOVE_ON_EXEC = 1 << 36
    SIGTRAP = 1 << 37


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr, PERF_ATTR_SIZE_VER8 (136 bytes).

    Unions are flattened to the member we use, with the other names noted.
    """
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),       # | sample_freq
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),               # AttrFlag bits
        ("wakeup_events", ctypes.c_uint32),       # | wakeup_watermark
        ("bp_type", ctypes.c_uint32),
        ("bp_addr", ctypes.c_uint64),             # | config1
        ("bp_len", ctypes.c_uint64),              # | config2
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved_2", ctypes.c_uint16),
        ("aux_sample_size", ctypes.c_uint32),
        ("aux_action", ctypes.c_uint32),          # was __reserved_3
        ("sig_data", ctypes.c_uint64),
        ("config3", ctypes.c_uint64),
    ]


assert ctypes.sizeof(PerfEventAttr) == PERF_ATTR_SIZE_VER8


def _execute_length():
    """bp_len of an execute breakpoint: the kernel wants sizeof(long) on x86-64, 4 on
    AArch64."""
    return MACHINE.breakpoint_length if MACHINE else ctypes.sizeof(ctypes.c_long)


def breakpoint_attr(addr, bp_type=BpType.X, length=None, sigtrap=True,
                    sig_data=0, remove_on_exec=True, exclude_kernel=True,
                    exclude_hv=True, inherit=False, inherit_thread=False,
                    disabled=True, sample_period=1):
    """Fill a PerfEventAttr for a hardware breakpoint."""
    bp_type = BpType(bp_type)
    if length is None:
        if bp_type != BpType.X:
            raise ValueError("a data breakpoint needs a length (1, 2, 4, 8)")
        length = _execute_length()
    attr = PerfEventAttr()
    attr.type = PERF_TYPE_BREAKPOINT
    attr.size = PERF_ATTR_SIZE_VER8
    attr.config = 0
    attr.sample_period = sample_period
    attr.bp_type = bp_type
    attr.bp_addr = addr
    attr.bp_len = length
    attr.sig_data = sig_data & 0xFFFFFFFFFFFFFFFF
    wanted = (
        (AttrFlag.DISABLED, disabled),
        (AttrFlag.INHERIT, inherit),
        (AttrFlag.EXCLUDE_KERNEL, exclude_kernel),
        (AttrFlag.EXCLUDE_HV, exclude_hv),
        (AttrFlag.INHERIT_THREAD, inherit_thread),
        (AttrFlag.REMOVE_ON_EXEC, remove_on_exec),
        (AttrFlag.SIGTRAP, sigtrap),
    )
    flags = AttrFlag(0)
    for flag, on in wanted:
        if on:
            flags |= flag
    attr.flags = flags
    return attr


def explain_einval(attr):
    """Name the attribute most likely behind an EINVAL for this attr."""
    flags = AttrFlag(attr.flags)
    if AttrFlag.SIGTRAP in flags and AttrFlag.REMOVE_ON_EXEC not in flags:
        return "sigtrap requires remove_on_exec"
    if AttrFlag.INHERIT_THREAD in flags and AttrFlag.INHERIT not in flags:
        return "inherit_thread requires inherit"
    if attr.bp_type == BpType.X and attr.bp_len != _execute_length():
        return "an execute breakpoint needs bp_len %d on this machine" % (
            _execute_length())
    if attr.bp_type != BpType.X:
        if attr.bp_len not in (1, 2, 4, 8):
            return "bp_len %d is not 1, 2, 4 or 8" % attr.bp_len
        if attr.bp_addr % attr.bp_len:
            return "bp_addr %#x is not aligned to bp_len %d" % (
                attr.bp_addr, attr.bp_len)
        if attr.bp_type == BpType.R and MACHINE is arch.X86_64:
            return "x86 has no read-only breakpoints (use RW)"
    if attr.bp_addr >= 1 << 47 and AttrFlag.EXCLUDE_KERNEL in flags:
        return "bp_addr %#x is not a user-space address" % attr.bp_addr
    if AttrFlag.SIGTRAP in flags:
        return "sigtrap/remove_on_exec (Linux 5.13+) or the attr size"
    return "the breakpoint address, type or length"


def _above_select_range(fd):
    """`fd`, renumbered at FD_SETSIZE or above where the limit allows.  A process holding
    thousands of events would otherwise give the descriptors it opens later (GDB's pipes)
    numbers select() cannot take: GDB 13 then aborts in FD_SET."""
    if fd >= FD_SETSIZE:
        return fd
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FD_SETSIZE)
    except OSError:  # a limit of FD_SETSIZE or less: no room there
        return fd
    os.close(fd)
    return high


class PerfBreakpoint(OwnedFd):
    """One hardware breakpoint perf event on one thread; owns its fd."""

    _what = "perf event"

    def __init__(self, fd, tid, attr):
        super().__init__(fd)
        self.tid = tid
        self.attr = attr

    @classmethod
    def open(cls, tid, addr, bp_type=BpType.X, length=None, sigtrap=True,
             sig_data=0, remove_on_exec=True, exclude_kernel=True,
             exclude_hv=True, inherit=False, inherit_thread=False,
             disabled=True, sample_period=1, cpu=-1):
        """perf_event_open a breakpoint at `addr` on thread `tid`.

        `tid` is a thread id (0 = the calling thread); for the real use it
        is a thread of the inferior, which needs ptrace-read access to it.
        """
        attr = breakpoint_attr(
            addr, bp_type, length, sigtrap, sig_data, remove_on_exec,
            exclude_kernel, exclude_hv, inherit, inherit_thread, disabled,
            sample_period)
        op = "perf_event_open(breakpoint at %#x on thread %d)" % (addr, tid)
        try:
            fd = syscalls.perf_event_open(attr, tid, cpu, -1,
                                          syscalls.PERF_FLAG_FD_CLOEXEC,
                                          operation=op,
                                          attribute=explain_einval(attr))
        except KernelError as e:
            if e.errno == errno.E2BIG:
                raise Unsupported(
                    e.errno, "%s: this kernel's perf_event_attr is older "
                    "than %d bytes (sigtrap needs Linux 5.13+)"
                    % (op, PERF_ATTR_SIZE_VER8), op) from None
            if e.errno == errno.ENOENT:
                raise Unsupported(
                    e.errno, "%s: this kernel has no hardware breakpoint "
                    "perf events (CONFIG_HAVE_HW_BREAKPOINT)" % op,
                    op) from None
            raise
        return cls(_above_select_range(fd), tid, attr)

    @property
    def addr(self):
        return self.attr.bp_addr

    @property
    def sig_data(self):
        return self.attr.sig_data

    def _ioctl(self, request, arg, what, attribute=None):
        return syscalls.ioctl(self.fd, request, arg,
                              operation="%s (perf fd %d)" % (what, self.fd),
                              attribute=attribute)

    def attach_bpf(self, prog_fd):
        """Run BPF program `prog_fd` on every overflow (= every hit).

        The event keeps its own reference to the program, so the caller may
        close its program fd afterwards.
        """
        if hasattr(prog_fd, "fd"):
            prog_fd = prog_fd.fd
        try:
            self._ioctl(syscalls.PERF_EVENT_IOC_SET_BPF, prog_fd,
                        "PERF_EVENT_IOC_SET_BPF",
                        attribute="the program is not a "
                        "BPF_PROG_TYPE_PERF_EVENT program")
        except KernelError as e:
            if e.errno == errno.EEXIST:
                raise InvalidAttribute(
                    e.errno, "PERF_EVENT_IOC_SET_BPF",
                    "the event already has a BPF program") from None
            raise

    def enable(self):
        self._ioctl(syscalls.PERF_EVENT_IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")

    def disable(self):
        self._ioctl(syscalls.PERF_EVENT_IOC_DISABLE, 0,
                    "PERF_EVENT_IOC_DISABLE")

    def refresh(self, n):
        """Enable for `n` more overflows, after which the event disables
        itself (not allowed on inherited events).  A hit the BPF program
        suppresses is no overflow and does not use up `n`, so with a
        predicate this means "the next n matching hits"."""
        self._ioctl(syscalls.PERF_EVENT_IOC_REFRESH, n,
                    "PERF_EVENT_IOC_REFRESH",
                    attribute="refresh is refused for inherited events")

    def reset(self):
        """Set the counter back to zero."""
        self._ioctl(syscalls.PERF_EVENT_IOC_RESET, 0, "PERF_EVENT_IOC_RESET")

    def count(self):
        """Hits the hardware saw, including those the BPF program
        suppressed (read_format 0: one u64)."""
        try:
            data = os.read(self.fd, 8)
        except OSError as e:
            raise from_errno(e.errno, "read(perf fd %d)" % self.fd) from None
        if len(data) != 8:
            raise KernelError(errno.EIO, "read(perf fd %d): short read of "
                              "%d bytes" % (self.fd, len(data)))
        return struct.unpack("=Q", data)[0]

    def __repr__(self):
        return "<PerfBreakpoint fd=%s tid=%d addr=%#x type=%s>" % (
            self._fd, self.tid, self.attr.bp_addr,
            BpType(self.attr.bp_type).name)
