"""Partial compilation: the kernel part must hold whenever the condition holds.

A stand-in for GDB's AX compiler handles a small language -- the variables a, b, c (in rdi,
rsi, rdx), integers, comparisons, !, &&, ||, ?: -- and refuses function calls and wide character
literals the way GDB does; its type checks (`(typeof(X))0`) fail only for `|`. Hypothesis builds conditions mixing both; for every assignment of
the variables and of what the refused parts evaluate to, the compiled program (run in the
reference interpreter) must let the hit through whenever the condition is true, and must
decide exactly as the condition when the compiler says it is exact.
"""
from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.axref import Memory, run_bpf
from gdb_plugin.compiler import (AxUnavailable, CompiledCondition, ReturnVerdict,
                                 compile_condition, explain)
from gdb_plugin.compiler.syntax import parse
from test_compiler_lower import Builder

VARIABLES = {"a": 5, "b": 4, "c": 3}        # GDB register numbers: rdi, rsi, rdx
SCOPE = 0x401136


class FakeGdb:
    """agent_eval for the small language; records what it was asked."""

    def __init__(self, working=True):
        self.asked = []
        self.working = working

    def __call__(self, expression: str) -> str:
        self.asked.append(expression)
        if not self.working:
            raise AxUnavailable("No symbol table is loaded.  Use the \"file\" command.")
        if expression.startswith("(typeof("):
            if "|" in expression:
                raise AxUnavailable("Integer-only operation on floating point number.")
            return f"Scope: {SCOPE:#x}\nReg mask: 00\n  0  const8 0\n  2  end\n"
        text = expression
        b = Builder()
        self.emit(parse(text), text, b)
        b.op("end")
        lines = [f"Scope: {SCOPE:#x}", "Reg mask: 38"]
        lines += [f"{op.offset:3d}  {op.name}" + ("" if op.arg is None else f" {op.arg}")
                  for op in b.ops()]
        return "\n".join(lines) + "\n"

    def emit(self, node, text, b):
        kind, op = node.kind, node.op
        if kind == "paren":
            return self.emit(node.children[0], text, b)
        if kind == "name" and node.text(text) in VARIABLES:
            b.op("reg", VARIABLES[node.text(text)])
            return
        if kind == "name" and node.text(text) == "&g":
            return
        if kind == "literal" and op == "int":
            value = int(node.text(text))
            b.op("const8" if value < 256 else "const16", value)
            return
        if kind == "unary" and op == "&":
            raise AxUnavailable("Cannot translate to agent expression")
        if kind == "unary" and op == "!":
            self.emit(node.children[0], text, b)
            b.op("log_not")
            return
        if kind == "binary" and op in ("==", "<", ">", "!="):
            self.emit(node.children[0], text, b)
            self.emit(node.children[1], text, b)
            if op == ">":
                b.op("swap")
            b.op({"==": "equal", "!=": "equal", "<": "less_signed", ">": "less_signed"}[op])
            if op == "!=":
                b.op("log_not")
            return
        if kind == "binary" and op in ("&&", "||"):
            true, false, done = b.label(), b.label(), b.label()
            for child in node.children:
                self.emit(child, text, b)
                if op == "&&":
                    b.op("log_not")
                    b.op("if_goto", false)
                else:
                    b.op("if_goto", true)
            if op == "&&":
                b.op("const8", 1)
                b.op("goto", done)
                b.place(false)
                b.op("const8", 0)
            else:
                b.op("const8", 0)
                b.op("goto", done)
                b.place(true)
                b.op("const8", 1)
            b.place(done)
            return
        if kind == "ternary":
            other, done = b.label(), b.label()
            cond, then, otherwise = node.children
            self.emit(cond, text, b)
            b.op("log_not")
            b.op("if_goto", other)
            self.emit(then, text, b)
            b.op("goto", done)
            b.place(other)
            self.emit(otherwise, text, b)
            b.place(done)
            return
        if kind == "call":
            raise AxUnavailable("Cannot translate to agent expression")
        if kind == "literal" and op == "char":
            raise AxUnavailable("Cannot translate to agent expression")
        raise AxUnavailable(f"No symbol \"{node.text(text)}\" in current context.")


def compile_with(condition, gdb=None, on_match=None) -> CompiledCondition:
    return compile_condition(condition, gdb or FakeGdb(), lambda name: name in VARIABLES,
                             on_match=on_match)


# -- the over-approximation property ------------------------------------------------------------
OPAQUE = ["f(a)", "g(b) == 2", "a == L'x'", "c > 1.5"]       # refused by GDB or by the compiler


