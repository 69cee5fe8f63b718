"""AX -> eBPF lowering, checked against the reference AX semantics (harness/axref.py).

Hypothesis builds agent expressions the way GDB's compiler shapes them (short-circuit
jumps, conversions, stack shuffles) plus ones it never would; each is lowered, run in the
reference eBPF interpreter, and must give the reference verdict: match, no match, or unsure
(the predicate's "let GDB decide"). tests/test_compiler_kernel.py runs the same programs on
real breakpoint hits.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.axref import CURRENT_TASK, STOP_UNSURE, Memory, ax_value, evaluate_ax, run_bpf
from gdb_plugin.compiler import (AxExpr, AxOp, ReturnVerdict, SendSignal, UnsupportedAx,
                                 build_program, parse_listing)
from gdb_plugin.compiler.ax import OPCODES
from gdb_plugin.compiler.result import KernelAnd, KernelLeaf, KernelNot, KernelOr
from gdb_plugin.kernel.btf import task_thread_offset

MASK = (1 << 64) - 1
# Distinct verdicts, so that "unsure" cannot pass for "match".
VERDICTS = ReturnVerdict(match_value=1, unsure_value=2)
EXPECTED_R0 = {1: 1, 0: 0, STOP_UNSURE: 2}

# -- building AX programs -----------------------------------------------------------------------
# Argument registers of `probe(a, b, c, d, e, f)` at its first instruction, in GDB's numbering:
# rdi rsi rdx rcx r8 r9. rdi and rsi often hold pointers into the readable page.
ARG_REGS = (5, 4, 3, 2, 8, 9)
POINTER_REGS = (5, 4)
# Registers with known values at that instruction in the test child (rip = probe's address).
FIXED_REGS = (16, 18, 19, 57)


@dataclass(frozen=True)
class Label:
    n: int


class Builder:
    """AX ops with symbolic jump targets; `ops()` assigns offsets like GDB does."""

    def __init__(self):
        self.items: List[Tuple] = []
        self.labels = itertools.count()

    def op(self, name, arg=None):
        self.items.append((name, arg))

    def label(self) -> Label:
        return Label(next(self.labels))

    def place(self, label: Label):
        self.items.append(("label", label))

    def ops(self) -> Tuple[AxOp, ...]:
        where, offset = {}, 0
        for name, arg in self.items:
            if name == "label":
                where[arg] = offset
            else:
                offset += 1 + OPCODES[name][0]
        out, offset = [], 0
        for name, arg in self.items:
            if name == "label":
                continue
            if isinstance(arg, Label):
                arg = where[arg]
            out.append(AxOp(offset, name, arg))
            offset += 1 + OPCODES[name][0]
        return tuple(out)


def const_op(value: int) -> Tuple[str, int]:
    """The const op GDB would use for an unsigned value."""
    value &= MASK
    for bits in (8, 16, 32):
        if value < (1 << bits):
            return f"const{bits}", value
    return "const64", value - (1 << 64) if value >> 63 else value


BINARY = ("add", "sub", "mul", "div_signed", "div_unsigned", "rem_signed", "rem_unsigned",
          "lsh", "rsh_signed", "rsh_unsigned", "bit_and", "bit_or", "bit_xor", "equal",
          "less_signed", "less_unsigned")
# The ops that cannot be unsure, for the stack-shuffle shapes (mostly).
SAFE_BINARY = ("add", "sub", "mul", "bit_and", "bit_or", "bit_xor", "equal", "less_signed",
               "less_unsigned")
INTERESTING = [0, 1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 0x7FFF, 0x8000,
               0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, (1 << 63) - 1, 1 << 63,
               MASK, MASK - 1, -2 & MASK, -64 & MASK]


def values():
    # Small values often coincide, which is where `<` and `<=` differ.
    return st.one_of(st.sampled_from(INTERESTING), st.integers(0, 4), st.integers(0, 300),
                     st.integers(0, MASK))


@st.composite
def expressions(draw, depth=0):
    """A generator of expression trees: functions that emit AX into a Builder."""
    leaf_only = depth >= 3
    kind = draw(st.sampled_from(
        ["const", "reg", "reg", "ref"] if leaf_only else
        ["const", "const", "reg", "reg", "reg", "ref", "ref", "unary", "unary", "unary",
         "binary", "binary", "binary", "binary", "and", "or", "cond", "swap", "dup", "pick",
         "rot", "pop", "ext_const"]))
    sub = lambda: draw(expressions(depth + 1))
    shuffle_ops = SAFE_BINARY * 4 + BINARY
    if kind == "const":
        value = draw(values())

        def emit(b):
            b.op(*const_op(value))
    elif kind == "ext_const":                       # GDB's negative literals: const8 255, ext 8
        bits = draw(st.sampled_from([8, 16, 32]))
        value = draw(st.integers(0, (1 << bits) - 1))

        def emit(b):
            b.op(f"const{bits}", value)
            b.op("ext", bits)
    elif kind == "reg":
        number = draw(st.sampled_from(ARG_REGS + ARG_REGS + FIXED_REGS))

        def emit(b):
            b.op("reg", number)
    elif kind == "ref":
        size = draw(st.sampled_from([8, 16, 32, 64]))
        base = draw(st.sampled_from(POINTER_REGS + ("pointer in memory",)))
        offset = draw(st.one_of(st.integers(0, 40), st.integers(-24, 24)))

        def emit(b):
            if base == "pointer in memory":            # *(void **)(rdi + 0) + offset
                b.op("reg", 5)
                b.op("ref64")
            else:
                b.op("reg", base)
            if offset < 0:                             # as GDB writes -8: const8 248, ext 8
                b.op("const8", offset & 0xFF)
                b.op("ext", 8)
            else:
                b.op(*const_op(offset))
            b.op("add")
            b.op(f"ref{size}")
    elif kind == "unary":
        op = draw(st.sampled_from(["log_not", "bit_not", "ext", "zero_ext"]))
        bits = draw(st.sampled_from([1, 3, 8, 16, 31, 32, 33, 48, 63, 64]))
        x = sub()

        def emit(b):
            x(b)
            b.op(op, bits if op in ("ext", "zero_ext") else None)
    elif kind == "binary":
        op = draw(st.sampled_from(BINARY))
        x, y = sub(), sub()
        shift = op in ("lsh", "rsh_signed", "rsh_unsigned")
        divide = op.startswith(("div", "rem"))
        count_kind = (draw(st.sampled_from(["const", "const", "masked", "any"])) if shift
                      else draw(st.sampled_from(["nonzero", "nonzero", "any"])) if divide
                      else "any")
        count = draw(st.integers(0, 70))

        def emit(b):
            x(b)
            if count_kind == "const":
                b.op(*const_op(count))
            elif count_kind == "masked":                # a computed count, mostly in range
                y(b)
                b.op("const8", 63 if count < 60 else 127)
                b.op("bit_and")
            elif count_kind == "nonzero":               # a divisor that is never zero
                y(b)
                b.op("const8", 1)
                b.op("bit_or")
            else:
                y(b)
            b.op(op)
    elif kind in ("and", "or"):
        x, y = sub(), sub()

        def emit(b):                                # exactly GDB's && / || shapes
            t1, f1, done = b.label(), b.label(), b.label()
            x(b)
            if kind == "and":
                b.op("if_goto", t1)
                b.op("goto", f1)
                b.place(t1)
                y(b)
                t2 = b.label()
                b.op("if_goto", t2)
                b.op("goto", f1)
                b.place(t2)
                b.op("const8", 1)
                b.op("goto", done)
                b.place(f1)
                b.op("const8", 0)
            else:
                b.op("if_goto", t1)
                y(b)
                b.op("if_goto", t1)
                b.op("const8", 0)
                b.op("goto", done)
                b.place(t1)
                b.op("const8", 1)
            b.place(done)
    elif kind == "cond":
        c, x, y = sub(), sub(), sub()
        negate = draw(st.booleans())

        def emit(b):
            other, done = b.label(), b.label()
            c(b)
            if negate:
                b.op("log_not")
            b.op("if_goto", other)
            x(b)
            b.op("goto", done)
            b.place(other)
            y(b)
            b.place(done)
    elif kind == "swap":
        op = draw(st.sampled_from(shuffle_ops))
        x, y = sub(), sub()

        def emit(b):
            x(b)
            y(b)
            b.op("swap")
            b.op(op)
    elif kind == "dup":
        op = draw(st.sampled_from(shuffle_ops))
        x = sub()

        def emit(b):
            x(b)
            b.op("dup")
            b.op(op)
    elif kind == "pick":
        op1, op2 = draw(st.sampled_from(shuffle_ops)), draw(st.sampled_from(shuffle_ops))
        x, y = sub(), sub()

        def emit(b):
            x(b)
            y(b)
            b.op("pick", 1)
            b.op(op1)
            b.op(op2)
    elif kind == "rot":
        op1, op2 = draw(st.sampled_from(shuffle_ops)), draw(st.sampled_from(shuffle_ops))
        x, y, z = sub(), sub(), sub()

        def emit(b):
            x(b)
            y(b)
            z(b)
            b.op("rot")
            b.op(op1)
            b.op(op2)
    else:  # pop
        x, y = sub(), sub()

        def emit(b):
            x(b)
            y(b)
            b.op("pop")
    return emit


@st.composite
def ax_programs(draw) -> AxExpr:
    """Mostly `x < y` at the top, as conditions are, so that both verdicts are common."""
    b = Builder()
    top = draw(st.sampled_from(["less_signed", "less_unsigned", "equal", None]))
    draw(expressions())(b)
    if top:
        draw(expressions())(b)
        b.op(top)
    b.op("end")
    return AxExpr(scope=None, ops=b.ops())


# -- inputs ---------------------------------------------------------------------------------------
PAGE = 0x7F00_1234_5000            # the readable page in interpreter runs
VARIED = 256                       # bytes of the page each vector sets
PAGE_SIZE = 4096
UNREADABLE = (0, 8, 0xFFFF_FFFF_8100_0000, PAGE - 8, PAGE + PAGE_SIZE, PAGE + PAGE_SIZE - 4)


@st.composite
def register_values(draw, pointer: bool):
    if pointer:
        kind = draw(st.integers(0, 39))
        if kind < 30:
            return ("page", 8 * draw(st.integers(0, VARIED // 16 - 1)))
        if kind < 35:
            return ("page", draw(st.integers(0, VARIED - 8)))
        if kind < 37:
            return ("page", draw(st.integers(PAGE_SIZE - 12, PAGE_SIZE)))
        if kind < 39:
            return ("abs", draw(st.sampled_from(UNREADABLE)))
    return ("abs", draw(values()))


@st.composite
def vectors(draw):
    regs = tuple(draw(register_values(n in POINTER_REGS)) for n in ARG_REGS)
    mem = bytearray(draw(st.binary(min_size=VARIED, max_size=VARIED)))
    # The first half of the page holds pointers into the page (for "pointer in memory").
    targets = draw(st.lists(st.integers(0, VARIED // 8 - 8), min_size=VARIED // 16,
                            max_size=VARIED // 16))
    for slot, target in enumerate(targets):
        mem[8 * slot:8 * slot + 8] = (PAGE + 8 * target).to_bytes(8, "little")
    return regs, bytes(mem)


def resolve(vector, page: int, fixed: dict):
    """(registers by GDB number, Memory) for a vector once the page address is known."""
    regs, mem = vector
    mem = bytearray(mem)
    for at in range(0, VARIED, 8):                  # planted pointers move with the page
        value = int.from_bytes(mem[at:at + 8], "little")
        if PAGE <= value < PAGE + VARIED:
            mem[at:at + 8] = (value - PAGE + page).to_bytes(8, "little")
    mem = bytes(mem)
    registers = dict(fixed)
    for number, (kind, value) in zip(ARG_REGS, regs):
        if kind == "page":
            value += page
        elif value in UNREADABLE[3:]:
            value = value - PAGE + page
        registers[number] = value & MASK
    return registers, Memory({page: mem + bytes(PAGE_SIZE - VARIED)})


INTERPRETER_FIXED = {16: 0x401136, 18: 0x33, 19: 0x2B, 57: MASK}


def reference(expr: AxExpr, registers, memory):
    return evaluate_ax([(op.offset, op.name, op.arg) for op in expr.ops], registers, memory)


def with_value_check(expr: AxExpr, value: int) -> AxExpr:
    """expr == value: `end` becomes `const64 value; equal; end` (jumps to `end` still land
    where the result is on top), so the whole 64-bit result is checked, not only its truth."""
    *body, end = expr.ops
    const = AxOp(end.offset, "const64", value - (1 << 64) if value >> 63 else value)
    equal = AxOp(const.next_offset, "equal")
    return AxExpr(expr.scope, (*body, const, equal, AxOp(equal.next_offset, "end")))


def check(expr: AxExpr, vector_list):
    program = build_program(KernelLeaf("generated", expr), VERDICTS)
    assert len(program) < 4096
    for vector in vector_list:
        registers, memory = resolve(vector, PAGE, INTERPRETER_FIXED)
        want = EXPECTED_R0[reference(expr, registers, memory)]
        got = run_bpf(program, registers, memory).r0
        assert got == want, (f"{expr.format()}\nregisters {registers}\n"
                             f"expected {want}, eBPF gave {got}")
        value = ax_value([(op.offset, op.name, op.arg) for op in expr.ops], registers, memory)
        if value != STOP_UNSURE:
            for candidate, want in ((value, 1), (value ^ 1, 0), (value ^ (1 << 63), 0)):
                checked = build_program(KernelLeaf("x", with_value_check(expr, candidate)),
                                        VERDICTS)
                got = run_bpf(checked, registers, memory).r0
                assert got == want, (f"{expr.format()}\nregisters {registers}\n"
                                     f"value {value:#x}: == {candidate:#x} gave {got}")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ax_programs(), st.lists(vectors(), min_size=1, max_size=4))
def test_lowering_matches_reference(expr, vector_list):
    check(expr, vector_list)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ax_programs(), st.lists(vectors(), min_size=1, max_size=4))
def test_lowering_for_a_gdb_narrowing_by_magnitude_is_the_reference_or_unsure(expr, vector_list):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("gdb_plugin.compiler.narrowing._gdb_truncates_magnitude", True)
        program = build_program(KernelLeaf("generated", expr), VERDICTS)
    for vector in vector_list:
        registers, memory = resolve(vector, PAGE, INTERPRETER_FIXED)
        want = EXPECTED_R0[reference(expr, registers, memory)]
        got = run_bpf(program, registers, memory).r0
        assert got in (want, 2), f"{expr.format()}\nregisters {registers}\nexpected {want}: {got}"


# -- every op, every operand form -------------------------------------------------------------
OPERAND_VALUES = [0, 1, 5, 63, 64, 0x7F, 0x80, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                  1 << 32, (1 << 63) - 1, 1 << 63, MASK, MASK - 4]
# How an operand reaches the op: a constant, a register, or a register whose value sits in a
# BPF stack slot (three values pushed below it first).
FORMS = ("const", "reg", "spilled")


def _single_op_program(op: str, forms, values, arg=None) -> AxExpr:
    """`op` applied to operands given as constants or as rdi/rsi (GDB regs 5, 4)."""
    b = Builder()
    if "spilled" in forms:
        for _ in range(3):
            b.op("const8", 9)
    for index, (form, value) in enumerate(zip(forms, values)):
        if form == "const":
            b.op(*const_op(value))
        else:
            b.op("reg", 5 - index)
    b.op(op, arg)
    if "spilled" in forms:                          # drop the padding under the result
        for _ in range(3):
            b.op("swap")
            b.op("pop")
    b.op("end")
    return AxExpr(None, b.ops())


def _check_single(op, forms, values, arg=None):
    expr = _single_op_program(op, forms, values, arg)
    registers = {5 - i: v for i, v in enumerate(values)}
    value = ax_value([(o.offset, o.name, o.arg) for o in expr.ops], registers, Memory())
    if value == STOP_UNSURE:
        assert verdict(expr, registers) == 2, (op, forms, values)
        return
    for candidate, want in ((value, 1), (value ^ 1, 0), (value ^ (1 << 63), 0)):
        got = verdict(with_value_check(expr, candidate), registers)
        assert got == want, f"{op} {arg} {forms} {[hex(v) for v in values]}: {value:#x}"


@pytest.mark.parametrize("op", BINARY)
def test_every_binary_op_and_operand_form(op):
    for forms in itertools.product(FORMS, repeat=2):
        if forms.count("spilled") == 2:
            continue
        for a in OPERAND_VALUES:
            for b in OPERAND_VALUES + [2, 3]:
                _check_single(op, forms, [a, b])


def _branch_shape(b: Builder, shape: str):
    """What consumes a comparison: the shapes GDB's compiler produces."""
    if shape in ("end", "not end"):
        if shape == "not end":
            b.op("log_not")
    elif shape == "value":
        b.op("const8", 6)
        b.op("add")
    else:
        taken, other, done = b.label(), b.label(), b.label()
        if shape.startswith("not "):
            b.op("log_not")
        b.op("if_goto", taken)
        if shape.endswith("if_goto goto"):           # && : if_goto T; goto F; T:
            b.op("goto", other)
            b.place(taken)
            b.op("const8", 1)
            b.op("goto", done)
            b.place(other)
            b.op("const8", 0)
        else:                                        # || : if_goto T; const 0; goto E; T:
            b.op("const8", 0)
            b.op("goto", done)
            b.place(taken)
            b.op("const8", 1)
        b.place(done)
    b.op("end")


