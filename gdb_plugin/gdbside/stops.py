"""At a stop: the report of the hits that stopped the program, and what waited for a stop."""
import gdb

from . import arming, carriers, hits, remote, uprobes
from .hits import condition_holds
from .agent import compiling_allowed
from .frames import describe
from .model import HBreakIf, registry
from .signals import forget_the_trap, stopped_for
from .tiers import PTRACE

CONVENIENCE = "_hbreak_if"


def compile_what_was_put_off(event) -> None:
    """A stop is where GDB may try what it could not while the program started."""
    waiting = [bp for bp in registry if bp.compile_at_next_stop]
    if not waiting:
        return
    with compiling_allowed():
        for bp in waiting:
            bp.compile_at_next_stop = False
        arming.recompile(waiting)


def report_stop(event) -> None:
    """Print the hit like a breakpoint hit, once GDB has stopped for it.  Where several
    breakpoints hit at once, GDB reports the first and counts them all; so does this."""
    # The hits accepted at the signal GDB stopped for (GDB may stop for something else since),
    # those the carriers stopped for, and those of GDB's own breakpoints that serve a remote
    # program.
    served_remotely = remote.stopped_owners(event)
    carried, overtaken = carriers.stopped(), _overtaken()
    accepted, signal = hits.take_accepted()
    stopped = sorted(set(accepted) | set(served_remotely) | set(carried) | set(overtaken),
                     key=lambda bp: bp.number)
    if carried or overtaken:
        forget_the_trap()
    if not stopped or not (served_remotely or carried or overtaken or stopped_for(signal)):
        return
    filtered = {bp.number: _count_stop(bp) for bp in stopped}
    bp = stopped[0]
    gdb.set_convenience_variable(CONVENIENCE, bp.number)
    # A front end has GDB's own report of its own breakpoint, and of an hwatch-if's catchpoint
    # (the frame and the displays, without the values).
    if not _silent(bp.catchpoint) and not (bp in carried and carriers.FRONT_END):
        frame_told = carriers.FRONT_END and not bp.kind.carried
        gdb.write(bp.kind.stop_heading(bp) + ("" if frame_told else
                                              describe(gdb.selected_frame())))
        # Until a put-off compilation, the kernel let every hit through and GDB rejected them.
        in_kernel = (filtered[bp.number] if bp.uses_perf and bp.tier is not PTRACE
                     and not bp.compile_at_next_stop else uprobes.filtered_since_stop(bp))
        if in_kernel:
            plural = "" if in_kernel == 1 else "s"
            gdb.write(f"({in_kernel:,} hit{plural} filtered in the kernel)\n")
        if not frame_told:
            gdb.execute("display")  # GDB shows them after the frame of a stop it prints
    for temporary in (bp for bp in stopped if bp.made_temporary
                      or bp in served_remotely and bp.temporary):
        # GDB deletes a temporary breakpoint that stopped; that one is not one, or did not
        # stop.
        temporary.catchpoint.delete()


def _overtaken() -> list:
    """Hits let in whose stop GDB made for another reason at the same pc: reported as GDB
    reports its own breakpoint there, if the condition holds and no ignore count is left."""
    thread = gdb.selected_thread()
    if thread is None:
        return []
    stopping = []
    for bp in carriers.overtaken(thread, int(gdb.selected_frame().pc())):
        if not condition_holds(bp):
            continue
        if bp.catchpoint.ignore_count > 0:
            bp.catchpoint.ignore_count -= 1
            continue
        stopping.append(bp)
    return stopping


def _silent(catchpoint) -> bool:
    """GDB prints nothing for a breakpoint whose `commands` start with `silent` (the catchpoint
    itself is always silent: this report stands in for GDB's)."""
    commands = (catchpoint.commands or "").lstrip().splitlines()
    return bool(commands) and commands[0].strip() == "silent"


def _count_stop(bp: HBreakIf) -> int:
    """Counts a stop of `bp`; the hits the kernel filtered since its previous one."""
    bp.stops += 1
    hits = arming.kernel_hits(bp)
    filtered = max(0, hits - bp.hits_at_last_stop - 1)
    bp.hits_at_last_stop = hits
    return filtered
