"""GDB's string functions, `$_streq(A, B)`, `$_strlen(A) OP N` (N a literal or another
`$_strlen`) and `$_memeq(A, B, N)`, decided in the kernel.

GDB evaluates them in Python (gdb/python/lib/gdb/function/strfns.py) as `A.string() ==
B.string()` and `len(A.string())`: each argument is read up to its NUL and decoded in the
current charset, and an unreadable byte, a type that is not a string, or a byte the charset
cannot decode is an error (GDB stops). The kernel (stringcode.py) reads each string with
bpf_probe_read_user_str into a buffer of STRING_BUFFER bytes and decides only when every string
ends within it (at most MAX_STRING bytes) and is ASCII, which decodes the same in every
charset GDB's C support uses; else the hit goes to GDB. Arguments are string literals of ASCII
characters or, as GDB checks, pointers to a one-byte character type: GDB proves the type with
`(typeof(A))0` (not a struct), `sizeof(*(A))` (one byte) and `*(A) == 0` (an integer, not void
or bool). An array passes those too, but its own agent expression fails ("not scalar"): a
`char` array of up to MAX_STRING + 1 bytes GDB reads to its first NUL or to its end, and so
does the kernel (bpf_probe_read_user_str bounded by the array's size). `$_regex` stays with
GDB (a regular expression has no bounded form in the kernel).

`$_memeq(A, B, N)` is GDB's comparison of N bytes at A and at B (each reinterpreted as a
pointer): true for N == 0 without reading, an error for N < 0 or an unreadable byte. The
kernel decides it for pointers, integers and arrays (which GDB takes for their address) and N
up to STRING_BUFFER; a string literal argument stays with GDB, which places it in the
program's memory by calling into the program.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

from .ax import AxExpr, listing_constant, parse_listing
from .errors import CompileError
from .literals import literal_bytes
from .lower import MAX_DEPTH
from .result import CharArray, KernelString
from .stackdepth import analyze
from .syntax import Node
from .tokens import DOLLAR, INT, STRING, int_literal_value

STRING_BUFFER = 256
MAX_STRING = STRING_BUFFER - 2          # with its NUL, the string leaves a byte unused
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_INT_MAX = (1 << 31) - 1

Eval = Callable[[str], str]


def _callee(node: Node, text: str, name: str, arity: int) -> bool:
    node = node.unparenthesized()
    return (node.kind == "call" and len(node.children) == arity + 1
            and node.children[0].kind == "name" and node.children[0].op == DOLLAR
            and node.children[0].text(text) == name)


def _argument(node: Node, text: str,
              agent_eval: Eval) -> Optional[Union[AxExpr, CharArray, bytes]]:
    """A string literal's bytes, the agent expression of a `char *` GDB reads a string from,
    or a `char` array; None if GDB might read it otherwise or fail on it."""
    node = node.unparenthesized()
    if node.kind == "literal" and node.op == STRING:
        if node.end != node.token.end:          # "a" "b": GDB joins them
            return None
        data = literal_bytes(node.token.text)
        return data if data is not None and len(data) <= MAX_STRING else None
    argument = node.text(text)
    try:
        agent_eval(f"*({argument}) == 0")
        if listing_constant(agent_eval(f"sizeof(*({argument}))")) != 1:
            return None
        agent_eval(f"(typeof({argument}))0")
    except CompileError:
        return None
    expr = _compiled(argument, agent_eval)      # fails for an array: "Value not scalar"
    return expr if expr is not None else _char_array(argument, agent_eval)


def _char_array(argument: str, agent_eval: Eval) -> Optional[CharArray]:
    """`argument` as a `char` array (the caller knows its elements are one-byte integers)."""
    try:
        length = listing_constant(agent_eval(f"sizeof({argument})"))
    except CompileError:
        return None
    expr = _compiled(f"&({argument})[0]", agent_eval)
    if length is None or not 0 < length <= MAX_STRING + 1 or expr is None:
        return None
    return CharArray(expr, length)


def _compiled(expression: str, agent_eval: Eval) -> Optional[AxExpr]:
    """The agent expression of `expression`, if GDB compiles it and its values spill to the
    stack only well above the word where stringcode.py keeps the first argument's address
    while it computes the second."""
    try:
        expr = parse_listing(agent_eval(expression))
    except CompileError:
        return None
    return expr if analyze(expr).max_depth <= MAX_DEPTH // 2 else None


def _address(node: Node, text: str, agent_eval: Eval) -> Optional[AxExpr]:
    """The agent expression of the address `$_memeq` reads at: a pointer's or an integer's
    value, an array's address; None for other types and string literals."""
    node = node.unparenthesized()
    if node.kind == "literal" and node.op == STRING:
        return None
    argument = node.text(text)
    try:
        agent_eval(f"(typeof({argument}))0")        # a pointer or an integer: an array's
        expr = _compiled(argument, agent_eval)      # expression fails here
    except CompileError:
        expr = None
    return expr if expr is not None else _compiled(f"&({argument})[0]", agent_eval)


