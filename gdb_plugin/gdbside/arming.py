"""Perf breakpoints on the threads of live inferiors, kept in step with the breakpoints.

`sync()` is the one way in: it computes which (breakpoint, address) pairs
should be armed in each process and opens or closes the difference, so every
lifecycle event (run, new thread, library load, exec, enable, delete) just
calls it.

A breakpoint at an address is one perf event per thread that exists when it is
armed, opened with `inherit`: the kernel copies it, with its program and
sig_data, into every thread such a thread creates (and `inherit_thread` into
no forked process), and counts the copies' hits in it (measured on 6.18 and
6.1: tests/test_kernel_perf.py).  So a thread created later costs neither a
descriptor nor a system call, and is armed before it runs its first
instruction.

A process on a remote target is armed the same way by the agent beside its
gdbserver (agentlink.py): GDB compiles the predicates, the agent opens the events.
"""
import errno
import functools
import itertools
import threading
from typing import Dict, Optional, Tuple

import gdb

from ..kernel import procfs
from ..kernel.errors import KernelError
from ..kernel.exitwatch import ExitWatch
from ..kernel.perf import PerfBreakpoint
from . import ignore, passing, uprobes, whereabouts
from .agentlink import AgentError, AgentLink, Refused
from .fallback import fall_back, fall_back_at
from .model import HBreakIf, registry
from .predicates import CountNotExact, Predicate, PredicateError, program_for, program_image
from .tiers import PTRACE

GroupKey = Tuple[int, int]  # (breakpoint number, address)
# Listings of the threads while arming a process that runs (GDB's new_thread event), until one
# shows no thread the previous missed; short of that, the next sync goes on.
LISTINGS = 8


# Loaded predicates by (breakpoint number, address, program image), shared by every process
# of that image: a forked child is armed with its parent's program, without compiling in the
# middle of GDB's fork handling.  Dropped when the breakpoint changes.
ProgramKey = Tuple[int, int, Tuple[str, float]]
_programs: Dict[ProgramKey, Optional[Predicate]] = {}


def forget_programs(number: int, keep=()) -> None:
    """Drop the programs of breakpoint `number`, except at the addresses in `keep`."""
    for key in [k for k in _programs if k[0] == number and k[1] not in keep]:
        program = _programs.pop(key)
        if program is not None:
            program.close()
    uprobes.forget(number, keep)


class EventGroup:
    """The events of one breakpoint at one address in one process, by thread.  Closing an event
    also removes the copies in the threads its thread created, so each stays open, even after
    its thread exited, as long as the group."""

    def __init__(self, inherited: bool):
        self.events: Dict[int, PerfBreakpoint] = {}
        self.inherited = inherited  # the threads created from here on get copies
        self.complete = False       # every thread of the process has the event or a copy

    def hits(self) -> int:
        total = 0
        for event in self.events.values():
            try:
                total += event.count()
            except KernelError:
                pass
        return total

    def threads_armed(self, live) -> int:
        return len(live) if self.complete else len(live & self.events.keys())

    def close(self) -> None:
        for event in self.events.values():
            event.close()
        self.events.clear()


