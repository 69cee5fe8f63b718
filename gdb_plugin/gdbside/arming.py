"""Perf breakpoints on the threads of live inferiors, kept in step with the breakpoints.

`sync()` is the one way in: it computes which (breakpoint, thread, address)
events should exist and opens or closes the difference, so every lifecycle
event (run, new thread, library load, exec, enable, delete) just calls it.
"""
from typing import Dict, Tuple

import gdb

from ..kernel.bpf import BpfProgram
from ..kernel.errors import KernelError
from ..kernel.perf import PerfBreakpoint
from .model import HBreakIf, registry
from .predicates import PredicateError, program_for
from .tiers import demote_to_ptrace, warn_if_program_handles_our_signal

EventKey = Tuple[int, int, int]  # (breakpoint number, thread lwp, address)


class InferiorArming:
    """The perf events and programs of one process."""

    def __init__(self, pid: int):
        self.pid = pid
        self.events: Dict[EventKey, PerfBreakpoint] = {}
        self.programs: Dict[Tuple[int, int], BpfProgram] = {}

    def close_event(self, key: EventKey) -> None:
        event = self.events.pop(key)
        bp = registry.get(key[0])
        try:
            if bp is not None:
                bp.hits_of_closed_events += event.count()
        except KernelError:
            pass
        event.close()

    def close_program(self, key) -> None:
        self.programs.pop(key).close()

    def close(self) -> None:
        for key in list(self.events):
            self.close_event(key)
        for key in list(self.programs):
            self.close_program(key)

    def hits(self, number: int) -> int:
        total = 0
        for key, event in self.events.items():
            if key[0] == number:
                try:
                    total += event.count()
                except KernelError:
                    pass
        return total


_armings: Dict[int, InferiorArming] = {}


def _live_threads(inferior):
    return [t for t in inferior.threads() if t.is_valid() and t.ptid[1] > 0]


def _arming_for(inferior) -> InferiorArming:
    arming = _armings.get(inferior.num)
    if arming is not None and arming.pid != inferior.pid:
        arming.close()
        arming = None
    if arming is None:
        arming = _armings[inferior.num] = InferiorArming(inferior.pid)
    return arming


def disarm(inferior) -> None:
    """Close every event of `inferior`: it exited, exec'd, or GDB lets it go."""
    arming = _armings.pop(inferior.num, None)
    if arming is not None:
        arming.close()


def disarm_all() -> None:
    for num in list(_armings):
        _armings.pop(num).close()


def forget(bp: HBreakIf) -> None:
    """Drop the events and programs of `bp` everywhere (deleted or changed)."""
    for arming in _armings.values():
        for key in [k for k in arming.events if k[0] == bp.number]:
            arming.close_event(key)
        for key in [k for k in arming.programs if k[0] == bp.number]:
            arming.close_program(key)


def kernel_hits(bp: HBreakIf) -> int:
    return bp.hits_of_closed_events + sum(a.hits(bp.number) for a in _armings.values())


def threads_armed(bp: HBreakIf) -> int:
    return len({(num, key[1]) for num, arming in _armings.items()
                for key in arming.events if key[0] == bp.number})


def sync_all() -> None:
    for inferior in gdb.inferiors():
        sync(inferior)


def sync(inferior) -> None:
    if not inferior.is_valid() or inferior.pid <= 0:
        disarm(inferior)
        return
    threads = _live_threads(inferior)
    if not threads:
        return
    arming = _arming_for(inferior)
    warn_if_program_handles_our_signal(inferior)
    wanted = {}
    for bp in registry:
        if not bp.enabled or not bp.uses_perf:
            continue
        for address in bp.addresses():
            for thread in threads:
                if bp.wants_thread(thread):
                    wanted[(bp.number, thread.ptid[1], address)] = bp
    for key in [k for k in arming.events if k not in wanted]:
        arming.close_event(key)
    for key in [k for k in arming.programs if k[0] not in {bp.number for bp in wanted.values()}]:
        arming.close_program(key)
    for key, bp in wanted.items():
        if key not in arming.events and bp.uses_perf:
            _open(arming, bp, key)


def _open(arming: InferiorArming, bp: HBreakIf, key: EventKey) -> None:
    number, lwp, address = key
    try:
        program = _program(arming, bp, address)
        event = PerfBreakpoint.open(lwp, address, sig_data=number, sigtrap=bp.sigtrap)
        try:
            if program is not None:
                event.attach_bpf(program)
            event.enable()
        except BaseException:
            event.close()
            raise
    except (KernelError, PredicateError) as error:
        forget(bp)
        demote_to_ptrace(bp, error)
        return
    arming.events[key] = event


def _program(arming: InferiorArming, bp: HBreakIf, address: int):
    key = (bp.number, address)
    if key not in arming.programs:
        program = program_for(bp, address)
        if program is None:
            return None
        arming.programs[key] = program
    return arming.programs[key]