@pytest.mark.parametrize("op", ["equal", "less_signed", "less_unsigned"])
@pytest.mark.parametrize("shape", ["end", "not end", "value", "if_goto", "not if_goto",
                                   "if_goto goto", "not if_goto goto"])
def test_every_comparison_in_every_branch_shape(op, shape):
    values = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 1 << 63, MASK]
    for forms in itertools.product(FORMS, repeat=2):
        if forms.count("spilled") == 2:
            continue
        for a, c in itertools.product(values, repeat=2):
            b = Builder()
            if "spilled" in forms:
                for _ in range(3):
                    b.op("const8", 9)
            for index, (form, value) in enumerate(zip(forms, (a, c))):
                b.op(*const_op(value)) if form == "const" else b.op("reg", 5 - index)
            b.op(op)
            _branch_shape(b, shape)
            expr = AxExpr(None, b.ops())
            registers = {5: a, 4: c}
            want = evaluate_ax([(o.offset, o.name, o.arg) for o in expr.ops], registers,
                               Memory())
            assert verdict(expr, registers) == want, (op, shape, forms, a, c)


@pytest.mark.parametrize("op", ["ext", "zero_ext"])
def test_every_extension_and_operand_form(op):
    for form in FORMS:
        for bits in (1, 7, 8, 16, 31, 32, 33, 48, 63, 64):
            for value in OPERAND_VALUES:
                _check_single(op, (form,), [value], bits)


