"""Breakpoints sourced back from `save breakpoints`: a catchpoint whose condition is an
hbreak-if's marker (model.py) becomes that hbreak-if again.

GDB saves an hbreak-if as the catchpoint it is: `catch signal SIGTRAP SIG40` (also for a
temporary one: the breakpoint deletes it at its first stop, model.made_temporary), then
`condition $bpnum $_hbreak_if_hit(N, "COMMAND")`, its ignore count, its commands and `disable`.
Sourced, the catchpoint comes first; when its condition arrives, COMMAND is run with that
catchpoint as its own (create.adopting), so the breakpoint keeps its place among GDB's, and the
lines after it apply to it.
"""
import re
from typing import Optional

import gdb

from .create import adopting
from .leftovers import delete_later
from .model import HIT_FUNCTION, registry

_MARKER = re.compile(rf'^\s*\${HIT_FUNCTION}\(\s*\d+\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)\s*$')
_ESCAPED = re.compile(r"\\(.)")
_COMMANDS = ("hbreak-if ", "hwatch-if ")
_tried = set()  # catchpoints adopted or refused: once each (adopting changes them again)


def saved_command(condition: Optional[str]) -> Optional[str]:
    """The command a marker names, if `condition` is one."""
    found = _MARKER.match(condition or "")
    if found is None:
        return None
    command = _ESCAPED.sub(r"\1", found.group(1))
    return command if command.startswith(_COMMANDS) else None


def adopt(catchpoint: gdb.Breakpoint) -> None:
    """Make again the breakpoint whose saved catchpoint `catchpoint` is, if it is one."""
    if catchpoint.type != gdb.BP_CATCHPOINT or catchpoint.number in _tried:
        return
    command = saved_command(catchpoint.condition)
    if command is None:
        return
    _tried.add(catchpoint.number)
    try:
        with adopting(catchpoint):
            gdb.execute(command)
    except gdb.error as error:
        gdb.write(f"warning: `{command}` could not be set again: {error}\n", gdb.STDERR)
    if registry.get(catchpoint.number) is None:  # not made, or GDB's own serves it here
        delete_later(catchpoint)  # GDB is still using it
