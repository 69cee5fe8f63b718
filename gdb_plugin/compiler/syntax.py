"""A parse tree of a GDB C-language condition, each node knowing its span of the text.

The compiler needs the tree only to find the structure GDB's agent-expression compiler is blind
to or gets wrong: the `&&`/`||`/`!`/`?:` skeleton (to compile the parts that can run in the
kernel), shifts, ternaries used as values, casts to `_Bool`, and floating-point literals. GDB
itself parses and type-checks the condition; this parser only has to agree with GDB about where
every operand starts and ends.

`(X) - y` is ambiguous in C without a symbol table (cast of `-y` to type X, or X minus y). A
parenthesised single name followed by `-`, `+`, `*` or `&` is read as an expression: if X is
really a type, GDB rejects the part built from that reading, which then stays with GDB.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from .errors import ConditionSyntaxError
from .tokens import CHAR, DOLLAR, END, FLOAT, IDENT, INT, OP, STRING, Token, tokenize

# Binding powers (higher binds tighter), after GDB's c-exp.y.
_BINARY = {
    ",": 1,
    "=": 2, "+=": 2, "-=": 2, "*=": 2, "/=": 2, "%=": 2, "<<=": 2, ">>=": 2, "&=": 2, "|=": 2,
    "^=": 2,
    "?": 3,
    "||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9,
    "<": 10, ">": 10, "<=": 10, ">=": 10, "<<": 11, ">>": 11, "@": 12,
    "+": 13, "-": 13, "*": 14, "/": 14, "%": 14,
}
_RIGHT_ASSOCIATIVE = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "?"}
_UNARY_BP = 15
_POSTFIX_BP = 16
_PREFIX_OPS = {"-", "+", "!", "~", "*", "&", "++", "--"}

TYPE_KEYWORDS = frozenset("""
    int char short long unsigned signed float double void _Bool bool struct union enum class
    const volatile restrict __restrict __int128 _Complex typeof __typeof__ __typeof decltype
    __decltype wchar_t char16_t char32_t char8_t