@pytest.mark.parametrize("op", ["log_not", "bit_not"])
def test_every_unary_op_and_operand_form(op):
    for form in FORMS:
        for value in OPERAND_VALUES:
            _check_single(op, (form,), [value])


# -- single ops, by hand ----------------------------------------------------------------------
def listing(*lines) -> AxExpr:
    ops, offset = [], 0
    for line in lines:
        name, *arg = line.split()
        op = AxOp(offset, name, int(arg[0]) if arg else None)
        ops.append(op)
        offset = op.next_offset
    return AxExpr(None, tuple(ops))


def verdict(expr: AxExpr, registers=None, memory=None, on_match=VERDICTS) -> int:
    program = build_program(KernelLeaf("x", expr), on_match)
    return run_bpf(program, registers or {}, memory or Memory()).r0


def rdi_rsi(op, a, b):
    """`rdi OP rsi` for registers a, b."""
    return verdict(listing("reg 5", "reg 4", op, "end"), {5: a & MASK, 4: b & MASK})


@pytest.mark.parametrize("op", ["div_signed", "div_unsigned", "rem_signed", "rem_unsigned"])
def test_division_by_zero_is_unsure(op):
    assert rdi_rsi(op, 7, 0) == 2
    assert verdict(listing("reg 5", "const8 0", op, "end"), {5: 7}) == 2


