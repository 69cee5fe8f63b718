"""The BPF program of one breakpoint at one address: GDB's AX for the condition, lowered."""
from ..agent.protocol import MAILBOX
from ..compiler import compile_condition, signal_on_match, stop_on_match
from ..compiler.ignore import IgnoreFirst
from ..compiler.predicate import build_program
from ..ebpf import encode_program
from ..kernel.bpf import BpfProgram
from ..kernel.errors import KernelError
from ..kernel.probe import TIER_KERNEL_SIGNAL, TIER_PTRACE
from .agent import NotCompiledYet, agent_eval_at, compiling, is_program_symbol
from .model import TIER_REMOTE_KERNEL_SIGNAL, HBreakIf


class PredicateError(Exception):
    """The predicate could not be built or loaded; the message says why."""


class Predicate:
    """One compiled predicate, encoded: loaded into this machine's kernel when first used
    here, or sent as it is to a remote target's agent."""

    def __init__(self, code: bytes, name: str):
        self.code = code
        self._name = name
        self._loaded = None

    def loaded(self) -> BpfProgram:
        if self._loaded is None:
            try:
                self._loaded = BpfProgram.load(self.code, name=self._name)
            except KernelError as error:
                raise PredicateError(str(error)) from None
        return self._loaded

    def close(self) -> None:
        if self._loaded is not None:
            self._loaded.close()
            self._loaded = None


def linespec_of(location: str):
    """The location as a linespec for `maint agent-eval -at`, if it is one (not `*ADDRESS`,
    not an explicit `-function F -line N`)."""
    return None if location.lstrip().startswith(("*", "-")) else location


def on_match_for(bp: HBreakIf, agent=None):
    """What the predicate does on a match, for `bp`'s tier and ignore count; `agent` is the
    remote target's agent that loads it (none: the program is compiled for its notes only)."""
    from .tiers import mailbox, signal_number
    if bp.tier == TIER_REMOTE_KERNEL_SIGNAL:
        on_match = signal_on_match(signal_number(), MAILBOX, bp.number,
                                   agent.signal_namespace if agent is not None else None)
    elif bp.tier == TIER_KERNEL_SIGNAL:
        on_match = signal_on_match(signal_number(), mailbox().fd, bp.number)
    elif bp.watch is not None:
        # An access by an instruction GDB single-steps traps once for the step and the hit:
        # the note tells the hit (hits.py).
        on_match = stop_on_match(mailbox().fd, bp.number)
    else:
        on_match = stop_on_match()
    if bp.ignore_counter is not None:
        on_match = IgnoreFirst(on_match, bp.ignore_counter.fd)
    return on_match


def compile_at(bp: HBreakIf, address: int, may_move_pc: bool = False, agent=None):
    """Compile `bp`'s condition at `address`; moving the pc is for user commands only."""
    if bp.watch is not None:
        from .watch import compile_watch
        return compile_watch(bp)
    agent_eval = agent_eval_at(address, linespec_of(bp.location), may_move_pc)
    with compiling():
        return compile_condition(bp.condition or "1", agent_eval, is_program_symbol(address),
                                 on_match=on_match_for(bp, agent))


def program_for(bp: HBreakIf, address: int, agent=None):
    """The predicate of `bp` at `address`, or None where GDB decides every hit; `agent` is the
    remote target's agent that loads it."""
    if bp.tier == TIER_PTRACE:
        return None
    put_off = NotCompiledYet.raised
    try:
        compiled = compile_at(bp, address, agent=agent)
    except (NotCompiledYet, RecursionError):
        # Every hit goes to GDB until the next stop, where GDB may compile the condition.
        bp.compile_at_next_stop = True
        return _encoded(bp, build_program(None, on_match_for(bp, agent)))
    if NotCompiledYet.raised != put_off:
        bp.compile_at_next_stop = True
    if bp.ignore_counter is not None and not compiled.exact:
        from .ignore import give_back_to_gdb
        give_back_to_gdb(bp)
        compiled = compile_at(bp, address, agent=agent)
    for note in compiled.notes:
        if not note.in_kernel and note not in bp.notes:
            bp.notes.append(note)
    return _encoded(bp, compiled.program)


def _encoded(bp: HBreakIf, program) -> Predicate:
    return Predicate(encode_program(program), f"hbreak_if_{bp.number}")


def compile_at_location(location: str, condition):
    """Compile for -explain, at the first address GDB resolves LOCATION to."""
    import gdb
    from .tiers import choose_tier
    from .cmdline import check_location
    from .create import _tracker
    check_location(location)
    tracker = _tracker(location, condition)
    try:
        addresses = [loc.address for loc in tracker.locations]
        if not addresses:
            raise gdb.GdbError(f"{location} is pending: nothing to compile yet")
        tier, reason = choose_tier()
        probe_bp = HBreakIf(catchpoint=None, tracker=tracker, location=location,
                            condition=condition, tier=tier, reason=reason)
        return compile_at(probe_bp, addresses[0], may_move_pc=True)
    finally:
        tracker.delete()
