"""A code hbreak-if is GDB's own breakpoint at its LOCATION (its carrier), kept out of the
program: its locations are disabled, so no int3 is in the program and a hit costs what the
kernel tier costs.  A hit the kernel lets through carries the stop into GDB's own breakpoint:

1. The signal reaches the shared catchpoint (`catch signal SIGTRAP SIG40`), whose condition
   recognises the hit (hits.py) and lets the carrier in: it enables the location at the pc,
   and returns false.  GDB resumes without passing the signal.  The instruction has not run:
   the hardware breakpoint fires before it.
2. The thread runs into GDB's int3 at the same pc, and GDB reports its own breakpoint hit:
   the inlined function's frame where the location is one (GDB presents it only for a user
   breakpoint), GDB's own check of the condition in that frame, the ignore count, the thread,
   `commands`, the temporary breakpoint's deletion, MI's `*stopped,reason="breakpoint-hit"`.
3. The carrier's condition starts with `$_hbreak_if_at(N, "COMMAND")`, which keeps the carrier
   out again and lets the resumed thread pass the perf breakpoint once (passing.py);
   COMMAND sets the breakpoint again where `save breakpoints` wrote it (saved.py).

A breakpoint the kernel refused a perf breakpoint for keeps its carrier in: GDB's own
conditional breakpoint, at every location (fallback.py).  Watchpoints keep a catchpoint of
their own: an int3 cannot replay a data access.
"""
from typing import Dict, List, Optional, Set, Tuple

import gdb

from . import passing, uprobes
from .leftovers import delete_later
from .model import AT_FUNCTION, HIT_FUNCTION, HBreakIf, registry
from .tiers import signal_name



def _speaks_mi(arguments: List[str]) -> bool:
    """Whether GDB was started for a front end (`-i=mi3`, `--interpreter mi`, ...)."""
    for index, argument in enumerate(arguments):
        name, _, value = argument.partition("=")
        if name in ("-i", "--i", "-interpreter", "--interpreter"):
            if not value and index + 1 < len(arguments):
                value = arguments[index + 1]
            if value.startswith("mi"):
                return True
    return False


def _gdb_arguments() -> List[str]:
    try:
        with open("/proc/self/cmdline", "rb") as cmdline:
            return cmdline.read().decode(errors="replace").split("\0")
    except OSError:
        return []


# A front end speaks MI: the carrier's own report gives it the stop record, so the carrier
# is not silent there; on the console the plugin prints its own report (stops.py).
FRONT_END = _speaks_mi(_gdb_arguments())

SHARED_CONDITION = f"${HIT_FUNCTION}(0)"

# (breakpoint number, address, thread) let in for one hit of that thread: the location stays
# in until each such thread has run into it.
_let_in: Set[Tuple[int, int, int]] = set()
_changing = False  # the plugin's own changes to carriers: not the user's
_made: Optional[gdb.Breakpoint] = None
_catchpoint: Optional[gdb.Breakpoint] = None
# The hit and ignore counts of each carrier as its condition opened, last time: GDB counts a
# hit that stops, or that its ignore count lets pass.
_counts_before: Dict[int, Tuple[int, int]] = {}
_lost = False  # deleted while code hbreak-ifs needed it
_held: Set[int] = set()  # pending carriers, whose condition waits for a location


def changing() -> bool:
    return _changing


def _quietly_set(location, enabled: bool) -> None:
    global _changing
    if location.enabled == enabled:
        return
    _changing, before = True, _changing
    try:
        location.enabled = enabled
    finally:
        _changing = before


def make(location: str, temporary: bool) -> gdb.Breakpoint:
    """A new carrier at LOCATION, out of the program.  GDB announces a breakpoint made from
    Python ("Breakpoint N at ..."): the hbreak-if command says it its own way."""
    global _made
    gdb.execute(f"python __import__({__name__!r}, fromlist=['_'])._make({location!r}, "
                f"{temporary!r})", to_string=True)
    carrier, _made = _made, None
    carrier.silent = not FRONT_END
    keep_out_all(carrier)
    return carrier