@pytest.mark.parametrize("op", ["div_signed", "rem_signed"])
def test_int64_min_by_minus_one_is_unsure(op):
    # GDB 13 dies of SIGFPE evaluating this on the host.
    assert rdi_rsi(op, -(1 << 63), -1) == 2
    assert verdict(listing("reg 5", "const8 255", "ext 8", op, "end"), {5: 1 << 63}) == 2
    assert rdi_rsi(op, -(1 << 63) + 1, -1) == (1 if op == "div_signed" else 0)


@pytest.mark.parametrize("a,b", [(7, 2), (-7, 2), (7, -2), (-7, -2), (-1, 5), (5, -7),
                                 (-(1 << 63), 3), (-(1 << 63), 1), ((1 << 63) - 1, -1)])
def test_signed_division_truncates_toward_zero(a, b):
    q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    r = a - q * b
    for op, want in (("div_signed", q), ("rem_signed", r)):
        expr = listing("reg 5", "reg 4", op, "reg 3", "equal", "end")
        assert verdict(expr, {5: a & MASK, 4: b & MASK, 3: want & MASK}) == 1, (op, a, b)
        assert verdict(expr, {5: a & MASK, 4: b & MASK, 3: (want + 1) & MASK}) == 0


@pytest.mark.parametrize("op", ["lsh", "rsh_signed", "rsh_unsigned"])
def test_shift_counts_outside_0_63_are_unsure(op):
    for count in (64, 65, 1 << 32, MASK):
        assert rdi_rsi(op, 5, count) == 2
        assert verdict(listing("reg 5", *(" ".join(map(str, const_op(count))),), op, "end"),
                       {5: 5}) == 2
    assert rdi_rsi(op, 1 << 62, 63) in (0, 1)


