"""Recognizing our hits among SIGTRAPs, and GDB's re-check of the condition (stops.py reports).

A single step that lands on an armed address is that address's hit, decided and
reported there as GDB does for its own breakpoints, before the hardware sees it;
the resume flag then lets the thread pass the breakpoint once, as after a hit
the hardware reports.

GDB evaluates the catchpoint conditions `$_hbreak_if_hit(N)` for every SIGTRAP
and SIG40 it catches (N = 0: the catchpoint the code breakpoints share; N: an
hwatch-if's); signals.py says whose signal it is, and handles the program's own.
A hit is ours when the perf event says so (si_code TRAP_PERF, si_perf_data = N) or,
in the signal tiers, when our real-time signal comes with the predicate's note.
A code breakpoint's hit is then carried by GDB's own breakpoint (carriers.py),
which checks the whole condition; an hwatch-if's is checked here, as GDB checks
its own conditions: the kernel filter only ever over-approximates.  A false
condition makes GDB resume silently, without passing the signal.
"""
from typing import List, Optional, Tuple

import gdb

from . import carriers, passing, uprobes, whereabouts
from .agentlink import AgentError
from .ignore import ignored_by_gdb
from .model import AT_FUNCTION, HIT_FUNCTION, HBreakIf, registry
from .signals import (OURS, PROGRAMS, SI_KERNEL, SIGTRAP, TRAP_PERF, TRAP_TRACE, CaughtSignal,
                      breakpoints_at, caught_signal, keep_from_program, lend_commands,
                      step_over_coming)
from .tiers import KERNEL_SIGNAL, mailbox, signal_number


# Hits accepted by conditions, waiting for the stop event, and the signal they came with.
_pending: List[HBreakIf] = []
_pending_signal: Optional[CaughtSignal] = None


def _classify(bp: HBreakIf, signal: CaughtSignal) -> str:
    """"hit" (the event of `bp`), "landing" (a single step onto its address) or "other"."""
    pc = signal.pc
    if (signal.signo == SIGTRAP and signal.code == TRAP_TRACE and bp.uses_perf
            and pc in bp.addresses()):
        return "landing"
    if bp.tier.signals:
        if signal.signo != signal_number() or signal.code != SI_KERNEL:
            return "other"
        return "hit" if _took_note(bp, signal) else "other"
    if bp.kind.notes_hits and signal.signo == SIGTRAP and signal.code == TRAP_TRACE:
        # A single step that made a matching access: one SIGTRAP for both, the step's.
        return "hit" if _took_note(bp, signal) else "other"
    if signal.code == TRAP_PERF:
        if signal.sig_data == bp.number:
            if bp.kind.notes_hits:
                _took_note(bp, signal)  # the hit's SIGTRAP came: its note is spent
            return "hit"
        # Breakpoints at one address all trap at once, but one SIGTRAP is all the thread gets
        # (a pending standard signal is not queued twice): each decides at the stop it causes.
        other = registry.get(signal.sig_data)
        if other is not None and pc in bp.addresses() and pc in other.addresses():
            return "hit"
    return "other"


def _took_note(bp: HBreakIf, signal: CaughtSignal) -> bool:
    """Whether the predicate noted a stopping hit of `bp` on the signal's thread (the note is
    taken away)."""
    key = signal.thread.ptid[1] << 32 | bp.number
    if bp.by_agent:
        try:
            return whereabouts.locate(signal.thread.inferior).agent.took_note(key)
        except AgentError:
            return True  # the agent cannot tell (it is being replaced): GDB decides
    if mailbox().get(key) is None:
        return False
    mailbox().delete(key)
    return True


def drop_stale_notes(event=None) -> None:
    """At a stop, the notes of watchpoint hits left untaken are of accesses made while GDB
    stepped over a breakpoint of its own (it takes that SIGTRAP for its step and asks no
    catchpoint): such a hit is lost (README), and its note must not make a later step one."""
    watches = {bp.number for bp in registry
               if bp.kind.notes_hits and bp.tier is not KERNEL_SIGNAL}
    if not watches:
        return
    for key in mailbox().keys():
        if key & 0xFFFFFFFF in watches:
            mailbox().delete(key)


def condition_holds(bp: HBreakIf) -> bool:
    """GDB's own verdict on the condition in the stopped frame; errors stop, as in GDB."""
    condition = bp.gdb_condition
    if not condition:
        return True
    try:
        bp.kind.before_condition(bp)
        return bool(gdb.parse_and_eval(condition))
    except gdb.error as error:
        gdb.write(f"Error in testing condition for {bp.kind.name} {bp.number}:\n{error}\n",
                  gdb.STDERR)
        return True


