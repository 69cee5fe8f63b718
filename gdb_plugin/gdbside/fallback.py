"""Falling back when the kernel says no: GDB decides the breakpoint's hits from then on.

In the ptrace tier a code breakpoint is GDB's own conditional breakpoint: its carrier, let in
for good (a perf breakpoint that signalled every hit would cost GDB three stops a hit, the
carrier's own and the signal's two).  A watchpoint's hits still come from a perf watchpoint
with sigtrap, which needs no privilege.  Where no debug register was free and uprobes can
filter GDB's int3's hits (uprobes.py), the breakpoint moves to the uprobe tier instead (which,
for want of descriptors or memory, could only add to the shortage).
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
    carriers.insert_now(bp.catchpoint)
    gdb.write(f"warning: hbreak-if {bp.number}: {cause}\nhbreak-if {bp.number}: its location at "
              f"{address:#x} is GDB's software breakpoint from now on, and GDB evaluates the "
              f"condition there; its other locations stay in the {bp.tier} tier.\n", gdb.STDERR)
    return True


def fall_back(bp: HBreakIf, cause) -> None:
    """The kernel refused `bp` something (a predicate, a perf breakpoint): from now on GDB
    decides its hits, with one warning.  A code breakpoint is then GDB's software breakpoint in
    every thread: GDB's int3 is in the memory all threads share."""
    if bp.kind.refused(bp, cause):
        return
    previous = bp.tier
    if (isinstance(cause, NoDebugRegister) and previous not in (PTRACE, UPROBE)
            and uprobes.problem(bp) is None):
        bp.tier, bp.reason = UPROBE, str(cause)
        carriers.keep_out_all(bp.catchpoint, bp)
        gdb.write(f"warning: hbreak-if {bp.number}: {cause}\nhbreak-if {bp.number} moves from "
                  f"the {previous} tier to the uprobe tier: GDB's software breakpoint, whose "
                  "hits a uprobe decides in the kernel while the program continues.\n",
                  gdb.STDERR)
        return
    bp.tier, bp.reason = PTRACE, str(cause)
    if bp.software:
        carriers.keep_out_all(bp.catchpoint, bp)
        carriers.insert_now(bp.catchpoint)
        how = "GDB's own conditional breakpoint, a software breakpoint"
    else:
        how = "GDB evaluates the condition at every hit"
    change = f"hbreak-if {bp.number} falls back from the {previous} tier to the ptrace tier"
    gdb.write(f"warning: hbreak-if {bp.number}: {cause}\n{change}: {how}.\n", gdb.STDERR)