@st.composite
def conditions(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        if draw(st.integers(0, 3)) == 0:
            return draw(st.sampled_from(OPAQUE))
        var = draw(st.sampled_from(sorted(VARIABLES)))
        return f"{var} {draw(st.sampled_from(['==', '<', '>', '!=']))} {draw(st.integers(0, 3))}"
    kind = draw(st.sampled_from(["&&", "||", "!", "?:", "()"]))
    sub = lambda: draw(conditions(depth + 1))
    if kind == "!":
        return f"!({sub()})"
    if kind == "()":
        return f"({sub()})"
    if kind == "?:":
        return f"({sub()}) ? ({sub()}) : ({sub()})"
    return f"{sub()} {kind} {sub()}"


def truth_function(condition: str):
    """f(values, opaque) evaluating the condition the way C does, with the opaque parts'
    values given."""
    expr = condition
    for index, atom in enumerate(OPAQUE):
        expr = expr.replace(atom, f"__o{index}")

    def build(node):
        if node.kind == "paren":
            return build(node.children[0])
        if node.kind == "name":
            name = node.text(expr)
            if name.startswith("__o"):
                atom = OPAQUE[int(name[3:])]
                return lambda v, o: o[atom]
            return lambda v, o: v[name]
        if node.kind == "literal":
            value = int(node.text(expr))
            return lambda v, o: value
        parts = [build(child) for child in node.children]
        if node.kind == "unary":
            return lambda v, o: int(not parts[0](v, o))
        if node.kind == "ternary":
            return lambda v, o: parts[1](v, o) if parts[0](v, o) else parts[2](v, o)
        x, y = parts
        return {
            "&&": lambda v, o: int(bool(x(v, o)) and bool(y(v, o))),
            "||": lambda v, o: int(bool(x(v, o)) or bool(y(v, o))),
            "==": lambda v, o: int(x(v, o) == y(v, o)),
            "!=": lambda v, o: int(x(v, o) != y(v, o)),
            "<": lambda v, o: int(x(v, o) < y(v, o)),
            ">": lambda v, o: int(x(v, o) > y(v, o)),
        }[node.op]
    return build(parse(expr))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions())
def test_kernel_part_never_rejects_a_true_condition(condition):
    compiled = compile_with(condition, on_match=ReturnVerdict(1, 2))
    truth_of = truth_function(condition)
    for values in itertools.product(range(4), repeat=3):
        env = dict(zip(sorted(VARIABLES), values))
        registers = {VARIABLES[name]: value for name, value in env.items()}
        kernel = run_bpf(compiled.program, registers, Memory()).r0
        assert kernel in (0, 1), "nothing here is unsure"
        for opaque_values in itertools.product((0, 1), repeat=len(OPAQUE)):
            truth = truth_of(env, dict(zip(OPAQUE, opaque_values)))
            assert kernel or not truth, (condition, env, compiled.kernel_part)
            if compiled.exact:
                assert kernel == truth, (condition, env, compiled.kernel_part)


# -- specific splits ---------------------------------------------------------------------------
@pytest.mark.parametrize("condition,kernel,exact", [
    ("a == 1", "a == 1", True),
    ("a == 1 && b < 2", "a == 1 && b < 2", True),
    ("a == 1 && f(a)", "a == 1", False),
    # A call GDB alone makes may fail (GDB then stops) or have a side effect: what comes after
    # it must not filter hits.
    ("f(a) && a == 1 && g(b) == 2 && b > 0", None, False),
    ("(a == 1 && f(a)) && b == 2", "a == 1", False),
    ("a == 1 && c > 1.5 && b == 2", "(a == 1) && (b == 2)", False),
    ("a == 1 || f(a)", None, False),
    ("a == 1 || b == 2 && f(a)", "(a == 1) || (b == 2)", False),
    ("a == 1 || f(a) && g(b) == 2", None, False),
    ("(a == 1 || b == 2) && f(a)", "a == 1 || b == 2", False),
    ("!(a == 1)", "!(a == 1)", True),
    ("!(a == 1 && f(a))", None, False),
    ("a == 1 ? b == 2 : f(a)", "(a == 1) ? (b == 2) : (1)", False),
    ("f(a) ? b == 2 : c == 3", "(b == 2) || (c == 3)", False),
    ("f(a) ? b == 2 : g(b) == 2", None, False),
    ("a == L'x' && b == 2", "b == 2", False),
    ("c > 1.5 && b == 2", "b == 2", False),
    ("f(a)", None, False),
    # GDB type-checks the right operand of && and || even when the left one decides: a type
    # error anywhere outside a ternary branch is an error at every hit.
    ("a == 1 && (c | 1.5) == 0", None, False),
    ("(c | 1.5) == 0 || a == 1", None, False),
    ("!((c | 1.5) == 0) && a == 1", None, False),
    # In a branch it is an error only when the branch is taken.
    ("a == 1 ? b == 2 : (c | 1.5) == 0", "(a == 1) ? (b == 2) : (1)", False),
    ("(a == 1 ? (c | 1.5) == 0 : b == 2) && c == 3", "(a == 1) ? (1) : (b == 2)", False),
    ("(a == 1 ? 1.5 : c) > 2 && b == 2", "b == 2", False),
])
def test_splits(condition, kernel, exact):
    compiled = compile_with(condition)
    assert compiled.kernel_part == kernel
    assert compiled.exact == exact
    assert compiled.rewritten == condition


