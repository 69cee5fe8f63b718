"""Tokens, the parse tree with spans, and the AX-versus-GDB hazard rewrites."""
import pytest

from gdb_plugin.compiler import ConditionSyntaxError
from gdb_plugin.compiler.hazards import (address_of_names, computed_shift_count,
                                         distribute_ternaries, flags_as_integers, kernel_form,
                                         refusal, rewrite_shift_counts, value_names)
from gdb_plugin.compiler.syntax import parse, replace_spans
from gdb_plugin.compiler.tokens import CHAR, FLOAT, INT, STRING, int_literal_value, tokenize


def kinds(text):
    return [(t.kind, t.text) for t in tokenize(text)][:-1]


def shape(text):
    """The tree as nested tuples of (kind/op, children...), leaves as their text."""
    def walk(node):
        if not node.children:
            return node.text(text)
        label = node.op if node.kind in ("binary", "unary", "postfix") else node.kind
        if node.kind == "cast":
            label = f"cast({node.type_text})"
        return (label, *[walk(c) for c in node.children])
    return walk(parse(text))


# -- tokens -----------------------------------------------------------------------------------
def test_numbers():
    assert kinds("1 0x1F 017 10u 10UL 0x10ull") == [(INT, "1"), (INT, "0x1F"), (INT, "017"),
                                                    (INT, "10u"), (INT, "10UL"),
                                                    (INT, "0x10ull")]
    assert [k for k, _ in kinds("1.5 .5 1e3 1E-3 2.f 0x1p3 1.0L 3f")] == [FLOAT] * 8
    assert [int_literal_value(t) for t in ("0x1F", "017", "10u", "0", "0b101")] == [31, 15, 10,
                                                                                  0, 5]


def test_literals_are_single_tokens():
    assert kinds("'a' '\\'' L'x' u8'y' \"a && b\" \"q\\\"\"") == [
        (CHAR, "'a'"), (CHAR, r"'\''"), (CHAR, "L'x'"), (CHAR, "u8'y'"),
        (STRING, '"a && b"'), (STRING, r'"q\""')]
    with pytest.raises(ConditionSyntaxError, match="unterminated string"):
        tokenize('"abc')


def test_operators_longest_first():
    assert [t for _, t in kinds("a<<=b>>c->d&&!e||f?g:h...i::j")] == [
        "a", "<<=", "b", ">>", "c", "->", "d", "&&", "!", "e", "||", "f", "?", "g", ":", "h",
        "...", "i", "::", "j"]
    assert kinds("$rax $1 $$ $_siginfo") == [("dollar", "$rax"), ("dollar", "$1"),
                                            ("dollar", "$$"), ("dollar", "$_siginfo")]
    with pytest.raises(ConditionSyntaxError, match="unexpected character '`'"):
        tokenize("a ` b")


# -- parse tree -------------------------------------------------------------------------------
@pytest.mark.parametrize("text,tree", [
    ("a && b || c", ("||", ("&&", "a", "b"), "c")),
    ("a || b && c", ("||", "a", ("&&", "b", "c"))),
    ("a ? b : c ? d : e", ("ternary", "a", "b", ("ternary", "c", "d", "e"))),
    ("a || b ? c : d", ("ternary", ("||", "a", "b"), "c", "d")),
    ("a ? b, c : d", ("ternary", "a", (",", "b", "c"), "d")),
    ("!a && b", ("&&", ("!", "a"), "b")),
    ("a & b == c", ("&", "a", ("==", "b", "c"))),
    ("a << 2 + 1 < b", ("<", ("<<", "a", ("+", "2", "1")), "b")),
    ("a @ 2 + 1", ("@", "a", ("+", "2", "1"))),
    ("-a.b[2]->c", ("-", ("member", ("index", ("member", "a", "b"), "2"), "c"))),
    ("p->x++ + 1", ("+", ("++", ("member", "p", "x")), "1")),
    ("f(a, b && c) > 0", (">", ("call", "f", "a", ("&&", "b", "c")), "0")),
    ("sizeof (int) + sizeof x", ("+", "sizeof (int)", ("sizeof", "x"))),
    ("(unsigned char)x << 2", ("<<", ("cast(unsigned char)", "x"), "2")),
    ("(struct item *)p == q", ("==", ("cast(struct item *)", "p"), "q")),
    ("(T *)p", ("cast(T *)", "p")),
    ("(T)x", ("cast(T)", "x")),
    ("(T)(x + 1)", ("cast(T)", ("paren", ("+", "x", "1")))),
    ("(a) - b", ("-", ("paren", "a"), "b")),        # a name in parentheses, not a cast
    ("(a) & b", ("&", ("paren", "a"), "b")),
    ("{int} 0x1000 == 3", ("==", ("cast(int)", "0x1000"), "3")),
    ("ns::x == 1", ("==", "ns::x", "1")),
    ("x = 3", ("=", "x", "3")),
])
def test_precedence_and_shapes(text, tree):
    assert shape(text) == tree


