"""GDB's ignore count for hbreak-if, kept in the kernel where the kernel decides exactly.

`ignore N K` (or `hbreak-if -ignore K`) sets the catchpoint's ignore count;
in the kernel tiers it moves into a BPF counter the predicate decrements at
each match (compiler/ignore.py), so ignored matches never leave the kernel.
Where GDB re-decides hits (a partly compiled condition, a C predicate, the
ptrace tier) the count stays GDB's own.
"""
import gdb

from ..kernel.errors import KernelError
from ..kernel.maps import counter_array
from .model import HBreakIf, registry
from .tiers import PTRACE


def _kernel_can_count(bp: HBreakIf) -> bool:
    # An agent's kernel has no counter of this machine's.
    return (bp.tier is not PTRACE and bp.kind.kernel_counts_ignores and bp.uses_perf
            and not bp.notes and not bp.by_agent)


def take_from_gdb(bp: HBreakIf) -> bool:
    """Move a count GDB holds on the catchpoint into the kernel, if the kernel may count;
    whether its predicates must be made again (they now count)."""
    count = bp.catchpoint.ignore_count
    if count <= 0 or not _kernel_can_count(bp):
        return False
    counting = bp.ignore_counter is not None
    try:
        if not counting:
            bp.ignore_counter = counter_array()
        bp.ignore_counter[0] = count
    except KernelError as error:
        gdb.write(f"warning: hbreak-if {bp.number}: GDB counts the ignore count: {error}\n",
                  gdb.STDERR)
        return False
    bp.catchpoint.ignore_count = 0
    note_in_command(bp)
    return not counting


def give_back_to_gdb(bp: HBreakIf) -> bool:
    """The kernel no longer decides exactly (a partly compiled address, a remote program):
    GDB counts the rest; whether the kernel counted, so that the predicates that counted must
    go."""
    counter, bp.ignore_counter = bp.ignore_counter, None
    if counter is None:
        return False
    remaining = max(counter[0], 0)
    counter.close()
    bp.catchpoint.ignore_count = remaining
    note_in_command(bp)
    return True


def note_in_command(bp: HBreakIf) -> None:
    """The count the kernel keeps goes into the command that sets `bp` again (the catchpoint's
    condition, which `save breakpoints` writes): set now, and at each stop, which is when the
    program is still and the count cannot change."""
    kept = max(bp.ignore_counter[0], 0) if bp.ignore_counter is not None else 0
    if kept != bp.ignore_in_kernel and bp.catchpoint.is_valid():
        bp.ignore_in_kernel = kept
        bp.kind.write_own_condition(bp)


def note_all_in_commands(event=None) -> None:
    for bp in registry:
        note_in_command(bp)


def remaining(bp: HBreakIf) -> int:
    if bp.ignore_counter is not None:
        return max(bp.ignore_counter[0], 0)
    served_remotely = bp.remote.ignore_count if bp.remote is not None and bp.remote.is_valid() else 0
    return bp.catchpoint.ignore_count + served_remotely


def ignored_by_gdb(bp: HBreakIf) -> bool:
    """For a matching hit that reached GDB: whether the kernel's count says to let it pass.

    A match the kernel counted arrives only once the count is used up; a hit that arrives
    while some count is left is one the kernel was unsure of, so GDB counts it here."""
    if bp.ignore_counter is None or bp.ignore_counter[0] <= 0:
        return False
    bp.ignore_counter[0] = bp.ignore_counter[0] - 1
    return True


def release(bp: HBreakIf) -> None:
    if bp.ignore_counter is not None:
        bp.ignore_counter.close()
        bp.ignore_counter = None