def test_unreadable_memory_is_unsure():
    expr = listing("reg 5", "ref32", "const8 1", "equal", "end")
    memory = Memory({0x1000: (1).to_bytes(4, "little")})
    assert verdict(expr, {5: 0x1000}, memory) == 1
    assert verdict(expr, {5: 0x1004}, memory) == 2
    assert verdict(expr, {5: 0x0FFE}, memory) == 2


def test_result_is_exactly_zero_or_one():
    # A value other than 0/1 at `end` is a match, and the predicate returns exactly 1.
    expr = listing("reg 5", "end")
    assert verdict(expr, {5: 0x100}, on_match=ReturnVerdict()) == 1
    assert verdict(expr, {5: 0}, on_match=ReturnVerdict()) == 0
    assert verdict(expr, {5: 1 << 63}, on_match=ReturnVerdict()) == 1


def test_segment_registers_ignore_upper_bits():
    # The interpreter puts junk above cs/ss in pt_regs, as FRED kernels do.
    assert verdict(listing("reg 18", "const8 51", "equal", "end"), {18: 0x33}) == 1


def test_signal_tier_signals_and_returns_zero():
    expr = listing("reg 5", "const8 3", "equal", "end")
    program = build_program(KernelLeaf("x", expr), SendSignal(40))
    hit = run_bpf(program, {5: 3}, Memory())
    miss = run_bpf(program, {5: 4}, Memory())
    assert (hit.r0, hit.signals) == (0, [40])
    assert (miss.r0, miss.signals) == (0, [])
    unsure = build_program(KernelLeaf("x", listing("reg 5", "ref8", "end")), SendSignal(41))
    assert run_bpf(unsure, {5: 0}, Memory()).signals == [41]