def _make(location: str, temporary: bool) -> None:
    global _made
    _made = gdb.Breakpoint(location, temporary=temporary)


def keep_out_all(carrier: gdb.Breakpoint, bp: Optional[HBreakIf] = None) -> None:
    """Every location out of the program but those let in for a hit, or, for a breakpoint GDB
    serves with its int3 here (`bp.software`), every location in."""
    if carrier.pending:
        return  # its location is GDB's placeholder until a library defines it
    software = bp is not None and bp.software and bp.remote is None
    for location in carrier.locations:
        _quietly_set(location, software or _waited_for(carrier.number, location.address)
                     or (bp is not None and bp.remote is None
                         and location.address in bp.int3_at))


def insert_now(carrier: gdb.Breakpoint) -> None:
    """GDB puts a location enabled from Python into the program only when it next resumes it
    from a stop (a location's enable does not insert); where the program runs on meanwhile (a
    fallback at a new thread), enabling the breakpoint again puts it in now."""
    global _changing
    if not carrier.enabled:
        return
    _changing, before = True, _changing
    try:
        carrier.enabled = False
        carrier.enabled = True
    finally:
        _changing = before


def _waited_for(number: int, address: int) -> bool:
    return any(key[:2] == (number, address) for key in _let_in)


def let_in(bp: HBreakIf, pc: int, thread: gdb.InferiorThread) -> None:
    """The hit of `thread` at `pc` is carried by GDB's own breakpoint: its location there goes
    in."""
    for location in bp.catchpoint.locations:
        if location.address == pc:
            _let_in.add((bp.number, pc, thread.global_num))
            _quietly_set(location, True)
            uprobes.let_in(thread, pc)


def carried(bp: HBreakIf, pc: int, thread: gdb.InferiorThread) -> None:
    """At the carrier's hit: out again, once no other thread let in is still to run into it,
    and the thread passes the perf breakpoint once."""
    _counts_before[bp.number] = (bp.catchpoint.hit_count, bp.catchpoint.ignore_count)
    if bp.software or pc in bp.int3_at:
        bp.software_hits += 1
        if uprobes.serves(bp):
            uprobes.on_decided()
        return
    _let_in.discard((bp.number, pc, thread.global_num))
    uprobes.carried(thread)
    if not _waited_for(bp.number, pc):
        for location in bp.catchpoint.locations:
            if location.address == pc:
                _quietly_set(location, False)
    if bp.uses_perf:
        passing.pass_once(thread, pc)


def stopped() -> List[HBreakIf]:
    """The hbreak-ifs whose carriers this stop is for (a stop event lists every breakpoint hit
    at the pc, whatever its condition said)."""
    found = [bp for bp in registry if bp.number in _counts_before and bp.catchpoint.is_valid()
             and bp.catchpoint.hit_count > _counts_before[bp.number][0]
             and bp.catchpoint.ignore_count == _counts_before[bp.number][1]]
    _counts_before.clear()
    return found


def overtaken(thread: gdb.InferiorThread, pc: int) -> List[HBreakIf]:
    """The hbreak-ifs let in for `thread` at `pc` that GDB stopped at before their carriers
    ran (a step, or another breakpoint, ends there): they are out again, and the thread passes
    the perf breakpoint once; GDB would have reported its own breakpoints there."""
    found = []
    for bp in list(registry):
        key = (bp.number, pc, thread.global_num)
        if key in _let_in:
            _let_in.discard(key)
            uprobes.carried(thread)
            if bp.catchpoint.is_valid():
                keep_out_all(bp.catchpoint, bp)
            found.append(bp)
    if found:
        passing.pass_once(thread, pc)
    return found


def carries_at(pc: int) -> bool:
    """Whether a carrier has a location at `pc` (in the program or not)."""
    return any(bp.kind.carried and bp.catchpoint.is_valid() and pc in bp.addresses()
               for bp in registry)