def _length(node: Node, text: str, agent_eval: Eval) -> Optional[Union[AxExpr, int]]:
    """$_memeq's length: a small literal, or the agent expression of an integer."""
    value = _small_integer(node, text)
    if value is not None:
        return value
    argument = node.unparenthesized().text(text)
    try:
        agent_eval(f"({argument}) << 1")                 # an integer (no shift for a pointer)
        return parse_listing(agent_eval(argument))
    except CompileError:
        return None


def _small_integer(node: Node, text: str) -> Optional[int]:
    """The value of `N` or `-N`, N a decimal, octal or hex int literal without suffix."""
    node = node.unparenthesized()
    sign = 1
    if node.kind == "unary" and node.op == "-":
        sign, node = -1, node.children[0].unparenthesized()
    if node.kind != "literal" or node.op != INT or not node.token.text.isalnum() or \
            node.token.text[-1:] in "uUlL":
        return None
    value = int_literal_value(node.token.text)
    return sign * value if value <= _INT_MAX else None


def string_test(node: Node, text: str, agent_eval: Eval) -> Optional[KernelString]:
    """The kernel form of `node` if it is `$_streq(A, B)`, `$_strlen(A) OP N` (or `N OP
    $_strlen(A)`, or `$_strlen(A) OP $_strlen(B)`) or `$_memeq(A, B, N)` with arguments the
    kernel reads as GDB does; else None."""
    node = node.unparenthesized()
    whole = node.text(text)
    if _callee(node, text, "$_streq", 2):
        args = [_argument(child, text, agent_eval) for child in node.children[1:]]
        if all(arg is not None for arg in args):
            return KernelString(whole, "$_streq", tuple(args))
        return None
    if _callee(node, text, "$_memeq", 3):
        first, second, length = node.children[1:]
        args = (_address(first, text, agent_eval), _address(second, text, agent_eval),
                _length(length, text, agent_eval))
        if all(arg is not None for arg in args):
            return KernelString(whole, "$_memeq", args)
        return None
    if node.kind != "binary" or node.op not in _COMPARISONS:
        return None
    left, right = node.children
    op = node.op
    if not _callee(left, text, "$_strlen", 1):
        left, right, op = right, left, _MIRRORED[op]
    if not _callee(left, text, "$_strlen", 1):
        return None
    measured = [left] + ([right] if _callee(right, text, "$_strlen", 1) else [])
    value = None if len(measured) == 2 else _small_integer(right, text)
    if len(measured) == 1 and value is None:
        return None
    args = tuple(_argument(call.unparenthesized().children[1], text, agent_eval)
                 for call in measured)
    if any(arg is None for arg in args):
        return None
    return KernelString(whole, "$_strlen", args, (op, value))
