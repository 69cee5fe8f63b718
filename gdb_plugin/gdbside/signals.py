"""Whose signal a caught SIGTRAP or SIG40 is, and the program's own handled as GDB handles it.

Each hbreak-if is a catchpoint on SIGTRAP and SIG40, and a signal catchpoint explains
every signal it catches, whatever its condition says (break-catch-sig.c:
signal_catchpoint::explains_signal).  GDB then skips what it does for a signal nothing
explains (infrun.c, handle_signal_stop, `if (random_signal)`): it neither stops nor prints
as `handle` says, nor moves the pc past a program's int3, and resumes passing the signal
only where `handle` says pass (keep_going).  So the catchpoint conditions sort each
signal out, once per signal:

- ours: a perf breakpoint's SIGTRAP (TRAP_PERF with an hbreak-if's number as sig_data),
  a kernel-signal predicate's SIG40 (SI_KERNEL).  Where `handle` says pass, GDB must
  not hand it to the program: `handle ... nopass` holds until GDB has resumed the thread
  (undone at the next signal, stop, exit or prompt), and a stop for one of ours forgets the
  signal (`queue-signal 0`).
- GDB's: single steps, GDB's own breakpoints and watchpoints, another catchpoint on the
  signal.  GDB's own logic decides, as without hbreak-if.
- the program's: sent by a process (si_code <= 0: kill, raise, sigqueue), an int3 in the
  program's code, a perf SIGTRAP that is not an hbreak-if's.  It is handled as GDB handles
  a signal nothing explains: the pc moves past an int3, `handle` says whether GDB prints
  "Program received signal ..." and stops; passing is left to GDB's own `handle` table.
  A stop needs a catchpoint whose condition holds: one catchpoint of the plugin's (the
  reporter) stops for it, with its commands and ignore count set aside, and the report is
  GDB's.
"""
import re
from dataclasses import dataclass
from typing import Dict, Optional, Set

import gdb

from . import carriers, passing
from .model import registry
from .tiers import signal_name, signal_number

SIGTRAP = 5
TRAP_TRACE = 2  # a single step
TRAP_PERF = 6
SI_KERNEL = 0x80  # an int3, or a signal the kernel sends (bpf_send_signal_thread)
INT3 = b"\xcc"

OURS, GDBS, PROGRAMS = "ours", "GDB's", "the program's"


@dataclass
class Handling:
    """A signal's row in GDB's `handle` table."""
    name: str
    stop: bool
    print: bool
    passes: bool
    meaning: str


# `handle` changes at a prompt, or in a stop's commands: read again after each stop and
# prompt, not at each SIGTRAP (GDB single-steps and hits breakpoints with one).
_handlings: Dict[str, Handling] = {}


def handling(name: str) -> Handling:
    """GDB's `handle` settings for signal NAME (as `info signals NAME` shows them)."""
    if name not in _handlings:
        row = gdb.execute(f"info signals {name}", to_string=True).splitlines()[1]
        _, stop, print_, passes, meaning = re.split(r"\s+", row.strip(), maxsplit=4)
        _handlings[name] = Handling(name, stop == "Yes", print_ == "Yes", passes == "Yes",
                                    meaning)
    return _handlings[name]


def forget_handlings(*_) -> None:
    _handlings.clear()


@dataclass(eq=False)
class CaughtSignal:
    """One stop of one thread for a signal the catchpoints caught."""
    thread: gdb.InferiorThread
    signo: int
    code: int
    sig_data: int  # a perf SIGTRAP's si_perf_data
    pc: int
    origin: str = GDBS
    handling: Optional[Handling] = None
    reporter: Optional[gdb.Breakpoint] = None  # the catchpoint that stops for the program
    reporter_commands: Optional[str] = None
    reporter_ignore_count: int = 0

    def __post_init__(self):
        self.thread_number = self.thread.global_num  # the thread may be gone by the next one

    @property
    def key(self):
        return self.thread_number, self.signo, self.code, self.sig_data, self.pc

    def stops_at(self, catchpoint: gdb.Breakpoint) -> bool:
        return self.reporter is catchpoint