def test_kernel_tree_combinators():
    eq = lambda n: KernelLeaf(f"rdi == {n}", listing("reg 5", f"const8 {n}", "equal", "end"))
    unreadable = KernelLeaf("*rsi", listing("reg 4", "ref8", "end"))
    cases = [
        (KernelAnd((eq(3), eq(3))), {5: 3}, 1),
        (KernelAnd((eq(3), eq(4))), {5: 3}, 0),
        (KernelOr((eq(3), eq(4))), {5: 4}, 1),
        (KernelOr((eq(3), eq(4))), {5: 5}, 0),
        (KernelNot(eq(3)), {5: 3}, 0),
        (KernelNot(eq(3)), {5: 4}, 1),
        # unsure stays unsure under negation and inside && / ||
        (KernelNot(unreadable), {5: 0, 4: 0}, 2),
        (KernelAnd((eq(3), unreadable)), {5: 3, 4: 0}, 2),
        (KernelAnd((eq(3), unreadable)), {5: 4, 4: 0}, 0),
        (KernelOr((eq(3), unreadable)), {5: 3, 4: 0}, 1),
    ]
    for tree, registers, want in cases:
        program = build_program(tree, VERDICTS)
        assert run_bpf(program, registers, Memory()).r0 == want, tree


def test_no_cpu_v4_instructions():
    """Signed div/mod (off=1) and sign-extending moves are Linux 6.6+ only."""
    expr = listing("reg 5", "reg 4", "div_signed", "reg 3", "rem_signed", "ext 16", "end")
    for insn in build_program(KernelLeaf("x", expr)):
        cls, op = insn.code & 7, insn.code & 0xF0
        if cls in (4, 7):
            assert insn.off == 0, insn
        if cls == 1:
            assert insn.code & 0xE0 == 0x60, insn          # BPF_MEM loads only, no MEMSX


