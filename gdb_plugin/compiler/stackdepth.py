"""Static stack depths of an agent expression.

The lowering gives each stack depth a fixed home (a BPF register or stack slot), so the depth
before every op must be known at compile time and equal on all paths that meet at a jump
target. Conditions only jump forward (`&&`, `||`, `?:`), which keeps the program loop-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from .ax import OPCODES, AxExpr
from .errors import UnsupportedAx

CONDITION_OPS = frozenset("""
    add sub mul div_signed div_unsigned rem_signed rem_unsigned lsh rsh_signed rsh_unsigned
    log_not bit_and bit_or bit_xor bit_not equal less_signed less_unsigned ext zero_ext
    ref8 ref16 ref32 ref64 const8 const16 const32 const64 reg if_goto goto dup pop swap pick
    rot end
""".split())

_WHY_NOT = {
    "float": "uses floating point",
    "ref_float": "uses floating point",
    "ref_double": "uses floating point",
    "ref_long_double": "uses floating point",
    "l_to_d": "uses floating point",
    "d_to_l": "uses floating point",
    "trace": "collects memory for a tracepoint",
    "trace_quick": "collects memory for a tracepoint",
    "trace16": "collects memory for a tracepoint",
    "tracenz": "collects memory for a tracepoint",
    "tracev": "collects a trace state variable",
    "getv": "reads a trace state variable",
    "setv": "assigns a trace state variable",
    "printf": "prints",
}


@dataclass(frozen=True)
class StackFlow:
    depth_before: List[Optional[int]]   # per op index; None where no path reaches the op
    max_depth: int
    targets: Dict[int, int]             # op index -> depth, for ops reached by a jump


def _pops_pushes(name: str, arg: Optional[int]):
    if name == "pick":
        return arg + 1, arg + 2     # needs arg+1 values, leaves them plus a copy
    _, pops, pushes = OPCODES[name]
    return pops, pushes


def analyze(expr: AxExpr) -> StackFlow:
    """Depth before each op; UnsupportedAx for ops a condition cannot use or unsound flow."""
    index_of = expr.op_at()
    depth_before: List[Optional[int]] = [None] * len(expr.ops)
    incoming: Dict[int, int] = {}
    depth: Optional[int] = 0
    max_depth = 0
    for i, op in enumerate(expr.ops):
        if op.name not in CONDITION_OPS:
            why = _WHY_NOT.get(op.name, "is not an operation a condition uses")
            raise UnsupportedAx(f"agent expression op {op.name!r} (at offset {op.offset}) "
                                f"{why}; the eBPF predicate cannot evaluate it")
        if i in incoming:
            if depth is not None and depth != incoming[i]:
                raise UnsupportedAx(
                    f"agent expression paths meet at offset {op.offset} with stack depths "
                    f"{depth} and {incoming[i]}")
            depth = incoming[i]
        if depth is None:
            continue                     # unreachable: after a goto, not a jump target
        depth_before[i] = depth
        if op.name in ("ext", "zero_ext") and op.arg == 0:
            raise UnsupportedAx(f"agent expression op {op.name} 0 at offset {op.offset} "
                                "extends from zero bits")
        pops, pushes = _pops_pushes(op.name, op.arg)
        if depth < pops:
            raise UnsupportedAx(f"agent expression op {op.name} at offset {op.offset} needs "
                                f"{pops} stack values but has {depth}")
        depth = depth - pops + pushes
        max_depth = max(max_depth, depth)
        if op.name in ("if_goto", "goto"):
            target = index_of.get(op.arg)
            if target is None:
                raise UnsupportedAx(f"agent expression {op.name} at offset {op.offset} jumps "
                                    f"to {op.arg}, which is not the start of an op")
            if target <= i:
                raise UnsupportedAx(f"agent expression {op.name} at offset {op.offset} jumps "
                                    f"backwards to {op.arg}; a condition only jumps forward")
            if target in incoming and incoming[target] != depth:
                raise UnsupportedAx(
                    f"agent expression jumps reach offset {op.arg} with stack depths "
                    f"{incoming[target]} and {depth}")
            incoming[target] = depth
            if op.name == "goto":
                depth = None
        elif op.name == "end":
            if depth < 1:
                raise UnsupportedAx(f"agent expression ends at offset {op.offset} with an "
                                    "empty stack")
            depth = None
    return StackFlow(depth_before, max_depth, incoming)
