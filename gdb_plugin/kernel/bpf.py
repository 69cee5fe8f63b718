"""Loading eBPF programs with bpf(BPF_PROG_LOAD).

This layer takes already encoded instructions (bytes, 8 per instruction) so
that it stays below the encoder in the import order.
"""

import ctypes
import errno

from . import syscalls
from .errors import (KernelError, PermissionDenied, VerifierRejected,
                     from_errno)
from .owned import OwnedFd

BPF_PROG_LOAD = 5
BPF_PROG_TYPE_KPROBE = 2  # also a uprobe's: its context is the struct pt_regs itself
BPF_PROG_TYPE_PERF_EVENT = 7
BPF_TRACE_UPROBE_MULTI = 48  # the attach type of a program for uprobe_multi links

INSN_SIZE = 8
# The kernel refuses more than this many instructions without CAP_BPF, and
# a condition never comes close; beyond it the verifier's own limit rules.
MAX_INSNS = 1000000

MAX_INTERRUPTED_LOADS = 100

LOG_LEVEL_NONE = 0
LOG_LEVEL_BASIC = 1      # verdict plus the instruction path that led there
LOG_LEVEL_VERBOSE = 2    # register state at every instruction

# The first log buffer; it doubles on ENOSPC (log truncated) up to the
# maximum.  64 KiB holds the log of a typical rejected condition.
LOG_SIZE_INITIAL = 64 * 1024
LOG_SIZE_MAX = 64 * 1024 * 1024


class _ProgLoadAttr(ctypes.Structure):
    """The BPF_PROG_LOAD arm of `union bpf_attr`, up to the fields we set.

    The kernel accepts a shorter attr and treats the rest as zero.
    """
    _fields_ = [
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),
        ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * 16),
        ("prog_ifindex", ctypes.c_uint32),
        ("expected_attach_type", ctypes.c_uint32),
    ]


def _sanitize_name(name):
    # The kernel allows [A-Za-z0-9_.] and 15 characters plus NUL.
    clean = "".join(c if (c.isalnum() and c.isascii()) or c in "_." else "_"
                    for c in name)
    return clean[:15].encode("ascii")


def _load_once(prog_type, code, license_, log_level, log_size, name,
               expected_attach_type):
    """One BPF_PROG_LOAD attempt -> (fd or None, errno, log text)."""
    insn_buf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license_.encode("ascii"))
    log = ctypes.create_string_buffer(log_size) if log_level else None

    attr = _ProgLoadAttr()
    attr.prog_type = prog_type
    attr.insn_cnt = len(code) // INSN_SIZE
    attr.insns = ctypes.addressof(insn_buf)
    attr.license = ctypes.addressof(lic)
    attr.log_level = log_level
    if log is not None:
        attr.log_size = log_size
        attr.log_buf = ctypes.addressof(log)
    attr.prog_name = _sanitize_name(name)
    attr.expected_attach_type = expected_attach_type
    try:
        fd = syscalls.bpf(BPF_PROG_LOAD, attr, operation="BPF_PROG_LOAD")
        err = 0
    except KernelError as e:
        fd, err = None, e.errno
    text = log.value.decode("utf-8", "replace") if log is not None else ""
    return fd, err, text


def prog_load(code, prog_type=BPF_PROG_TYPE_PERF_EVENT, license="GPL",
              log_level=None, log_size=LOG_SIZE_INITIAL, name="hbreak_if",
              expected_attach_type=0):
    """Load encoded instructions; return (fd, verifier log).

    log_level None (the default) loads without a log, which is the fast
    path, and reloads with LOG_LEVEL_BASIC only if the verifier refuses, so
    a rejection always carries the verifier's explanation.  An explicit
    level keeps the log of a successful load too.

    The license must be GPL-compatible for conditions that read memory:
    bpf_probe_read_user is a GPL-only helper.
    """
    code = bytes(code)
    if not code or len(code) % INSN_SIZE:
        raise VerifierRejected(
            errno.EINVAL,
            "program size %d is not a positive multiple of %d bytes"
            % (len(code), INSN_SIZE))
    if len(code) // INSN_SIZE > MAX_INSNS:
        raise VerifierRejected(errno.E2BIG, "program has %d instructions"
                               % (len(code) // INSN_SIZE))

    level = LOG_LEVEL_NONE if log_level is None else log_level
    size = log_size
    interrupted = 0
    while True:
        fd, err, log = _load_once(prog_type, code, license, level, size,
                                  name, expected_attach_type)
        if fd is not None:
            return fd, log
        if err == errno.EAGAIN and interrupted < MAX_INTERRUPTED_LOADS:
            # A signal (GDB's SIGCHLD) came during verification: the kernel
            # asks for the same load again.
            interrupted += 1
            continue
        if err == errno.ENOSPC and level and size < LOG_SIZE_MAX:
            # The log did not fit (the kernel fails the load then, even a
            # good program); retry with room for it.
            size *= 2
            continue
        if err == errno.EPERM and not log:
            raise PermissionDenied(
                err, "loading a perf_event BPF program",
                needed="CAP_BPF and CAP_PERFMON")
        if level == LOG_LEVEL_NONE and err in (errno.EACCES, errno.EINVAL,
                                               errno.E2BIG, errno.ENOSPC):
            # Quiet attempt failed: ask again, this time for the reason.
            level = LOG_LEVEL_BASIC
            continue
        if log or err in (errno.EACCES, errno.EINVAL, errno.E2BIG):
            raise VerifierRejected(err, log)
        raise from_errno(err, "BPF_PROG_LOAD")


class BpfProgram(OwnedFd):
    """A loaded BPF program; owns its fd until close()."""

    _what = "BPF program"

    def __init__(self, fd, log="", prog_type=BPF_PROG_TYPE_PERF_EVENT):
        super().__init__(fd)
        self.log = log
        self.prog_type = prog_type

    @classmethod
    def load(cls, code, prog_type=BPF_PROG_TYPE_PERF_EVENT, license="GPL",
             log_level=None, name="hbreak_if", expected_attach_type=0):
        """Load `code` (encoded instructions, bytes); see prog_load()."""
        fd, log = prog_load(code, prog_type=prog_type, license=license,
                            log_level=log_level, name=name,
                            expected_attach_type=expected_attach_type)
        return cls(fd, log, prog_type)

    def __repr__(self):
        return "<BpfProgram fd=%s>" % self._fd
