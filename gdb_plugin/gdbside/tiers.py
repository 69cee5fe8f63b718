"""Which tier a breakpoint runs on, and falling back when the kernel says no.

Tiers (DESIGN §1): kernel (the predicate's verdict suppresses the hit),
kernel-signal (the predicate sends a real-time signal on a match), ptrace
(every hit reaches GDB, which evaluates the condition).  In the ptrace tier
the hit still comes from a perf breakpoint with sigtrap, which needs no
privilege; only when the kernel refuses that (no free debug register, file
descriptor or memory) does a software breakpoint take its place.
"""
import gdb

from ..kernel.maps import thread_mailbox
from ..kernel.probe import TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE, probe
from .model import HBreakIf

TIERS = ("auto", TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE)
REALTIME_SIGNAL = 40  # arrives at the breakpoint pc; never passed to the program (see signals)


class TierSetting(gdb.Parameter):
    """Which tier new hbreak-if breakpoints use.

auto picks the best tier this machine offers (found by a self-test at first use);
kernel, kernel-signal and ptrace force one."""

    set_doc = "Set the tier new hbreak-if breakpoints use."
    show_doc = "Show the tier new hbreak-if breakpoints use."

    def __init__(self):
        super().__init__("hbreak-if tier", gdb.COMMAND_BREAKPOINTS, gdb.PARAM_ENUM, list(TIERS))
        self.value = "auto"

    def get_show_string(self, value):
        if value != "auto":
            return f"New hbreak-if breakpoints use the {value} tier (forced)."
        result = probe()
        return f"New hbreak-if breakpoints use the best tier available: {result.tier} ({result.reasons[0]})."


_setting = None


class _SettingsPrefix(gdb.Command):
    def __init__(self, verb):
        super().__init__(f"{verb} hbreak-if", gdb.COMMAND_BREAKPOINTS, prefix=True)


def install_setting():
    global _setting
    if _setting is None:
        for verb in ("set", "show"):
            _SettingsPrefix(verb).__doc__ = f"{verb.capitalize()} hbreak-if settings."
        _setting = TierSetting()


def forced_tier():
    """The tier `set hbreak-if tier` forces, or None."""
    forced = _setting.value if _setting is not None else "auto"
    return None if forced == "auto" else forced


def choose_tier():
    """(tier, reason) for a new breakpoint, before looking at its condition."""
    forced = forced_tier()
    if forced is not None:
        return forced, f"forced by `set hbreak-if tier {forced}`"
    result = probe()
    return result.tier, result.reasons[0]


def signal_number():
    return REALTIME_SIGNAL


_mailbox = None


def mailbox():
    """Which breakpoint a kernel-signal predicate matched, by thread id: the signal cannot say."""
    global _mailbox
    if _mailbox is None:
        _mailbox = thread_mailbox()
    return _mailbox


def signal_name():
    return f"SIG{REALTIME_SIGNAL}"


def fall_back(bp: HBreakIf, cause, to_software: bool) -> None:
    """The kernel refused `bp` something: from now on GDB decides its hits, with one warning.

    A refused predicate (verifier, permission) leaves the perf breakpoints, which need no
    privilege.  A refused perf breakpoint (descriptors, memory, debug registers) leaves a
    software breakpoint, in every thread: every tier needs the perf breakpoint, and GDB's int3
    is in the memory all threads share, so arming the other threads would spare them nothing."""
    from .software import SoftwareBreakpoint
    if bp.watch is not None:
        bp.unarmable = str(cause)
        gdb.write(f"warning: hwatch-if {bp.number} cannot be armed: {cause}\n"
                  f"GDB's own `watch -location {bp.watch.expression}` with a condition does the "
                  "same without the kernel.\n", gdb.STDERR)
        return
    previous = bp.tier
    bp.tier, bp.reason = TIER_PTRACE, str(cause)
    if to_software or previous == TIER_PTRACE:
        bp.software = SoftwareBreakpoint(bp)
        how = "a software breakpoint, and GDB evaluates the condition at every hit"
    else:
        how = "GDB evaluates the condition at every hit"
    if previous == TIER_PTRACE:
        change = f"hbreak-if {bp.number} uses a software breakpoint instead of perf breakpoints"
    else:
        change = f"hbreak-if {bp.number} falls back from the {previous} tier to the ptrace tier"
    gdb.write(f"warning: hbreak-if {bp.number}: {cause}\n{change}: {how}.\n", gdb.STDERR)