_current: Optional[CaughtSignal] = None
_last_condition = 0  # the number of the catchpoint whose condition GDB evaluated last
_passing_turned_off: Optional[str] = None  # the signal whose `pass` is off until the next one
# Threads that hit a carrier (carriers.py): GDB steps them over its location next.
_stepping_over: Set[int] = set()


def caught_signal(thread, number: int) -> CaughtSignal:
    """What the signal the selected thread stopped with is, for the condition of catchpoint
    NUMBER.  GDB evaluates the enabled catchpoints' conditions in the order of their numbers
    at each signal: the signal is decided, and acted on, at the first of them."""
    global _current, _last_condition
    signal = _signal_of(thread)
    same_signal = (_current is not None and _current.key == signal.key
                   and number > _last_condition)
    _last_condition = number
    if same_signal:
        return _current
    # GDB resumes the program from inside its event handling, which Python does not see: the
    # previous signal is over.
    done_with_signal()
    signal.origin = _sort_out(signal)
    _current = signal
    passing.forget_elsewhere(thread, signal.pc)
    if signal.origin == OURS or (signal.signo == SIGTRAP and signal.code != TRAP_TRACE):
        passing.after_trap(thread, signal.pc, signal.origin == OURS)
    if signal.origin == PROGRAMS:
        _act_for_the_program(signal)
    elif signal.origin == GDBS and _carriers_trap(signal):
        keep_from_program(signal)
    return signal


def _signal_of(thread) -> CaughtSignal:
    siginfo = gdb.parse_and_eval("$_siginfo")
    return CaughtSignal(thread, int(siginfo["si_signo"]), int(siginfo["si_code"]),
                        int(siginfo["_sifields"]["_timer"]["si_sigval"]["sival_ptr"]),
                        int(gdb.selected_frame().pc()))


def _name(signo: int) -> str:
    return "SIGTRAP" if signo == SIGTRAP else signal_name()


def _sort_out(signal: CaughtSignal) -> str:
    """OURS, GDBS or PROGRAMS; past an int3 of the program, as GDB moves the pc."""
    signo, code, pc = signal.signo, signal.code, signal.pc
    if signo == signal_number():
        if code == SI_KERNEL:
            return OURS
        return GDBS if _another_catchpoint_catches(signal_name()) else PROGRAMS
    if code == TRAP_PERF and registry.ever_had(signal.sig_data):
        return OURS  # also a late one of a deleted hbreak-if
    if code == TRAP_PERF or code <= 0:
        program_sent = True
    elif code == SI_KERNEL:
        # linux-nat took it for a software breakpoint and moved the pc back onto it.
        program_sent = gdb.selected_inferior().read_memory(pc, 1).tobytes() == INT3
    else:
        program_sent = False  # single steps, hardware breakpoints and watchpoints
    if not program_sent or gdb_breakpoint_at(pc) or _another_catchpoint_catches("SIGTRAP"):
        return GDBS
    if code == SI_KERNEL:
        # What GDB does for a trap no breakpoint explains (infrun.c: "Re-adjust PC to what
        # the program would see if GDB was not debugging it").
        signal.pc += 1
        gdb.execute(f"set $pc = {signal.pc:#x}", to_string=True)
    return GDBS if _gdb_single_steps() else PROGRAMS


def gdb_breakpoint_at(pc: int) -> bool:
    """A GDB breakpoint at the pc explains any SIGTRAP there (breakpoint.c:
    code_breakpoint::breakpoint_hit looks only at the address)."""
    return bool(breakpoints_at(pc))


def breakpoints_at(pc: int) -> Set[int]:
    """The GDB code breakpoints in the program at `pc` (the user's, the plugin's carriers)."""
    return {bp.number for bp in gdb.breakpoints()
            if bp.enabled and bp.type in (gdb.BP_BREAKPOINT, gdb.BP_HARDWARE_BREAKPOINT)
            and any(loc.enabled and loc.address == pc for loc in bp.locations)}


