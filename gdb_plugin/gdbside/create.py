"""Creating an hbreak-if or hwatch-if: validate, choose the tier, make the GDB objects, arm."""
from contextlib import contextmanager
from typing import Iterator, Optional, Set, Tuple

import gdb

from ..compiler import AxUnavailable
from ..cpred import CPredicateError, compile_c_predicate
from . import arming, carriers, ignore, remote, whereabouts
from .agent import NotCompiledYet
from .cmdline import Request, check_ignore, check_location, check_one_line
from .kinds import watch
from .kinds.code import CODE, gdb_condition
from .kinds.cpredicate import C_PREDICATE
from .leftovers import delete_later, delete_leftovers
from .model import HBreakIf, registry
from .predicates import compile_at
from .machine import program_arch, unsupported
from .tiers import KERNEL, PTRACE, choose_tier, signal_name


_adopted: Optional[gdb.Breakpoint] = None  # a saved breakpoint, for the command being run
_in_making: Set[int] = set()  # GDB breakpoints whose hbreak-if is being made


@contextmanager
def adopting(saved: gdb.Breakpoint) -> Iterator[None]:
    """The hbreak-if or hwatch-if command run inside takes `saved`, a breakpoint sourced back,
    instead of a new one (saved.py)."""
    global _adopted
    _adopted = saved
    try:
        yield
    finally:
        _adopted = None


def in_making(gdb_bp: gdb.Breakpoint) -> bool:
    """Whether `gdb_bp` is the GDB breakpoint of an hbreak-if being made (its events are not
    the user's)."""
    return gdb_bp.number in _in_making


@contextmanager
def _made(make) -> Iterator[Tuple[gdb.Breakpoint, bool]]:
    """The GDB breakpoint that is the hbreak-if being made (`make()` makes a new one), and
    whether it is a saved one made again (older than what is made with it).  If making fails,
    it goes: a saved one once GDB is done with it, as the command that made it still uses
    it."""
    global _adopted
    adopted, _adopted = _adopted, None
    gdb_bp = adopted or make()
    number = gdb_bp.number
    _in_making.add(number)
    try:
        yield gdb_bp, adopted is not None
    except BaseException:
        if gdb_bp.is_valid():
            if adopted is not None:
                delete_later(gdb_bp)
            else:
                gdb_bp.delete()
        raise
    finally:
        _in_making.discard(number)


def made_catchpoint(temporary: bool):
    """A watchpoint's catchpoint (see _made)."""
    return _made(lambda: _new_catchpoint(temporary))


def _new_catchpoint(temporary: bool) -> gdb.Breakpoint:
    """The catchpoint that reports the hits, on both signals a hit may arrive as: a
    breakpoint may change tiers (a condition that does not compile, a kernel refusal)."""
    before = {bp.number for bp in gdb.breakpoints()}
    gdb.execute(f"{'tcatch' if temporary else 'catch'} signal SIGTRAP {signal_name()}",
                to_string=True)
    created = [bp for bp in gdb.breakpoints() if bp.number not in before]
    return max(created, key=lambda bp: bp.number)


NOTHING_COMPILES = "no part of the condition compiles to a kernel filter"


def _check_address(location: str) -> None:
    if location.lstrip().startswith("*"):
        try:
            gdb.parse_and_eval(location.lstrip()[1:])  # a bad *EXPR would crash GDB 13 below
        except gdb.error as error:
            raise gdb.GdbError(str(error)) from None


def _check_pending(gdb_bp: gdb.Breakpoint, location: str) -> None:
    if gdb_bp.pending and gdb.parameter("breakpoint pending") is False:
        raise gdb.GdbError(f"No location {location!r} in the program "
                           "(and `set breakpoint pending` is off).")


def _new_carrier(location: str, temporary: bool) -> gdb.Breakpoint:
    """GDB's own breakpoint at LOCATION, out of the program (carriers.py); `create` has checked
    LOCATION first."""
    carrier = carriers.make(location, temporary)
    if carrier.pending:
        gdb.write(f"hbreak-if location {location!r} is pending on a future shared library load.\n")
    return carrier


def made_carrier(location: str, temporary: bool):
    """A code breakpoint's carrier (see _made)."""
    return _made(lambda: _new_carrier(location, temporary))


def _tracker(location: str, condition: Optional[str]) -> gdb.Breakpoint:
    """An internal disabled breakpoint: GDB resolves LOCATION and parses CONDITION (with
    register names rewritten) there.  For -explain, which sets nothing."""
    _check_address(location)
    tracker = gdb.Breakpoint(location, internal=True)
    tracker.enabled = False
    try:
        _check_pending(tracker, location)
        if condition:
            tracker.condition = gdb_condition(tracker, condition)
    except (gdb.error, gdb.GdbError):
        tracker.delete()
        raise
    return tracker


def thread_of(number: Optional[int]) -> Optional[gdb.InferiorThread]:
    if number is None:
        return None
    for thread in gdb.selected_inferior().threads():
        if thread.num == number:
            return thread
    raise gdb.GdbError(f"Unknown thread {number}.")