def test_whole_condition_is_one_round_trip_when_it_compiles():
    gdb = FakeGdb()
    compiled = compile_with("a == 1 && (b < 2 || !(c == 3))", gdb)
    assert compiled.exact and gdb.asked == ["a == 1 && (b < 2 || !(c == 3))"]
    assert len(compiled.ax_listings) == 1


def test_notes_say_where_each_part_runs_and_why():
    compiled = compile_with("a == 1 && f(a) && b == L'x' && c > 1.5")
    notes = [str(note) for note in compiled.notes]
    assert notes == [
        "`a == 1` runs in the kernel",
        "`f(a)` calls a function: GDB evaluates it at each stop",
        "`b == L'x'` uses a character literal other than a plain ASCII one, which GDB's agent "
        "expressions do not support: "
        "GDB evaluates it at each stop",
        "`c > 1.5` uses the floating-point number 1.5 other than compared with a float or a "
        "double in memory: GDB evaluates it at each stop",
    ]
    assert [n.in_kernel for n in compiled.notes] == [True, False, False, False]


def test_a_compiled_part_of_an_undecidable_disjunction_is_noted():
    compiled = compile_with("a == 1 || f(a)")
    assert [str(n) for n in compiled.notes] == [
        "`a == 1` compiles, but only as part of `a == 1 || f(a)`, which the kernel cannot "
        "decide: GDB evaluates it at each stop",
        "`f(a)` calls a function: GDB evaluates it at each stop"]
    assert compiled.kernel_part is None and compiled.program       # lets every hit through
    assert run_bpf(compiled.program, {}, Memory()).r0 == 1


def test_registers_are_rewritten_for_gdb_and_kernel():
    compiled = compile_condition("rdi == 3 && eax < 0", FakeGdb(),
                                 lambda name: False)
    assert compiled.rewritten == "$rdi == 3 && ((int)((long)$rax & 0xffffffff)) < 0"


def test_a_type_error_at_every_hit_leaves_no_filter():
    compiled = compile_with("a == 1 && b == 2 && (c | 1.5) == 0")
    assert compiled.kernel_part is None
    assert str(compiled.notes[0]) == (
        "`a == 1` compiles, but only as part of `a == 1 && b == 2 && (c | 1.5) == 0`, in which "
        "`(c | 1.5) == 0`, evaluated at every hit, may be a type error (GDB then stops at "
        "every hit): GDB evaluates it at each stop")


def test_each_branch_of_a_ternary_in_a_gdb_part_is_type_checked():
    gdb = FakeGdb()
    compiled = compile_with("((a == 1 ? 1.5 : c) | 2) == 0 && b == 2", gdb)
    assert compiled.kernel_part is None
    assert "(typeof((((a == 1) ? ((((1.5)) | 2) == 0) : ((((c)) | 2) == 0)))))0" in gdb.asked


def test_a_gdb_that_cannot_compile_anything_is_not_the_conditions_fault():
    with pytest.raises(AxUnavailable, match="No symbol table"):
        compile_with("a == 1", FakeGdb(working=False))


def test_address_of_a_function_stays_with_gdb():
    class Gdb(FakeGdb):
        def __call__(self, expression):
            if expression == "&f":
                self.asked.append(expression)
                return "Scope: 0x401136\nReg mask: 00\n  0  const8 0\n  2  end\n"
            if expression == "&f == 0":            # GDB folds &function to 0
                return "Scope: 0x401136\nReg mask: 00\n  0  const8 1\n  2  end\n"
            return super().__call__(expression)
    compiled = compile_with("&f == 0 && a == 1", Gdb())
    assert compiled.kernel_part == "a == 1"
    assert "compute as 0 for a function" in str(compiled.notes[0])


