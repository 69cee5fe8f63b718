"""The remote tier: an inferior on another machine or pid namespace gets GDB's own breakpoint.

No perf event can reach a process this machine does not run, so while such an
inferior is live each hbreak-if is served by an internal GDB breakpoint at its
location carrying its condition, which GDB hands to the target: gdbserver then
evaluates the condition at each hit (`set breakpoint condition-evaluation`,
target side where the stub can), exactly as for `hbreak LOCATION if CONDITION`
over that connection.  A hardware breakpoint while debug registers are left (x86
has four), a software one after.  Stops, commands, ignore counts, the thread and
the enabled state follow the hbreak-if.
"""
import gdb

from . import arming, carriers, ignore, whereabouts
from .leftovers import delete_later
from .machine import program_arch
from .model import HBreakIf, registry
from .tiers import (KERNEL_SIGNAL, PTRACE, REMOTE, REMOTE_KERNEL, REMOTE_KERNEL_SIGNAL, Tier,
                    choose_tier, forced_tier)

DEBUG_REGISTERS = 4
_HARDWARE = (gdb.BP_HARDWARE_BREAKPOINT, gdb.BP_HARDWARE_WATCHPOINT, gdb.BP_READ_WATCHPOINT,
             gdb.BP_ACCESS_WATCHPOINT)


class RemoteBreakpoint(gdb.Breakpoint):
    """GDB's own conditional breakpoint standing in for hbreak-if `owner` on a remote target:
    it follows the owner's enabled state, thread, commands, ignore count and condition."""

    def __init__(self, owner: HBreakIf):
        super().__init__(owner.location, internal=True,
                         type=gdb.BP_HARDWARE_BREAKPOINT if _debug_register_left()
                         else gdb.BP_BREAKPOINT)
        self.owner = owner
        self.silent = True
        self.mirror()

    def mirror(self):
        owner = self.owner
        self.enabled = owner.enabled
        self.thread = owner.thread.global_num if owner.thread is not None else None
        self.commands = owner.catchpoint.commands or ""
        if self.condition != owner.gdb_condition:
            self.condition = owner.gdb_condition
        if owner.catchpoint.ignore_count > 0:
            # The catchpoint never stops here: the count belongs to the breakpoint that does.
            self.ignore_count, owner.catchpoint.ignore_count = owner.catchpoint.ignore_count, 0


def _debug_register_left() -> bool:
    """Fewer hardware breakpoints and watchpoints enabled than x86 has debug registers
    (gdb.breakpoints() lists the ones Python made too)."""
    return sum(b.type in _HARDWARE for b in gdb.breakpoints() if b.enabled) < DEBUG_REGISTERS


def follow() -> None:
    """Serve a live remote inferior with GDB's own breakpoints, or through the agent beside
    its gdbserver where one is set and proved the process; once a process of this machine
    runs, back to the kernel here (not at the remote one's exit: GDB would then try to
    remove breakpoints from a process that is gone)."""
    places = [whereabouts.locate(inferior) for inferior in gdb.inferiors()]
    elsewhere = next((place for place in places if place.remote), None)
    by_agent = next((place for place in places if place.agent is not None), None)
    if elsewhere is not None:
        serve(elsewhere.why)
    elif by_agent is not None:
        machine = program_arch()
        if machine is not None and machine.agent_problem:
            serve(f"{by_agent.why}; {machine.agent_problem}")
        else:
            serve(by_agent.why, by_agent.agent)
    elif any(place.pid is not None for place in places):
        release()


def serve(why: str, agent=None) -> None:
    """A remote inferior is live: every code breakpoint moves to the remote tier, or, through
    `agent`, to the target's kernel."""
    by_agent = agent is not None
    for bp in registry:
        if not bp.catchpoint.is_valid():
            continue
        if (bp.remote is not None, bp.by_agent) == (not by_agent, by_agent):
            if bp.tier.remote:
                bp.reason = why  # served so already; the process may be another (a fork child)
            continue
        if bp.remote is not None or bp.by_agent:
            _back_home(bp)
        if bp.kind.needs_local_kernel:
            if bp.unarmable is None:
                bp.unarmable = (f"{bp.kind.name} {bp.number} needs the kernel of the machine the "
                                f"program runs on: {why}")
                _left_unarmed.add(bp)
                gdb.write(f"warning: {bp.unarmable}; it is not armed there. GDB's own "
                          "`watch`/`break ... if` can serve the remote program.\n", gdb.STDERR)
            continue
        bp.local_tier = (bp.tier, bp.reason)
        # A count the kernel of this machine kept: GDB counts it now.
        if ignore.give_back_to_gdb(bp):
            arming.forget(bp)
        if by_agent:
            bp.by_agent = True
            if _machine_gave_tier(bp):  # the target's kernel tiers, the ones agents offer
                signals = (agent.signal_namespace is not None
                           and KERNEL_SIGNAL.name in (agent.tier, forced_tier()))
                _switch(bp, REMOTE_KERNEL_SIGNAL if signals else REMOTE_KERNEL, why)
        else:
            bp.tier, bp.reason = REMOTE, why
            bp.remote = RemoteBreakpoint(bp)
            carriers.keep_out_all(bp.catchpoint, bp)


def _machine_gave_tier(bp: HBreakIf) -> bool:
    """Whether `bp` has its tier from this machine's kernel, not from its condition, a
    fallback or `set hbreak-if tier ptrace`."""
    if forced_tier() == PTRACE.name:
        return False
    return bp.tier is not PTRACE or (bp.tier, bp.reason) == choose_tier()


def release() -> None:
    """The program runs on this machine again: back to the tiers this machine gives."""
    for bp in registry:
        if bp.remote is not None or bp.by_agent:
            _back_home(bp)
        elif bp in _left_unarmed:
            bp.unarmable = None
    _left_unarmed.clear()


_left_unarmed = set()  # kernel-only kinds a remote program left without events


def _back_home(bp: HBreakIf) -> None:
    """`bp` as it was on this machine, before a remote program was served."""
    retire(bp)
    bp.by_agent = False
    if bp.local_tier is not None:
        _switch(bp, *bp.local_tier)
        bp.local_tier = None
    carriers.keep_out_all(bp.catchpoint, bp)


def _switch(bp: HBreakIf, tier: Tier, reason: str) -> None:
    """`bp` moves to `tier`: what was armed and compiled for the tier it leaves goes (an event
    raises SIGTRAP or not, a predicate that signals names one machine's mailbox)."""
    if tier is not bp.tier:
        arming.forget(bp)
    bp.tier, bp.reason = tier, reason


def retire(bp: HBreakIf) -> None:
    """Stop using `bp`'s remote breakpoint."""
    carrier, bp.remote = bp.remote, None
    if carrier is not None:
        delete_later(carrier)


def stopped_owners(event):
    """The hbreak-ifs whose remote breakpoints this stop reports."""
    return [b.owner for b in getattr(event, "breakpoints", ()) if isinstance(b, RemoteBreakpoint)]