def assess(bp: HBreakIf) -> None:
    """Where nothing of the condition compiles, say so now and let GDB decide every hit;
    the parts GDB evaluates go in `notes`.  Called again when the condition changes."""
    bp.notes = []
    if bp.reason == NOTHING_COMPILES:
        bp.tier, bp.reason = choose_tier()
    if bp.tier is PTRACE or not bp.condition or not bp.addresses():
        return
    put_off = NotCompiledYet.raised
    try:
        compiled = compile_at(bp, bp.addresses()[0], may_move_pc=True)
    except AxUnavailable:
        return  # decided per address when the program runs
    if NotCompiledYet.raised != put_off:
        return  # a part compiles only once the program runs
    bp.notes = [note for note in compiled.notes if not note.in_kernel]
    if compiled.kernel_part is None:
        bp.tier, bp.reason = PTRACE, NOTHING_COMPILES


def create(request: Request) -> HBreakIf:
    delete_leftovers()
    check_one_line(request.location, request.condition)
    check_location(request.location)
    check_ignore(request.ignore)
    tier, reason = choose_tier()
    if request.c_predicate and tier is not KERNEL:
        raise gdb.GdbError(f"a C predicate runs only in the kernel tier, and new breakpoints "
                           f"get the {tier} tier: {reason}")
    thread = thread_of(request.thread)
    condition = None if request.c_predicate else request.condition
    if _adopted is None:
        _tracker(request.location, None).delete()  # LOCATION is one, before numbers are taken
    carriers.need_catchpoint(first=True)
    try:
        # Nothing half-made stays: deleting the carrier releases what hangs on it.
        with made_carrier(request.location, request.temporary) as (carrier, sourced):
            carrier.silent = not carriers.FRONT_END
            carriers.keep_out_all(carrier)
            bp = HBreakIf(kind=C_PREDICATE if request.c_predicate else CODE,
                          catchpoint=carrier, tracker=carrier, location=request.location,
                          condition=condition, tier=tier, reason=reason, thread=thread,
                          sourced=sourced, rewritten=gdb_condition(carrier, condition))
            if request.c_predicate:
                bp.c_predicate = compile_c_predicate(request.condition, carrier.number)
            if thread is not None:
                carrier.thread = thread.global_num
            if bp.rewritten and not carrier.pending:
                carrier.condition = bp.rewritten  # GDB parses it at every location, as typed
            bp.kind.write_own_condition(bp)
            registry.add(bp)
            carriers.need_catchpoint()
            assess(bp)
            carriers.keep_out_all(carrier, bp)  # GDB's int3 serves the ptrace and uprobe tiers
            remote.follow()
            if request.ignore:
                carrier.ignore_count = request.ignore
                ignore.take_from_gdb(bp)
            arming.sync_all()
    except BaseException as error:
        carriers.drop_catchpoint()
        if isinstance(error, CPredicateError):
            raise gdb.GdbError(str(error)) from None
        raise
    gdb.write(f"hbreak-if {bp.number} at {bp.kind.describe_location(bp)} [{bp.tier} tier]\n")
    place = whereabouts.locate(gdb.selected_inferior())
    if place.pid is None and not place.remote:
        gdb.write(f"hbreak-if {bp.number}: {place.why}.\n")
    if bp.tier is PTRACE:
        gdb.write(f"hbreak-if {bp.number}: GDB evaluates the condition at every hit: {bp.reason}\n")
    for note in bp.notes:
        gdb.write(f"hbreak-if {bp.number}: {note}\n")
    return bp


def create_watch(kind: str, request: Request):
    """An hwatch-if; on a remote program, or an architecture whose perf watchpoints GDB
    cannot pass (AArch64: arch/), GDB's own watchpoint in its place."""
    check_one_line(request.location, request.condition)
    check_ignore(request.ignore)
    address, value_type = watch.watched(request.location)
    condition = watch.gdb_condition(request.condition, address, value_type)
    thread = thread_of(request.thread)
    place = whereabouts.locate(gdb.selected_inferior())
    machine = program_arch()
    why = (place.why if place.remote else unsupported() if machine is None
           else machine.watch_problem)
    if why:
        return watch.gdbs_own_watchpoint(kind, request, address, value_type, condition, thread,
                                         why)
    tier, reason = choose_tier(code=False)
    spec = watch.watch_spec(kind, request, address, value_type, condition, tier, reason)
    with made_catchpoint(request.temporary) as (catchpoint, sourced):
        bp = HBreakIf(kind=watch.WATCH, catchpoint=catchpoint, tracker=None,
                      location=request.location, condition=request.condition, tier=tier,
                      reason=reason, thread=thread, sourced=sourced,
                      made_temporary=request.temporary and not catchpoint.temporary,
                      watch=spec)
        # A front end needs GDB's report of the stop (its frame, its thread): the values
        # are the plugin's to add.
        catchpoint.silent = not carriers.FRONT_END
        catchpoint.condition = bp.marker
        registry.add(bp)
    gdb.write(f"hwatch-if {bp.number}: {watch.describe_watch(spec)} [{tier} tier]\n")
    if request.ignore:
        catchpoint.ignore_count = request.ignore
        ignore.take_from_gdb(bp)
    arming.sync_all()
    return bp


def compile_for_explain(location: str, condition):
    """Compile for -explain, at the first address GDB resolves LOCATION to; sets nothing."""
    check_location(location)
    tracker = _tracker(location, condition)
    try:
        addresses = [loc.address for loc in tracker.locations]
        if not addresses:
            raise gdb.GdbError(f"{location} is pending: nothing to compile yet")
        tier, reason = choose_tier()
        probe_bp = HBreakIf(kind=CODE, catchpoint=None, tracker=tracker, location=location,
                            condition=condition, tier=tier, reason=reason)
        return compile_at(probe_bp, addresses[0], may_move_pc=True)
    finally:
        tracker.delete()
