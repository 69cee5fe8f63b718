"""Comparisons of a float or double with a number, as integer comparisons of its bits.

GDB's agent expressions have no floating point (`gen_fetch: Unsupported type code
`double'`), and eBPF has none either. A comparison needs none: IEEE 754 orders numbers as
their bits read as sign and magnitude. With B the bits of a W-bit value as a signed integer
and M every bit but the sign,

    KEY(B) = (B ^ ((B >> W-1) & M)) - (B >> W-1)

is the magnitude of a positive number and minus it for a negative one: -0.0 and 0.0 both have
the key 0, and for x and y not NaN, x < y exactly when KEY(x) < KEY(y). A NaN (B & M above
the bits of infinity) is ordered with nothing and differs from everything; its key differs
from every number's, so only the ordered comparisons test for it.

`X op C`, where X is a float or a double GDB can take the address of (perhaps negated) and
C a number (a literal, perhaps negated), becomes that comparison of KEY(*(long long *)&(X))
with C's key.
For a float, C (a double, as C converts the float) is first moved to the float that keeps the
outcome: `f > 0.1` is `f >= 0.1f rounded up`, and `f == 0.1` is false. `X op Y`, two such
lvalues, compares their keys once neither is a NaN (`!=` holds if either is); a float beside
a double is converted to the double's key as C converts it, exponent rebiased and fraction
widened.  `X op I`, I an integer lvalue of at most 32 bits, which C converts exactly to a
double (and to a float when |I| <= 2**24), compares I with X's integral part, less one or
plus one where X has a fraction.  Where the text cannot be exact (a subnormal float beside a
double, an integer a float cannot hold) it divides by zero, which lets the hit through to GDB
(lower.py).  Anything else on floating point (arithmetic, casts) stays with GDB.
"""
from __future__ import annotations

import math
import re
import struct
from typing import Callable, Dict, Optional, Tuple, Union

from .ax import listing_constant
from .errors import AxUnavailable
from .syntax import Node
from .tokens import FLOAT, INT, int_literal_value

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_SWAPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
UNSUPPORTED_FLOATING = re.compile(r"Unsupported type code `(float|double)'")
_WIDTH = {"float": 32, "double": 64}
_BITS_TYPE = {32: "int", 64: "long long"}
_FORMAT = {32: "<f", 64: "<d"}
_LVALUE_KINDS = {"name", "member", "index", "paren"}

Eval = Callable[[str], str]
Threshold = Union[bool, Tuple[str, int]]  # a constant outcome, or (op, key) to compare with


def sign_mask(width: int) -> int:
    return (1 << (width - 1)) - 1


def infinity_bits(width: int) -> int:
    return 0x7FF0000000000000 if width == 64 else 0x7F800000


def signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def key(bits: int, width: int) -> int:
    """KEY of the W-bit pattern `bits` (given unsigned or signed)."""
    b = signed(bits & ((1 << width) - 1), width)
    sign = b >> (width - 1)  # -1 or 0, Python's >> being arithmetic as eBPF's is
    return (b ^ (sign & sign_mask(width))) - sign


def is_nan(bits: int, width: int) -> bool:
    return (bits & sign_mask(width)) > infinity_bits(width)


def bits_of(value: float, width: int) -> int:
    return int.from_bytes(struct.pack(_FORMAT[width], value), "little")


