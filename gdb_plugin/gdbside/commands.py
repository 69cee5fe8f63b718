"""The user's commands: `hbreak-if`, `hwatch-if` and `info hbreak-if`."""
import gdb

from ..compiler import CompileError, explain
from ..kernel.errors import KernelError
from . import arming, ignore, uprobes, whereabouts
from .agent import compiling_allowed
from .cmdline import CommandLineError, parse
from .create import compile_for_explain, create, create_watch
from .kinds.watch import parse_watch
from .model import registry

SOFTWARE_BREAKPOINT = ("GDB evaluates the condition at every hit (GDB's own conditional "
                       "breakpoint, a software breakpoint in every thread)")


def tier_explanation(bp) -> str:
    """What `bp`'s tier does at a hit, as `info hbreak-if` and the MI records say it."""
    if bp.software and not uprobes.serves(bp):
        return SOFTWARE_BREAKPOINT
    return bp.tier.explanation


def as_gdb_error(run):
    """Run `run()` for a user command; any failure becomes one GDB error message, never a
    traceback."""
    try:
        with compiling_allowed():
            return run()
    except gdb.GdbError:
        raise
    except (gdb.error, CommandLineError, CompileError, KernelError) as error:
        raise gdb.GdbError(str(error)) from None
    except RecursionError:
        raise gdb.GdbError("the condition is nested too deeply for hbreak-if") from None
    except Exception as error:  # a defect: still no half-made breakpoint and no traceback
        raise gdb.GdbError(f"hbreak-if: internal error: {type(error).__name__}: {error}") from None


class HBreakIfCommand(gdb.Command):
    """Set a hardware breakpoint whose condition is evaluated in the kernel.

Usage: hbreak-if [-t] [-thread N] [-ignore K] [-explain] LOCATION [if] CONDITION
       hbreak-if -c [-t] [-thread N] [-ignore K] LOCATION C-PREDICATE

LOCATION is any GDB location (function, FILE:LINE, *ADDRESS; pending until a
shared library defines it).  CONDITION is a GDB expression, with GDB's own
meaning; bare register names (rax, eax, al, r8d, rip, ...) read registers.
The condition is compiled to an eBPF program attached to a perf hardware
breakpoint, so hits where it is false never stop the program.  Parts of the
condition the kernel cannot evaluate are checked by GDB at each stop.

  -t          temporary: delete after the first stop
  -thread N   only GDB thread N
  -ignore K   let the first K hits where CONDITION holds pass
  -explain    show the compiled condition (AX, eBPF, kernel/GDB split); set nothing
  -c          C-PREDICATE is C compiled with BCC (python3-bpfcc), for what a GDB
              expression cannot say: loops over buffers, string compares, state
              across hits.  Helpers: REG(rdi), ARG(1), read_user, load_user,
              str_eq_user(addr, "text"), STATE(i), STATE_INC(i), STATE_BY(key);
              see bpfprogs/README.md.  Kernel tier only.

The breakpoint gets a GDB breakpoint number: delete, disable, enable, ignore
and commands work on it as on any breakpoint.  `info hbreak-if` lists tiers,
kernel hit counts and stops; `set hbreak-if tier` forces a tier."""

    def __init__(self):
        super().__init__("hbreak-if", gdb.COMMAND_BREAKPOINTS, gdb.COMPLETE_LOCATION)

    def invoke(self, argument, from_tty):
        self.dont_repeat()
        as_gdb_error(lambda: self._run(argument))

    @staticmethod
    def _run(argument):
        request = parse(argument)
        if request.explain:
            gdb.write(explain(compile_for_explain(request.location, request.condition),
                              highlight=gdb.parameter("style enabled")) + "\n")
            return
        create(request)


class HWatchIfCommand(gdb.Command):
    """Set a hardware watchpoint whose condition is evaluated in the kernel.

Usage: hwatch-if [-r|-a] [-t] [-thread N] [-ignore K] EXPRESSION [if] CONDITION

Watches the 1, 2, 4 or 8 bytes of EXPRESSION (evaluated once, as by
`watch -location`) for writes that change them, or with -r for reads, or
with -a for any access, and stops only when CONDITION holds.  CONDITION may
use globals, registers, memory, $new (the value after the access) and $old
(before it); the kernel evaluates what it can, GDB the rest.  The program must
be running.  delete, disable, enable, ignore and commands work as for any
breakpoint; `info hbreak-if` lists it."""

    def __init__(self):
        super().__init__("hwatch-if", gdb.COMMAND_BREAKPOINTS, gdb.COMPLETE_EXPRESSION)

    def invoke(self, argument, from_tty):
        self.dont_repeat()
        as_gdb_error(lambda: create_watch(*parse_watch(argument)))


class InfoHBreakIfCommand(gdb.Command):
    """List hbreak-if breakpoints: tier and why, hits, stops, threads armed.

Hits counts every time a thread reached the location (the perf event's count,
filtered or not); Stops counts the hits where the condition held."""

    def __init__(self):
        super().__init__("info hbreak-if", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, argument, from_tty):
        as_gdb_error(self._run)

    @staticmethod
    def _run():
        if not len(registry):
            gdb.write("No hbreak-if breakpoints.\n")
            return
        place = whereabouts.locate(gdb.selected_inferior())
        gdb.write(f"{'Num':<5}{'Enb':<5}{'Tier':<21}{'Hits':>13}{'Stops':>8}{'Threads':>9}"
                  "  Where\n")
        for bp in registry:
            gdb.write(f"{bp.number:<5}{'y' if bp.enabled else 'n':<5}{bp.tier:<21}"
                      f"{arming.kernel_hits(bp):>13,}{bp.stops:>8,}{arming.threads_armed(bp):>9}"
                      f"  {bp.location} {bp.kind.location_word} "
                      f"{bp.kind.describe_location(bp)}\n")
            if bp.condition:
                gdb.write(f"{'':10}condition: {bp.condition}\n")
            for line in bp.kind.info_lines(bp):
                gdb.write(f"{'':10}{line}\n")
            if bp.int3_at and not bp.software:
                where = ", ".join(f"{address:#x}" for address in sorted(bp.int3_at))
                gdb.write(f"{'':10}GDB's software breakpoint at: {where} (no perf breakpoint "
                          "there; GDB evaluates the condition)\n")
            for address, why in sorted(uprobes.refusals(bp).items()):
                gdb.write(f"{'':10}no uprobe at {address:#x} (GDB evaluates the condition "
                          f"there): {why}\n")
            if bp.thread is not None:
                gdb.write(f"{'':10}thread: {bp.thread.num}\n")
            gdb.write(f"{'':10}tier: {tier_explanation(bp)}\n")
            gdb.write(f"{'':10}why: {bp.reason}\n")
            if place.pid is None and not place.remote:
                gdb.write(f"{'':10}armed: not yet, {place.why}\n")
            for note in bp.notes:
                gdb.write(f"{'':10}note: {note}\n")
            if ignore.remaining(bp):
                where = "the kernel" if bp.ignore_counter is not None else "GDB"
                gdb.write(f"{'':10}ignore next {ignore.remaining(bp)} hits (counted by {where})\n")