def forget(bp: HBreakIf) -> None:
    for key in [key for key in _let_in if key[0] == bp.number]:
        _let_in.discard(key)
    _held.discard(bp.number)


def forget_gone_threads(*_) -> None:
    """A thread let in that exited will not run into its location: out with it."""
    live = {thread.global_num for inferior in gdb.inferiors() for thread in inferior.threads()}
    gone = {key for key in _let_in if key[2] not in live}
    if not gone:
        return
    _let_in.difference_update(gone)
    for bp in {registry.get(key[0]) for key in gone} - {None}:
        if bp.catchpoint.is_valid():
            keep_out_all(bp.catchpoint, bp)


def set_condition(bp: HBreakIf) -> None:
    """The carrier's condition, once it has a location: GDB 13 never stops at a pending
    breakpoint given a condition before a library defines its location."""
    if bp.catchpoint.pending:
        _held.add(bp.number)
    else:
        _held.discard(bp.number)
        bp.catchpoint.condition = condition(bp)


def condition_held(bp: HBreakIf) -> bool:
    return bp.number in _held


def condition(bp: HBreakIf) -> str:
    """The carrier's condition: the hook, then the condition as GDB evaluates it."""
    hook = bp.marker_of(AT_FUNCTION)
    return f"{hook} && ({bp.gdb_condition})" if bp.gdb_condition else hook


def shared_catchpoint() -> Optional[gdb.Breakpoint]:
    return _catchpoint if _catchpoint is not None and _catchpoint.is_valid() else None


def is_shared_catchpoint(gdb_bp: gdb.Breakpoint) -> bool:
    return gdb_bp is _catchpoint


def need_catchpoint(*_, first: bool = False) -> None:
    """The shared catchpoint exists while a code hbreak-if does (`first`: one is being made);
    made again if deleted, gone if sourced back without one.  Made before the first carrier, so
    that `commands` without an argument, right after `hbreak-if`, is for the hbreak-if."""
    global _catchpoint, _lost
    needed = first or any(bp.kind.carried for bp in registry)
    if not needed:
        drop_catchpoint()
    if shared_catchpoint() is not None or not needed:
        return
    before = {bp.number for bp in gdb.breakpoints()}
    gdb.execute(f"catch signal SIGTRAP {signal_name()}", to_string=True)
    made = max((bp for bp in gdb.breakpoints() if bp.number not in before),
               key=lambda bp: bp.number)
    made.silent = True
    _catchpoint = made
    made.condition = SHARED_CONDITION
    if _lost:
        _lost = False
        gdb.write(f"hbreak-if: the hits of hbreak-if breakpoints reach GDB through a catchpoint "
                  f"on SIGTRAP and {signal_name()}: made it again, as catchpoint "
                  f"{made.number}.\n")


def lose_catchpoint() -> None:
    """The user deleted the shared catchpoint."""
    global _catchpoint, _lost
    _catchpoint = None
    _lost = any(bp.kind.carried for bp in registry)


def adopt_catchpoint(gdb_bp: gdb.Breakpoint) -> None:
    """A shared catchpoint sourced back from `save breakpoints`: ours, or one too many."""
    global _catchpoint
    if shared_catchpoint() is None:
        _catchpoint = gdb_bp
        gdb_bp.silent = True
    elif gdb_bp is not _catchpoint:
        delete_later(gdb_bp)


def drop_catchpoint(deleting: Optional[int] = None) -> None:
    """No code hbreak-if is left: neither is the shared catchpoint.  `deleting`: the number of
    the breakpoint GDB is deleting; GDB's walk of its breakpoints may be about to visit those
    after it, so one of them goes once GDB is done."""
    global _catchpoint
    if any(bp.kind.carried for bp in registry):
        return
    catchpoint, _catchpoint = shared_catchpoint(), None
    if catchpoint is None:
        return
    if deleting is None or catchpoint.number < deleting:
        catchpoint.delete()
    else:
        delete_later(catchpoint)