def test_a_constant_division_by_zero_stays_with_gdb():
    class Gdb(FakeGdb):
        def __call__(self, expression):
            if expression == "7 / 0 == 5":            # GDB folds it as if 7 / 1
                return "Scope: 0x401136\nReg mask: 00\n  0  const8 0\n  2  end\n"
            return super().__call__(expression)
    compiled = compile_with("a == 1 && 7 / 0 == 5 && b == 2", Gdb())
    assert compiled.kernel_part == "a == 1"             # the division may fail: GDB stops
    assert str(compiled.notes[1]) == (
        "`7 / 0 == 5` divides by `0`, a constant zero: GDB reports an error where its agent "
        "expressions fold the division away: GDB evaluates it at each stop")


# GDB 13's listing for `&items[0] - &items[1] == -1` (loop.c: items is a 24-byte struct array).
POINTER_DIFFERENCE = """Scope: 0x555555555140
Reg mask: 00
  0  const64 93824992247872
  9  const8 0
 11  const8 24
 13  mul
 14  add
 15  zero_ext 64
 17  const64 93824992247872
 26  const8 1
 28  const8 24
 30  mul
 31  add
 32  zero_ext 64
 34  sub
 35  const8 24
 37  div_unsigned
 38  const8 255
 40  ext 8
 42  equal
 43  end
"""


UNSIGNED_DIVISION = """Scope: 0x401136
Reg mask: 20
  0  reg 5
  3  const8 24
  5  div_unsigned
  6  const8 255
  8  ext 8
 10  equal
 11  end
"""


class PointerGdb(FakeGdb):
    def __call__(self, expression):
        if expression == "&items[0] - &items[1] == -1":
            return POINTER_DIFFERENCE
        if expression == "a / 24 == -1":                 # a: an unsigned long, say
            return UNSIGNED_DIVISION
        if expression == "(&items[0] - &items[1]) / 1 == -1":
            return POINTER_DIFFERENCE                     # what matters: a div_unsigned
        return super().__call__(expression)


@pytest.mark.parametrize("condition,a,verdict", [
    ("&items[0] - &items[1] == -1", 0, 1),
    # Where the text has a `/`, a div_unsigned may be an unsigned division: it stays.
    ("a / 24 == -1", 2**64 - 24, 0),
])
def test_a_difference_of_pointers_is_divided_signed(condition, a, verdict):
    compiled = compile_with(condition, PointerGdb())
    assert compiled.kernel_part == condition and compiled.exact
    assert run_bpf(compiled.program, {VARIABLES["a"]: a}, Memory()).r0 == verdict


def test_an_unsigned_division_beside_a_subtraction_stays_with_gdb():
    compiled = compile_with("a == 1 && (&items[0] - &items[1]) / 1 == -1", PointerGdb())
    assert compiled.kernel_part == "a == 1"
    assert "may be a difference of pointers" in str(compiled.notes[1])


def test_unparsable_condition_stays_with_gdb():
    compiled = compile_with("a == 1 &&")
    assert compiled.kernel_part is None
    assert "was not understood by the compiler" in str(compiled.notes[0])


@pytest.mark.parametrize("condition", ["(" * 2000 + "a" + ")" * 2000 + " == 1",
                                       " || ".join(f"a == {k}" for k in range(3000))])
def test_a_condition_too_deep_for_the_compiler_stays_with_gdb(condition):
    compiled = compile_with(condition)
    assert compiled.kernel_part is None
    assert [note.reason for note in compiled.notes] == [
        "is nested too deeply for the compiler: GDB evaluates it at each stop"]


def test_explain_mentions_every_part():
    text = explain(compile_with("a == 1 && f(a)"))
    assert "Kernel part: a == 1" in text
    assert "necessary, not sufficient" in text
    assert "GDB    `f(a)` calls a function" in text
    assert "Agent expression for `a == 1`" in text and "reg 5" in text
    assert "eBPF program," in text and "exit" in text


def test_explain_highlights_with_pygments():
    pytest.importorskip("pygments")
    plain = explain(compile_with("a == 1"))
    painted = explain(compile_with("a == 1"), highlight=True)
    assert "\x1b[" in painted and "\x1b[" not in plain
    strip = re.sub(r"\x1b\[[0-9;]*m", "", painted)
    assert strip == plain
