"""Where a function's return address is, at one of its instructions, from the call frame
information of `.eh_frame` (DWARF CFI, as GCC and Clang emit it for every function on x86-64
and AArch64).

GDB unwinds a frame with these rules: at a pc, the canonical frame address (CFA) is a register
plus an offset, and the return address is saved at the CFA plus another offset.  Only those two
plain forms are answered; a CFA or a return address given by a DWARF expression, or a pc that
no FDE covers, has no answer (None), and whoever asked must do without.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .sections import ElfError, Section

class CfiError(ElfError):
    """`.eh_frame` is missing or malformed."""


@dataclass(frozen=True)
class ReturnAddressSlot:
    """The return address is the 8 bytes at `register + offset`."""
    register: str
    offset: int


class _Reader:
    def __init__(self, data: bytes, address: int, at: int = 0):
        self.data, self.address, self.at = data, address, at

    def take(self, size: int) -> int:
        if self.at + size > len(self.data):
            raise CfiError(".eh_frame ends inside an entry")
        value = int.from_bytes(self.data[self.at:self.at + size], "little")
        self.at += size
        return value

    def signed(self, size: int) -> int:
        value = self.take(size)
        return value - (1 << 8 * size) if value >> (8 * size - 1) else value

    def _leb128(self, signed: bool) -> int:
        value = shift = 0
        while True:
            byte = self.take(1)
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value - (1 << shift) if signed and byte & 0x40 else value

    def uleb(self) -> int:
        return self._leb128(signed=False)

    def sleb(self) -> int:
        return self._leb128(signed=True)

    def skip_block(self) -> None:
        """A ULEB128 length, then that many bytes."""
        length = self.uleb()
        self.at += length

    def cstring(self) -> bytes:
        end = self.data.find(b"\0", self.at)
        if end < 0:
            raise CfiError(".eh_frame ends inside a string")
        text, self.at = self.data[self.at:end], end + 1
        return text

    def pointer(self, encoding: int) -> int:
        """A pointer in DW_EH_PE `encoding` (only absolute and pc-relative ones are used in
        `.eh_frame` of executables and shared objects)."""
        here = self.address + self.at
        form = encoding & 0x0F
        if form == 0x00:
            value = self.take(8)
        elif form == 0x01:
            value = self.uleb()
        elif form == 0x09:
            value = self.sleb()
        elif form in (0x02, 0x03, 0x04):
            value = self.take({0x02: 2, 0x03: 4, 0x04: 8}[form])
        elif form in (0x0A, 0x0B, 0x0C):
            value = self.signed({0x0A: 2, 0x0B: 4, 0x0C: 8}[form])
        else:
            raise CfiError(f"pointer encoding {encoding:#x} is not understood")
        application = encoding & 0x70
        if application == 0x10:
            value += here
        elif application != 0:
            raise CfiError(f"pointer encoding {encoding:#x} is not understood")
        return value & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class _Cie:
    code_align: int
    data_align: int
    return_register: int
    pointer_encoding: int
    augmented: bool
    instructions: Tuple[int, int]        # [start, end) in the section


@dataclass(frozen=True)
class _Fde:
    begin: int
    end: int
    cie: _Cie
    instructions: Tuple[int, int]


def _entries(data: bytes, address: int):
    """Each entry's (start of its body, end, CIE pointer field's value, its position)."""
    reader = _Reader(data, address)
    while reader.at + 4 <= len(data):
        length = reader.take(4)
        if length == 0:
            return
        if length == 0xFFFFFFFF:
            length = reader.take(8)
        start = reader.at
        end = start + length
        if end > len(data):
            raise CfiError(".eh_frame ends inside an entry")
        yield start, end, reader.take(4), start
        reader.at = end


def _cie_at(data: bytes, address: int, start: int, end: int) -> _Cie:
    reader = _Reader(data, address, start + 4)
    version = reader.take(1)
    augmentation = reader.cstring()
    if b"eh" in augmentation:
        reader.take(8)
    code_align, data_align = reader.uleb(), reader.sleb()
    return_register = reader.take(1) if version == 1 else reader.uleb()
    encoding, augmented = 0x00, augmentation.startswith(b"z")
    if augmented:
        after = reader.uleb() + reader.at
        for letter in augmentation[1:]:
            if letter == ord("R"):
                encoding = reader.take(1)
            elif letter == ord("P"):
                reader.pointer(reader.take(1))
            elif letter == ord("L"):
                reader.take(1)
            elif letter not in (ord("S"), ord("B")):
                break                       # the length given says where the rest ends
        reader.at = after
    return _Cie(code_align, data_align, return_register, encoding, augmented,
                (reader.at, end))


class FrameTable:
    """The FDEs of one file's `.eh_frame`, looked up by pc (the file's own addresses)."""

    def __init__(self, data: bytes, address: int, registers: Sequence[str]):
        self._data, self._address, self._registers = data, address, registers
        cies, fdes = {}, []
        for start, end, pointer, body in _entries(data, address):
            if pointer == 0:
                cies[body - 4] = _cie_at(data, address, body, end)
                continue
            cie_at = body - pointer
            if cie_at not in cies:
                raise CfiError("an FDE names a CIE that does not come before it")
            cie = cies[cie_at]
            reader = _Reader(data, address, body + 4)
            begin = reader.pointer(cie.pointer_encoding)
            size = reader.pointer(cie.pointer_encoding & 0x0F)
            if cie.augmented:
                reader.skip_block()
            if size:
                fdes.append(_Fde(begin, begin + size, cie, (reader.at, end)))
        fdes.sort(key=lambda fde: fde.begin)
        self._fdes: List[_Fde] = fdes
        self._begins = [fde.begin for fde in fdes]

    def return_address_slot(self, pc: int) -> Optional[ReturnAddressSlot]:
        index = bisect.bisect_right(self._begins, pc) - 1
        if index < 0 or not pc < self._fdes[index].end:
            return None
        fde = self._fdes[index]
        cie = fde.cie
        initial = _run(self._reader(cie.instructions), cie, None, 0, None)
        cfa, saved = _run(self._reader(fde.instructions), cie, initial, fde.begin, pc)
        if cfa is None or saved is None or not 0 <= cfa[0] < len(self._registers):
            return None
        return ReturnAddressSlot(self._registers[cfa[0]], cfa[1] + saved)

    def _reader(self, span: Tuple[int, int]) -> _Reader:
        return _Reader(self._data[:span[1]], self._address, span[0])


_Rule = Tuple[Optional[Tuple[int, int]], Optional[int]]   # (CFA (register, offset), RA offset)


def _run(reader: _Reader, cie: _Cie, initial: Optional[_Rule], location: int,
         pc: Optional[int]) -> _Rule:
    """The rules in force at `pc` (None: after all of them, for a CIE's initial ones)."""
    cfa, saved = initial if initial is not None else (None, None)
    stack: List[_Rule] = []
    ra = cie.return_register

    def set_saved(register: int, value: Optional[int]) -> None:
        nonlocal saved
        if register == ra:
            saved = value

    while reader.at < len(reader.data):
        op = reader.take(1)
        high, low = op >> 6, op & 0x3F
        advance = None
        if high == 1:
            advance = low * cie.code_align
        elif high == 2:
            set_saved(low, reader.uleb() * cie.data_align)
        elif high == 3:
            set_saved(low, initial[1] if initial is not None else None)
        elif op == 0x00:
            pass
        elif op == 0x01:
            new_location = reader.pointer(cie.pointer_encoding)
            advance = new_location - location
        elif op in (0x02, 0x03, 0x04):
            advance = reader.take({0x02: 1, 0x03: 2, 0x04: 4}[op]) * cie.code_align
        elif op == 0x05:
            register = reader.uleb()
            set_saved(register, reader.uleb() * cie.data_align)
        elif op == 0x06:
            set_saved(reader.uleb(), initial[1] if initial is not None else None)
        elif op in (0x07, 0x08):
            set_saved(reader.uleb(), None)
        elif op == 0x09:
            register = reader.uleb()
            reader.uleb()
            set_saved(register, None)
        elif op == 0x0A:
            stack.append((cfa, saved))
        elif op == 0x0B:
            if not stack:
                raise CfiError("DW_CFA_restore_state without a state remembered")
            cfa, saved = stack.pop()
        elif op == 0x0C:
            cfa = (reader.uleb(), reader.uleb())
        elif op == 0x0D:
            register = reader.uleb()
            cfa = (register, cfa[1]) if cfa is not None else None
        elif op == 0x0E:
            offset = reader.uleb()
            cfa = (cfa[0], offset) if cfa is not None else None
        elif op == 0x0F:
            reader.skip_block()
            cfa = None
        elif op in (0x10, 0x16):
            register = reader.uleb()
            reader.skip_block()
            set_saved(register, None)
        elif op in (0x11, 0x2F):
            register, offset = reader.uleb(), reader.uleb() if op == 0x2F else reader.sleb()
            set_saved(register, offset * cie.data_align * (-1 if op == 0x2F else 1))
        elif op == 0x12:
            register = reader.uleb()
            cfa = (register, reader.sleb() * cie.data_align)
        elif op == 0x13:
            offset = reader.sleb() * cie.data_align
            cfa = (cfa[0], offset) if cfa is not None else None
        elif op in (0x14, 0x15):
            register = reader.uleb()
            (reader.uleb if op == 0x14 else reader.sleb)()
            set_saved(register, None)
        elif op == 0x2E:
            reader.uleb()
        else:
            raise CfiError(f"call frame instruction {op:#x} is not understood")
        if advance is not None:
            if pc is not None and location + advance > pc:
                break
            location += advance
    return cfa, saved


def frame_table(sections: Dict[str, Section], registers: Sequence[str]) -> FrameTable:
    """The frame table of an ELF file, from its sections (sections.read_sections), whose
    DWARF register numbers name `registers` (arch/); CfiError if it has none."""
    section = sections.get(".eh_frame")
    if section is None or not section.data:
        raise CfiError("the file has no .eh_frame")
    return FrameTable(section.data, section.address, registers)