class InferiorArming:
    """The perf events of one process.  When another process traces it (a gdbserver of this
    machine), its events are disabled the moment that tracer exits: the process then runs on
    untraced, and GDB learns of it only at its next exchange with the target."""

    def __init__(self, pid: int, tracer: Optional[int] = None,
                 agent: Optional[AgentLink] = None):
        self.pid = pid
        self.agent = agent  # the remote target's agent, which holds the events there
        self.groups: Dict[GroupKey, object] = {}  # EventGroup, or AgentGroup with an agent
        self._lock = threading.Lock()  # the tracer's watch disables events from its thread
        self.tracer_gone = False
        self._tracer_watch = ExitWatch(tracer, self.disable_all) if tracer else None

    def disable_all(self) -> None:
        with self._lock:
            self.tracer_gone = True
            for group in list(self.groups.values()):
                for event in list(group.events.values()):
                    try:
                        event.disable()
                    except KernelError:
                        pass

    def close_group(self, key: GroupKey) -> None:
        with self._lock:
            group = self.groups.pop(key)
        bp = registry.get(key[0])
        if bp is not None:
            bp.hits_outside_open_events += group.hits()
        group.close()

    def close(self) -> None:
        if self._tracer_watch is not None:
            self._tracer_watch.stop()
        for key in list(self.groups):
            self.close_group(key)

    def hits(self, number: int) -> int:
        return sum(group.hits() for key, group in self.groups.items() if key[0] == number)

    def mappings(self):
        """(start, end, executable) of each mapping of the process."""
        if self.agent is None:
            return procfs.mappings(self.pid)
        try:
            return self.agent.mappings()
        except AgentError:
            return []  # nothing is armed until the agent answers again


class AgentGroup:
    """The events of one breakpoint at one address, held by a remote target's agent: one per
    thread the process had, copied into the threads they create, as EventGroup's."""

    complete = True

    def __init__(self, agent: AgentLink, key: int):
        self.agent = agent
        self.key: Optional[int] = key  # None once disarmed
        self._final_hits = 0

    def hits(self) -> int:
        if self.key is None:
            return self._final_hits
        try:
            return self.agent.count(self.key)
        except AgentError:
            return 0  # the process is gone, and its counts with it

    def threads_armed(self, live) -> int:
        return len(live)

    def close(self) -> None:
        if self.key is not None:
            try:
                self._final_hits = self.agent.disarm(self.key)
            except AgentError:
                pass
            self.key = None


_armings: Dict[int, InferiorArming] = {}
_agent_keys = itertools.count()  # names of event groups for the agents, never reused


def _live_threads(inferior):
    return [t for t in inferior.threads() if t.is_valid() and t.ptid[1] > 0]


def _arming_for(inferior, place) -> InferiorArming:
    arming = _armings.get(inferior.num)
    if arming is not None and (arming.pid, arming.agent) != (place.pid, place.agent):
        arming.close()
        arming = None
    if arming is None:
        arming = _armings[inferior.num] = InferiorArming(place.pid, place.other_tracer,
                                                         place.agent)
    return arming


def disarm(inferior) -> None:
    """Close every event of `inferior`: it exited, exec'd, or GDB lets it go."""
    arming = _armings.pop(inferior.num, None)
    if arming is not None:
        arming.close()
        for bp in registry:  # the next process's first stop counts its own filtered hits
            bp.hits_at_last_stop = kernel_hits(bp)


def disarm_all() -> None:
    for num in list(_armings):
        _armings.pop(num).close()


def forget(bp: HBreakIf, keep=()) -> None:
    """Drop the events and programs of `bp` everywhere (deleted or changed), except at the
    addresses in `keep`."""
    for arming in _armings.values():
        for key in [k for k in arming.groups if k[0] == bp.number and k[1] not in keep]:
            arming.close_group(key)
    forget_programs(bp.number, keep)


def recompile(bps) -> None:
    """Compile `bps` again for this program image, then move their events to the new programs.

    A GDB command run from a stop handler first runs that stop's breakpoint `commands`, which
    may resume the program: until the move, the old events stay armed (their programs let
    through what they could not decide), so a hit that comes meanwhile still stops."""
    image = program_image(gdb.selected_inferior())
    fresh = {}
    for key in [k for k in _programs if k[2] == image]:
        bp = registry.get(key[0])
        if bp not in bps:
            continue
        try:
            fresh[key] = program_for(bp, key[1])
        except Exception:  # the next sync compiles it again and says why it fails
            pass
    for bp in bps:
        if registry.get(bp.number) is bp:
            forget(bp)
    for key, program in fresh.items():
        bp = registry.get(key[0])
        if bp is not None and bp.enabled and bp.tier is not PTRACE:
            _programs[key] = program
        elif program is not None:
            program.close()
    sync_all()


