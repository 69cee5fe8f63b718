"""The return address's place from `.eh_frame`, checked row by row against binutils' own reading
(`readelf --debug-dump=frames-interp`) of programs GCC builds at -O0 and -O2."""
import re
import subprocess

import pytest

from gdb_plugin.arch import X86_64
from gdb_plugin.elf.cfi import CfiError, ReturnAddressSlot, frame_table
from gdb_plugin.elf.sections import ElfError, read_sections
from harness.programs import build

_ROW = re.compile(r"^([0-9a-f]{8,16}) +(.*)$")


def _readelf_rows(path):
    """(pc, {column: rule}) for every row of every FDE, as readelf interprets them."""
    listing = subprocess.run(["readelf", "--debug-dump=frames-interp", str(path)],
                             capture_output=True, text=True, check=True).stdout
    rows, columns = [], None
    for line in listing.splitlines():
        if line.strip().startswith("LOC"):
            columns = line.split()[1:]
        elif not line.strip():
            columns = None
        elif columns and " FDE " not in line and _ROW.match(line):
            pc, rules = _ROW.match(line).groups()
            rows.append((int(pc, 16), dict(zip(columns, rules.split()))))
    return rows


def _expected(rules):
    cfa = re.fullmatch(r"(r\w+)\+(\d+)", rules.get("CFA", ""))
    saved = re.fullmatch(r"c(-?\d+)", rules.get("ra", ""))
    if cfa is None or saved is None:
        return None
    return ReturnAddressSlot(cfa.group(1), int(cfa.group(2)) + int(saved.group(1)))


@pytest.mark.parametrize("name", ["loop", "inlined", "corpus_c", "corpus_cpp"])
@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_every_row_is_binutils_reading(name, opt):
    program = build(name, opt)
    table = frame_table(read_sections(str(program)), X86_64.dwarf_registers)
    rows = [(pc, rules) for pc, rules in _readelf_rows(program) if pc]   # pc 0: a CIE's rules
    assert len(rows) > 5
    assert [(hex(pc), table.return_address_slot(pc)) for pc, _ in rows] == [
        (hex(pc), _expected(rules)) for pc, rules in rows]


def test_a_pc_no_fde_covers_has_no_answer():
    table = frame_table(read_sections(str(build("loop"))), X86_64.dwarf_registers)
    assert table.return_address_slot(0) is None


def test_files_without_frames_are_refused(tmp_path):
    text = tmp_path / "text"
    text.write_text("not an ELF file\n")
    with pytest.raises(ElfError, match="not a 64-bit little-endian ELF file"):
        read_sections(str(text))
    stripped = tmp_path / "stripped"
    subprocess.run(["objcopy", "--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr",
                    str(build("loop")), str(stripped)], check=True)
    with pytest.raises(CfiError, match="has no .eh_frame"):
        frame_table(read_sections(str(stripped)), X86_64.dwarf_registers)
