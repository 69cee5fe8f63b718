"""Enumerations as the integers GDB takes them for.

GDB's own evaluation treats an enum (C's `enum`, C++'s `enum class`) as an integer of its size
and signedness: `color == Color::Blue`, `e < -1` (unsigned when no enumerator is negative) and
`(Color)k` mean what they mean for that integer type. GDB's agent-expression compiler refuses
arithmetic and comparisons on enums ("Invalid combination of types in equal"), and compiles a
cast to an enum as nothing at all, so `(Wide)k` (a one-byte enum) keeps all of k's bits.

So each value operand of enum type is cast to its integer type, and each cast to an enum type
becomes a cast to that integer type. GDB answers the questions, at the breakpoint's address:
  `(X) == $rax` fails    X is an enum (or bool: its integer type means the same)
  `(long long){typeof(X)}$rsp`   a read of X's type: `refN` gives its size, and an `ext N`
                          after it says it is signed (AX extends by the type's signedness)
"""
from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional

from .ax import parse_listing
from .errors import CompileError
from .syntax import TYPE_KEYWORDS, Node
from .tokens import IDENT

INTEGER_TYPES = {(1, True): "signed char", (1, False): "unsigned char",
                 (2, True): "short", (2, False): "unsigned short",
                 (4, True): "int", (4, False): "unsigned int"}
_NOT_A_VALUE_OPERAND = {"member", "call", "sizeof"}
_ASSIGNMENTS = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^="}

Eval = Callable[[str], str]


def _value_operands(node: Node) -> Iterator[Node]:
    """The nodes of `node` whose value an operator uses (the root is used as a truth value)."""
    yield node
    for parent in node.walk():
        if parent.kind in _NOT_A_VALUE_OPERAND or (parent.kind == "unary" and parent.op == "&"):
            continue
        if parent.kind == "binary" and parent.op in _ASSIGNMENTS | {","}:
            continue
        children = parent.children
        if parent.kind == "index":
            children = children[1:]
        elif parent.kind == "ternary":
            children = children[:1]
        yield from children


def _casts_to_named_types(tree: Node) -> Iterator[Node]:
    for node in tree.walk():
        if (node.kind == "cast" and node.op == "("
                and not any(t.text in ("*", "&") for t in node.type_tokens)
                and any(t.kind == IDENT and t.text not in TYPE_KEYWORDS
                        for t in node.type_tokens)):
            yield node


def _integer_type(expression: str, agent_eval: Eval) -> Optional[str]:
    """The integer type GDB takes `expression` for, if the agent-expression compiler
    refuses it as an integer (an enum); else None."""
    try:
        agent_eval(f"({expression}) == $rax")
        return None                                # an integer, a pointer: nothing to do
    except CompileError:
        pass
    try:
        ops = [(op.name, op.arg) for op in
               parse_listing(agent_eval(f"(long long){{typeof({expression})}}$rsp")).ops]
    except CompileError:
        return None                                # a struct, a float: not an integer
    if len(ops) not in (4, 5) or ops[:2] != [("reg", 7), ("zero_ext", 64)]:
        return None
    name, _ = ops[2]
    size = {"ref8": 1, "ref16": 2, "ref32": 4}.get(name)
    signed = ops[3] == ("ext", 8 * (size or 0))
    if size is None or ops[-1][0] != "end" or (len(ops) == 5) != signed:
        return None
    return INTEGER_TYPES[size, signed]


def enums_as_integers(text: str, tree: Node, agent_eval: Eval, refused: bool) -> str:
    """`text` with its enums as integers. `refused`: GDB's agent-expression compiler refused
    `text` as it is, so every value operand is a suspect; otherwise only casts to a named type
    (which the compiler accepts, as nothing) are."""
    casts: Dict[int, str] = {}
    for node in _casts_to_named_types(tree):
        integer = _integer_type(node.text(text), agent_eval)
        if integer is not None:
            casts[id(node)] = integer
    wraps: Dict[int, str] = {}
    if refused:
        _wrap_operands(text, tree, agent_eval, casts, wraps)
    if not casts and not wraps:
        return text
    return _render(tree, text, casts, wraps)


def _wrap_operands(text: str, tree: Node, agent_eval: Eval, casts: Dict[int, str],
                   wraps: Dict[int, str]) -> None:
    """Fill `wraps` with the innermost enum operands (an operand containing one is an enum
    only through it: `-color` is an int to GDB)."""
    operands = {id(node) for node in _value_operands(tree)}

    def visit(node: Node) -> bool:
        """Whether `node` or a node inside it is rewritten."""
        inner = any([visit(child) for child in node.children])
        if inner or id(node) in casts or id(node) not in operands:
            return inner or id(node) in casts
        integer = _integer_type(node.text(text), agent_eval)
        if integer is not None:
            wraps[id(node)] = integer
        return integer is not None

    visit(tree)


def _render(node: Node, text: str, casts: Dict[int, str], wraps: Dict[int, str]) -> str:
    pieces, pos = [], node.start
    if id(node) in casts:
        operand = node.children[0]
        pieces.append(f"({casts[id(node)]})")
        pos = operand.start
    for child in node.children:
        pieces.append(text[pos:child.start])
        pieces.append(_render(child, text, casts, wraps))
        pos = child.end
    pieces.append(text[pos:node.end])
    rendered = "".join(pieces)
    if id(node) in wraps:
        return f"(({wraps[id(node)]})({rendered}))"
    return rendered

