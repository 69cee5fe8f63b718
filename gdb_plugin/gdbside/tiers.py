"""The tiers, and which one a new breakpoint runs on (fallback.py: when the kernel says no).

A tier is how a breakpoint's hits are decided; `bp.tier` is one of the objects below.
On this machine (DESIGN §1): kernel (the predicate's verdict suppresses the hit),
kernel-signal (the predicate sends a real-time signal on a match), ptrace (every hit
reaches GDB, which evaluates the condition; the hit still comes from a perf breakpoint with
sigtrap, which needs no privilege).  On a remote target (remote.py): remote (gdbserver
evaluates GDB's own breakpoint condition), and remote-kernel and remote-kernel-signal (the
kernel there, through the agent beside gdbserver).  A new tier is a class here, and its
arming where its events are opened (arming.py here, agentlink.py through an agent).
"""
from typing import Dict, Tuple

import gdb

from ..agent.protocol import MAILBOX
from ..compiler import signal_on_match
from ..kernel.maps import thread_mailbox
from ..kernel.probe import (TIER_EXPLANATION, TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE,
                            probe)

REALTIME_SIGNAL = 40  # arrives at the breakpoint pc; never passed to the program (see signals)


class Tier:
    """How the hits of a breakpoint are decided."""

    name = ""
    decides_in_kernel = True  # a predicate decides each hit (else GDB or gdbserver decide all)
    signals = False           # the predicate signals a match; the hit itself raises nothing
    remote = False            # serves a program on a remote target

    @property
    def explanation(self) -> str:
        """What it does at a hit, as `info hbreak-if` and the MI records say it."""
        return TIER_EXPLANATION[self.name]

    def on_match(self, bp, agent=None):
        """What the predicate does on a match; `agent`: the remote target's agent that loads
        it (none: the program is compiled for its notes only)."""
        return bp.kind.stop_on_match(bp)

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    def __repr__(self) -> str:
        return f"<{self.name} tier>"


class KernelTier(Tier):
    name = TIER_KERNEL


class KernelSignalTier(Tier):
    name = TIER_KERNEL_SIGNAL
    signals = True

    def on_match(self, bp, agent=None):
        return signal_on_match(signal_number(), mailbox().fd, bp.number)


class PtraceTier(Tier):
    name = TIER_PTRACE
    decides_in_kernel = False


class RemoteTier(Tier):
    name = "remote"
    decides_in_kernel = False
    remote = True
    explanation = ("the remote target evaluates the condition at every hit (GDB's own breakpoint "
                   "with the condition, evaluated by gdbserver where it can)")


class RemoteKernelTier(Tier):
    name = "remote-kernel"
    remote = True
    explanation = ("the target's kernel evaluates the condition at every hit and stops the "
                   "program only when it is true (the agent beside gdbserver armed it)")


class RemoteKernelSignalTier(Tier):
    name = "remote-kernel-signal"
    signals = True
    remote = True
    explanation = ("the target's kernel evaluates the condition at every hit and signals the "
                   "thread when it is true (the agent beside gdbserver armed it; kernels before "
                   "6.10)")

    def on_match(self, bp, agent=None):
        # The agent puts its own mailbox where MAILBOX stands (agent/server.py).
        return signal_on_match(signal_number(), MAILBOX, bp.number,
                               agent.signal_namespace if agent is not None else None)


KERNEL, KERNEL_SIGNAL, PTRACE = KernelTier(), KernelSignalTier(), PtraceTier()
REMOTE, REMOTE_KERNEL, REMOTE_KERNEL_SIGNAL = (RemoteTier(), RemoteKernelTier(),
                                               RemoteKernelSignalTier())
LOCAL: Dict[str, Tier] = {tier.name: tier for tier in (KERNEL, KERNEL_SIGNAL, PTRACE)}
TIERS = ("auto", *LOCAL)


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
        return (f"New hbreak-if breakpoints use the best tier available: {result.tier} "
                f"({result.reasons[0]}).")


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


def choose_tier() -> Tuple[Tier, str]:
    """(tier, reason) for a new breakpoint, before looking at its condition."""
    forced = forced_tier()
    if forced is not None:
        return LOCAL[forced], f"forced by `set hbreak-if tier {forced}`"
    result = probe()
    return LOCAL[result.tier], result.reasons[0]


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

