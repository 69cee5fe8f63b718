"""amd64 registers: GDB's numbers (what AX `reg N` means) mapped to `struct pt_regs`, and the
front-end rewrite of register names in a condition into forms GDB's AX compiler accepts.

A perf_event BPF program sees the interrupted user registers as the `struct pt_regs` at the
start of its context. fs_base and gs_base are not there: the predicate reads them from the
current task's `thread` (THREAD_BASES), where the kernel keeps the values arch_prctl and clone
set (a program that writes them with WRFSBASE/WRGSBASE bypasses that copy until it is next
scheduled out). Other registers (ds/es/fs/gs, x87, vector and mask registers) cannot be read
by the predicate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from .errors import UnsupportedAx
from .tokens import DOLLAR, IDENT, Token, tokenize

# GDB's amd64 register numbers (amd64-tdep.h; 57-59 from amd64-linux-tdep.h).
GDB_REGISTER_NAMES: Dict[int, str] = {
    0: "rax", 1: "rbx", 2: "rcx", 3: "rdx", 4: "rsi", 5: "rdi", 6: "rbp", 7: "rsp",
    **{8 + n: f"r{8 + n}" for n in range(8)},
    16: "rip", 17: "eflags", 18: "cs", 19: "ss", 20: "ds", 21: "es", 22: "fs", 23: "gs",
    **{24 + n: f"st{n}" for n in range(8)},
    32: "fctrl", 33: "fstat", 34: "ftag", 35: "fiseg", 36: "fioff", 37: "foseg", 38: "fooff",
    39: "fop", **{40 + n: f"xmm{n}" for n in range(16)}, 56: "mxcsr",
    57: "orig_rax", 58: "fs_base", 59: "gs_base",
}


@dataclass(frozen=True)
class PtRegsField:
    offset: int      # byte offset in struct pt_regs (= in the perf_event BPF context)
    mask: int        # the register's bits; segment selectors share their 8-byte slot


_FULL = 0xFFFF_FFFF_FFFF_FFFF

# struct pt_regs on x86_64 (arch/x86/include/asm/ptrace.h).
PT_REGS: Dict[int, PtRegsField] = {
    0: PtRegsField(80, _FULL), 1: PtRegsField(40, _FULL), 2: PtRegsField(88, _FULL),
    3: PtRegsField(96, _FULL), 4: PtRegsField(104, _FULL), 5: PtRegsField(112, _FULL),
    6: PtRegsField(32, _FULL), 7: PtRegsField(152, _FULL),
    8: PtRegsField(72, _FULL), 9: PtRegsField(64, _FULL), 10: PtRegsField(56, _FULL),
    11: PtRegsField(48, _FULL), 12: PtRegsField(24, _FULL), 13: PtRegsField(16, _FULL),
    14: PtRegsField(8, _FULL), 15: PtRegsField(0, _FULL),
    16: PtRegsField(128, _FULL),
    17: PtRegsField(144, _FULL),
    # With FRED (Linux 6.9+) the upper bits of the cs and ss slots carry event data.
    18: PtRegsField(136, 0xFFFF),
    19: PtRegsField(160, 0xFFFF),
    57: PtRegsField(120, _FULL),
}


# GDB register number -> member of the kernel's `struct thread_struct` holding it.
THREAD_BASES: Dict[int, str] = {58: "fsbase", 59: "gsbase"}


def register_name(number: int) -> str:
    return GDB_REGISTER_NAMES.get(number, f"register {number}")


def pt_regs_field(number: int) -> PtRegsField:
    """Where GDB register `number` lives in pt_regs; UnsupportedAx if it is not there."""
    field = PT_REGS.get(number)
    if field is None:
        raise UnsupportedAx(
            f"${register_name(number)} is not saved in the kernel's pt_regs, so the eBPF "
            "predicate cannot read it (only the general registers, rip, eflags, cs, ss, "
            "orig_rax, fs_base and gs_base can be)")
    return field


# -- the front-end rewrite ---------------------------------------------------------------------

_FULL_NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
               *[f"r{n}" for n in range(8, 16)], "rip", "eflags",
               "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "orig_rax"]

# GDB's own types for its amd64 pseudo-registers: $eax is int32_t, $ax int16_t, $al and $ah
# int8_t -- all signed. Each becomes a cast of the full register's bits, masked first: GDB 16
# truncates a negative integer by its magnitude in a cast (there `(signed char)-765` is -3, not
# 3), a non-negative one as C does.
_INT32, _INT16, _INT8 = "int", "short", "signed char"
_MASKS = {_INT32: "0xffffffff", _INT16: "0xffff", _INT8: "0xff"}


def _sub_registers() -> Dict[str, Tuple[str, str, int]]:
    """name -> (full register, C type, right shift)"""
    subs: Dict[str, Tuple[str, str, int]] = {}
    legacy = [("a", "rax"), ("b", "rbx"), ("c", "rcx"), ("d", "rdx")]
    for letter, full in legacy:
        subs[f"e{letter}x"] = (full, _INT32, 0)
        subs[f"{letter}x"] = (full, _INT16, 0)
        subs[f"{letter}l"] = (full, _INT8, 0)
        subs[f"{letter}h"] = (full, _INT8, 8)
    for short, full in [("si", "rsi"), ("di", "rdi"), ("bp", "rbp"), ("sp", "rsp")]:
        subs[f"e{short}"] = (full, _INT32, 0)
        subs[f"{short}l"] = (full, _INT8, 0)
        if short != "sp":          # GDB has no 16-bit $sp: $sp is the stack pointer
            subs[short] = (full, _INT16, 0)
    for n in range(8, 16):
        subs[f"r{n}d"] = (f"r{n}", _INT32, 0)
        subs[f"r{n}w"] = (f"r{n}", _INT16, 0)
        subs[f"r{n}l"] = (f"r{n}", _INT8, 0)
    return subs


SUB_REGISTERS = _sub_registers()
# Bare names only: Intel's r8b spelling (GDB calls it $r8l), and the aliases GDB gives $pc, $sp.
_BARE_ONLY_SUB = {f"r{n}b": (f"r{n}", _INT8, 0) for n in range(8, 16)}
_ALIASES = {"pc": "rip", "sp": "rsp"}
# `$fp` is deliberately absent: GDB's $fp is the frame base, which is not rbp in code built
# without a frame pointer. AX refuses it, so it stays with GDB.
_DOLLAR_ALIASES = {"pc": "rip", "sp": "rsp", "ps": "eflags"}

_NOT_AFTER = {".", "->", "::", ".*", "->*"}
_TAG_KEYWORDS = {"struct", "union", "enum", "class"}


def _sub_register_text(full: str, ctype: str, shift: int) -> str:
    bits = f"((long)${full} >> {shift})" if shift else f"(long)${full}"   # $rsp is a pointer
    return f"(({ctype})({bits} & {_MASKS[ctype]}))"


def _replacement_for_bare(name: str) -> Optional[str]:
    if name in _FULL_NAMES:
        return f"${name}"
    if name in _ALIASES:
        return f"${_ALIASES[name]}"
    sub = SUB_REGISTERS.get(name) or _BARE_ONLY_SUB.get(name)
    if sub:
        return _sub_register_text(*sub)
    return None


def _replacement_for_dollar(name: str) -> Optional[str]:
    bare = name[1:]
    if bare in _DOLLAR_ALIASES:
        return f"${_DOLLAR_ALIASES[bare]}"
    sub = SUB_REGISTERS.get(bare)
    if sub:
        return _sub_register_text(*sub)
    return None


def register_rewrites(condition: str, is_program_symbol: Callable[[str], bool]
                      ) -> List[Tuple[Token, str]]:
    """The (token, replacement) pairs rewrite_registers applies."""
    tokens = tokenize(condition)
    found = []
    for index, token in enumerate(tokens):
        if token.kind == DOLLAR:
            replacement = _replacement_for_dollar(token.text)
        elif token.kind == IDENT:
            before = tokens[index - 1] if index else None
            after = tokens[index + 1]
            if before is not None and (before.text in _NOT_AFTER
                                       or before.is_ident(*_TAG_KEYWORDS)):
                continue
            if after.is_op("::"):
                continue
            replacement = _replacement_for_bare(token.text)
            if replacement is not None and is_program_symbol(token.text):
                continue
        else:
            continue
        if replacement is not None:
            found.append((token, replacement))
    return found


def rewrite_registers(condition: str, is_program_symbol: Callable[[str], bool]) -> str:
    """Register names in `condition` rewritten to forms GDB's agent expressions accept.

    Bare `rax`, `rip`, `eflags`... become `$rax`...; `eax`, `ax`, `al`, `ah`, `r8d`, `sil`...
    (bare or `$`) become casts of the full register with GDB's type for that pseudo-register;
    `$pc`, `$sp`, `$ps` become `$rip`, `$rsp`, `$eflags`. A bare name is left alone where it is
    a program symbol in scope (is_program_symbol), a member name, or a struct tag. Literals
    are single tokens, so names inside them are never touched.
    """
    out, pos = [], 0
    for token, replacement in register_rewrites(condition, is_program_symbol):
        out.append(condition[pos:token.start])
        out.append(replacement)
        pos = token.end
    out.append(condition[pos:])
    return "".join(out)
