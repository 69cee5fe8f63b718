"""The stopped thread: the frame line of a stop report, in the form GDB prints for a
breakpoint hit.

Built here rather than captured from `frame`: GDB 13 loses the output of a stop
handler that ran a command with to_string during the first stop of `run`.
"""
from functools import lru_cache

import gdb

_AGGREGATES = (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_ARRAY)


def function_block(block):
    """The block of the function `block` is in (an inlined one's, in inlined code)."""
    while block is not None and block.function is None:
        block = block.superblock
    return block


def _arguments(frame) -> str:
    try:
        innermost = frame.block()
    except RuntimeError:
        return ""
    block = function_block(innermost)
    if block is None:
        return ""
    shown = []
    for symbol in block:
        if not symbol.is_argument:
            continue
        name = symbol.print_name
        try:
            value = symbol.value(frame)
            # GDB's default `print frame-arguments scalars`.
            if value.type.strip_typedefs().code in _AGGREGATES:
                shown.append(f"{name}=...")
                continue
            text = value.format_string()
        except gdb.error as error:
            text = f"<error: {error}>"
        entry = _entry_value(symbol, innermost)
        if entry is None:
            shown.append(f"{name}={text}")
        elif entry == text:
            shown.append(f"{name}={name}@entry={entry}")
        else:
            shown.append(f"{name}={text}, {name}@entry={entry}")
    return ", ".join(shown)


def _entry_value(symbol, block):
    """The argument's value at the function's entry, where GDB knows it (optimised code, from
    the caller's call site): GDB's default `print entry-values default` shows it beside the
    value.  The selected frame is the one described; `block` is its innermost at the pc."""
    name = symbol.print_name
    try:
        found = gdb.lookup_symbol(name, block)[0]
        if found is None or not found.is_argument or found.line != symbol.line:
            return None     # a local of the same name hides it from an expression
        return gdb.parse_and_eval(f"{name}@entry").format_string()
    except gdb.error:
        return None


@lru_cache(maxsize=64)
def _source_lines(path: str):
    try:
        with open(path, errors="replace") as source:
            return source.read().splitlines()
    except OSError:
        return None


def describe(frame) -> str:
    """`[0xADDR in ]FUNCTION (ARGS) at FILE:LINE` and the source line, as GDB prints them."""
    pc = frame.pc()
    sal = frame.find_sal()
    name = frame.name() or "??"     # as GDB names a frame: a C++ function without parameters
    at_line_start = sal.symtab is not None and sal.pc == pc
    text = "" if at_line_start else f"{pc:#018x} in "
    text += f"{name} ({_arguments(frame)})"
    if sal.symtab is None:
        library = gdb.solib_name(pc)
        return text + (f" from {library}\n" if library else "\n")
    text += f" at {sal.symtab.filename}:{sal.line}\n"
    lines = _source_lines(sal.symtab.fullname())
    if lines is None:
        return text + f"{sal.line}\t{sal.symtab.filename}: No such file or directory.\n"
    if 0 < sal.line <= len(lines):
        return text + f"{sal.line}\t{lines[sal.line - 1]}\n"
    return text
