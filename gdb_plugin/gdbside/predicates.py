"""The BPF program of one breakpoint at one address: GDB's AX for the condition, lowered."""
import os
from typing import Tuple

from ..compiler.ignore import IgnoreFirst
from ..compiler.predicate import build_program
from ..ebpf import encode_program
from ..kernel import uprobe
from ..kernel.bpf import BpfProgram
from ..kernel.errors import KernelError
from . import passing
from .agent import NotCompiledYet
from .machine import program_arch
from .model import HBreakIf
from .tiers import PTRACE


def program_image(inferior) -> Tuple[str, float]:
    """Which program the inferior runs: its file and when that file was last written."""
    filename = inferior.progspace.filename or ""
    try:
        return filename, os.stat(filename).st_mtime
    except OSError:
        return filename, 0.0


class PredicateError(Exception):
    """The predicate could not be built or loaded; the message says why."""


class CountNotExact(Exception):
    """The kernel keeps `bp`'s ignore count, and its predicate at an address is not exact:
    GDB must count, and the predicates that count go (arming.py)."""


class Predicate:
    """One compiled predicate, encoded: loaded into this machine's kernel when first used
    here, or sent as it is to a remote target's agent."""

    def __init__(self, code: bytes, name: str, context: str = "perf_event"):
        self.code = code
        self._name = name
        self._context = context
        self._loaded = None

    def loaded(self) -> BpfProgram:
        if self._loaded is None:
            try:
                self._loaded = (uprobe.load(self.code, self._name) if self._context == "uprobe"
                                else BpfProgram.load(self.code, name=self._name))
            except KernelError as error:
                raise PredicateError(str(error)) from None
        return self._loaded

    def close(self) -> None:
        if self._loaded is not None:
            self._loaded.close()
            self._loaded = None


def on_match_for(bp: HBreakIf, agent=None, store=None):
    """What the predicate does on a match, for `bp`'s tier and ignore count; `agent` is the
    remote target's agent that loads it (none: the program is compiled for its notes only);
    `store`: where a uprobe's instruction stores."""
    on_match = bp.tier.on_match(bp, agent, store)
    if bp.ignore_counter is not None:
        on_match = IgnoreFirst(on_match, bp.ignore_counter.fd)
    if agent is None and bp.kind.carried:
        on_match = passing.on_match(bp, on_match)
    return on_match


def compile_at(bp: HBreakIf, address: int, may_move_pc: bool = False, agent=None,
               on_match=None):
    """Compile `bp`'s condition at `address`; moving the pc is for user commands only."""
    program_arch()
    return bp.kind.compile(bp, address, on_match or on_match_for(bp, agent), may_move_pc)


def program_for(bp: HBreakIf, address: int, agent=None, store=None):
    """The predicate of `bp` at `address`, or None where GDB decides every hit; `agent` is the
    remote target's agent that loads it; `store`: where a uprobe's instruction stores."""
    if bp.tier is PTRACE:
        return None
    on_match = on_match_for(bp, agent, store)
    put_off = NotCompiledYet.raised
    try:
        compiled = compile_at(bp, address, agent=agent, on_match=on_match)
    except (NotCompiledYet, RecursionError):
        # Every hit goes to GDB until the next stop, where GDB may compile the condition.
        bp.compile_at_next_stop = True
        return _encoded(bp, build_program(None, on_match), on_match.context)
    if NotCompiledYet.raised != put_off:
        bp.compile_at_next_stop = True
    if bp.ignore_counter is not None and not compiled.exact:
        raise CountNotExact()
    for note in compiled.notes:
        if not note.in_kernel and note not in bp.notes:
            bp.notes.append(note)
    return _encoded(bp, compiled.program, on_match.context)


def _encoded(bp: HBreakIf, program, context: str) -> Predicate:
    return Predicate(encode_program(program), f"hbreak_if_{bp.number}", context)
