"""Reading the agent expression GDB prints for `maint agent-eval -at LINESPEC, EXPR`.

The listing (gdb/ax-general.c, ax_print) is

    Scope: 0x555555555140
    Reg mask: 40
      0  reg 6
      3  const8 16
     ...
     17  end

The register mask is hex bytes up to GDB 13 and groups of binary digits from GDB 14 on; it is
informational only (the ops say which registers are read). Each op line is the byte offset, the
op's name from gdbsupport/ax.def and, for ops with immediate bytes, one decimal number. An
immediate is printed as a signed 64-bit number, so a const64 may be negative.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .errors import AxFormatError

# name -> (immediate bytes, values popped, values pushed); from gdbsupport/ax.def.
# `pick` pops none and pushes one; its real reach is its immediate.
OPCODES: Dict[str, Tuple[int, int, int]] = {
    "float": (0, 0, 0), "add": (0, 2, 1), "sub": (0, 2, 1), "mul": (0, 2, 1),
    "div_signed": (0, 2, 1), "div_unsigned": (0, 2, 1), "rem_signed": (0, 2, 1),
    "rem_unsigned": (0, 2, 1), "lsh": (0, 2, 1), "rsh_signed": (0, 2, 1),
    "rsh_unsigned": (0, 2, 1), "trace": (0, 2, 0), "trace_quick": (1, 1, 1),
    "log_not": (0, 1, 1), "bit_and": (0, 2, 1), "bit_or": (0, 2, 1), "bit_xor": (0, 2, 1),
    "bit_not": (0, 1, 1), "equal": (0, 2, 1), "less_signed": (0, 2, 1),
    "less_unsigned": (0, 2, 1), "ext": (1, 1, 1), "ref8": (0, 1, 1), "ref16": (0, 1, 1),
    "ref32": (0, 1, 1), "ref64": (0, 1, 1), "ref_float": (0, 1, 1), "ref_double": (0, 1, 1),
    "ref_long_double": (0, 1, 1), "l_to_d": (0, 1, 1), "d_to_l": (0, 1, 1),
    "if_goto": (2, 1, 0), "goto": (2, 0, 0), "const8": (1, 0, 1), "const16": (2, 0, 1),
    "const32": (4, 0, 1), "const64": (8, 0, 1), "reg": (2, 0, 1), "end": (0, 0, 0),
    "dup": (0, 1, 2), "pop": (0, 1, 0), "zero_ext": (1, 1, 1), "swap": (0, 2, 2),
    "getv": (2, 0, 1), "setv": (2, 1, 1), "tracev": (2, 0, 1), "tracenz": (0, 2, 0),
    "trace16": (2, 1, 1), "pick": (1, 0, 1), "rot": (0, 3, 3), "printf": (0, 0, 0),
}

_SCOPE = re.compile(r"^Scope:\s*(0x[0-9a-fA-F]+)\s*$")
_REG_MASK = re.compile(r"^Reg mask:((?:\s+[0-9a-fA-F]+)*)\s*$")
_OP_LINE = re.compile(r"^\s*(\d+)\s+([a-z_0-9]+)(?:\s+(-?\d+))?\s*$")
_BAD_LINE = re.compile(r"^\s*\d+\s+<(bad|incomplete) opcode[^>]*>\s*$")


@dataclass(frozen=True)
class AxOp:
    offset: int
    name: str
    arg: Optional[int] = None

    @property
    def size(self) -> int:
        return 1 + OPCODES[self.name][0]

    @property
    def next_offset(self) -> int:
        return self.offset + self.size

    def __str__(self) -> str:
        arg = "" if self.arg is None else f" {self.arg}"
        return f"{self.offset:3d}  {self.name}{arg}"


@dataclass(frozen=True)
class AxExpr:
    scope: Optional[int]
    ops: Tuple[AxOp, ...]
    reg_mask: str = ""
    listing: str = ""

    def op_at(self) -> Dict[int, int]:
        """offset -> index in ops"""
        return {op.offset: index for index, op in enumerate(self.ops)}

    def format(self) -> str:
        return "\n".join(str(op) for op in self.ops)


def _immediate_range(name: str) -> Tuple[int, int]:
    width = OPCODES[name][0] * 8
    if name == "const64":
        return -(1 << 63), (1 << 64) - 1
    return 0, (1 << width) - 1


def parse_listing(text: str) -> AxExpr:
    """The ops of a `maint agent-eval` listing; AxFormatError names the offending line."""
    scope: Optional[int] = None
    reg_mask = ""
    ops: List[AxOp] = []
    expected_offset = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue

        def fail(why: str) -> AxFormatError:
            return AxFormatError(f"agent expression listing, line {number} ({line.strip()!r}): "
                                 f"{why}")

        m = _SCOPE.match(line)
        if m:
            if scope is not None or ops:
                raise fail("a second Scope line")
            scope = int(m.group(1), 16)
            continue
        m = _REG_MASK.match(line)
        if m:
            if ops:
                raise fail("Reg mask after the ops")
            reg_mask = m.group(1).strip()
            continue
        if _BAD_LINE.match(line):
            raise fail("GDB printed an invalid or truncated opcode")
        m = _OP_LINE.match(line)
        if not m:
            raise fail("not an op line of the form 'OFFSET  op [immediate]'")
        offset, name, arg_text = int(m.group(1)), m.group(2), m.group(3)
        if name not in OPCODES:
            raise fail(f"unknown op {name!r}")
        if name == "printf":
            raise fail("printf is not part of a condition")
        if offset != expected_offset:
            raise fail(f"offset {offset}, but the previous op ends at {expected_offset}")
        has_immediate = OPCODES[name][0] > 0
        if has_immediate != (arg_text is not None):
            raise fail(f"{name} takes {'an' if has_immediate else 'no'} immediate operand")
        arg = int(arg_text) if arg_text is not None else None
        if arg is not None:
            low, high = _immediate_range(name)
            if not low <= arg <= high:
                raise fail(f"immediate {arg} does not fit in {name}")
        if ops and ops[-1].name == "end":
            raise fail("an op after end")
        op = AxOp(offset, name, arg)
        ops.append(op)
        expected_offset = op.next_offset
    if not ops:
        raise AxFormatError("agent expression listing has no ops: "
                            + (repr(text.strip()[:200]) or "empty output"))
    if ops[-1].name != "end":
        raise AxFormatError(f"agent expression listing does not finish with end (last op: "
                            f"{ops[-1]})")
    return AxExpr(scope, tuple(ops), reg_mask, text)


def listing_constant(text: str) -> Optional[int]:
    """The value of a listing that is one constant (`sizeof(x)`, say), else None."""
    ops = parse_listing(text).ops
    if len(ops) == 2 and ops[0].name.startswith("const") and ops[1].name == "end":
        return ops[0].arg
    return None