def to_float(value: float) -> float:
    """`value` rounded to a float, as C converts a double."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # Python refuses only what rounds to infinity
        return math.copysign(math.inf, value)


def _float_of_key(k: int) -> float:
    bits = k if k >= 0 else (1 << 31) | -k
    return struct.unpack("<f", bits.to_bytes(4, "little"))[0]


def _floats_around(value: float) -> Tuple[float, float]:
    """The floats next to the double `value` below and above it (the same one if it is one)."""
    nearest = to_float(value)
    if nearest == value:
        return nearest, nearest
    step = key(bits_of(nearest, 32), 32)
    if nearest > value:
        return _float_of_key(step - 1), nearest
    return nearest, _float_of_key(step + 1)


def threshold(op: str, value: float, width: int) -> Threshold:
    """How `X op value` (value a double, X a W-bit float) compares X's key, or its constant
    outcome for every X."""
    if math.isnan(value):
        return op == "!="
    if width == 32:
        below, above = _floats_around(value)
        if below != above:
            if op in ("==", "!="):
                return op == "!="
            op, value = (">=", above) if op in (">", ">=") else ("<=", below)
    return op, key(bits_of(value, width), width)


def literal_value(node: Node, text: str) -> Optional[float]:
    """The value of a number literal, perhaps signed (`-2.5`, `+3`, `1e3f`), as C converts
    it to double; None for anything else (a long double `2.5L` included)."""
    node = node.unparenthesized()
    sign = 1.0
    while node.kind == "unary" and node.op in ("-", "+"):
        sign = -sign if node.op == "-" else sign
        node = node.children[0].unparenthesized()
    if node.kind != "literal" or node.op not in (FLOAT, INT):
        return None
    spelled = node.text(text)
    if node.op == INT:
        return sign * float(int_literal_value(spelled))
    body = spelled.rstrip("fF")
    if body.endswith(("l", "L")):
        return None
    try:
        value = float.fromhex(body) if body[:2].lower() == "0x" else float(body)
    except ValueError:
        return None
    return sign * (to_float(value) if body != spelled else value)


def comparison_text(operand: str, width: int, found: Threshold) -> str:
    """C text (integers only) for the comparison of the float or double `operand` whose
    outcome `found` gives."""
    if isinstance(found, bool):
        return str(int(found))
    op, k = found
    compared = f"{_key_text(operand, width)} {op} ({k})"
    if op in ("==", "!="):
        return f"({compared})"
    return f"(!{_nan_text(operand, width)} && {compared})"


def pair_comparison_text(left: str, op: str, right: str, width: int) -> str:
    """C text (integers only) for `left op right`, two floats or two doubles."""
    return _guarded(f"{_key_text(left, width)} {op} {_key_text(right, width)}", op,
                    f"({_nan_text(left, width)} || {_nan_text(right, width)})")


def _guarded(compared: str, op: str, nan: str) -> str:
    """`compared`, which holds for numbers, with NaN (`nan` true) ordered with nothing."""
    if op == "!=":
        return f"({nan} || {compared})"
    return f"(!{nan} && {compared})"


# A division by zero: the predicate lets the hit through, and GDB decides (lower.py).  It
# divides by a value read at run time, which no compiler folds.
def undecided_text(bits: str) -> str:
    return f"(1 / ({bits} & 0))"


def float_as_double_key_text(operand: str) -> str:
    """C text for KEY, as a double's, of the float `operand`, as C converts it: exponent
    rebiased (0xff stays all ones), fraction widened; zero stays zero, and a subnormal float,
    which would need normalising, is undecided."""
    bits = _bits_text(operand, 32)
    exponent = f"(({bits} >> 23) & 0xff)"
    fraction = f"((long long)({bits} & 0x7fffff))"
    magnitude = (f"({exponent} == 0 ? ({fraction} == 0 ? 0LL : {undecided_text(bits)}) : "
                 f"((((long long)({exponent} == 0xff ? 0x7ff : {exponent} + 896)) << 52) "
                 f"| ({fraction} << 29)))")
    return f"({bits} < 0 ? -{magnitude} : {magnitude})"


# Per width: the exponent's bias, the fraction's bits, and how far the significand moves left
# first so that the shift that drops the fraction is never negative below 2**32.
_LAYOUT = {32: (127, 23, 8), 64: (1023, 52, 0)}


def integer_comparison_text(operand: str, op: str, integer: str, width: int) -> str:
    """C text (integers only) for `operand op integer`, the float or double `operand` beside
    an integer of at most 32 bits: I against X's integral part T (toward zero), with X's
    floor and ceiling T - 1 or T + 1 where X has a fraction; beyond 2**32, T is 2**33."""
    bias, fraction_bits, lift = _LAYOUT[width]
    bits = _bits_text(operand, width)
    exponent = f"(({bits} >> {fraction_bits}) & {(1 << (width - fraction_bits - 1)) - 1:#x})"
    significand = (f"((((long long)({bits}) & {(1 << fraction_bits) - 1:#x}) "
                   f"| {1 << fraction_bits:#x}LL) << {lift})")
    shift = f"({bias + fraction_bits + lift} - {exponent})"
    small, large = f"({exponent} < {bias})", f"({exponent} >= {bias + 32})"
    whole = f"({small} ? 0LL : {large} ? {1 << 33:#x}LL : {significand} >> {shift})"
    fractional = (f"({small} ? (({bits} & {sign_mask(width):#x}) != 0) : {large} ? 0 : "
                  f"(({significand} & ((1LL << {shift}) - 1)) != 0))")
    negative = f"({bits} < 0)"
    signed_whole = f"({negative} ? -{whole} : {whole})"
    value = f"((long long)({integer}))"
    if op in ("<", ">="):                       # X < I exactly when floor(X) < I
        bound = f"({signed_whole} - ({negative} && {fractional}))"
    elif op in ("<=", ">"):                     # X <= I exactly when ceil(X) <= I
        bound = f"({signed_whole} + (!{negative} && {fractional}))"
    else:
        bound = signed_whole
    if op in ("==", "!="):
        equal = f"(!{fractional} && {bound} == {value})"
        compared = equal if op == "==" else f"!{equal}"
    else:
        compared = f"{bound} {op} {value}"
    compared = _guarded(compared, op, _nan_text(operand, width))
    if width == 32:  # C rounds an integer beyond 2**24 to a float
        compared = (f"(({value} > {1 << 24} || {value} < -{1 << 24}) ? {undecided_text(bits)} "
                    f": {compared})")
    return compared


def _bits_text(operand: str, width: int) -> str:
    return f"(*({_BITS_TYPE[width]} *)&({operand}))"


def _key_text(operand: str, width: int) -> str:
    bits, mask, shift = _bits_text(operand, width), f"{sign_mask(width):#x}", width - 1
    return f"(({bits} ^ (({bits} >> {shift}) & {mask})) - ({bits} >> {shift}))"


def _nan_text(operand: str, width: int) -> str:
    return f"(({_bits_text(operand, width)} & {sign_mask(width):#x}) > {infinity_bits(width):#x})"


def floats_as_bits(text: str, tree: Node, agent_eval: Eval) -> str:
    """`text` with each comparison of a float or double in memory with a number rewritten on
    its bits; the rest as it was."""
    rewritten: Dict[int, str] = {}
    for node in tree.walk():
        if node.kind != "binary" or node.op not in COMPARISONS:
            continue
        left, right = node.children
        op = node.op
        pair = _pair_text(left, op, right, text, agent_eval)
        if pair is not None:
            rewritten[id(node)] = pair
            continue
        value = literal_value(right, text)
        operand = left
        if value is None:
            value, operand, op = literal_value(left, text), right, _SWAPPED[op]
        operand = operand.unparenthesized()
        if value is not None and operand.kind == "unary" and operand.op == "-":
            # -X < C is X > -C: negation is exact, and keeps NaN unordered
            value, operand, op = -value, operand.children[0], _SWAPPED[op]
        if value is None or not _side_effect_free(operand):
            continue
        width = _floating_width(operand.text(text), agent_eval)
        if width is not None:
            rewritten[id(node)] = comparison_text(operand.text(text), width,
                                                  threshold(op, value, width))
    return _render(tree, text, rewritten) if rewritten else text


def _pair_text(left: Node, op: str, right: Node, text: str, agent_eval: Eval) -> Optional[str]:
    """The rewritten `left op right` if both are floating-point lvalues, or one is and the
    other an integer lvalue that converts to it exactly."""
    left, right = left.unparenthesized(), right.unparenthesized()
    if not (_side_effect_free(left) and _side_effect_free(right)):
        return None
    left_text, right_text = left.text(text), right.text(text)
    widths = _floating_width(left_text, agent_eval), _floating_width(right_text, agent_eval)
    if widths[0] is None and widths[1] is None:
        return None
    if widths[0] is None or widths[1] is None:
        if widths[0] is None:
            left_text, right_text, op = right_text, left_text, _SWAPPED[op]
        width = widths[0] or widths[1]
        if not _small_integer(right_text, agent_eval):
            return None
        return integer_comparison_text(left_text, op, right_text, width)
    if widths[0] == widths[1]:
        return pair_comparison_text(left_text, op, right_text, widths[0])
    return _mixed_text(left_text, op, right_text, widths[0])


def _mixed_text(left: str, op: str, right: str, left_width: int) -> str:
    """`left op right`, a float beside a double: the float's key as a double's."""
    keys = [_key_text(left, 64) if left_width == 64 else float_as_double_key_text(left),
            _key_text(right, 64) if left_width == 32 else float_as_double_key_text(right)]
    right_width = 64 if left_width == 32 else 32
    return _guarded(f"{keys[0]} {op} {keys[1]}", op,
                    f"({_nan_text(left, left_width)} || {_nan_text(right, right_width)})")


def _small_integer(operand: str, agent_eval: Eval) -> bool:
    """Whether GDB takes `operand` as an integer of at most 32 bits (C converts those to a
    double exactly)."""
    try:
        agent_eval(f"({operand}) | 0")          # an integer: not a pointer, float or struct
        size = listing_constant(agent_eval(f"sizeof({operand})"))
    except AxUnavailable:
        return False
    return size is not None and size <= 4


def _side_effect_free(node: Node) -> bool:
    """An lvalue GDB reads without changing anything: names, members, subscripts."""
    node = node.unparenthesized()
    if node.kind == "unary" and node.op == "*":
        return _side_effect_free(node.children[0])
    if node.kind not in _LVALUE_KINDS:
        return False
    return all(_side_effect_free(child) or child.kind == "literal" for child in node.children)


def _floating_width(operand: str, agent_eval: Eval) -> Optional[int]:
    """32 or 64 where GDB refuses `operand` as a float or a double; else None."""
    try:
        agent_eval(operand)
    except AxUnavailable as error:
        found = UNSUPPORTED_FLOATING.search(error.gdb_error)
        return _WIDTH[found.group(1)] if found else None
    return None


def _render(node: Node, text: str, rewritten: Dict[int, str]) -> str:
    if id(node) in rewritten:
        return rewritten[id(node)]
    pieces, pos = [], node.start
    for child in node.children:
        pieces.append(text[pos:child.start])
        pieces.append(_render(child, text, rewritten))
        pos = child.end
    pieces.append(text[pos:node.end])
    return "".join(pieces)