def kernel_hits(bp: HBreakIf) -> int:
    """Every time a thread reached the location, whether the condition held or not."""
    software = bp.software_hits  # GDB's int3, where it serves a location or the breakpoint
    # On a remote target the target decides; GDB sees only the hits that stop.
    seen_remotely = bp.remote.hit_count if bp.remote is not None and bp.remote.is_valid() else 0
    return (bp.hits_outside_open_events + software + seen_remotely
            + sum(a.hits(bp.number) for a in _armings.values()) - passing.passed(bp.number))


def threads_armed(bp: HBreakIf) -> int:
    """Live threads with an event of `bp` (at its first address armed, if it has several); with a
    software breakpoint, every live thread it stops."""
    if bp.software:
        return sum(1 for inferior in gdb.inferiors() for t in _live_threads(inferior)
                   if bp.wants_thread(t))
    total = 0
    for inferior in gdb.inferiors():
        arming = _armings.get(inferior.num)
        if arming is not None:
            live = {t.ptid[1] for t in _live_threads(inferior)}
            total += max((group.threads_armed(live) for key, group in arming.groups.items()
                          if key[0] == bp.number), default=0)
    return total


def sync_all() -> None:
    for inferior in gdb.inferiors():
        sync(inferior)


def sync(inferior) -> None:
    place = whereabouts.locate(inferior)
    if place.pid is None:  # nothing of this machine to arm (remote.py serves remote ones)
        disarm(inferior)
        return
    threads = _live_threads(inferior)
    if not threads:
        return
    arming = _arming_for(inferior, place)
    image = program_image(inferior)
    mapped = functools.lru_cache(maxsize=None)(arming.mappings)
    wanted = set().union(*(_wanted(bp, arming, mapped, image) for bp in registry))
    for key in [k for k in arming.groups if k not in wanted]:
        arming.close_group(key)
    for bp in registry:
        _arm(arming, bp, mapped, image, threads)
    if arming.tracer_gone:  # events opened while the tracer's watch disabled the others
        arming.disable_all()
    if arming.agent is None:
        uprobes.prepare(inferior, place.pid)


def _wanted(bp: HBreakIf, arming: InferiorArming, mapped, image):
    """The addresses where `bp` should be armed in the process, whose mappings `mapped()`
    reads: only for addresses not armed yet, since a process of thousands of threads has
    thousands of mappings, and an armed address leaves the breakpoint when GDB sees it go."""
    if not bp.enabled or not bp.uses_perf or (arming.agent is not None and not bp.by_agent):
        return set()  # remote.follow() gives the agent its breakpoints, in its tiers, first
    wanted = set()
    for address in bp.addresses():
        if address in bp.int3_at:
            continue  # GDB's int3 serves it
        if (bp.number, address) in arming.groups:
            wanted.add((bp.number, address))
            continue
        if not any(start <= address < end and (executable or not bp.kind.in_code)
                   for start, end, executable in mapped()):
            continue  # not relocated or not loaded yet
        if (bp.tier is not PTRACE and (bp.number, address, image) not in _programs
                and not bp.kind.settled(bp, address)):
            continue  # GDB has not re-resolved the location in this image yet
        wanted.add((bp.number, address))
    return wanted


def _arm(arming: InferiorArming, bp: HBreakIf, mapped, image, threads) -> None:
    """Open the events of `bp` that are missing.  Where the kernel refuses one, `bp` falls back
    for good (forgetting its events), and the breakpoints after it are armed all the same: a
    code breakpoint is then GDB's software breakpoint, and a watchpoint whose predicate was
    refused has its perf watchpoints, which need no privilege, opened again.  Where the kernel
    cannot keep the ignore count exactly, GDB keeps it, and the predicates are made again."""
    if bp.uses_perf and bp.tier is not PTRACE and arming.agent is None:
        why = passing.problem(arming.pid)
        if why:
            forget(bp)
            fall_back(bp, why)
    while bp.uses_perf:
        address = None
        try:
            for key in sorted(_wanted(bp, arming, mapped, image)):
                address = key[1]
                _fill(arming, bp, key, image, threads)
            return
        except CountNotExact:
            ignore.give_back_to_gdb(bp)
            forget(bp)
        except PredicateError as error:
            forget(bp)
            fall_back(bp, error)
        except EventRefused as refused:
            if fall_back_at(bp, refused.cause, address):
                forget(bp, keep=set(bp.addresses()) - {address})
            else:
                forget(bp)
                fall_back(bp, refused.cause)
        except Exception as error:  # a defect: GDB decides every hit rather than none
            forget(bp)
            fall_back(bp, f"internal error arming it: {type(error).__name__}: {error}")


