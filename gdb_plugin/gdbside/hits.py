"""Recognizing our hits among SIGTRAPs, GDB's re-check of the condition, and the stop report.

GDB evaluates the catchpoint condition `$_hbreak_if_hit(N)` for every SIGTRAP
it does not consume itself.  A hit is ours when the perf event says so
(si_code TRAP_PERF, si_perf_data = N) or, in the kernel-signal tier, when
our real-time signal arrives at one of N's addresses.  GDB then evaluates the
whole condition, as for its own conditional breakpoints: the kernel filter
only ever over-approximates.  A false condition makes GDB resume silently,
since the catchpoint explains the signal and SIGTRAP is not passed.
"""
from typing import Dict, Optional

import gdb

from ..kernel.probe import TIER_KERNEL_SIGNAL
from . import arming
from .model import HIT_FUNCTION, HBreakIf, registry

TRAP_PERF = 6
SI_KERNEL = 0x80  # the si_code of signals sent by bpf_send_signal_thread
CONVENIENCE = "_hbreak_if"

# Hits accepted by a condition, waiting for the stop event: {global thread number: breakpoint}.
_pending: Dict[int, HBreakIf] = {}


def _siginfo_says_ours(bp: HBreakIf) -> bool:
    siginfo = gdb.parse_and_eval("$_siginfo")
    if bp.tier == TIER_KERNEL_SIGNAL:
        from .tiers import signal_number
        return (int(siginfo["si_signo"]) == signal_number()
                and int(siginfo["si_code"]) == SI_KERNEL
                and int(gdb.selected_frame().pc()) in bp.addresses())
    return (int(siginfo["si_code"]) == TRAP_PERF
            and int(siginfo["_sifields"]["_timer"]["si_sigval"]["sival_ptr"]) == bp.number)


def condition_holds(bp: HBreakIf) -> bool:
    """GDB's own verdict on the condition in the stopped frame; errors stop, as in GDB."""
    if not bp.condition:
        return True
    try:
        return bool(gdb.parse_and_eval(bp.condition))
    except gdb.error as error:
        gdb.write(f"Error in testing condition for hbreak-if {bp.number}:\n{error}\n",
                  gdb.STDERR)
        return True


def accept(bp: HBreakIf) -> bool:
    """Whether this hit of `bp` stops the program; remembers it for the report."""
    if not condition_holds(bp):
        return False
    thread = gdb.selected_thread()
    if thread is not None:
        _pending[thread.global_num] = bp
    return True


class HitFunction(gdb.Function):
    """$_hbreak_if_hit(N) - whether the current SIGTRAP is a hit of hbreak-if N that stops.

Used as the condition of the catchpoint behind each hbreak-if breakpoint."""

    def __init__(self):
        super().__init__(HIT_FUNCTION)

    def invoke(self, number):
        bp = registry.get(int(number))
        try:
            ours = bp is not None and _siginfo_says_ours(bp)
        except gdb.error:
            ours = False
        return 1 if ours and accept(bp) else 0


def _frame_line() -> str:
    text = gdb.execute("frame", to_string=True)
    return text.split("  ", 1)[1] if text.startswith("#0") else text


def report_stop(event) -> None:
    """Print the hit like a breakpoint hit, once GDB has stopped for it."""
    thread = gdb.selected_thread()
    bp: Optional[HBreakIf] = _pending.pop(thread.global_num, None) if thread else None
    _pending.clear()
    if bp is None:
        return
    bp.stops += 1
    hits = arming.kernel_hits(bp)
    filtered = max(0, hits - bp.hits_at_last_stop - 1)
    bp.hits_at_last_stop = hits
    gdb.set_convenience_variable(CONVENIENCE, bp.number)
    gdb.write(f"\nhbreak-if {bp.number}, {_frame_line()}")
    if bp.uses_perf and bp.tier != "ptrace" and filtered:
        plural = "" if filtered == 1 else "s"
        gdb.write(f"({filtered:,} hit{plural} filtered in the kernel since the last stop)\n")