def test_spans_cover_the_source():
    text = "  (i > 3)  &&  g_cur->name[0] == 'a' "
    tree = parse(text)
    assert tree.text(text) == "(i > 3)  &&  g_cur->name[0] == 'a'"
    left, right = tree.children
    assert left.text(text) == "(i > 3)" and left.unparenthesized().text(text) == "i > 3"
    assert right.text(text) == "g_cur->name[0] == 'a'"


@pytest.mark.parametrize("text", ["a &&", "(a", "a)", "f(a,", "a ? b", "x.", "[1]", ""])
def test_syntax_errors(text):
    with pytest.raises(ConditionSyntaxError):
        parse(text)


def test_replace_spans():
    assert replace_spans("abcdef", [(4, 5, "E"), (0, 1, "A")]) == "AbcdEf"
    with pytest.raises(ValueError):
        replace_spans("abc", [(0, 2, "x"), (1, 3, "y")])


# -- hazards ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,why", [
    ("i > 1.5", "floating-point number 1.5"),
    ("x && 0.5", "floating-point number 0.5"),
    ("(_Bool)i == 1", "casts to _Bool"),
    ("(bool)(i & 6)", "casts to _Bool"),
    ("(const _Bool)i", "casts to _Bool"),
])
def test_refusals(text, why):
    assert why in refusal(text, parse(text))


@pytest.mark.parametrize("text", ["i > 1", "(_Bool *)p != 0", "sizeof(_Bool) == 1",
                                  "1e3"[:1], "'a' == c"])
def test_no_refusal(text):
    assert refusal(text, parse(text)) is None


def test_address_of_names():
    text = "&f == p && &(g) != 0 && &a[1] != 0 && x & y"
    assert address_of_names(parse(text), text) == ["f", "g"]


@pytest.mark.parametrize("text,names", [
    ("tmp == -1 && i < n", ["tmp", "i", "n"]),
    ("p->id + s.len + arr[k] == 3", ["p", "s", "arr", "k"]),      # not the member names
    ("&x == q && sizeof(y) == 4 && sizeof z == 4", ["q"]),
    ("f(a) == b || c++ > 0 || --d || (e = 2)", ["a", "b"]),        # not callee, ++, =
    ("$rax + (long)w == 0", ["w"]),
])
def test_value_names(text, names):
    assert [node.text(text) for node in value_names(parse(text))] == names


@pytest.mark.parametrize("text,rewritten", [
    ("i >> 1u == 30", "i >> 1 == 30"),
    ("i << 2L", "i << 2"),
    ("i << 0x3f", "i << 63"),
    ("i << 64", "i << (int)((64) < 0 || (64) > 63 ? 64 : (64))"),
    ("i >> n", "i >> (int)((n) < 0 || (n) > 63 ? 64 : (n))"),
    ("a << (b >> c)", "a << (int)(((b >> (int)((c) < 0 || (c) > 63 ? 64 : (c)))) < 0 || "
                      "((b >> (int)((c) < 0 || (c) > 63 ? 64 : (c)))) > 63 ? 64 : "
                      "((b >> (int)((c) < 0 || (c) > 63 ? 64 : (c)))))"),
    ("i + 1 < 3", "i + 1 < 3"),
])
def test_shift_counts(text, rewritten):
    assert rewrite_shift_counts(text) == rewritten


def test_computed_shift_counts():
    assert computed_shift_count(parse("a >> b"))
    assert computed_shift_count(parse("x && (a << (1 + 1))"))
    assert not computed_shift_count(parse("a >> 3u && b << 0x10"))


@pytest.mark.parametrize("text,distributed", [
    # truth values: nothing to do
    ("c ? a : b", "c ? a : b"),
    ("x && (c ? a : b) || !(d ? e : f)", "x && (c ? a : b) || !(d ? e : f)"),
    ("(c ? a : b), d", "(c ? a : b), d"),
    ("sizeof(c ? a : b) == 4", "sizeof(c ? a : b) == 4"),
    # values: the enclosing value expression goes into both branches
    ("(c ? -1 : 0u) > 5", "((c) ? (((-1)) > 5) : (((0u)) > 5))"),
    ("x && (long)(c ? a : b) == 3", "x && ((c) ? ((long)((a)) == 3) : ((long)((b)) == 3))"),
    ("(c ? a : b) + (d ? e : f) == 0",
     "((c) ? (((d) ? (((a)) + ((e)) == 0) : (((a)) + ((f)) == 0))) : "
     "(((d) ? (((b)) + ((e)) == 0) : (((b)) + ((f)) == 0))))"),
])
def test_distribute_ternaries(text, distributed):
    assert distribute_ternaries(text) == distributed


def test_flags_become_unsigned_without_the_resume_flag():
    assert flags_as_integers("$eflags & 0x200 && $eflagsx") == (
        "((unsigned int)$eflags & ~0x10000) & 0x200 && $eflagsx")


def test_kernel_form_combines_the_rewrites():
    assert kernel_form("(c ? x : y) >> n == $eflags") == (
        "((c) ? (((x)) >> (int)((n) < 0 || (n) > 63 ? 64 : (n)) == "
        "((unsigned int)$eflags & ~0x10000)) : "
        "(((y)) >> (int)((n) < 0 || (n) > 63 ? 64 : (n)) == ((unsigned int)$eflags & ~0x10000)))")