def lend_commands(signal: CaughtSignal, catchpoint: gdb.Breakpoint, commands: str) -> None:
    """The catchpoint stops for an hbreak-if in place of its carrier: the hbreak-if's
    `commands` run as the catchpoint's, until the next signal."""
    if not commands:
        return
    if signal.reporter is None:
        signal.reporter, signal.reporter_commands = catchpoint, catchpoint.commands or ""
    catchpoint.commands = (catchpoint.commands or "") + commands


def _gdb_single_steps() -> bool:
    """GDB single-steps every thread while a software watchpoint exists, and takes any
    SIGTRAP for the end of a step (infrun.c: currently_stepping, bpstat_should_step)."""
    return any(bp.enabled and bp.type == gdb.BP_WATCHPOINT for bp in gdb.breakpoints())


def _another_catchpoint_catches(name: str) -> bool:
    """A `catch signal` of the user's explains the signal, as without hbreak-if."""
    for bp in gdb.breakpoints():
        if (bp.type != gdb.BP_CATCHPOINT or not bp.enabled
                or registry.for_gdb_breakpoint(bp) is not None
                or carriers.is_shared_catchpoint(bp)):
            continue
        what = re.search(r'signals? "([^"]*)"',
                         gdb.execute(f"info breakpoints {bp.number}", to_string=True))
        if what is None:
            continue
        caught = what.group(1)
        if (caught == "<any signal>" or name in caught.split()
                or (caught == "<standard signals>" and name != "SIGTRAP")):
            return True
    return False


def _act_for_the_program(signal: CaughtSignal) -> None:
    signal.handling = handling(_name(signal.signo))
    if signal.handling.stop:
        _choose_reporter(signal)
    elif signal.handling.print:
        gdb.write(f"\n{_received(signal)}")


def _choose_reporter(signal: CaughtSignal) -> None:
    """The catchpoint that stops for the program: one GDB neither deletes (temporary) nor
    counts down (ignore count) and whose commands do not run, where there is one (the shared
    one has none of them)."""
    catchpoints = [carriers.shared_catchpoint()] + [bp.catchpoint for bp in registry
                                                    if not bp.kind.carried]
    enabled = [c for c in catchpoints if c is not None and c.is_valid() and c.enabled]
    if not enabled:
        return
    reporter = min(enabled, key=lambda c: (c.temporary, c.ignore_count > 0, bool(c.commands),
                                           c.number))
    signal.reporter = reporter
    if reporter.commands:
        signal.reporter_commands = reporter.commands
        reporter.commands = ""
    if reporter.ignore_count > 0:
        signal.reporter_ignore_count = reporter.ignore_count
        reporter.ignore_count = 0


def _restore_reporter(signal: CaughtSignal) -> None:
    catchpoint = signal.reporter
    if catchpoint is None or not catchpoint.is_valid():
        return
    if signal.reporter_commands is not None:
        catchpoint.commands = signal.reporter_commands
    if signal.reporter_ignore_count:
        catchpoint.ignore_count = signal.reporter_ignore_count


def keep_from_program(signal: CaughtSignal) -> None:
    """One of our signals must not reach the program: GDB passes it on resuming where
    `handle` says pass, so that says nopass until the next signal, stop, exit or prompt (Python
    sees no resume from inside GDB's event handling)."""
    global _passing_turned_off
    name = _name(signal.signo)
    if _passing_turned_off == name or not handling(name).passes:
        return
    _set_passing(name, False)
    _passing_turned_off = name


def _set_passing(name: str, passes: bool) -> None:
    confirm = gdb.parameter("confirm")
    gdb.execute("set confirm off", to_string=True)  # SIGTRAP asks "Are you sure"
    try:
        gdb.execute(f"handle {name} {'pass' if passes else 'nopass'}", to_string=True)
    finally:
        _handlings.pop(name, None)
        if confirm:
            gdb.execute("set confirm on", to_string=True)


