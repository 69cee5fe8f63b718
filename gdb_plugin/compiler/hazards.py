"""Where GDB's agent expressions disagree with GDB's own evaluation of a condition.

GDB evaluates a breakpoint condition on the host, not through AX, so every difference below
would make the kernel suppress a hit GDB stops at, or the reverse. Each one (checked on GDB
13.1) is either rewritten away in the text sent to the AX compiler, or makes the part stay
with GDB:

* Floating-point literals: AX silently truncates them (`x && 0.5` compiles to false). Refused,
  but where a comparison of a float or a double with a number is rewritten on its bits
  (floats.py).
* Casts to _Bool: AX drops the conversion, so `(_Bool)5 == 1` is false. Refused.
* `&function`: AX folds it to 0. Probed by the caller (address_of_names) and refused.
* A constant division by zero: AX folds constants as GDB evaluates them without side effects,
  where a division by zero divides by 1 (`7 / 0 == 5` compiles to false); GDB's own evaluation
  reports an error. Probed by the caller (divisors) and refused.
* Pointer differences: AX divides the byte difference by the element size with div_unsigned
  (ax-gdb.c, gen_ptrdiff), so `&a[0] - &a[1]` is huge; GDB divides signed. Every other
  div_unsigned comes from a `/` in the text (DWARF's DW_OP_div is signed), so without one the
  listing's divisions become signed; with one and a subtraction, the part stays with GDB.
* Shifts: AX applies C's usual arithmetic conversions to both operands, so in `i >> 1u` the
  int `i` is shifted as unsigned and `i << 2L` is computed in 64 bits; GDB (like C) shifts in
  the left operand's own type. Rewritten: the count becomes an int, so the left operand
  keeps its type; counts outside 0..63 become 64, which the predicate treats as unsure (GDB 13
  warns and gives 0 or -1, older GDBs gave the hardware's answer).
* `$eflags`: AX refuses arithmetic on GDB's flags type, which GDB itself treats as an
  unsigned int. Rewritten as that cast, without RF: the kernel sets the resume flag before the
  predicate runs at an instruction breakpoint, and it is clear at GDB's own breakpoint stop.
* Locals whose DWARF location is a computed value (DW_OP_stack_value, common at -O2): AX
  leaves the computed 64-bit value as it is, where GDB converts it to the local's type (an
  `int` local computed as 0xffffffff is -1 to GDB, 4294967295 to AX). The GDB side casts each
  local narrower than 64 bits in a value position (`value_names`) to its own type through
  `long long`, which makes AX extend it.
* Ternaries used as values: AX gives `c ? a : b` the type of `a` whichever branch runs; GDB
  gives it the type of the branch taken. Rewritten by moving the enclosing value expression
  into both branches: `(c ? -1 : 0u) > 5` becomes `(c) ? ((-1) > 5) : ((0u) > 5)`.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

from .ax import AxExpr
from .errors import ConditionSyntaxError
from .syntax import Node, parse
from .tokens import DOLLAR, FLOAT, INT, int_literal_value, tokenize

_BOOLEAN_OPS = {"&&", "||"}
MAX_DISTRIBUTIONS = 8


def refusal(text: str, tree: Node) -> Optional[str]:
    """Why `text` must stay with GDB whatever AX says, or None."""
    for node in tree.walk():
        if node.kind == "literal" and node.op == FLOAT:
            return (f"uses the floating-point number {node.text(text)} other than compared "
                    "with a float or a double in memory")
        if node.kind == "cast" and any(t.text in ("_Bool", "bool") for t in node.type_tokens) \
                and not any(t.text == "*" for t in node.type_tokens):
            return "casts to _Bool, which GDB's agent expressions do not reduce to 0 or 1"
    return None


def value_names(tree: Node) -> List[Node]:
    """The name nodes read as values: not a member's name, a callee, the operand of `&`,
    sizeof or an increment, or what an assignment writes."""
    skip = set()
    for node in tree.walk():
        first = node.children[0].unparenthesized() if node.children else None
        if node.kind == "member":
            skip.add(id(node.children[1]))
        elif node.kind == "call" or node.kind == "sizeof" or node.kind == "postfix" or (
                node.kind == "unary" and node.op in ("&", "++", "--")) or (
                node.kind == "binary" and node.op.endswith("=")
                and node.op not in ("==", "!=", "<=", ">=")):
            skip.add(id(first))
    return [node for node in tree.walk()
            if node.kind == "name" and node.op != DOLLAR and id(node) not in skip]


def address_of_names(tree: Node, text: str) -> List[str]:
    """Names X appearing as `&X`: if X is a function, AX computes its address as 0."""
    names = []
    for node in tree.walk():
        if node.kind == "unary" and node.op == "&":
            operand = node.children[0].unparenthesized()
            if operand.kind == "name":
                names.append(operand.text(text))
    return names


def divisors(tree: Node, text: str) -> List[str]:
    """The right operands of `/` and `%`: a constant zero there is folded away by AX."""
    return [node.children[1].text(text) for node in tree.walk()
            if node.kind == "binary" and node.op in ("/", "%")]


def signed_pointer_differences(tree: Node, expr: AxExpr) -> Optional[AxExpr]:
    """`expr` with pointer differences divided signed; None if they cannot be told apart
    from unsigned divisions."""
    if not any(op.name == "div_unsigned" for op in expr.ops):
        return expr
    kinds = {(node.kind, node.op) for node in tree.walk()}
    if ("binary", "/") in kinds:
        return None if ("binary", "-") in kinds else expr
    return dataclasses.replace(expr, ops=tuple(
        dataclasses.replace(op, name="div_signed") if op.name == "div_unsigned" else op
        for op in expr.ops))


# -- ternaries used as values -----------------------------------------------------------------
def _value_ternary(node: Node, boolean: bool, root: Optional[Node]):
    """The first ternary whose value (not just truth) is used, with the outermost value
    expression around it; None if there is none."""
    if node.kind == "paren":
        return _value_ternary(node.children[0], boolean, root)
    if node.kind == "sizeof":
        return None                      # not evaluated
    if node.kind == "binary" and node.op in _BOOLEAN_OPS:
        for child in node.children:
            found = _value_ternary(child, True, None)
            if found:
                return found
        return None
    if node.kind == "unary" and node.op == "!":
        return _value_ternary(node.children[0], True, None)
    if node.kind == "binary" and node.op == ",":
        return (_value_ternary(node.children[0], True, None)
                or _value_ternary(node.children[1], boolean, root))
    if node.kind == "ternary":
        if not boolean:
            return node, root
        for child in node.children:
            found = _value_ternary(child, True, None)
            if found:
                return found
        return None
    if boolean:
        root = node
    for child in node.children:
        found = _value_ternary(child, False, root)
        if found:
            return found
    return None


def distribute_ternaries(text: str) -> str:
    """`text` with every ternary used as a value turned into one used as a truth value."""
    for _ in range(MAX_DISTRIBUTIONS):
        found = _value_ternary(parse(text), True, None)
        if found is None:
            return text
        ternary, root = found
        cond, then, otherwise = (c.text(text) for c in ternary.children)

        def with_branch(branch: str) -> str:
            return (text[root.start:ternary.start] + f"({branch})"
                    + text[ternary.end:root.end])

        distributed = f"({cond}) ? ({with_branch(then)}) : ({with_branch(otherwise)})"
        text = text[:root.start] + f"({distributed})" + text[root.end:]
    raise ConditionSyntaxError("too many nested ternaries to compile", 0)


# -- shift counts -----------------------------------------------------------------------------
def _literal_count(node: Node) -> Optional[int]:
    """The value of a shift count written as an integer literal in 0..63."""
    node = node.unparenthesized()
    if node.kind != "literal" or node.op != INT:
        return None
    value = int_literal_value(node.token.text)
    return value if value <= 63 else None


def _render(node: Node, text: str) -> str:
    """The node's text with its shift counts rewritten (children first)."""
    pieces, pos = [], node.start
    rendered = []
    for child in node.children:
        pieces.append(text[pos:child.start])
        rendered.append(_render(child, text))
        pieces.append(rendered[-1])
        pos = child.end
    pieces.append(text[pos:node.end])
    if node.kind == "binary" and node.op in ("<<", ">>"):
        literal = _literal_count(node.children[1])
        if literal is not None:
            pieces[3] = str(literal)               # `1u` -> `1`: an int count
        else:
            count = rendered[1]
            pieces[3] = f"(int)(({count}) < 0 || ({count}) > 63 ? 64 : ({count}))"
    return "".join(pieces)


