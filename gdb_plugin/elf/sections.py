"""The sections of a 64-bit little-endian ELF file (the only kind x86-64 Linux runs)."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict


class ElfError(ValueError):
    """Not a file this reader understands."""


@dataclass(frozen=True)
class Section:
    name: str
    address: int      # sh_addr: where the section is in the file's own address space
    data: bytes


_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")


def read_sections(path: str) -> Dict[str, Section]:
    """The file's sections by name (the first of a name, as the linker writes one)."""
    with open(path, "rb") as file:
        image = file.read()
    if len(image) < _HEADER.size or image[:4] != b"\x7fELF" or image[4:6] != b"\x02\x01":
        raise ElfError(f"{path} is not a 64-bit little-endian ELF file")
    (_, _, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = _HEADER.unpack_from(
        image)
    if shentsize != _SECTION.size or shoff + shnum * shentsize > len(image) or shstrndx >= shnum:
        raise ElfError(f"{path} has no section table this reader understands")
    headers = [_SECTION.unpack_from(image, shoff + index * shentsize) for index in range(shnum)]
    names_offset, names_size = headers[shstrndx][4], headers[shstrndx][5]
    names = image[names_offset:names_offset + names_size]
    sections: Dict[str, Section] = {}
    for name_at, kind, _, address, offset, size, *_ in headers:
        name = names[name_at:names.index(b"\0", name_at)].decode("ascii", "replace")
        data = b"" if kind == 8 else image[offset:offset + size]   # SHT_NOBITS: nothing stored
        sections.setdefault(name, Section(name, address, data))
    return sections