def _restore_passing() -> None:
    global _passing_turned_off
    if _passing_turned_off is not None:
        name, _passing_turned_off = _passing_turned_off, None
        _set_passing(name, True)


def done_with_signal(*_) -> None:
    """GDB has resumed the thread, with or without its signal, or the program has exited, or
    GDB shows its prompt."""
    global _current
    _restore_passing()
    if _current is not None:
        _restore_reporter(_current)
        _current = None


def on_stop(event) -> None:
    """At a stop: report the program's signal as GDB would, or forget our own."""
    global _current
    signal, _current = _current, None
    forget_handlings()
    ours_turned_off = _passing_turned_off is not None
    _restore_passing()
    if signal is None:
        return
    _restore_reporter(signal)
    if not stopped_for(signal):
        return
    if signal.origin == OURS and ours_turned_off:
        gdb.execute("queue-signal 0", to_string=True)  # `continue` would pass it
    elif signal.origin == PROGRAMS and signal.reporter is not None:
        gdb.write(f"\n{_received(signal)}")
        _print_frame()
        gdb.execute("display")


def step_over_coming(thread) -> None:
    """`thread` hit a carrier (carriers.py): GDB steps it over the carrier's location when it
    resumes, and the shared catchpoint explains that step's SIGTRAP, which GDB then takes for
    the program's and passes on where `handle SIGTRAP pass` says so."""
    _stepping_over.add(thread.global_num)


def _carriers_trap(signal: CaughtSignal) -> bool:
    """A SIGTRAP of GDB's that is the plugin's: a carrier's int3, or the step over it."""
    if signal.signo != SIGTRAP:
        return False
    if signal.code == TRAP_TRACE and signal.thread_number in _stepping_over:
        _stepping_over.discard(signal.thread_number)
        return True
    return carriers.carries_at(signal.pc)


def forget_the_trap() -> None:
    """At a carrier's stop: `continue` would pass its SIGTRAP where `pass` is on."""
    if handling("SIGTRAP").passes:
        gdb.execute("queue-signal 0", to_string=True)


def stopped_for(signal: CaughtSignal) -> bool:
    """Whether GDB has stopped for SIGNAL (not for a later event: a signal nothing catches,
    an exit)."""
    thread = gdb.selected_thread()
    try:
        return thread is not None and _signal_of(thread).key == signal.key
    except gdb.error:
        return False  # no signal to show


def _print_frame() -> None:
    """The frame as GDB prints it at a stop: `frame` without its level, and a source file
    that cannot be read reported on stderr, as GDB does (source.c: print_sys_errmsg)."""
    location, _, source = gdb.execute("frame", to_string=True)[len("#0  "):].partition("\n")
    gdb.write(location + "\n")
    sal = gdb.selected_frame().find_sal()
    unreadable = (sal.symtab is not None
                  and source.startswith(f"{sal.line}\t{sal.symtab.filename}: "))
    gdb.write(source, gdb.STDERR if unreadable else gdb.STDOUT)


_highest_thread_number = 0


def note_new_thread(thread) -> None:
    """GDB names the thread in a signal's report once a second thread has existed
    (thread.c: show_thread_that_caused_stop); a new thread list starts again at 1."""
    global _highest_thread_number
    number = thread.global_num
    _highest_thread_number = 1 if number == 1 else max(_highest_thread_number, number)


def _received(signal: CaughtSignal) -> str:
    """GDB's line for a signal (infrun.c: print_signal_received_reason)."""
    inferiors = gdb.inferiors()
    # Threads that started before the plugin was loaded were never announced to it.
    live = [thread.global_num for inferior in inferiors for thread in inferior.threads()]
    if max(live + [_highest_thread_number]) > 1:
        thread = signal.thread
        number = (f"{thread.inferior.num}.{thread.num}"
                  if len(inferiors) > 1 or inferiors[0].num != 1 else f"{thread.num}")
        who = f"Thread {number}" + (f' "{thread.name}"' if thread.name else "")
    else:
        who = "Program"
    return f"{who} received signal {signal.handling.name}, {signal.handling.meaning}.\n"