""".split())
_SIZEOF = {"sizeof", "_Alignof", "alignof"}


@dataclass(frozen=True)
class Node:
    """kind: name, literal, paren, unary, postfix, binary, ternary, cast, sizeof, call, index,
    member. `op` is the operator (or the literal's token kind); `type_text` the type of a cast
    or of sizeof(type)."""
    kind: str
    start: int
    end: int
    op: str = ""
    children: Tuple["Node", ...] = ()
    token: Optional[Token] = None
    type_text: Optional[str] = None
    type_tokens: Tuple[Token, ...] = field(default=(), compare=False)

    def text(self, source: str) -> str:
        return source[self.start:self.end]

    def walk(self) -> Iterator["Node"]:
        yield self
        for child in self.children:
            yield from child.walk()

    def unparenthesized(self) -> "Node":
        node = self
        while node.kind == "paren":
            node = node.children[0]
        return node


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, op: str) -> Token:
        token = self.next()
        if not token.is_op(op):
            found = token.text or "the end of the condition"
            raise ConditionSyntaxError(f"expected {op!r}, found {found!r}", token.start)
        return token

    def matching_close(self, index: int) -> int:
        """Index of the token closing the bracket at `index`."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        stack = []
        for i in range(index, len(self.tokens)):
            token = self.tokens[i]
            if token.kind == OP and token.text in pairs:
                stack.append(pairs[token.text])
            elif token.kind == OP and token.text in pairs.values():
                if not stack or stack.pop() != token.text:
                    raise ConditionSyntaxError(f"unbalanced {token.text!r}", token.start)
                if not stack:
                    return i
        raise ConditionSyntaxError("unbalanced brackets", self.tokens[index].start)

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.expression(0)
        token = self.peek()
        if token.kind != END:
            raise ConditionSyntaxError(f"unexpected {token.text!r}", token.start)
        return node

    def expression(self, rbp: int) -> Node:
        left = self.prefix()
        while True:
            token = self.peek()
            if token.kind != OP:
                break
            if token.text in ("(", "[", ".", "->", "++", "--", ".*", "->*"):
                if _POSTFIX_BP <= rbp:
                    break
                left = self.postfix(left)
                continue
            lbp = _BINARY.get(token.text)
            if lbp is None or lbp <= rbp:
                break
            self.next()
            if token.text == "?":
                middle = self.expression(0)
                self.expect(":")
                right = self.expression(lbp - 1)
                left = Node("ternary", left.start, right.end, "?", (left, middle, right))
                continue
            right = self.expression(lbp - 1 if token.text in _RIGHT_ASSOCIATIVE else lbp)
            left = Node("binary", left.start, right.end, token.text, (left, right))
        return left

    def postfix(self, left: Node) -> Node:
        token = self.next()
        if token.text == "(":
            args: List[Node] = []
            if not self.peek().is_op(")"):
                while True:
                    args.append(self.expression(_BINARY[","]))
                    if not self.peek().is_op(","):
                        break
                    self.next()
            close = self.expect(")")
            return Node("call", left.start, close.end, "()", (left, *args))
        if token.text == "[":
            index = self.expression(0)
            close = self.expect("]")
            return Node("index", left.start, close.end, "[]", (left, index))
        if token.text in (".", "->", ".*", "->*"):
            member = self.next()
            if member.kind not in (IDENT, DOLLAR) and token.text in (".", "->"):
                raise ConditionSyntaxError(f"expected a member name after {token.text!r}",
                                           member.start)
            if member.kind in (IDENT, DOLLAR):
                name = Node("name", member.start, member.end, member.kind, token=member)
            else:
                self.pos -= 1
                name = self.expression(_UNARY_BP)
            return Node("member", left.start, name.end, token.text, (left, name))
        return Node("postfix", left.start, token.end, token.text, (left,))

    def prefix(self) -> Node:
        token = self.next()
        if token.kind in (INT, FLOAT, CHAR):
            return Node("literal", token.start, token.end, token.kind, token=token)
        if token.kind == STRING:
            end = token.end
            while self.peek().kind == STRING:     # "a" "b" is one string
                end = self.next().end
            return Node("literal", token.start, end, STRING, token=token)
        if token.kind == DOLLAR:
            return Node("name", token.start, token.end, DOLLAR, token=token)
        if token.kind == IDENT:
            if token.text in _SIZEOF:
                return self.sizeof(token)
            end = token.end
            while self.peek().is_op("::") and self.peek(1).kind == IDENT:  # C++ scope
                self.next()
                end = self.next().end
            return Node("name", token.start, end, IDENT, token=token)
        if token.is_op("("):
            close = self.matching_close(self.pos - 1)
            if self.is_cast(self.pos, close):
                return self.cast(token, close)
            inner = self.expression(0)
            end = self.expect(")")
            return Node("paren", token.start, end.end, "()", (inner,))
        if token.is_op("{"):                       # GDB's {TYPE} ADDR
            close = self.matching_close(self.pos - 1)
            return self.cast(token, close)
        if token.kind == OP and token.text in _PREFIX_OPS:
            operand = self.expression(_UNARY_BP - 1)
            return Node("unary", token.start, operand.end, token.text, (operand,))
        found = token.text or "the end of the condition"
        raise ConditionSyntaxError(f"expected an operand, found {found!r}", token.start)

    def sizeof(self, keyword: Token) -> Node:
        if self.peek().is_op("("):
            open_index = self.pos
            close = self.matching_close(open_index)
            if self.is_type(open_index + 1, close):
                type_tokens = tuple(self.tokens[open_index + 1:close])
                self.pos = close + 1
                end = self.tokens[close].end
                return Node("sizeof", keyword.start, end, keyword.text,
                            type_text=self.span_text(type_tokens), type_tokens=type_tokens)
        operand = self.expression(_UNARY_BP - 1)
        return Node("sizeof", keyword.start, operand.end, keyword.text, (operand,))

    def cast(self, open_token: Token, close: int) -> Node:
        type_tokens = tuple(self.tokens[self.pos:close])
        self.pos = close + 1
        operand = self.expression(_UNARY_BP - 1)
        return Node("cast", open_token.start, operand.end, open_token.text, (operand,),
                    type_text=self.span_text(type_tokens), type_tokens=type_tokens)

    def span_text(self, tokens) -> str:
        return self.text[tokens[0].start:tokens[-1].end] if tokens else ""

    # -- is `( ... )` a type? ------------------------------------------------------------------
    def is_type(self, first: int, close: int) -> bool:
        """Do tokens[first:close] spell a type name (not an expression)?"""
        inner = self.tokens[first:close]
        if not inner:
            return False
        if inner[0].kind == IDENT and inner[0].text in TYPE_KEYWORDS:
            return True
        # NAME followed only by `*`, `&` and qualifiers, with at least one `*` or `&`: a pointer
        # type (as an expression it would lack an operand).
        name_end = 1
        while (name_end + 1 < len(inner) and inner[name_end].is_op("::")
               and inner[name_end + 1].kind == IDENT):
            name_end += 2
        rest = inner[name_end:]
        if inner[0].kind == IDENT and rest and all(
                t.is_op("*", "&") or t.is_ident("const", "volatile", "restrict") for t in rest):
            return any(t.is_op("*", "&") for t in rest)
        return False

    def is_cast(self, first: int, close: int) -> bool:
        if self.is_type(first, close):
            return True
        inner = self.tokens[first:close]
        single_name = (len(inner) == 1 and inner[0].kind == IDENT
                       and inner[0].text not in _SIZEOF)
        if not single_name:
            return False
        after = self.tokens[close + 1]
        # `(T) x`, `(T) 3`, `(T) (x)`, `(T) !x`: nothing but a cast reads this way.
        return (after.kind in (IDENT, INT, FLOAT, CHAR, STRING, DOLLAR)
                or after.is_op("(", "!", "~", "{"))


def parse(text: str) -> Node:
    """Parse a condition; raises ConditionSyntaxError."""
    return _Parser(text).parse()


def replace_spans(text: str, replacements) -> str:
    """`text` with each (start, end, new_text) replacement applied; spans must not overlap."""
    out, pos = [], 0
    for start, end, new in sorted(replacements):
        if start < pos:
            raise ValueError("overlapping replacements")
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)
