"""GDB's functions of who called, `$_caller_is(NAME[, N])`, `$_any_caller_is(NAME[, N])`,
`$_caller_matches(REGEX[, N])` and `$_any_caller_matches(REGEX[, N])`, decided in the kernel.

GDB evaluates them in Python (gdb/python/lib/gdb/function/caller_is.py): from the selected
frame it goes N frames up (N defaults to 1; a negative N is an error), and compares each
frame's `name()` with NAME (`==`) or REGEX (`re.match`); `$_any_…` ask it of every frame from
the selected one up to the Nth.  At a breakpoint outside inlined code the selected frame is the
function at the pc, whose name is known here: frame 0 is a constant.  Frame 1 is the function
that holds the return address minus one, where GDB looks for the caller's pc; the kernel reads
the return address where the call frame information of the pc says it is, and lets the hit
through unless that address lies in code GDB knows and outside every function named NAME
(each of its blocks, inlined copies too, from its lowest to its highest address).  GDB decides
what the kernel lets through, so that the test may hold more often than NAME is the caller,
never less.  Deeper frames, a regex over frame 1, and breakpoints in inlined code stay with GDB.

What GDB knows of the breakpoint's address comes from `CallerFacts`, which the GDB layer
provides; this module only reads it.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Sequence, Tuple

from .ax import parse_listing
from .errors import CompileError
from .literals import literal_bytes
from .result import KernelLeaf
from .syntax import Node
from .tokens import DOLLAR, INT, STRING, int_literal_value

Range = Tuple[int, int]
_FUNCTIONS = ("$_caller_is", "$_any_caller_is", "$_caller_matches", "$_any_caller_matches")
_MENTIONED = re.compile(r"\$_(?:any_)?caller_(?:is|matches)\b")


def mentions_callers(condition: Optional[str]) -> bool:
    """Whether `condition` may use one of the functions above."""
    return bool(_MENTIONED.search(condition or ""))


class CallerFacts:
    """What GDB knows at one breakpoint address; each answer None where it does not know."""

    def in_inlined_code(self) -> bool:
        """Whether the address may be inside an inlined function (or GDB cannot tell)."""
        raise NotImplementedError

    def function(self) -> Optional[str]:
        """The print name of the function at the address (None: no debug symbol for it)."""
        raise NotImplementedError

    def return_address(self) -> Optional[str]:
        """A GDB expression of the return address at the address, as an unsigned long."""
        raise NotImplementedError

    def ranges_of(self, name: str) -> Optional[Sequence[Range]]:
        """[low, high) of every block of a function whose frames GDB may name `name`."""
        raise NotImplementedError

    def known_code(self) -> Sequence[Range]:
        """Code in which ranges_of finds every function of a name (the loaded objfiles')."""
        raise NotImplementedError


def names_frame(print_name: str, name: str) -> bool:
    """Whether a frame of the function `print_name` may be named `name` by GDB: its own name,
    or (C++) its name without the parameter list GDB drops from a frame's name."""
    return print_name == name or print_name.startswith(name + "(")


def caller_test(node: Node, text: str, agent_eval: Callable[[str], str],
                facts: Optional[CallerFacts]) -> Optional[Tuple[KernelLeaf, bool]]:
    """(the kernel form of `node`, whether it is exact) if `node` is one of the functions above
    in a form the kernel can decide here; else None."""
    node = node.unparenthesized()
    if facts is None or node.kind != "call" or not 2 <= len(node.children) <= 3:
        return None
    callee = node.children[0]
    function = callee.text(text)
    if callee.kind != "name" or callee.op != DOLLAR or function not in _FUNCTIONS:
        return None
    wanted = _string(node.children[1])
    frames = _count(node.children[2]) if len(node.children) == 3 else 1
    if wanted is None or frames is None or facts.in_inlined_code():
        return None
    matches = function.endswith("_matches")
    at_pc = facts.function()        # None: frame 0's name is not known here
    try:
        first = None if at_pc is None else _frame_is(at_pc, wanted, matches)
    except re.error:
        return None                 # GDB reports the error, at every hit
    if frames == 0 or (first and function.startswith("$_any")):
        if first is None:
            return None
        return _constant(first, agent_eval), first is False or "(" not in at_pc
    if matches or frames != 1 or (first is None and function.startswith("$_any")):
        return None
    test = _caller_at_return_address(wanted, facts)
    if test is None:
        return None
    try:
        return KernelLeaf(test, parse_listing(agent_eval(test))), False
    except CompileError:
        return None


def _frame_is(print_name: str, wanted: str, matches: bool) -> Optional[bool]:
    """Whether frame 0 is named as wanted: None if only GDB can tell (a C++ name's regex)."""
    if not matches:
        return names_frame(print_name, wanted)
    if "(" in print_name:
        return None
    return re.match(wanted, print_name) is not None


def _string(node: Node) -> Optional[str]:
    node = node.unparenthesized()
    if node.kind != "literal" or node.op != STRING or node.end != node.token.end:
        return None
    data = literal_bytes(node.token.text)
    return data.decode("ascii") if data else None


def _count(node: Node) -> Optional[int]:
    """A plain decimal, octal or hex literal; None for anything GDB might read otherwise."""
    node = node.unparenthesized()
    if node.kind != "literal" or node.op != INT or not node.token.text.isalnum() or \
            node.token.text[-1:] in "uUlL":
        return None
    return int_literal_value(node.token.text)


def _constant(value: bool, agent_eval: Callable[[str], str]) -> KernelLeaf:
    text = "1" if value else "0"
    return KernelLeaf(text, parse_listing(agent_eval(text)))


def _caller_at_return_address(name: str, facts: CallerFacts) -> Optional[str]:
    """A GDB expression true where the return address may be in a function named `name`."""
    address, ranges = facts.return_address(), facts.ranges_of(name)
    if address is None or ranges is None:
        return None
    pc = f"({address} - 1)"
    inside = [f"({pc} >= {low:#x} && {pc} < {high:#x})" for low, high in sorted(ranges)]
    unknown = " && ".join(f"!({pc} >= {low:#x} && {pc} < {high:#x})"
                          for low, high in facts.known_code())
    return " || ".join(inside + ([f"({unknown})"] if unknown else ["1"]))
