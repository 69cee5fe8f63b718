"""The stopped thread: the frame line of a stop report, in the form GDB prints for a
breakpoint hit, and the resume flag that lets it pass a breakpoint once.

Built here rather than captured from `frame`: GDB 13 loses the output of a stop
handler that ran a command with to_string during the first stop of `run`.
"""
from functools import lru_cache

import gdb

_AGGREGATES = (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_ARRAY)


def _arguments(frame) -> str:
    try:
        block = frame.block()
    except RuntimeError:
        return ""
    while block is not None and block.function is None:
        block = block.superblock
    if block is None:
        return ""
    shown = []
    for symbol in block:
        if not symbol.is_argument:
            continue
        try:
            value = symbol.value(frame)
            # GDB's default `print frame-arguments scalars`.
            text = ("..." if value.type.strip_typedefs().code in _AGGREGATES
                    else value.format_string())
        except gdb.error as error:
            text = f"<error: {error}>"
        shown.append(f"{symbol.print_name}={text}")
    return ", ".join(shown)


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
    function = frame.function()
    name = function.print_name if function is not None else (frame.name() or "??")
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


RESUME_FLAG = 0x10000  # eflags.RF: the kernel sets it so a resumed thread passes the breakpoint


def set_resume_flag(on: bool) -> None:
    """RF set: the selected thread resumes past an instruction breakpoint at its pc once (the
    kernel sets it after every hit); clear: it runs into that breakpoint again."""
    eflags = int(gdb.parse_and_eval("(int) $eflags"))
    eflags = eflags | RESUME_FLAG if on else eflags & ~RESUME_FLAG
    gdb.execute(f"set $eflags = {eflags:#x}", to_string=True)
