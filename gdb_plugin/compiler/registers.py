"""Registers in conditions: where the predicate reads GDB's register N (what AX `reg N` means),
and the front-end rewrite of register names in a condition into forms GDB's AX compiler
accepts, for the architecture the compiler compiles for (arch/).

A perf_event BPF program sees the interrupted user registers as the kernel's `pt_regs` at the
start of its context. On x86-64, fs_base and gs_base are not there: the predicate reads them
from the current task's `thread` (thread_bases). Other registers (vector, floating-point, mask
and segment registers) cannot be read by the predicate.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from .. import arch
from ..arch import PtRegsField, SubRegister
from ..arch.registers import MASKS
from .errors import UnsupportedAx
from .tokens import DOLLAR, IDENT, Token, tokenize


def register_name(number: int) -> str:
    return arch.current().register_name(number)


def thread_base(number: int) -> Optional[str]:
    """The member of the kernel's `struct thread_struct` holding GDB register `number`."""
    return arch.current().thread_bases.get(number)


def pt_regs_field(number: int) -> PtRegsField:
    """Where GDB register `number` lives in pt_regs; UnsupportedAx if it is not there."""
    machine = arch.current()
    field = machine.pt_regs.get(number)
    if field is None:
        raise UnsupportedAx(
            f"${machine.register_name(number)} is not saved in the kernel's pt_regs, so the "
            f"eBPF predicate cannot read it ({machine.readable} can be)")
    return field


# -- the front-end rewrite ---------------------------------------------------------------------

_NOT_AFTER = {".", "->", "::", ".*", "->*"}
_TAG_KEYWORDS = {"struct", "union", "enum", "class"}


def _sub_register_text(sub: SubRegister) -> str:
    full = f"(long)${sub.full}"                          # $rsp is a pointer
    bits = f"({full} >> {sub.shift})" if sub.shift else full
    return f"(({sub.ctype})({bits} & {MASKS[sub.ctype]}))"


def _replacement_for_bare(name: str) -> Optional[str]:
    machine = arch.current()
    if name in machine.full_names:
        return f"${name}"
    if name in machine.aliases:
        return f"${machine.aliases[name]}"
    sub = machine.sub_registers.get(name) or machine.bare_only_sub_registers.get(name)
    if sub:
        return _sub_register_text(sub)
    return None


def _replacement_for_dollar(name: str) -> Optional[str]:
    machine, bare = arch.current(), name[1:]
    if bare in machine.dollar_aliases:
        return f"${machine.dollar_aliases[bare]}"
    sub = machine.sub_registers.get(bare)
    if sub:
        return _sub_register_text(sub)
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
    `$pc`, `$sp`, `$ps` become `$rip`, `$rsp`, `$eflags` (on AArch64: `x0`, `w0`, `lr`,
    `$ps` become `$x0`, a cast of `$x0`, `$x30`, `$cpsr`). A bare name is left alone where it is
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
