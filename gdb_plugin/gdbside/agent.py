"""GDB's own compiler of conditions into agent expressions, at an exact address.

`maint agent-eval -at` takes only a linespec and compiles at that linespec's
post-prologue address; without `-at` it compiles at the selected frame's pc.
For a `*ADDR` location with no linespec of the same address, the selected
frame's pc is moved to ADDR for the compilation and restored right after (the
program is stopped; GDB only reads the pc to pick the scope block and the
DWARF location-list entries).  Every listing names its pc ("Scope:"), which
is checked against the address asked for.
"""
import re

import gdb

from ..compiler import AxUnavailable

_SCOPE = re.compile(r"^Scope: (0x[0-9a-f]+)", re.M)


def _listing_at_scope(output, address):
    """The one listing in `output` compiled at `address`, if any."""
    starts = list(_SCOPE.finditer(output))
    for index, match in enumerate(starts):
        if int(match.group(1), 16) == address:
            end = starts[index + 1].start() if index + 1 < len(starts) else len(output)
            return output[match.start():end]
    return None


def _run(command):
    try:
        return gdb.execute(command, to_string=True)
    except gdb.error as error:
        raise AxUnavailable(str(error)) from None


def agent_eval_at(address, linespec=None):
    """A callable compiling an expression to an AX listing valid at `address`."""
    def agent_eval(expression):
        if linespec is not None:
            listing = _listing_at_scope(_run(f"maint agent-eval -at {linespec}, {expression}"),
                                        address)
            if listing is not None:
                return listing
        return _compile_with_pc_at(address, expression)
    return agent_eval


def _compile_with_pc_at(address, expression):
    if not gdb.selected_inferior().pid or gdb.selected_thread() is None:
        raise AxUnavailable("the program is not running, and the address is not a linespec")
    newest = gdb.newest_frame()
    saved_pc = newest.pc()
    if saved_pc == address:
        return _checked(_run(f"maint agent-eval {expression}"), address)
    level = _selected_level()
    newest.select()
    gdb.execute(f"set $pc = {address:#x}", to_string=True)
    try:
        listing = _run(f"maint agent-eval {expression}")
    finally:
        gdb.execute(f"set $pc = {saved_pc:#x}", to_string=True)
        _select_level(level)
    return _checked(listing, address)


def _checked(output, address):
    listing = _listing_at_scope(output, address)
    if listing is None:
        raise AxUnavailable(f"GDB compiled the condition for another address than {address:#x}")
    return listing


def _selected_level():
    level, frame = 0, gdb.selected_frame()
    while frame.newer() is not None:
        frame, level = frame.newer(), level + 1
    return level


def _select_level(level):
    frame = gdb.newest_frame()
    for _ in range(level):
        frame = frame.older() or frame
    frame.select()


def is_program_symbol(address):
    """Whether a bare name is a program symbol at `address` (so not a register name)."""
    try:
        block = gdb.block_for_pc(address)
    except RuntimeError:
        block = None

    def lookup(name):
        try:
            if block is not None and gdb.lookup_symbol(name, block)[0] is not None:
                return True
            return (gdb.lookup_global_symbol(name) is not None
                    or gdb.lookup_static_symbol(name) is not None)
        except gdb.error:
            return False
    return lookup
