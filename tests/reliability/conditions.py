"""Random GDB conditions over tests/programs/rel_diff.c, in two spellings.

Each condition comes as a pair: `gdb`, the text given to GDB's own `break LOCATION if ...`
(registers as $rdi, $edi, $r8l), and `hbreak`, the text given to `hbreak-if` (mostly bare
register names: rdi, edi, di, dil, r8b, pc; sometimes the $ form).  Everything else --
literals, casts, operators, parentheses -- is the same text in both, so GDB's parse decides
what it means for both.

The generator is written against a tiny `draw` interface so that the same code runs under
hypothesis (HypothesisDraw: shrinkable, used by the pytest suite) and from a seeded
random.Random (RandomDraw: reproducible by seed, used by the long profile).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

# -- drawing ----------------------------------------------------------------------------------


class RandomDraw:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def choice(self, options: Sequence):
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class HypothesisDraw:
    """Adapts hypothesis' `draw` (inside @st.composite); first options shrink best."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self._draw, self._st = draw, st

    def choice(self, options: Sequence):
        return self._draw(self._st.sampled_from(list(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(self._st.integers(lo, hi))

    def chance(self, p: float) -> bool:
        # 1000 steps: integers shrink toward lo, i.e. toward False.
        return self._draw(self._st.integers(0, 999)) >= 1000 - int(p * 1000)


# -- values -----------------------------------------------------------------------------------

INT, PTR, FLOAT = "int", "ptr", "float"


@dataclass(frozen=True)
class Term:
    gdb: str
    hbreak: str
    kind: str = INT
    simple: bool = True       # needs no parentheses as an operand

    def wrapped(self) -> "Term":
        if self.simple:
            return self
        return Term(f"({self.gdb})", f"({self.hbreak})", self.kind, True)


def same(text: str, kind: str = INT) -> Term:
    return Term(text, text, kind)


# -- registers ----------------------------------------------------------------------------------

_LEGACY = {"rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
           "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
           "rbp": ("ebp", "bp", "bpl")}
ARGUMENT_REGISTERS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
ALL_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
                 "r12", "r13", "r14", "r15")


def register_names(full: str) -> List[Tuple[str, str]]:
    """(bare name for hbreak-if, $name for GDB) for a register and its sub-registers."""
    names = [(full, f"${full}")]
    if full in _LEGACY:
        names += [(n, f"${n}") for n in _LEGACY[full]]
    elif full.startswith("r") and full[1:].isdigit():
        names += [(f"{full}d", f"${full}d"), (f"{full}w", f"${full}w"),
                  (f"{full}l", f"${full}l"), (f"{full}b", f"${full}l")]
    return names


# -- the program's slots --------------------------------------------------------------------------

GLOBALS = ["g_i", "g_u", "g_l", "g_ul", "g_s", "g_us", "g_sc", "g_uc", "g_c", "g_ll", "g_ull",
           "g_i8", "g_u16", "g_i32", "g_u64", "g_b", "g_color", "g_div", "g_iter", "cx"]
REC_FIELDS = ["id", "s", "flags", "sc", "big", "ubig", "u", "pt.x", "pt.y", "bf_a", "bf_b",
              "bf_c", "name[0]", "name[1]", "next->id", "next->s"]
# Names a program symbol shadows in some scope: `cx` is a global everywhere, `ax` a
# parameter of f_wide.  There, the register must be written with a $.
SHADOWED = {"cx"}


@dataclass(frozen=True)
class Slot:
    number: int
    function: str
    locals: Tuple[Tuple[str, str], ...]      # (name, kind)
    registers: Tuple[str, ...]               # the registers worth reading there
    shadowed: Tuple[str, ...] = ()
    pointers: Tuple[str, ...] = ()           # struct rec * names
    int_pointers: Tuple[str, ...] = ()       # int * names (may be NULL)


SLOTS = (
    Slot(0, "f_int", (("a", INT), ("b", INT), ("c", INT), ("d", INT), ("e", INT), ("f", INT)),
         ARGUMENT_REGISTERS),
    Slot(1, "f_wide", (("a", INT), ("b", INT), ("c", INT), ("ax", INT)),
         ARGUMENT_REGISTERS, shadowed=("ax",), pointers=("r",), int_pointers=("p",)),
    Slot(2, "f_ptr", (("k", INT),), ARGUMENT_REGISTERS, pointers=("r",), int_pointers=("p",)),
    Slot(3, "f_loop", (("n", INT), ("seed", INT), ("acc", INT), ("j", INT), ("tmp", INT)),
         ALL_REGISTERS),
)


@dataclass(frozen=True)
class Build:
    """What the generator needs to know about one build of rel_diff."""
    opt: str
    inner_line: int                      # the line marked @inner
    entry_offsets: dict                  # function -> instruction offsets near its start


# -- literals ---------------------------------------------------------------------------------

_NUMBERS = [0, 1, 2, 3, 5, 7, 8, 10, 15, 16, 31, 32, 33, 63, 64, 100, 127, 128, 255, 256,
            1000, 32767, 32768, 65535, 65536, 0x1234, 0xff00, 12345678, 0x7fffffff, 0x80000000,
            0xffffffff, 0x100000000, 1 << 40, 0xdeadbeef, 0x5555555555555555,
            0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff]
_SUFFIXES = ["", "", "", "u", "l", "ul", "ll", "ull", "U", "L"]
_CHARS = ["'a'", "'b'", "'A'", "'\\0'", "'\\n'", "'\\x41'", "'\\377'"]
_FLOATS = ["1.5", "0.5", "2e3", "-0.25", "100.0"]
_INT_TYPES = ["char", "signed char", "unsigned char", "short", "unsigned short", "int",
              "unsigned int", "unsigned", "long", "unsigned long", "long long",
              "unsigned long long", "int8_t", "uint16_t", "int32_t", "uint64_t"]


def literal(d) -> Term:
    # Mostly integers; a few character and floating-point literals, which only GDB evaluates.
    form = d.integer(0, 39)
    if form < 37:
        value = d.choice(_NUMBERS)
        if form < 4:
            text = f"{value:#x}"
        elif form == 4 and value:
            text = f"0{value:o}"
        else:
            text = str(value)
        if value < 1 << 63:
            text += d.choice(_SUFFIXES) if form % 3 == 0 else ""
        negative = value < 1 << 63 and d.chance(0.3)
        return Term(f"-{text}", f"-{text}", INT, False) if negative else same(text)
    if form < 39:
        return same(d.choice(_CHARS))
    return same(d.choice(_FLOATS), FLOAT)


# -- atoms ------------------------------------------------------------------------------------

def register_term(d, slot: Slot) -> Term:
    choice = d.integer(0, 9)
    if choice <= 6:
        full = d.choice(slot.registers)
        bare, dollar = d.choice(register_names(full))
        if bare in SHADOWED or bare in slot.shadowed or d.chance(0.15):
            bare = dollar
        return Term(dollar, bare)
    if choice == 7:
        # eflags: the arithmetic flags only (RF is set at a hardware breakpoint hit and not
        # at GDB's int3: that difference has its own test).
        mask = d.choice(["0x1", "0x40", "0x80", "0x800", "0x8d5", "0x4"])
        bare = d.choice(["eflags", "$eflags", "$ps"])
        return Term(f"($eflags & {mask})", f"({bare} & {mask})")
    if choice == 8:
        name = d.choice(["rsp", "sp", "$sp", "rip", "pc", "$pc", "rbp"])
        dollar = {"sp": "$sp", "pc": "$pc"}.get(name, name if name.startswith("$") else f"${name}")
        op = d.choice(["& 0xf", "& 0xfff", "!= 0", "% 16"])
        return Term(f"((long){dollar} {op})", f"((long){name} {op})")
    seg = d.choice(["cs", "ss", "orig_rax"])
    return Term(f"${seg}", d.choice([seg, f"${seg}"]))


def global_term(d) -> Term:
    choice = d.integer(0, 12)
    if choice <= 4:
        return same(d.choice(GLOBALS))
    if choice == 5:
        return same(f"g_arr[{d.integer(0, 15)}]")
    if choice == 6:
        index = d.choice(["g_iter % 16", "g_iter & 15", "(g_iter * 5) % 16"])
        return same(f"g_arr[{index}]")
    if choice == 7:
        return same(f"g_cur->{d.choice(REC_FIELDS)}")
    if choice == 8:
        return same(f"recs[{d.integer(0, 7)}].{d.choice(REC_FIELDS)}")
    if choice == 9:
        # Sometimes a NULL pointer: GDB reports an error, and so stops.
        return same(d.choice(["g_maybe->id", "g_maybe->s", "*g_ptr", "g_ptr[1]",
                              "g_cur->ptr[0]", "*g_cur->ptr", "g_maybe->next->big"]))
    if choice == 10:
        return same(d.choice(["*(int *)&g_i", "{short}&g_s", "*(unsigned char *)&g_u",
                              "*(long long *)g_cur", "((char *)g_cur)[3]", "{int}&g_arr[2]",
                              "*(signed char *)&g_l", "((unsigned short *)&g_ull)[3]"]))
    if choice == 11 or d.chance(0.7):
        return same(f"g_name[{d.integer(0, 15)}]")
    return same(d.choice(["g_d", "g_d * 2"]), FLOAT)


def pointer_term(d, slot: Slot) -> Term:
    options = ["g_cur", "g_maybe", "&recs[3]", "recs + 2", "g_cur->next", "g_ptr", "&g_arr[4]",
               "g_cur->ptr", *slot.pointers, *slot.int_pointers]
    if slot.number == 2:
        options += ["s", "s + 1"]
    return same(d.choice(options), PTR)


def local_term(d, slot: Slot) -> Term:
    choice = d.integer(0, 5)
    if choice <= 2 or not (slot.pointers or slot.int_pointers or slot.number == 2):
        return same(d.choice([name for name, _ in slot.locals]))
    if choice == 3 and slot.pointers:
        return same(f"{d.choice(slot.pointers)}->{d.choice(REC_FIELDS)}")
    if choice == 4 and slot.int_pointers:
        p = d.choice(slot.int_pointers)
        return same(d.choice([f"*{p}", f"{p}[0]", f"{p}[1]"]))
    if slot.number == 2:
        return same(d.choice(["s[0]", "s[1]", "s[5]", "*s"]))
    return same(d.choice(slot.locals)[0])


def memory_via_register(d, slot: Slot) -> Term:
    """Memory at an address held in a register: struct rec * or int * arguments."""
    if slot.number == 1:
        reg, typ = d.choice([("r9", "struct rec *"), ("r8", "int *")])
    elif slot.number == 2:
        reg, typ = d.choice([("rdi", "struct rec *"), ("rdx", "int *"), ("rsi", "char *")])
    else:
        reg, typ = "rsp", "long *"
    bare = d.choice([reg, f"${reg}"])
    if typ == "struct rec *":
        field = d.choice(["id", "s", "big", "flags", "next->id"])
        return Term(f"(({typ})${reg})->{field}", f"(({typ}){bare})->{field}")
    return Term(f"*({typ})${reg}", f"*({typ}){bare}", INT, False)


def atom(d, slot: Slot, build: "Build") -> Term:
    choice = d.integer(0, 19)
    if choice <= 4:
        return local_term(d, slot)
    if choice <= 9:
        return global_term(d)
    if choice <= 13:
        return register_term(d, slot)
    if choice <= 15:
        return literal(d)
    if choice <= 16 and slot.number in (1, 2, 3):
        return memory_via_register(d, slot)
    return literal(d)


# -- expressions ------------------------------------------------------------------------------

_ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
_COMPARE = ["==", "!=", "<", "<=", ">", ">="]
_LOGICAL = ["&&", "||"]


def _operand(d, term: Term) -> Term:
    """Parenthesized, or (sometimes) bare to exercise GDB's precedence in both parsers."""
    if term.simple or d.chance(0.15):
        return term
    return term.wrapped()


def _unary(op: str, term: Term) -> Term:
    g, h = term.gdb, term.hbreak
    if g.startswith(("-", "+")) or h.startswith(("-", "+")):
        g, h = f"({g})", f"({h})"
    return Term(f"{op}{g}", f"{op}{h}", term.kind, False)


def binary(left: Term, op: str, right: Term, kind: str = INT) -> Term:
    return Term(f"{left.gdb} {op} {right.gdb}", f"{left.hbreak} {op} {right.hbreak}", kind,
                False)


def value(d, slot: Slot, build: "Build", depth: int) -> Term:
    """An integer-valued expression (a few pointers and floats on purpose)."""
    if depth <= 0:
        return atom(d, slot, build)
    choice = d.integer(0, 23)
    if choice <= 5:
        return atom(d, slot, build)
    if choice <= 11:
        op = d.choice(_ARITH)
        left = _operand(d, value(d, slot, build, depth - 1))
        if op in ("<<", ">>") and d.chance(0.7):
            count = d.choice(["1", "3", "8", "16", "31", "32", "33", "40", "63", "64", "70",
                              "(g_iter & 7)", "(g_iter % 70)", "g_div", "-1", "1u", "2L"])
            right = same(count)
        else:
            right = _operand(d, value(d, slot, build, depth - 1))
            if op in ("/", "%"):
                # GDB itself dies of SIGFPE on LLONG_MIN / -1 (break-if and hbreak-if alike),
                # so a divisor is never -1; zero stays (GDB reports an error and stops).
                w = right.wrapped()
                right = Term(f"({w.gdb} == -1 ? 7 : {w.gdb})",
                             f"({w.hbreak} == -1 ? 7 : {w.hbreak})")
        return binary(left, op, right)
    if choice <= 13:
        operand = value(d, slot, build, depth - 1).wrapped()
        op = d.choice(["-", "~", "!", "-", "~"])
        return _unary(op, operand)
    if choice <= 16:
        typ = d.choice(_INT_TYPES)
        inner = value(d, slot, build, depth - 1).wrapped()
        return Term(f"({typ}){inner.gdb}", f"({typ}){inner.hbreak}", INT, False)
    if choice <= 18:
        cond = _operand(d, condition_term(d, slot, build, depth - 1))
        then = _operand(d, value(d, slot, build, depth - 1))
        other = _operand(d, value(d, slot, build, depth - 1))
        return Term(f"{cond.gdb} ? {then.gdb} : {other.gdb}",
                    f"{cond.hbreak} ? {then.hbreak} : {other.hbreak}", INT, False)
    if choice == 19:
        return condition_term(d, slot, build, depth - 1)
    if choice == 20:
        p = pointer_term(d, slot)
        form = d.integer(0, 3)
        if form == 0:
            return Term(f"(long){p.gdb}", f"(long){p.hbreak}", INT, False)
        if form == 1:
            return Term(f"(unsigned long){p.gdb} & 0xfff", f"(unsigned long){p.hbreak} & 0xfff",
                        INT, False)
        return same(d.choice(["g_cur - recs", "g_cur->next - g_cur", "&g_arr[9] - g_ptr",
                              "(long)g_cur - (long)recs", "(long)g_ptr - (long)&g_arr[9]"]))
    if choice == 21:
        return same(d.choice(["sizeof(g_i)", "sizeof(struct rec)", "sizeof g_cur->name",
                              "(g_i, g_s)", "(g_iter, 3)"]))
    return value(d, slot, build, depth - 1)


def condition_term(d, slot: Slot, build: "Build", depth: int) -> Term:
    """A truth-valued expression."""
    choice = d.integer(0, 15)
    if choice <= 7 or depth <= 0:
        left = _operand(d, value(d, slot, build, max(depth - 1, 0)))
        right = (value(d, slot, build, max(depth - 1, 0)) if d.chance(0.5) else literal(d))
        right = _operand(d, right)
        return binary(left, d.choice(_COMPARE), right)
    if choice <= 11:
        left = _operand(d, condition_term(d, slot, build, depth - 1))
        right = _operand(d, condition_term(d, slot, build, depth - 1))
        return binary(left, d.choice(_LOGICAL), right)
    if choice <= 12:
        return _unary("!", condition_term(d, slot, build, depth - 1).wrapped())
    if choice <= 13:
        p, q = pointer_term(d, slot), pointer_term(d, slot)
        return binary(p, d.choice(["==", "!=", "<", ">="]), q)
    if choice <= 14:
        p = pointer_term(d, slot)
        return binary(p, d.choice(["==", "!="]), same(d.choice(["0", "(void *)0"])))
    return value(d, slot, build, depth - 1)


# -- locations --------------------------------------------------------------------------------

EXPLICIT_LOCATIONS = True


def location(d, slot: Slot, build: Build) -> str:
    if slot.number == 3:
        line = build.inner_line
        return d.choice([f"rel_diff.c:{line}", f"{line}", f"rel_diff.c:{line}"])
    form = d.integer(0, 9)
    if form <= 6:
        return slot.function
    if form == 7:
        # An explicit location (test_reliability_bugs.py::test_explicit_location_is_accepted).
        return f"-function {slot.function}" if EXPLICIT_LOCATIONS else slot.function
    offsets = build.entry_offsets.get(slot.function) or [0]
    offset = d.choice(offsets)
    return f"*{slot.function}+{offset}" if offset else f"*{slot.function}"


@dataclass
class Condition:
    id: int
    slot: int
    location: str
    gdb: str
    hbreak: str

    def entry(self) -> dict:
        return {"id": self.id, "location": self.location, "gdb": self.gdb,
                "hbreak": self.hbreak}


def condition(d, slot: Slot, build: Build, ident: int) -> Condition:
    depth = d.integer(0, 3)
    term = condition_term(d, slot, build, depth)
    hbreak = term.hbreak
    if d.chance(0.1):
        hbreak = f"if {hbreak}"                   # the optional `if` of hbreak-if
    return Condition(ident, slot.number, location(d, slot, build), term.gdb, hbreak)


def rounds(d, build: Build, count: int, first_id: int = 0) -> List[List[Condition]]:
    """`count` rounds, each with one condition per slot."""
    out, ident = [], first_id
    for _ in range(count):
        batch = []
        for slot in SLOTS:
            batch.append(condition(d, slot, build, ident))
            ident += 1
        out.append(batch)
    return out


def hypothesis_rounds(build: Build, count: int):
    """A hypothesis strategy of `count` rounds."""
    from hypothesis import strategies as st

    @st.composite
    def strategy(draw):
        return rounds(HypothesisDraw(draw), build, count)
    return strategy()


def random_rounds(build: Build, count: int, seed: int, first_id: int = 0):
    return rounds(RandomDraw(random.Random(seed)), build, count, first_id)


def all_conditions(batch) -> List[Condition]:
    return [c for r in batch for c in r]


def find(batch, ident: int) -> Optional[Condition]:
    return next((c for c in all_conditions(batch) if c.id == ident), None)
