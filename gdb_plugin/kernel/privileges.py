"""What the self-test's child gives up before GDB opens a perf event on it.

A GDB that gained CAP_BPF and CAP_PERFMON from its file (`setcap` on a
private copy) is not dumpable, and neither is a child it forks; a perf event
with sigtrap on a task that is not dumpable needs CAP_SYS_PTRACE, which such
a GDB does not have.  So the self-test's child (probe.py) gives up what it
inherited before it makes itself dumpable, after which any process of the
same user may trace it: it closes every file descriptor but those it needs
(GDB's BPF and perf fds among them), drops every capability, and sets
no_new_privs so that no exec can give one back.  What is left is a copy of
GDB's memory, which holds the user's own data.

Everything is looked up here, before fork(), so that in the child the call
makes system calls only.
"""

import ctypes
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# Capability sets are 64 bits wide; the kernel refuses numbers past its last.
_CAPABILITY_BITS = 64


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


class PrivilegeDrop:
    """Prepared in the parent; called once in the child, which it leaves
    with no capability, no other fd, and dumpable.  Returns False, leaving
    the child not dumpable, if a capability could not be dropped."""

    def __init__(self):
        libc = ctypes.CDLL(None)
        self._prctl = libc.prctl
        self._prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        self._capset = libc.capset
        self._header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        self._nothing = (_CapData * 2)()        # two 32-bit halves, all clear

    def __call__(self, keep_fds):
        low = 0
        for fd in sorted(keep_fds):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 2 ** 31 - 1)
        # The bounding set only shrinks with CAP_SETPCAP (root's child);
        # no_new_privs below closes exec to everyone else.
        for cap in range(_CAPABILITY_BITS):
            self._prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        # Clearing permitted and inheritable clears the ambient set too.
        if self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        if self._capset(ctypes.byref(self._header), self._nothing) != 0:
            return False
        self._prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        return True