def accept(bp: HBreakIf) -> bool:
    """Whether this hit of `bp` stops the program; remembers it for the report."""
    if not condition_holds(bp) or ignored_by_gdb(bp):
        return False
    _pending.append(bp)
    return True


class HitFunction(gdb.Function):
    """$_hbreak_if_hit(N) - whether the current SIGTRAP is a hit of hwatch-if N that stops.

The condition of each hwatch-if's catchpoint; $_hbreak_if_hit(0), of the catchpoint shared by
the code breakpoints, lets their carriers in for the hits the kernel let through."""

    def __init__(self):
        super().__init__(HIT_FUNCTION)

    def invoke(self, number, *_command):  # the command that sets it again: saved.py
        try:
            return self._decide(int(number))
        except Exception as error:  # never a traceback, and never a lost hit
            gdb.write(f"warning: hbreak-if {int(number)}: {type(error).__name__}: {error}; "
                      "stopping to be safe\n", gdb.STDERR)
            return 1

    @staticmethod
    def _decide(number):
        global _pending_signal
        if number == 0:
            reporter, bps = carriers.shared_catchpoint(), [b for b in registry if b.kind.carried]
        else:
            bp = registry.get(number)
            reporter, bps = (bp.catchpoint, [bp]) if bp is not None else (None, [])
        thread = gdb.selected_thread()
        if reporter is None or thread is None:
            return 0
        try:
            signal = caught_signal(thread, reporter.number)
        except gdb.error:
            return 0
        if signal is not _pending_signal:
            # Hits accepted at an earlier signal did not stop (GDB's ignore count).
            _pending.clear()
            _pending_signal = signal
        if signal.origin == PROGRAMS:
            return 1 if signal.stops_at(reporter) else 0
        # GDB breakpoints in the program at the pc when a SIGTRAP came: GDB takes it for theirs
        # and steps over them on resuming, so a carrier let in now would not be run into.
        inserted = (breakpoints_at(signal.pc) if signal.origin == OURS and signal.signo == SIGTRAP
                    else set())
        stops = 0
        for bp in bps:
            if HitFunction._hit_stops(bp, thread, signal, inserted):
                stops = 1
                if bp.kind.carried:
                    lend_commands(signal, reporter, bp.catchpoint.commands or "")
        if signal.origin == OURS:
            # After the condition, whose function calls resume the program (and undo this).
            keep_from_program(signal)
        return stops

    @staticmethod
    def _hit_stops(bp, thread, signal, inserted):
        if not bp.wants_thread(thread):
            return 0
        kind = _classify(bp, signal)
        if kind == "hit":
            if bp.kind.retried(bp, thread):
                return 0
            if not bp.kind.carried:
                return 1 if accept(bp) else 0
            if bp.number in inserted:
                return 0  # its carrier is in: GDB decides at this very stop
            if inserted:
                return 1 if accept(bp) else 0
            if bp.ignore_counter is not None and bp.ignore_counter[0] > 0:
                # A hit the kernel was unsure of, while it still counts: GDB counts it here.
                if condition_holds(bp):
                    ignored_by_gdb(bp)
                return 0
            if uprobes.serves(bp):
                # GDB's int3 is in: the thread, put back before the instruction, traps there.
                return 0 if uprobes.put_back(bp, thread) else (1 if accept(bp) else 0)
            carriers.let_in(bp, signal.pc, thread)
            return 0
        if kind == "landing":
            # The step's arrival is the hit, decided here as GDB decides its own: the thread
            # passes the breakpoint on resume, so the hardware neither reports nor counts it.
            passing.pass_once(thread, signal.pc)
            bp.hits_outside_open_events += 1
            return 1 if accept(bp) else 0
        return 0


class AtFunction(gdb.Function):
    """$_hbreak_if_at(N, "COMMAND") - 1; opens the condition of hbreak-if N's carrier, which it
keeps out of the program again (carriers.py).  COMMAND sets N again: saved.py."""

    def __init__(self):
        super().__init__(AT_FUNCTION)

    def invoke(self, number, *_command):
        try:
            bp = registry.get(int(number))
            thread = gdb.selected_thread()
            if bp is not None and bp.catchpoint.is_valid() and thread is not None:
                carriers.carried(bp, int(gdb.parse_and_eval("$pc")), thread)
                step_over_coming(thread)
        except Exception as error:  # never a traceback: GDB's own breakpoint decides the stop
            gdb.write(f"warning: hbreak-if {int(number)}: {type(error).__name__}: {error}\n",
                      gdb.STDERR)
        return 1


def take_accepted() -> Tuple[List[HBreakIf], Optional[CaughtSignal]]:
    """The hits accepted since the last signal, taken away, and that signal."""
    accepted = list(_pending)
    _pending.clear()
    return accepted, _pending_signal
