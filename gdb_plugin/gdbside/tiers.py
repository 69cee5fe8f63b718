"""Which tier a breakpoint runs on (falling back when the kernel says no: fallback.py).

Tiers (DESIGN §1): kernel (the predicate's verdict suppresses the hit),
kernel-signal (the predicate sends a real-time signal on a match), ptrace
(every hit reaches GDB, which evaluates the condition).  In the ptrace tier
the hit still comes from a perf breakpoint with sigtrap, which needs no
privilege.
"""
import gdb

from ..kernel.maps import thread_mailbox
from ..kernel.probe import TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE, probe

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

