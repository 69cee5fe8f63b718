"""The architecture of the program GDB debugs, which the compiler compiles for (arch/)."""
from typing import Optional

import gdb

from .. import arch

UPROBE_ARCHES = (arch.X86_64,)  # the uprobe tier puts a thread back by decoding x86 code


def program_arch() -> Optional[arch.Arch]:
    """The program's architecture, now the compiler's; None if the kernel filter has none."""
    found = arch.by_gdb_name(gdb.selected_inferior().architecture().name())
    if found is not None:
        arch.use(found)
    return found


def unsupported() -> str:
    """Why GDB decides every hit where program_arch() is None."""
    name = gdb.selected_inferior().architecture().name()
    known = " and ".join(a.name for a in arch.ARCHES)
    return f"the program's architecture, {name}, is not one hbreak-if compiles for ({known})"
