"""Breakpoints sourced back from `save breakpoints`: a GDB breakpoint whose condition is an
hbreak-if's marker becomes that hbreak-if again.

GDB saves a code hbreak-if as the breakpoint it is (its carrier, carriers.py): `break LOCATION`
(`tbreak` for a temporary one, with its thread), then `condition $bpnum $_hbreak_if_at(N,
"COMMAND") && (CONDITION)`, its ignore count, its commands and `disable`.  An hwatch-if is its
catchpoint, `catch signal SIGTRAP SIG40` with `$_hbreak_if_hit(N, "COMMAND")` (a temporary one
too: the breakpoint deletes it at its first stop, model.made_temporary); the catchpoint the
code breakpoints share has `$_hbreak_if_hit(0)`.  Sourced, the breakpoint comes first; when its
condition arrives, COMMAND is run with that breakpoint as its own (create.adopting), so the
breakpoint keeps its place among GDB's, and the lines after it apply to it.
"""
import re
from typing import Optional

import gdb

from . import carriers
from .create import adopting
from .leftovers import delete_later
from .model import AT_FUNCTION, HIT_FUNCTION, registry

_STRING = r'"((?:[^"\\]|\\.)*)"'
_MARKER = re.compile(rf'^\s*\$({HIT_FUNCTION}|{AT_FUNCTION})\(\s*\d+\s*,\s*{_STRING}\s*\)')
_ESCAPED = re.compile(r"\\(.)")
_COMMANDS = ("hbreak-if ", "hwatch-if ")
_tried = set()  # breakpoints adopted or refused: once each (adopting changes them again)


def saved_command(condition: Optional[str]):
    """(the marker's function, the command it names), if `condition` starts with a marker."""
    found = _MARKER.match(condition or "")
    if found is None:
        return None
    command = _ESCAPED.sub(r"\1", found.group(2))
    return (found.group(1), command) if command.startswith(_COMMANDS) else None


def adopt(gdb_bp: gdb.Breakpoint) -> None:
    """Make again the hbreak-if whose saved breakpoint `gdb_bp` is, if it is one."""
    if gdb_bp.number in _tried:
        return
    if gdb_bp.type == gdb.BP_CATCHPOINT and gdb_bp.condition == carriers.SHARED_CONDITION:
        _tried.add(gdb_bp.number)
        carriers.adopt_catchpoint(gdb_bp)
        return
    saved = saved_command(gdb_bp.condition)
    if saved is None:
        return
    function, command = saved
    _tried.add(gdb_bp.number)
    # A code breakpoint is its carrier, a watchpoint its catchpoint; the catchpoint of a code
    # breakpoint saved by an earlier version gives way to a carrier.
    code = command.startswith("hbreak-if ")
    if gdb_bp.type == gdb.BP_CATCHPOINT:
        own = not code and function == HIT_FUNCTION
    else:
        own = code and function == AT_FUNCTION
    try:
        if own:
            with adopting(gdb_bp):
                gdb.execute(command)
        else:
            gdb.execute(command)
    except gdb.error as error:
        gdb.write(f"warning: `{command}` could not be set again: {error}\n", gdb.STDERR)
    if registry.get(gdb_bp.number) is None:  # not made, or GDB's own serves it here
        delete_later(gdb_bp)  # GDB is still using it
