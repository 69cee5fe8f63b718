"""Falling back when the kernel says no: GDB decides the breakpoint's hits from then on.

In the ptrace tier the hit still comes from a perf breakpoint with sigtrap, which needs no
privilege; only when the kernel refuses that (no free debug register, file descriptor or
memory) does GDB's own int3 take its place: the breakpoint's carrier, let in for good.
"""
import gdb

from .model import HBreakIf
from . import carriers
from .tiers import PTRACE


def fall_back(bp: HBreakIf, cause, to_software: bool) -> None:
    """The kernel refused `bp` something: from now on GDB decides its hits, with one warning.

    A refused predicate (verifier, permission) leaves the perf breakpoints, which need no
    privilege.  A refused perf breakpoint (descriptors, memory, debug registers) leaves a
    software breakpoint, in every thread: every tier needs the perf breakpoint, and GDB's int3
    is in the memory all threads share, so arming the other threads would spare them nothing."""
    if bp.kind.refused(bp, cause):
        return
    previous = bp.tier
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
