"""Whether a part only GDB evaluates may be a type error.

GDB 13 evaluates the right operand of `&&` and `||` even when the left one decides, with
EVAL_AVOID_SIDE_EFFECTS (no memory reads, calls or divisions, but every operator's type
check): a type error there -- `1.5 | i`, `65280 & $rbp` ($rbp is a `void *`) -- is an error at
every hit, and GDB stops at every hit. A ternary evaluates only the branch it takes.

GDB itself answers whether a part type-checks: its AX compiler, asked for `(typeof((X)))0`,
evaluates X just so, in the breakpoint's scope, and fails with GDB's own message if X does not
type-check. A ternary gives X the type of the branch taken, so the ternaries are distributed
first (as for the kernel) and each branch is checked in its context.
"""
from __future__ import annotations

from typing import List

from .hazards import distribute_ternaries
from .syntax import parse


def type_probes(text: str) -> List[str]:
    """Expressions that all compile iff GDB's type checks of `text` pass whichever branch
    of each ternary is taken. Raises ConditionSyntaxError if `text` has too many ternaries."""
    distributed = distribute_ternaries(text)
    tree = parse(distributed)
    parts = [tree] + [branch for node in tree.walk() if node.kind == "ternary"
                      for branch in node.children]
    return [f"(typeof(({part.text(distributed)})))0" for part in parts]
