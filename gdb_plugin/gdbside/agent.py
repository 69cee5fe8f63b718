"""GDB's own compiler of conditions into agent expressions, at an exact address.

`maint agent-eval -at` takes only a linespec and compiles at that linespec's
post-prologue address; without `-at` it compiles at the selected frame's pc.
Every listing names its pc ("Scope:"), which is checked against the address
asked for.  Where no linespec names the address (a `*ADDR` inside a line):
  * a condition that reads no local variable compiles the same anywhere;
  * otherwise the selected frame's pc is moved to ADDR for the compilation and
    restored right after.  That is safe only while the program is stopped by a
    user command, never inside GDB's own event processing (an exec, a library
    load): there it raises AxUnavailable, and the listing compiled earlier,
    when the breakpoint was set, is used if there is one.
"""
import re

import gdb

from ..compiler import AxUnavailable

_SCOPE = re.compile(r"^Scope: (0x[0-9a-f]+)", re.M)
_IDENTIFIER = re.compile(r"(?<![\w$.>])[A-Za-z_]\w*")

# Listings compiled at exactly their address, for the current program image.
_listings = {}


def forget_listings():
    """A new program image (run, exec): the same address may hold other code."""
    _listings.clear()


def _listing_at_scope(output, address):
    """The one listing in `output` compiled at `address`, if any."""
    starts = list(_SCOPE.finditer(output))
    for index, match in enumerate(starts):
        if int(match.group(1), 16) == address:
            end = starts[index + 1].start() if index + 1 < len(starts) else len(output)
            return output[match.start():end]
    return None


_SETTING = re.compile(r'is "?(\w+)"?\.$', re.M)


class _InternalErrorsAbortTheCommand:
    """GDB 13 hits an internal error compiling some expressions (any __int128 value), and
    would quit: for the compilation only, such an error aborts the command instead (and
    without a backtrace, which GDB cannot print into a captured command's output)."""

    _settings = ("maint {} internal-error quit", "maint {} internal-error corefile",
                 "maint {} internal-error backtrace")
    _quiet = ("no", "no", "off")

    def __enter__(self):
        self._saved = [_SETTING.search(gdb.execute(s.format("show"), to_string=True)).group(1)
                       for s in self._settings]
        for setting, value in zip(self._settings, self._quiet):
            gdb.execute(f"{setting.format('set')} {value}", to_string=True)

    def __exit__(self, *exc):
        for setting, value in zip(self._settings, self._saved):
            gdb.execute(f"{setting.format('set')} {value}", to_string=True)


def _run(command):
    try:
        with _InternalErrorsAbortTheCommand():
            return gdb.execute(command, to_string=True)
    except gdb.error as error:
        raise AxUnavailable(str(error)) from None
    except KeyboardInterrupt:  # how an aborted command reaches Python
        raise AxUnavailable("GDB's agent-expression compiler failed on it (an internal error "
                            "in GDB)") from None


def _line_linespec(address):
    sal = gdb.find_pc_line(address)
    return f"{sal.symtab.fullname()}:{sal.line}" if sal.symtab is not None and sal.line else None


def linespec_listing(address, linespec, expression):
    if linespec is None:
        return None
    return _listing_at_scope(_run(f"maint agent-eval -at {linespec}, {expression}"), address)


def _reads_locals(address, expression):
    try:
        block = gdb.block_for_pc(address)
    except RuntimeError:
        return False
    if block is None:
        return False
    for name in set(_IDENTIFIER.findall(expression)):
        symbol = gdb.lookup_symbol(name, block)[0]
        if symbol is not None and symbol.needs_frame:
            return True
    return False


def agent_eval_at(address, linespec=None, may_move_pc=False):
    """A callable compiling an expression to an AX listing valid at `address`."""
    def agent_eval(expression):
        key = (address, expression)
        if key not in _listings:
            _listings[key] = _compile(address, linespec, expression, may_move_pc)
        return _listings[key]
    return agent_eval


def _wide_integers(address, expression):
    """Whether the expression names a variable wider than 64 bits: GDB 13's agent-expression
    compiler hits an internal error on them, which inside GDB's event handling would leave
    the program in a state GDB cannot resume."""
    try:
        block = gdb.block_for_pc(address) if address is not None else None
    except RuntimeError:
        block = None
    for name in set(_IDENTIFIER.findall(expression)):
        try:
            symbol = gdb.lookup_symbol(name, block)[0] if block is not None else None
            symbol = symbol or gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
        except gdb.error:
            continue
        if symbol is not None and symbol.type is not None:
            target = symbol.type.strip_typedefs()
            if target.code == gdb.TYPE_CODE_INT and target.sizeof > 8:
                return True
    return False


def _compile(address, linespec, expression, may_move_pc):
    if _wide_integers(address, expression):
        raise AxUnavailable("it uses an integer wider than 64 bits, which agent expressions "
                            "cannot hold")
    listing = (linespec_listing(address, linespec, expression)
               or linespec_listing(address, _line_linespec(address), expression))
    if listing is not None:
        return listing
    if not _reads_locals(address, expression):
        output = _run(f"maint agent-eval {expression}")
        return output[output.index("Scope:"):] if "Scope:" in output else output
    if may_move_pc:
        return _compile_with_pc_at(address, expression)
    raise AxUnavailable(f"GDB compiles conditions on local variables only at the start of a "
                        f"line, and {address:#x} is inside one: set this breakpoint while the "
                        f"program is stopped to have the kernel filter on them")


def settled(address, linespec):
    """Whether GDB already resolves `linespec` to `address` (not before relocation, say)."""
    if linespec is None:
        return True
    try:
        return linespec_listing(address, linespec, "1") is not None
    except AxUnavailable:
        return False


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


def is_program_symbol(address=None):
    """Whether a bare name is a program symbol at `address` (so not a register name)."""
    try:
        block = gdb.block_for_pc(address) if address is not None else None
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
