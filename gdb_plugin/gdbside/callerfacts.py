"""What GDB knows at a breakpoint address about who called (compiler/callers.py): the function
there, where its return address is saved, the blocks of the functions of a name, and the code
GDB has symbols for.

Addresses are the running program's.  The call frame information is read from the object
file on this machine (elf/cfi.py), at the address less the distance GDB relocated its section
by (`info files` lists every loaded section at its address).  Each answer is None where GDB
might know otherwise: the compiler then leaves that part to GDB.
"""
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

import gdb

from .. import arch
from ..compiler.callers import CallerFacts, names_frame
from ..elf.cfi import CfiError, FrameTable, frame_table
from ..elf.sections import ElfError, read_sections
from .agent import NotCompiledYet, commands_may_fail
from .frames import function_block

_LOADED = re.compile(r"^\s*(0x[0-9a-f]+) - (0x[0-9a-f]+) is (\S+)(?: in (.+))?$", re.M)
# A jump, and where GDB says it goes: `jmp 0x1160 <helper>`, `jne 0x1187 <parse+23>`.
_JUMP = re.compile(r"^(?:(?:notrack|bnd|rep[a-z]*)\s+)*j[a-z]+\s+(\S+)(?:\s+<([^>]*)>)?")
_MOST_SCANNED = 1 << 16     # bytes of code scanned for tail calls, per name

# (start, end, section, file) of every loaded section, for the process and objfiles they were
# listed for (a process's start relocates them).
_sections: Tuple[tuple, List[Tuple[int, int, str, str]]] = ((), [])
# Per object file: its sections' addresses in the file, and its frame table (elf/cfi.py).
_files: Dict[str, Optional[Tuple[Dict[str, int], Optional[FrameTable]]]] = {}
# The blocks of the functions of a name, per process and objfiles (see _loaded_sections):
# every address of a breakpoint asks for them.
_ranges: Dict[tuple, Optional[List[Tuple[int, int]]]] = {}
# Objfiles whose code a compiled test took as known: another library loaded where one of them
# was would hold functions the test never looked at.
_relied_on: Set[str] = set()


def forget() -> None:
    """A new program image: files may have changed on disk, sections moved."""
    global _sections
    _sections = ((), [])
    _files.clear()
    _ranges.clear()
    _relied_on.clear()


def unloaded_since() -> bool:
    """Whether an objfile a compiled test relied on is gone since the last call."""
    current = {objfile.filename for objfile in gdb.objfiles() if objfile.is_valid()}
    gone = bool(_relied_on - current)
    _relied_on.intersection_update(current)
    return gone


def _loaded_sections() -> List[Tuple[int, int, str, str]]:
    global _sections
    objfiles = (gdb.selected_inferior().pid,
                *(objfile.filename for objfile in gdb.objfiles() if objfile.is_valid()))
    if _sections[0] != objfiles:
        listing = gdb.execute("info files", to_string=True)
        exec_file = gdb.current_progspace().filename
        _sections = (objfiles, [(int(start, 16), int(end, 16), name, path or exec_file)
                                for start, end, name, path in _LOADED.findall(listing)])
    return _sections[1]


def _file(path: str) -> Optional[Tuple[Dict[str, int], Optional[FrameTable]]]:
    """The addresses of the object file's sections in the file itself, and its frame table
    (None: it has none); None if it cannot be read."""
    if path not in _files:
        try:
            sections = read_sections(path)
        except (ElfError, OSError):
            _files[path] = None
            return None
        try:
            table = frame_table(sections, arch.current().dwarf_registers)
        except CfiError:
            table = None
        _files[path] = ({name: section.address for name, section in sections.items()}, table)
    return _files[path]


def _may_tail_call(ranges) -> bool:
    """Whether code in `ranges` may jump to another function, or somewhere GDB cannot name:
    GDB then shows a frame of that code above the function it jumped to (a tail call frame,
    rebuilt from DWARF call sites), whose return address is elsewhere."""
    if sum(high - low for low, high in ranges) > _MOST_SCANNED:
        return True
    architecture = gdb.selected_inferior().architecture()
    for low, high in ranges:
        for instruction in architecture.disassemble(low, high - 1):
            jump = _JUMP.match(instruction["asm"])
            if jump is None:
                continue
            where, name = jump.groups()
            if where.startswith("*") or name is None or "+" not in name:
                return True     # indirect, unnamed, or to a function's first instruction
    return False


def _has_function_symbol(name: str) -> bool:
    symbols = [gdb.lookup_global_symbol(name), *gdb.lookup_static_symbols(name)]
    return any(symbol is not None and symbol.is_function for symbol in symbols)


def _blocks_named(name: str) -> Optional[List[Tuple[int, int]]]:
    """[low, high) of every block of a function GDB may name `name`; None if GDB finds none,
    a place outside such a block, or code that may tail call (_may_tail_call)."""
    try:
        _, places = gdb.decode_line(name)
    except gdb.error:
        return None
    ranges = set()
    for place in places or ():
        block = function_block(gdb.block_for_pc(place.pc))
        while block is not None and not names_frame(block.function.print_name, name):
            block = function_block(block.superblock)
        if block is None:
            return None
        ranges.add((block.start, block.end))
    return sorted(ranges) if ranges and not _may_tail_call(ranges) else None


class FactsAt(CallerFacts):
    """The facts at `address`, each looked up when first asked."""

    def __init__(self, address: int):
        self.address = address

    def _block(self):
        try:
            return function_block(gdb.block_for_pc(self.address)), True
        except RuntimeError:
            return None, False

    def in_inlined_code(self) -> bool:
        # There the frames at the pc depend on the breakpoint's own symbol.  Code without
        # debug information has no blocks, and so no inlined frames.
        block, known = self._block()
        return not known or (block is not None and (block.superblock is None
                                                    or not block.superblock.is_static))

    def function(self) -> Optional[str]:
        block, _ = self._block()
        return None if block is None else block.function.print_name

    def return_address(self) -> Optional[str]:
        for start, end, section, path in _loaded_sections():
            if start <= self.address < end:
                break
        else:
            return None
        known = _file(path)
        if known is None or known[1] is None or section not in known[0]:
            return None
        addresses, table = known
        slot = table.return_address_slot(self.address - start + addresses[section])
        if slot is None:
            return None
        return f"*(unsigned long *) (${slot.register} + {slot.offset})"

    def ranges_of(self, name: str) -> Optional[Sequence[Tuple[int, int]]]:
        _loaded_sections()      # the cache below is for this process and these objfiles
        key = (_sections[0], name)
        if key not in _ranges:
            # A linespec that finds nothing raises: only where that is safe, or for a name GDB
            # has a function symbol of (a function inlined everywhere has none).
            if not (commands_may_fail() or _has_function_symbol(name)):
                NotCompiledYet()    # counted: the condition is compiled again at the next stop
                return None
            _ranges[key] = _blocks_named(name)
        return _ranges[key]

    def known_code(self) -> Sequence[Tuple[int, int]]:
        text = [(start, end, path) for start, end, section, path in _loaded_sections()
                if section == ".text"]
        _relied_on.update(path for _, _, path in text)
        return [(start, end) for start, end, _ in text]