class EventRefused(Exception):
    """The kernel refused a perf breakpoint: every tier needs one, GDB's software breakpoint not."""

    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause


def _fill(arming: InferiorArming, bp: HBreakIf, key: GroupKey, image, threads) -> None:
    """Give every thread `bp` stops in an event at the key's address, or a copy of one."""
    if arming.agent is not None:
        if key not in arming.groups:
            arming.groups[key] = _armed_by_agent(arming.agent, bp, key, image)
        return
    group = arming.groups.get(key)
    if group is None:
        group = arming.groups[key] = EventGroup(inherited=bp.thread is None)
    if group.complete:
        return
    if not group.inherited:
        for thread in threads:
            if bp.wants_thread(thread) and thread.ptid[1] not in group.events:
                _open(group, bp, thread.ptid[1], key[1], image)
        return
    # A thread created while this runs may copy its creator's event or, from one not armed
    # yet, none: it is armed with the next listing, at worst twice, which stops once.
    tasks = procfs.tasks(arming.pid)
    for _ in range(LISTINGS):
        for lwp in sorted(tasks - group.events.keys()):
            _open(group, bp, lwp, key[1], image)
        listed_again = procfs.tasks(arming.pid)
        if listed_again <= tasks:
            group.complete = True
            return
        tasks = listed_again


def _armed_by_agent(agent: AgentLink, bp: HBreakIf, key: GroupKey, image) -> AgentGroup:
    """The agent opens the events on every thread of the process, with the predicate."""
    program = _program(bp, key[1], image, agent)
    agent_key = next(_agent_keys)
    try:
        agent.arm(agent_key, key[1], bp.number, program.code if program is not None else None,
                  bp.sigtrap)
    except Refused as refused:
        if refused.stage == "program":
            raise PredicateError(str(refused)) from None
        raise EventRefused(refused) from None
    except AgentError as error:
        raise EventRefused(error) from None
    return AgentGroup(agent, agent_key)


def _open(group: EventGroup, bp: HBreakIf, lwp: int, address: int, image) -> None:
    """Open, program and enable one event."""
    program = _program(bp, address, image)
    if isinstance(program, Predicate):
        program = program.loaded()
    try:
        event = PerfBreakpoint.open(lwp, address, sig_data=bp.number, sigtrap=bp.sigtrap,
                                    inherit=group.inherited, inherit_thread=group.inherited,
                                    **bp.kind.perf_shape(bp))
    except KernelError as error:
        if error.errno == errno.ESRCH:
            return  # the thread has just exited: nothing to arm
        raise EventRefused(error) from None
    try:
        if program is not None:
            try:
                event.attach_bpf(program)
            except KernelError as error:
                raise PredicateError(str(error)) from None
        try:
            event.enable()
        except KernelError as error:
            raise EventRefused(error) from None
    except BaseException:
        event.close()
        raise
    group.events[lwp] = event


def _program(bp: HBreakIf, address: int, image, agent: Optional[AgentLink] = None):
    own = bp.kind.program(bp) if bp.tier is not PTRACE else None
    if own is not None:
        return own  # one program for every address
    key = (bp.number, address, image)
    if key not in _programs:
        _programs[key] = program_for(bp, address, agent)
    return _programs[key]
