"""Readable eBPF, in the syntax LLVM's BPF assembler reads and prints."""
from __future__ import annotations

from typing import Iterable, List

from .insn import (ALU, ALU64, ATOMIC_ADD, ATOMIC_FETCH, CALL, EXIT, JA, JMP, JMP32,
                   LD_IMM64_CODE, LDX, MODE_ATOMIC, MODE_MEM, PSEUDO_MAP_FD, SIZE_BYTES, ST, STX,
                   X, Insn)

_ALU_SYMBOL = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=",
               0x60: "<<=", 0x70: ">>=", 0x90: "%=", 0xA0: "^=", 0xB0: "=", 0xC0: "s>>="}
_JMP_SYMBOL = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>",
               0x70: "s>=", 0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<="}


def _reg(number: int, wide: bool = True) -> str:
    return f"{'r' if wide else 'w'}{number}"


def _mem(size_code: int, base: int, off: int) -> str:
    sign = "-" if off < 0 else "+"
    return f"*(u{SIZE_BYTES[size_code] * 8} *)(r{base} {sign} {abs(off)})"


def _rel(off: int) -> str:
    return f"{off:+d}"


def disassemble_one(insn: Insn) -> str:
    cls, op, source = insn.code & 0x07, insn.code & 0xF0, insn.code & X
    if insn.code == LD_IMM64_CODE:
        if insn.src == PSEUDO_MAP_FD:
            return f"r{insn.dst} = map_fd({insn.imm}) ll"
        return f"r{insn.dst} = {insn.imm} ll"
    if cls in (ALU, ALU64):
        wide = cls == ALU64
        dst = _reg(insn.dst, wide)
        if op == 0x80:
            return f"{dst} = -{dst}"
        symbol = _ALU_SYMBOL.get(op)
        if symbol is None:
            return f"<unknown ALU opcode {insn.code:#04x}>"
        if insn.off == 1 and op in (0x30, 0x90):
            symbol = "s" + symbol
        operand = _reg(insn.src, wide) if source else str(insn.imm)
        return f"{dst} {symbol} {operand}"
    if cls in (JMP, JMP32):
        if cls == JMP and op == JA:
            return f"goto {_rel(insn.off)}"
        if cls == JMP and op == CALL:
            return f"call {insn.imm}"
        if cls == JMP and op == EXIT:
            return "exit"
        symbol = _JMP_SYMBOL.get(op)
        if symbol is None:
            return f"<unknown jump opcode {insn.code:#04x}>"
        wide = cls == JMP
        operand = _reg(insn.src, wide) if source else str(insn.imm)
        return f"if {_reg(insn.dst, wide)} {symbol} {operand} goto {_rel(insn.off)}"
    mode, size = insn.code & 0xE0, insn.code & 0x18
    if mode == MODE_MEM and cls == LDX:
        return f"r{insn.dst} = {_mem(size, insn.src, insn.off)}"
    if mode == MODE_MEM and cls == STX:
        return f"{_mem(size, insn.dst, insn.off)} = r{insn.src}"
    if mode == MODE_ATOMIC and cls == STX and insn.imm == ATOMIC_ADD | ATOMIC_FETCH:
        wide = size == 0x18
        return (f"{_reg(insn.src, wide)} = atomic_fetch_add("
                f"{_mem(size, insn.dst, insn.off)[1:]}, {_reg(insn.src, wide)})")
    if mode == MODE_MEM and cls == ST:
        return f"{_mem(size, insn.dst, insn.off)} = {insn.imm}"
    return f"<unknown opcode {insn.code:#04x}>"


def disassemble(insns: Iterable[Insn]) -> List[str]:
    """One line per instruction, prefixed by its slot number (LD_IMM64 takes two)."""
    lines, slot = [], 0
    for insn in insns:
        lines.append(f"{slot:4d}: {disassemble_one(insn)}")
        slot += insn.slots
    return lines
