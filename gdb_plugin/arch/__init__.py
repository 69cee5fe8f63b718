"""The machine a program runs on, as the pure layers need it: GDB's register numbers (what an
agent expression's `reg N` means) and where the kernel saves each register (the `pt_regs` at
the start of a perf event BPF program's context), the register names a condition may use,
the syscall numbers, and an execute breakpoint's length.

The compiler uses the architecture of the program being debugged, which the GDB layer names
(`use`): a remote target's may differ from this machine's.  The kernel layer uses this
machine's (`of_machine`), whose syscalls it makes.
"""
from __future__ import annotations

import platform
from typing import Optional, Tuple

from .aarch64 import AARCH64
from .registers import Arch, PtRegsField, SubRegister
from .x86_64 import X86_64

__all__ = ["Arch", "PtRegsField", "SubRegister", "AARCH64", "X86_64", "ARCHES",
           "by_gdb_name", "current", "of_machine", "use"]

ARCHES: Tuple[Arch, ...] = (X86_64, AARCH64)
_current: Optional[Arch] = None


def of_machine(machine: str = "") -> Optional[Arch]:
    """The architecture `uname -m` names (this machine's by default); None if unsupported."""
    machine = machine or platform.machine()
    return next((arch for arch in ARCHES if machine in arch.machines), None)


def by_gdb_name(name: str) -> Optional[Arch]:
    """The architecture of GDB's name for it (`i386:x86-64`, `aarch64`); None if unsupported."""
    return next((arch for arch in ARCHES if name in arch.gdb_names), None)


def use(arch: Optional[Arch]) -> Optional[Arch]:
    """The compiler compiles for `arch` from now on (said by the GDB layer; None: this
    machine's); returns the one it compiled for until now."""
    global _current
    previous, _current = _current, arch
    return previous


def current() -> Arch:
    """The architecture the compiler compiles for: the one last `use`d, else this machine's,
    else x86-64."""
    return _current or of_machine() or X86_64
