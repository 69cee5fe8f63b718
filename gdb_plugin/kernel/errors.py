"""Typed errors for the kernel layer.

Every failure of bpf(2), perf_event_open(2) or a perf ioctl becomes one of
these, carrying the errno and a sentence that tells the user what is wrong
and, where there is one, how to fix it.  Callers choose a tier from the type
(e.g. NoDebugRegister -> fall back to GDB's own breakpoint) and show the
message as is.
"""

import errno as _errno
import os as _os
import resource as _resource

from .. import arch

SETCAP_FIX = "setcap cap_bpf,cap_perfmon+ep <private copy of gdb>"


class KernelError(OSError):
    """Base class: an OSError whose str() is a full explanation."""

    def __init__(self, err, message, operation=None):
        # OSError(errno, strerror) keeps .errno/.strerror working for
        # callers that only know about OSError.
        super().__init__(err, message)
        self.operation = operation

    @property
    def message(self):
        return self.strerror

    def __str__(self):
        return self.strerror


class PermissionDenied(KernelError):
    """EPERM / EACCES: a capability (or a sysctl) forbids the operation."""

    def __init__(self, err, operation, needed="CAP_BPF and CAP_PERFMON",
                 detail=None):
        msg = (
            "%s: permission denied (%s); it needs %s. Fix: %s "
            "(or run as root)" % (operation, _errno.errorcode.get(err, err),
                                  needed, SETCAP_FIX))
        if detail:
            msg += "; " + detail
        super().__init__(err, msg, operation)
        self.needed = needed


class NoDebugRegister(KernelError):
    """ENOSPC from perf_event_open on a breakpoint."""

    def __init__(self, err=_errno.ENOSPC, operation="perf_event_open"):
        machine = arch.of_machine()
        super().__init__(
            err,
            "%s: no free hardware debug register (%s, shared with "
            "GDB's hbreak/watch); delete a hardware breakpoint or watchpoint"
            % (operation, machine.debug_registers if machine else "none known"),
            operation)


class OutOfResources(KernelError):
    """EMFILE, ENFILE, ENOMEM: the process or the system has no descriptor or memory left."""

    def __init__(self, err, operation):
        if err == _errno.EMFILE:
            soft, _ = _resource.getrlimit(_resource.RLIMIT_NOFILE)
            why = ("out of file descriptors: GDB may have %d open, and each breakpoint needs "
                   "one per thread; `ulimit -n` before starting GDB raises the limit" % soft)
        elif err == _errno.ENFILE:
            why = "the system is out of file descriptors (/proc/sys/fs/file-max)"
        else:
            why = "out of kernel memory"
        super().__init__(err, "%s: %s" % (operation, why), operation)


class InvalidAttribute(KernelError):
    """EINVAL: the kernel refused an attribute; `attribute` names the suspect."""

    def __init__(self, err, operation, attribute):
        super().__init__(
            err, "%s: invalid argument; likely cause: %s"
            % (operation, attribute), operation)
        self.attribute = attribute


class VerifierRejected(KernelError):
    """BPF_PROG_LOAD failed; `log` is the complete verifier output."""

    # How many trailing log lines go into the message: the verifier prints
    # its verdict last, preceded by the instruction trace that led there.
    TAIL_LINES = 6

    def __init__(self, err, log, operation="BPF_PROG_LOAD"):
        self.log = log or ""
        tail = self.tail(self.log, self.TAIL_LINES)
        msg = "%s: the BPF verifier rejected the program (%s)" % (
            operation, _errno.errorcode.get(err, err))
        if tail:
            msg += ":\n  " + "\n  ".join(tail)
        else:
            msg += " and gave no log"
        super().__init__(err, msg, operation)

    @staticmethod
    def tail(log, n):
        """Last n meaningful lines: skip blanks and the statistics footer."""
        lines = [ln.rstrip() for ln in log.splitlines() if ln.strip()]
        footer = ("processed ", "verification time", "stack depth")
        while lines and lines[-1].startswith(footer):
            lines.pop()
        return lines[-n:]


class Unsupported(KernelError):
    """ENOENT / EOPNOTSUPP / ENOSYS, or a platform this layer cannot drive."""

    def __init__(self, err, message, operation=None):
        super().__init__(err, message, operation)


def from_errno(err, operation, attribute=None):
    """Map an errno from `operation` to the matching KernelError subclass.

    `attribute` names what most likely caused an EINVAL for this call; the
    callers know their arguments, this function does not.
    """
    if err in (_errno.EPERM, _errno.EACCES):
        if operation.startswith("perf_event_open"):
            return PermissionDenied(
                err, operation, needed="CAP_PERFMON",
                detail="or lower /proc/sys/kernel/perf_event_paranoid")
        return PermissionDenied(err, operation)
    if err == _errno.ENOSPC:
        if operation.startswith("perf_event_open"):
            return NoDebugRegister(err, operation)
        return KernelError(err, "%s: no space left (%s)"
                           % (operation, _errno.errorcode[err]), operation)
    if err in (_errno.EMFILE, _errno.ENFILE, _errno.ENOMEM):
        return OutOfResources(err, operation)
    if err == _errno.EINVAL:
        return InvalidAttribute(err, operation,
                                attribute or "an unsupported attribute value")
    if err in (_errno.ENOENT, _errno.EOPNOTSUPP, _errno.ENOSYS):
        return Unsupported(
            err, "%s: not supported by this kernel (%s)"
            % (operation, _errno.errorcode[err]), operation)
    if err == _errno.ESRCH:
        return KernelError(err, "%s: no such thread (it has exited)"
                           % operation, operation)
    return KernelError(err, "%s: %s" % (operation, _os.strerror(err)),
                       operation)
