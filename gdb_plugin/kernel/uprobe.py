"""Uprobes through BPF links: the kernel's int3 at a file offset, in one process's memory only.

A uprobe_multi link (Linux 6.6+) given a pid installs its int3 in that process's memory alone,
and runs its BPF program (BPF_PROG_TYPE_KPROBE loaded for BPF_TRACE_UPROBE_MULTI, whose
context is the thread's struct pt_regs at the probed address) at every hit by any thread of
that process.  The kernel then runs the probed instruction itself (emulated, or single-stepped
out of line), so a signal the program sends arrives after it.

Closing a link unregisters its uprobe, then waits for a grace period before close() returns:
20 to 90 ms here.  A uprobe perf event waits as long at open and again at close, and its
closes wait one after another; the closes of links, each on a thread of its own (`release`),
wait together.
"""
import ctypes
import os
import tempfile
import threading
from typing import Iterable, Optional

from . import syscalls
from .bpf import BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, BpfProgram
from .errors import KernelError
from .owned import OwnedFd
from .probe import send_signal_program

BPF_LINK_CREATE = 28


class _LinkCreateAttr(ctypes.Structure):
    """The BPF_LINK_CREATE arm of `union bpf_attr`, with its uprobe_multi part."""
    _fields_ = [
        ("prog_fd", ctypes.c_uint32),
        ("target_fd", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("path", ctypes.c_uint64),
        ("offsets", ctypes.c_uint64),
        ("ref_ctr_offsets", ctypes.c_uint64),
        ("cookies", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("uprobe_flags", ctypes.c_uint32),
        ("pid", ctypes.c_uint32),
        ("padding", ctypes.c_uint32),
    ]


def load(code: bytes, name: str) -> BpfProgram:
    """A program for uprobe links."""
    return BpfProgram.load(code, prog_type=BPF_PROG_TYPE_KPROBE, name=name,
                           expected_attach_type=BPF_TRACE_UPROBE_MULTI)


class UprobeLink(OwnedFd):
    """One uprobe at a file offset, in the memory of one process, running one program."""

    _what = "uprobe link"

    def __init__(self, fd: int, pid: int, path: str, offset: int):
        super().__init__(fd)
        self.pid, self.path, self.offset = pid, path, offset

    @classmethod
    def attach(cls, program: BpfProgram, pid: int, path: str, offset: int) -> "UprobeLink":
        name = ctypes.create_string_buffer(path.encode())
        offsets = (ctypes.c_uint64 * 1)(offset)
        attr = _LinkCreateAttr(prog_fd=program.fd, attach_type=BPF_TRACE_UPROBE_MULTI,
                               path=ctypes.addressof(name), offsets=ctypes.addressof(offsets),
                               count=1, pid=pid)
        op = "BPF_LINK_CREATE(uprobe at %s+%#x in process %d)" % (path, offset, pid)
        return cls(syscalls.bpf(BPF_LINK_CREATE, attr, operation=op), pid, path, offset)

    def __repr__(self):
        return "<UprobeLink fd=%s pid=%d %s+%#x>" % (self._fd, self.pid, self.path, self.offset)


def release(links: Iterable[UprobeLink]) -> None:
    """Close `links` together: when it returns, no uprobe of theirs takes a trap."""
    closers = [threading.Thread(target=link.close, name="hbreak-if uprobe release", daemon=True)
               for link in links]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join()


_problem: Optional[str] = None
_asked = False


def problem() -> Optional[str]:
    """Why a uprobe's predicate cannot signal a thread here (found once), or None."""
    global _problem, _asked
    if not _asked:
        _asked = True
        try:
            _try_link()
        except KernelError as error:
            _problem = ("this kernel has no uprobe links that signal a thread (uprobe_multi, "
                        f"Linux 6.6 or later): {error}")
    return _problem


def _try_link() -> None:
    """Load a program that signals, and link it at a file no process maps: the link is made,
    and no int3 is written anywhere."""
    with tempfile.NamedTemporaryFile(prefix="hbreak-if-uprobe-") as unmapped:
        unmapped.write(b"\x90" * 16)
        unmapped.flush()
        with load(send_signal_program(), "hbreak_if_probe") as program:
            UprobeLink.attach(program, os.getpid(), unmapped.name, 0).close()
