"""Character literals as GDB's values, and enums as GDB's integers (compiler/literals.py,
compiler/enums.py); GDB's own answers are checked by test_compiler_gdb_diff.py."""
import pytest

from gdb_plugin.compiler import AxUnavailable
from gdb_plugin.compiler.enums import enums_as_integers
from gdb_plugin.compiler.literals import (character_value, characters_as_integers,
                                          literal_bytes)
from gdb_plugin.compiler.syntax import parse
from test_compiler_lower import listing


@pytest.mark.parametrize("literal,value", [
    ("'a'", 97), ("'\\n'", 10), ("'\\0'", 0), ("'\\101'", 65), ("'\\x41'", 65),
    ("'\\e'", 27), ("'\\''", 39), ("'\\\\'", 92), ("'\"'", 34), ("'\\?'", 63),
])
def test_plain_ascii_characters_have_their_value(literal, value):
    assert character_value(literal) == value


@pytest.mark.parametrize("literal", [
    "'ab'", "''", "'\\xff'", "'\\377'", "'é'", "'\\u00e9'", "'\\q'", "L'a'", "u8'a'", "\"a\"",
])
def test_other_character_literals_stay_with_gdb(literal):
    assert character_value(literal) is None


def test_string_literals_give_their_bytes_or_none():
    assert literal_bytes('"om\\x65ga\\n"') == b"omega\n"
    assert literal_bytes('""') == b""
    assert literal_bytes('"caf\\xe9"') is None
    assert literal_bytes('L"x"') is None


def test_character_literals_become_casts_and_the_rest_stays_as_typed():
    assert characters_as_integers("c == 'a'  &&  s[1] != L'b' && t == \"'x'\"") == (
        "c == ((char)97)  &&  s[1] != L'b' && t == \"'x'\"")
    assert characters_as_integers("sizeof 'a' == 1") == "sizeof ((char)97) == 1"
    assert characters_as_integers("'unterminated") == "'unterminated"


class EnumGdb:
    """GDB's answers for `e` (an unsigned 4-byte enum), `n` (a signed 2-byte one), `E` and
    `N` (their types), and `i` (an int)."""

    READS = {"e": ["ref32"], "n": ["ref16", "ext 16"], "(E)i": ["ref32"],
             "(N)i": ["ref16", "ext 16"], "i": ["ref32", "ext 32"]}

    def __call__(self, expression):
        for operand, ops in self.READS.items():
            if expression == f"(long long){{typeof({operand})}}$rsp":
                read = listing("reg 7", "zero_ext 64", *ops, "end")
                return "Scope: 0x1000\nReg mask: 80\n" + "".join(
                    f"{op.offset:3d}  {op.name}" + ("" if op.arg is None else f" {op.arg}")
                    + "\n" for op in read.ops)
        if expression == "(i) == $rax":
            return "Scope: 0x1000\nReg mask: 00\n  0  const8 1\n  2  end\n"
        raise AxUnavailable("Invalid combination of types in equal.")


@pytest.mark.parametrize("text,refused,expected", [
    ("e == i", True, "((unsigned int)(e)) == i"),
    ("-n < e", True, "-((short)(n)) < ((unsigned int)(e))"),
    ("(E)i == 3 && (N)i", False, "(unsigned int)i == 3 && (short)i"),
    ("e == i", False, "e == i"),
    ("s.e == 1", True, "s.e == 1"),
])
def test_enum_operands_and_casts_become_integers(text, refused, expected):
    assert enums_as_integers(text, parse(text), EnumGdb(), refused) == expected
