"""Tokens of GDB's C expression syntax, with their positions in the text.

Positions let later passes rewrite a condition by replacing spans of the user's own text, so
whitespace and spelling outside the rewritten spans stay exactly as typed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

from .errors import ConditionSyntaxError

IDENT, DOLLAR, INT, FLOAT, CHAR, STRING, OP, END = (
    "ident", "dollar", "int", "float", "char", "string", "op", "end")

# Longest first, so that `<<=` is not read as `<<` then `=`.
_DIGITS = "0123456789"  # str.isdigit() also takes other scripts' digits
_OPERATORS = sorted("""
    ->* ... <<= >>= -> ++ -- << >> <= >= == != && || += -= *= /= %= &= |= ^= :: .*
    + - * / % & | ^ ~ ! < > = ? : , . ( ) [ ] { } @ #
""".split(), key=len, reverse=True)

_SPACE = re.compile(r"\s+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR = re.compile(r"\$[A-Za-z0-9_$]*")
# A C number: hex (possibly a hex float), or decimal digits with optional fraction/exponent;
# then any suffix letters (u, l, f, ...). Classified as int or float afterwards.
_NUMBER = re.compile(r"""
    (?: 0[xX][0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?[0-9]+)?
      | [0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?
      | \.[0-9]+(?:[eE][+-]?[0-9]+)?
    )[A-Za-z0-9_]*""", re.VERBOSE)
_LITERAL_PREFIX = re.compile(r"(?:u8|[LuU])(?=['\"])")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    def is_op(self, *ops: str) -> bool:
        return self.kind == OP and self.text in ops

    def is_ident(self, *names: str) -> bool:
        return self.kind == IDENT and (not names or self.text in names)


def _is_float(text: str) -> bool:
    if text[:2] in ("0x", "0X"):
        return "." in text or "p" in text or "P" in text
    body = text.rstrip("uUlLfFdDiIjJ")
    return ("." in text or "e" in body or "E" in body
            or text.rstrip("lL").endswith(("f", "F")))


def _quoted_end(text: str, pos: int, quote: str) -> int:
    """Index just past the literal opening at text[pos] == quote."""
    i = pos + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    kind = "character" if quote == "'" else "string"
    raise ConditionSyntaxError(f"unterminated {kind} literal", pos)


def tokenize(text: str) -> List[Token]:
    """The tokens of `text`, ending with an END token; raises ConditionSyntaxError."""
    tokens: List[Token] = []
    pos = 0
    while pos < len(text):
        m = _SPACE.match(text, pos)
        if m:
            pos = m.end()
            continue
        start = pos
        m = _LITERAL_PREFIX.match(text, pos)
        quote_at = m.end() if m else pos
        if text[quote_at] in "'\"":
            end = _quoted_end(text, quote_at, text[quote_at])
            tokens.append(Token(CHAR if text[quote_at] == "'" else STRING, text[start:end],
                                start, end))
            pos = end
            continue
        if text[pos] in _DIGITS or (text[pos] == "." and text[pos + 1:pos + 2] in _DIGITS
                                     and text[pos + 1:pos + 2] != ""):
            m = _NUMBER.match(text, pos)
            kind = FLOAT if _is_float(m.group()) else INT
            tokens.append(Token(kind, m.group(), start, m.end()))
            pos = m.end()
            continue
        for pattern, kind in ((_IDENT, IDENT), (_DOLLAR, DOLLAR)):
            m = pattern.match(text, pos)
            if m:
                tokens.append(Token(kind, m.group(), start, m.end()))
                pos = m.end()
                break
        else:
            for op in _OPERATORS:
                if text.startswith(op, pos):
                    tokens.append(Token(OP, op, start, start + len(op)))
                    pos += len(op)
                    break
            else:
                raise ConditionSyntaxError(f"unexpected character {text[pos]!r}", pos)
    tokens.append(Token(END, "", len(text), len(text)))
    return tokens


def int_literal_value(text: str) -> int:
    """The value of a C integer literal token (suffixes ignored)."""
    body = text.rstrip("uUlL")
    if body[:2] in ("0x", "0X"):
        return int(body[2:] or "0", 16)
    if body[:2] in ("0b", "0B"):
        return int(body[2:] or "0", 2)
    if len(body) > 1 and body.startswith("0"):
        return int(body, 8)
    return int(body)
