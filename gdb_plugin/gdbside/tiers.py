"""The tiers, and which one a new breakpoint runs on (fallback.py: when the kernel says no).

A tier is how a breakpoint's hits are decided; `bp.tier` is one of the objects below.
On this machine (DESIGN §1): kernel (the predicate's verdict suppresses the hit),
kernel-signal (the predicate sends a real-time signal on a match), ptrace (GDB's own
conditional breakpoint: every hit reaches GDB, which evaluates the condition; a watchpoint's
hits come from a perf watchpoint with sigtrap, which needs no privilege).  On a remote
target (remote.py): remote (gdbserver evaluates GDB's own breakpoint condition), and
remote-kernel and remote-kernel-signal (the kernel there, through the agent beside
gdbserver).  A new tier is a class here, and its
arming where its events are opened (arming.py here, agentlink.py through an agent).
"""
from typing import Dict, Tuple

import gdb

from .. import arch
from ..agent.protocol import MAILBOX
from ..compiler import signal_on_match
from ..compiler.rewind import SNAPSHOT_WORDS, SnapshotAndSignal
from ..kernel.maps import thread_mailbox, thread_snapshots
from ..kernel.probe import (TIER_EXPLANATION, TIER_KERNEL, TIER_KERNEL_SIGNAL, TIER_PTRACE,
                            TIER_UPROBE, probe)
from .machine import program_arch, unsupported

REALTIME_SIGNAL = 40  # arrives at the breakpoint pc; never passed to the program (see signals)


class Tier:
    """How the hits of a breakpoint are decided."""

    name = ""
    decides_in_kernel = True  # a predicate decides each hit (else GDB or gdbserver decide all)
    signals = False           # the predicate signals a match; the hit itself raises nothing
    remote = False            # serves a program on a remote target
    int3 = False              # a code breakpoint's hits come from GDB's own int3 (carriers.py)

    @property
    def explanation(self) -> str:
        """What it does at a hit, as `info hbreak-if` and the MI records say it."""
        return TIER_EXPLANATION[self.name]

    def on_match(self, bp, agent=None, store=None):
        """What the predicate does on a match; `agent`: the remote target's agent that loads
        it (none: the program is compiled for its notes only); `store`: where the probed
        instruction stores (uprobes.py)."""
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

    def on_match(self, bp, agent=None, store=None):
        return signal_on_match(signal_number(), mailbox().fd, bp.number)


class PtraceTier(Tier):
    """GDB's own conditional breakpoint; a watchpoint's hits still come from a perf
    watchpoint, since an int3 cannot replay a data access."""
    name = TIER_PTRACE
    decides_in_kernel = False
    int3 = True


class UprobeTier(Tier):
    """GDB's int3 at each location, with a uprobe at the same address while the program
    continues: the kernel runs the uprobe's predicate before GDB sees the trap (uprobes.py)."""
    name = TIER_UPROBE
    signals = True
    int3 = True

    def on_match(self, bp, agent=None, store=None):
        return SnapshotAndSignal(signal_number(), mailbox().fd, snapshots().fd, bp.number,
                                 store, let_through().fd, uprobe_hits().fd)


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

    def on_match(self, bp, agent=None, store=None):
        # The agent puts its own mailbox where MAILBOX stands (agent/server.py).
        return signal_on_match(signal_number(), MAILBOX, bp.number,
                               agent.signal_namespace if agent is not None else None)


KERNEL, KERNEL_SIGNAL, PTRACE, UPROBE = (KernelTier(), KernelSignalTier(), PtraceTier(),
                                         UprobeTier())
REMOTE, REMOTE_KERNEL, REMOTE_KERNEL_SIGNAL = (RemoteTier(), RemoteKernelTier(),
                                               RemoteKernelSignalTier())
LOCAL: Dict[str, Tier] = {tier.name: tier for tier in (KERNEL, KERNEL_SIGNAL, PTRACE, UPROBE)}
TIERS = ("auto", *LOCAL)


class TierSetting(gdb.Parameter):
    """Which tier new hbreak-if breakpoints use.

auto picks the best tier this machine offers (found by a self-test at first use), and the
uprobe tier for a breakpoint the hardware has no debug register left for;
kernel, kernel-signal, ptrace and uprobe force one."""

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


def choose_tier(code: bool = True) -> Tuple[Tier, str]:
    """(tier, reason) for a new breakpoint (`code`; else a watchpoint), before looking at its
    condition."""
    forced = forced_tier()
    if forced is not None and (code or LOCAL[forced] is not UPROBE):
        return LOCAL[forced], f"forced by `set hbreak-if tier {forced}`"
    machine = program_arch()
    if machine is None:
        return PTRACE, unsupported()
    here = arch.of_machine()
    if machine is not here:  # a remote target's program: remote.py serves it once connected
        return PTRACE, (f"the program is for {machine.name}, and this machine's kernel "
                        f"({here.name if here is not None else 'unknown'}) cannot run it")
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


_snapshots = None


def snapshots():
    """What a uprobe's predicate kept of a thread that matched, by thread id (compiler/rewind)."""
    global _snapshots
    if _snapshots is None:
        _snapshots = thread_snapshots(SNAPSHOT_WORDS)
    return _snapshots


_let_through = None
_uprobe_hits = None


def uprobe_hits():
    """The hits of each uprobe-tier breakpoint that did not stop, by its number (armed ones
    only: GDB makes the entry)."""
    global _uprobe_hits
    if _uprobe_hits is None:
        _uprobe_hits = thread_mailbox()
    return _uprobe_hits


def let_through():
    """Threads let in at an address for another breakpoint's int3, by thread id: a uprobe
    there signals them whatever its condition (compiler/rewind)."""
    global _let_through
    if _let_through is None:
        _let_through = thread_mailbox()
    return _let_through


def signal_name():
    return f"SIG{REALTIME_SIGNAL}"

