"""Falling back when the kernel says no: GDB decides the breakpoint's hits from then on.

In the ptrace tier the hit still comes from a perf breakpoint with sigtrap, which needs no
privilege; only when the kernel refuses that (no free debug register, file descriptor or
memory) does GDB's own int3 take its place: the breakpoint's carrier, let in for good.  Where
no debug register was free and uprobes can filter that int3's hits (uprobes.py), the
breakpoint moves to the uprobe tier instead (which, for want of descriptors or memory, could
only add to the shortage).
"""
import gdb

from ..kernel.errors import NoDebugRegister
from .model import HBreakIf
from . import carriers, uprobes
from .tiers import PTRACE, UPROBE


def fall_back_at(bp: HBreakIf, cause, address) -> bool:
    """The kernel refused a perf breakpoint at one of the breakpoint's locations: that one alone
    is GDB's int3 from now on, and the others keep their tier.  False where no other location
    is left in the kernel (or the kind has no int3): then the whole breakpoint falls back."""
    if address is None or not bp.kind.carried:
        return False
    others = set(bp.addresses()) - bp.int3_at - {address}
    if not others:
        return False
    bp.int3_at.add(address)
    carriers.keep_out_all(bp.catchpoint, bp)
    gdb.write(f"warning: hbreak-if {bp.number}: {cause}\nhbreak-if {bp.number}: its location at "
              f"{address:#x} is GDB's software breakpoint from now on, and GDB evaluates the "
              f"condition there; its other locations stay in the {bp.tier} tier.\n", gdb.STDERR)
    return True


def fall_back(bp: HBreakIf, cause, to_software: bool) -> None:
    """The kernel refused `bp` something: from now on GDB decides its hits, with one warning.

    A refused predicate (verifier, permission) leaves the perf breakpoints, which need no
    privilege.  A refused perf breakpoint (descriptors, memory, debug registers) leaves a
    software breakpoint, in every thread: every tier needs the perf breakpoint, and GDB's int3
    is in the memory all threads share, so arming the other threads would spare them nothing."""
    if bp.kind.refused(bp, cause):
        return
    previous = bp.tier
    if (to_software and isinstance(cause, NoDebugRegister) and previous not in (PTRACE, UPROBE)
            and uprobes.problem(bp) is None):
        bp.tier, bp.reason, bp.software = UPROBE, str(cause), True
        carriers.keep_out_all(bp.catchpoint, bp)
        gdb.write(f"warning: hbreak-if {bp.number}: {cause}\nhbreak-if {bp.number} moves from "
                  f"the {previous} tier to the uprobe tier: GDB's software breakpoint, whose "
                  "hits a uprobe decides in the kernel while the program continues.\n",
                  gdb.STDERR)
        return
    bp.tier, bp.reason = PTRACE, str(cause)
    if to_software or previous is PTRACE:
        bp.software = True
        carriers.keep_out_all(bp.catchpoint, bp)
        how = "a software breakpoint, and GDB evaluates the condition at every hit"
    else:
        how = "GDB evaluates the condition at every hit"
    if previous is PTRACE:
        change = f"hbreak-if {bp.number} uses a software breakpoint instead of perf breakpoints"
    else:
        change = f"hbreak-if {bp.number} falls back from the {previous} tier to the ptrace tier"
    gdb.write(f"warning: hbreak-if {bp.number}: {cause}\n{change}: {how}.\n", gdb.STDERR)
