"""Reading `maint agent-eval` listings: real ones from GDB 13.1, other versions' register
masks, and everything that must be refused with the offending line named."""
import pytest

from harness.gdb import run_gdb
from harness.programs import build
from gdb_plugin.compiler import AxFormatError, parse_listing

# Captured from gdb 13.1 on tests/programs/loop.c (-O0), `maint agent-eval -at target, ...`.
I_GT_MINUS_3_AND_FIELD = """Scope: 0x555555555140
Reg mask: 40
  0  reg 6
  3  const8 16
  5  add
  6  const8 236
  8  ext 8
 10  add
 11  ref32
 12  ext 32
 14  const8 253
 16  ext 8
 18  swap
 19  less_signed
 20  if_goto 26
 23  goto 56
 26  const64 93824992248256
 35  ref64
 36  const8 4
 38  add
 39  ref16
 40  ext 16
 42  const8 0
 44  less_signed
 45  if_goto 51
 48  goto 56
 51  const8 1
 53  goto 58
 56  const8 0
 58  end
"""
FS_BASE = """Scope: 0x555555555140
Reg mask: 00 00 00 00 00 00 00 20
  0  reg 58
  3  ext 64
  5  end
"""
NEGATIVE_CONST64 = """Scope: 0x555555555140
Reg mask: 00
  0  const64 -3000000000
  9  end
"""
# GDB 14 and later print the mask as groups of eight binary digits.
GDB14_MASK = """Scope: 0x401136
Reg mask: 00000100 00000000 01
  0  reg 5
  3  ext 64
  5  const8 77
  7  equal
  8  end
"""


def test_real_listing_parses_into_typed_ops():
    expr = parse_listing(I_GT_MINUS_3_AND_FIELD)
    assert expr.scope == 0x555555555140
    assert expr.reg_mask == "40"
    assert [(op.offset, op.name, op.arg) for op in expr.ops[:5]] == [
        (0, "reg", 6), (3, "const8", 16), (5, "add", None), (6, "const8", 236), (8, "ext", 8)]
    assert expr.ops[-1].name == "end" and expr.ops[-1].offset == 58
    assert expr.ops[14].name == "const64" and expr.ops[14].arg == 93824992248256
    assert len(expr.ops) == 28
    assert expr.format().splitlines()[0] == "  0  reg 6"


def test_multi_byte_and_binary_register_masks():
    assert parse_listing(FS_BASE).reg_mask == "00 00 00 00 00 00 00 20"
    expr = parse_listing(GDB14_MASK)
    assert expr.reg_mask == "00000100 00000000 01"
    assert [op.name for op in expr.ops] == ["reg", "ext", "const8", "equal", "end"]


def test_const64_is_printed_signed():
    assert parse_listing(NEGATIVE_CONST64).ops[0].arg == -3000000000


def test_blank_lines_and_trailing_space_are_fine():
    text = "\n" + I_GT_MINUS_3_AND_FIELD.replace("\n", "  \n") + "\n\n"
    assert len(parse_listing(text).ops) == 28


@pytest.mark.parametrize("text,message", [
    ("", "no ops"),
    ("Scope: 0x10\nReg mask: 00\n", "no ops"),
    ("Scope: 0x10\n  0  reg 6\n", "does not finish with end"),
    ("Scope: 0x10\n  0  reg 6\n  2  end\n", r"line 3 \('2  end'\): offset 2, but the previous "
                                           "op ends at 3"),
    ("Scope: 0x10\n  0  frobnicate\n", r"line 2 .*unknown op 'frobnicate'"),
    ("  0  reg\n  3  end\n", "reg takes an immediate operand"),
    ("  0  add 3\n  1  end\n", "add takes no immediate operand"),
    ("  0  const8 300\n  2  end\n", "immediate 300 does not fit in const8"),
    ("  0  const8 -1\n  2  end\n", "does not fit in const8"),
    ("  0  <bad opcode 99>\n", "invalid or truncated opcode"),
    ("  0  <incomplete opcode const64>\n", "invalid or truncated opcode"),
    ("  0  printf \"x\", 0 args\n  1  end\n", "not an op line"),
    ("Scope: 0x10\nScope: 0x10\n  0  end\n", "a second Scope line"),
    ("warning: something\n  0  end\n", r"line 1 \('warning: something'\)"),
    ("  0  const8 1\n  2  end\n  3  end\n", "an op after end"),
])
def test_unexpected_text_is_refused_naming_the_line(text, message):
    with pytest.raises(AxFormatError, match=message):
        parse_listing(text)


@pytest.mark.gdb
def test_this_gdb_prints_what_the_parser_reads():
    exe = build("loop")
    commands = ["break target", "run", *[f"maint agent-eval -at target, {e}" for e in (
        "i == 3", "g_cur->s < -200 || i % 3 == 1", "(unsigned char)g_unsigned >> 3",
        "items[i % 16].flags & 0x80 ? -1 : i", "$rsp", "sizeof(struct item)")]]
    result = run_gdb(exe, commands, args=[5], plugin=False).check()
    chunks = result.stdout.split("Scope: ")[1:]
    assert len(chunks) == 6, result
    for chunk in chunks:
        expr = parse_listing("Scope: " + chunk.split("\n\n")[0])
        assert expr.ops[-1].name == "end"