def computed_shift_count(tree: Node) -> bool:
    """Does a shift take its count from anything but a literal? (Counts outside 0..63 make
    the predicate unsure, so the kernel part is then no longer exact.)"""
    return any(node.kind == "binary" and node.op in ("<<", ">>")
               and _literal_count(node.children[1]) is None for node in tree.walk())


def rewrite_shift_counts(text: str) -> str:
    return _render(parse(text), text)


# eflags as at GDB's own breakpoint stop: without the resume flag (bit 16) that the kernel sets
# at an instruction breakpoint before the predicate runs, and that stays set at that stop.
EFLAGS_AT_A_BREAKPOINT = "((unsigned int)$eflags & ~0x10000)"


def flags_as_integers(text: str) -> str:
    """`$eflags` as the unsigned int GDB's own arithmetic treats it as (AX refuses to do
    arithmetic on GDB's flags type), and as it reads at GDB's own breakpoint stop."""
    out, pos = [], 0
    for token in tokenize(text):
        if token.kind == DOLLAR and token.text == "$eflags":
            out.append(text[pos:token.start])
            out.append(EFLAGS_AT_A_BREAKPOINT)
            pos = token.end
    out.append(text[pos:])
    return "".join(out)


def kernel_form(text: str) -> str:
    """The text to give GDB's AX compiler so that AX means what GDB means."""
    return flags_as_integers(rewrite_shift_counts(distribute_ternaries(text)))