def test_context_pointer_survives_helper_calls():
    expr = listing("reg 5", "ref8", "pop", "reg 4", "end")
    memory = Memory({0x1000: b"\x01"})
    assert verdict(expr, {5: 0x1000, 4: 9}, memory) == 1
    assert verdict(expr, {5: 0x1000, 4: 0}, memory) == 0


def test_deep_stacks_spill_to_the_bpf_stack():
    depth = 20
    lines = [f"const8 {n}" for n in range(1, depth + 1)] + ["add"] * (depth - 1)
    lines += ["const16 210", "equal", "end"]
    assert verdict(listing(*lines)) == 1


# -- what cannot be lowered -------------------------------------------------------------------
@pytest.mark.parametrize("lines,message", [
    (["reg 22", "end"], r"\$fs is not saved in the kernel's pt_regs"),
    (["reg 23", "end"], r"\$gs is not saved"),
    (["reg 40", "end"], r"\$xmm0 is not saved"),
    (["const8 1", "trace_quick 4", "end"], "collects memory for a tracepoint"),
    (["getv 1", "end"], "reads a trace state variable"),
    (["const8 1", "ref_double", "end"], "floating point"),
    (["const8 1", "goto 0", "end"], "jumps backwards"),
    (["const8 1", "if_goto 9", "const8 2", "goto 9", "const8 3", "end"],
     "not the start of an op"),
    (["const8 1", "if_goto 9", "const8 2", "const8 3", "end"], "stack depths"),
    (["add", "end"], "needs 2 stack values but has 0"),
    (["const8 1", "pop", "end"], "empty stack"),
    (["const8 1", "ext 0", "end"], "extends from zero bits"),
])
def test_rejections_name_the_problem(lines, message):
    with pytest.raises(UnsupportedAx, match=message):
        build_program(KernelLeaf("x", listing(*lines)))


def test_listing_from_gdb_lowers():
    expr = parse_listing("""Scope: 0x555555555140
Reg mask: 40
  0  reg 6
  3  const8 16
  5  add
  6  const8 236
  8  ext 8
 10  add
 11  ref32
 12  ext 32
 14  const8 3
 16  equal
 17  end
""")
    rbp = 0x7FFF_FFFF_E6A0
    memory = Memory({rbp - 20 + 16: (3).to_bytes(4, "little")})
    assert verdict(expr, {6: rbp}, memory) == 1
    memory = Memory({rbp - 4: (0xFFFFFFFF).to_bytes(4, "little")})
    assert verdict(expr, {6: rbp}, memory) == 0


