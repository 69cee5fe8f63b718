"""Character and string literals as GDB reads them, for the agent-expression compiler that
cannot (it refuses `'a'`, and a string is an array in GDB's own memory).

GDB gives a character literal the type `char` in C as in C++ (`ptype 'a'` is `char` in both),
and reads the escapes of c-lang.c. Only plain literals of ASCII characters are translated: a
prefixed one (L, u, U, u8) has another type, a non-ASCII one depends on GDB's charsets, and one
at 0x80 or above on the signedness of `char`; those stay with GDB.
"""
from __future__ import annotations

from typing import Optional

from .errors import ConditionSyntaxError
from .tokens import CHAR, tokenize

_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "e": 27,
            "\\": 92, "'": 39, '"': 34, "?": 63}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


def literal_bytes(token_text: str) -> Optional[bytes]:
    """The bytes of a plain quoted literal ('...' or "..."), or None unless all are ASCII."""
    if len(token_text) < 2 or token_text[0] not in "'\"" or token_text[-1] != token_text[0]:
        return None
    body, out, i = token_text[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            value, i = ord(ch), i + 1
        elif body[i + 1:i + 2] in _ESCAPES:
            value, i = _ESCAPES[body[i + 1]], i + 2
        elif body[i + 1:i + 2] and body[i + 1] in _OCTAL:
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in _OCTAL:
                j += 1
            value, i = int(body[i + 1:j], 8), j
        elif body[i + 1:i + 2] == "x" and body[i + 2:i + 3] and body[i + 2] in _HEX:
            j = i + 2
            while j < len(body) and body[j] in _HEX:
                j += 1
            value, i = int(body[i + 2:j], 16), j
        else:
            return None                       # \u, \U, or an escape GDB may refuse
        if value > 0x7F:
            return None
        out.append(value)
    return bytes(out)


def character_value(token_text: str) -> Optional[int]:
    """The value of a plain ASCII character literal, or None."""
    data = literal_bytes(token_text) if token_text.startswith("'") else None
    return data[0] if data is not None and len(data) == 1 else None


def characters_as_integers(text: str) -> str:
    """`text` with each plain ASCII character literal written as GDB's value for it,
    `((char)N)`, which the agent-expression compiler accepts."""
    try:
        tokens = tokenize(text)
    except ConditionSyntaxError:
        return text
    out, pos = [], 0
    for token in tokens:
        value = character_value(token.text) if token.kind == CHAR else None
        if value is not None:
            out.append(text[pos:token.start])
            out.append(f"((char){value})")
            pos = token.end
    out.append(text[pos:])
    return "".join(out)