@pytest.fixture
def gdb_narrowing_by_magnitude(monkeypatch):
    monkeypatch.setattr("gdb_plugin.compiler.narrowing._gdb_truncates_magnitude", True)


# (int)(rdi OP rsi) == rdx, as GDB compiles it for ints, with GDB 16's values where they differ
# from C's: -70000 << 16 is 292552704 there and -292552704 in C.
@pytest.mark.parametrize("op,a,b,c_value", [
    ("lsh", -70000, 16, -292552704), ("mul", -70000, 100000, 1589934592),
    ("mul", -3, 1431655766, -2)])
def test_a_narrowing_gdb_16_does_by_magnitude_is_left_to_gdb(gdb_narrowing_by_magnitude,
                                                              op, a, b, c_value):
    expr = listing("reg 5", "reg 4", op, "ext 32", "reg 1", "equal", "end")
    registers = {5: a & MASK, 4: b & MASK, 1: c_value & MASK}
    assert verdict(expr, registers) == 2
    cast = listing("reg 5", "ext 16", "reg 1", "equal", "end")   # (short)rdi == rdx
    assert verdict(cast, {5: -70000 & MASK, 1: -4464 & MASK}) == 2
    assert verdict(listing("const32 " + str(-70000 & 0xFFFFFFFF), "ext 32", "ext 16", "end")) == 2
    assert verdict(listing("const32 " + str(-40000 & 0xFFFFFFFF), "ext 32", "ext 16", "end")) == 1


@pytest.mark.parametrize("op,a,b", [("lsh", -70000, 15), ("lsh", 70000, 16), ("mul", -70000, 3),
                                    ("mul", 70000, 100000), ("mul", -65536, 32767)])
def test_narrowings_gdb_16_does_as_c_stay_in_the_kernel(gdb_narrowing_by_magnitude, op, a, b):
    c_value = _extend32(a << b if op == "lsh" else a * b)
    expr = listing("reg 5", "reg 4", op, "ext 32", "reg 1", "equal", "end")
    assert verdict(expr, {5: a & MASK, 4: b & MASK, 1: c_value & MASK}) == 1
    assert verdict(expr, {5: a & MASK, 4: b & MASK, 1: (c_value + 1) & MASK}) == 0
    cast = listing("reg 5", "ext 16", "reg 1", "equal", "end")
    assert verdict(cast, {5: -40000 & MASK, 1: 25536}) == 1


def test_64_bit_products_and_shifts_beyond_64_bits_are_left_to_gdb(gdb_narrowing_by_magnitude):
    assert rdi_rsi("lsh", -70000, 50) == 2
    assert rdi_rsi("mul", -70000, 300000000000000) == 2
    assert rdi_rsi("mul", 1 << 33, 2) == 2
    assert rdi_rsi("lsh", -70000, 40) == 1 and rdi_rsi("mul", -70000, 3) == 1


def test_a_gdb_narrowing_as_c_does_keeps_every_such_hit_in_the_kernel():
    expr = listing("reg 5", "reg 4", "lsh", "ext 32", "reg 1", "equal", "end")
    assert verdict(expr, {5: -70000 & MASK, 4: 16, 1: -292552704 & MASK}) == 1
    assert rdi_rsi("lsh", -70000, 50) == 1


def _extend32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


@pytest.mark.parametrize("number,member", [(58, "fsbase"), (59, "gsbase")])
def test_fs_base_and_gs_base_are_read_from_the_current_task(number, member):
    """As GDB's $fs_base: the kernel's copy in task_struct.thread (its offset from the BTF)."""
    at = CURRENT_TASK + task_thread_offset(member)
    expr = listing(f"reg {number}", "const32 305419896", "equal", "end")
    assert verdict(expr, memory=Memory({at: (0x12345678).to_bytes(8, "little")})) == 1
    assert verdict(expr, memory=Memory({at: (0x12345679).to_bytes(8, "little")})) == 0
    assert verdict(expr) == 2                   # unreadable: GDB decides
