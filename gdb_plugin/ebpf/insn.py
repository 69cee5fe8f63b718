"""eBPF instructions: opcodes, one encoded instruction, and constructors.

Encoding follows the kernel's instruction-set document: an 8-byte slot of
opcode, dst/src register nibbles, signed 16-bit offset and signed 32-bit
immediate, little-endian; LD_IMM64 takes two slots.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Iterable, List, Union

# Instruction classes (low 3 bits of the opcode).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# Source operand: immediate (K) or register (X).
K, X = 0x00, 0x08
# Load/store addressing modes and sizes.
MODE_IMM, MODE_MEM, MODE_ATOMIC = 0x00, 0x60, 0xC0
ATOMIC_ADD, ATOMIC_FETCH = 0x00, 0x01
PSEUDO_MAP_FD = 1  # LD_IMM64 source: the immediate is a map fd, replaced by the map at load
SIZE_CODE = {4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18}
SIZE_BYTES = {code: size for size, code in SIZE_CODE.items()}

LD_IMM64_CODE = LD | MODE_IMM | SIZE_CODE[8]


class Reg(enum.IntEnum):
    R0 = 0
    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10


class Alu(enum.Enum):
    """ALU operations as (opcode bits, offset field); signed div/mod use offset 1."""
    ADD = (0x00, 0)
    SUB = (0x10, 0)
    MUL = (0x20, 0)
    DIV = (0x30, 0)
    SDIV = (0x30, 1)
    OR = (0x40, 0)
    AND = (0x50, 0)
    LSH = (0x60, 0)
    RSH = (0x70, 0)
    NEG = (0x80, 0)
    MOD = (0x90, 0)
    SMOD = (0x90, 1)
    XOR = (0xA0, 0)
    MOV = (0xB0, 0)
    ARSH = (0xC0, 0)


class Jmp(enum.Enum):
    """Conditional jump operations (opcode bits)."""
    EQ = 0x10
    GT = 0x20
    GE = 0x30
    SET = 0x40
    NE = 0x50
    SGT = 0x60
    SGE = 0x70
    LT = 0xA0
    LE = 0xB0
    SLT = 0xC0
    SLE = 0xD0


JA, CALL, EXIT = 0x00, 0x80, 0x90

Operand = Union[Reg, int]


@dataclass(frozen=True)
class Insn:
    """One instruction; for LD_IMM64 `imm` holds the whole 64-bit value."""
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    @property
    def slots(self) -> int:
        return 2 if self.code == LD_IMM64_CODE else 1

    @property
    def cls(self) -> int:
        return self.code & 0x07

    def encode(self) -> bytes:
        regs = (self.src << 4) | self.dst
        if self.code == LD_IMM64_CODE:
            lo = _to_s32(self.imm & 0xFFFFFFFF)
            hi = _to_s32((self.imm >> 32) & 0xFFFFFFFF)
            return (struct.pack("<BBhi", self.code, regs, self.off, lo)
                    + struct.pack("<BBhi", 0, 0, 0, hi))
        return struct.pack("<BBhi", self.code, regs, self.off, self.imm)


def _to_s32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def encode_program(insns: Iterable[Insn]) -> bytes:
    return b"".join(insn.encode() for insn in insns)


def decode_program(data: bytes) -> List[Insn]:
    if len(data) % 8:
        raise ValueError(f"eBPF program length {len(data)} is not a multiple of 8")
    insns = []
    pos = 0
    while pos < len(data):
        code, regs, off, imm = struct.unpack_from("<BBhi", data, pos)
        pos += 8
        if code == LD_IMM64_CODE:
            if pos >= len(data):
                raise ValueError("LD_IMM64 at the end of the program lacks its second slot")
            _, _, _, hi = struct.unpack_from("<BBhi", data, pos)
            pos += 8
            imm = _to_s64(((hi & 0xFFFFFFFF) << 32) | (imm & 0xFFFFFFFF))
        insns.append(Insn(code, regs & 0x0F, regs >> 4, off, imm))
    return insns


def _to_s64(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


def _check_range(value: int, bits: int, what: str) -> int:
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise ValueError(f"{what} {value} does not fit in a signed {bits}-bit field")
    return value


def _operand(src: Operand):
    """(source bit, src register, immediate) for a register or immediate operand."""
    if isinstance(src, Reg):
        return X, int(src), 0
    return K, 0, _check_range(int(src), 32, "immediate")


def _alu(cls: int, op: Alu, dst: Reg, src: Operand) -> Insn:
    bits, off = op.value
    if op is Alu.NEG:
        return Insn(cls | bits, int(dst), 0, 0, 0)
    source, sreg, imm = _operand(src)
    return Insn(cls | bits | source, int(dst), sreg, off, imm)


def alu64(op: Alu, dst: Reg, src: Operand = 0) -> Insn:
    return _alu(ALU64, op, dst, src)


def alu32(op: Alu, dst: Reg, src: Operand = 0) -> Insn:
    return _alu(ALU, op, dst, src)


def mov64(dst: Reg, src: Operand) -> Insn:
    return alu64(Alu.MOV, dst, src)


def mov32(dst: Reg, src: Operand) -> Insn:
    return alu32(Alu.MOV, dst, src)


def ld_imm64(dst: Reg, imm: int) -> Insn:
    if not -(1 << 63) <= imm < (1 << 64):
        raise ValueError(f"immediate {imm} does not fit in 64 bits")
    return Insn(LD_IMM64_CODE, int(dst), 0, 0, _to_s64(imm & ((1 << 64) - 1)))


def ld_map_fd(dst: Reg, map_fd: int) -> Insn:
    """dst = the map behind `map_fd` (resolved by the kernel at load time)"""
    return Insn(LD_IMM64_CODE, int(dst), PSEUDO_MAP_FD, 0, map_fd)


def load_const(dst: Reg, value: int) -> Insn:
    """The shortest instruction that puts a 64-bit constant in dst."""
    value = _to_s64(value & ((1 << 64) - 1))
    if -(1 << 31) <= value < (1 << 31):
        return mov64(dst, value)
    return ld_imm64(dst, value)


def _size(size: int) -> int:
    if size not in SIZE_CODE:
        raise ValueError(f"memory access size {size} is not 1, 2, 4 or 8 bytes")
    return SIZE_CODE[size]


def ldx(size: int, dst: Reg, src: Reg, off: int) -> Insn:
    """dst = *(size *)(src + off)"""
    return Insn(LDX | MODE_MEM | _size(size), int(dst), int(src), _check_range(off, 16, "offset"))


def stx(size: int, dst: Reg, off: int, src: Reg) -> Insn:
    """*(size *)(dst + off) = src"""
    return Insn(STX | MODE_MEM | _size(size), int(dst), int(src), _check_range(off, 16, "offset"))


def st(size: int, dst: Reg, off: int, imm: int) -> Insn:
    """*(size *)(dst + off) = imm"""
    return Insn(ST | MODE_MEM | _size(size), int(dst), 0, _check_range(off, 16, "offset"),
                _check_range(imm, 32, "immediate"))


def atomic_fetch_add(size: int, dst: Reg, off: int, src: Reg) -> Insn:
    """src = atomic_fetch_add((size *)(dst + off), src): adds, and returns the old value"""
    if size not in (4, 8):
        raise ValueError(f"atomic access size {size} is not 4 or 8 bytes")
    return Insn(STX | MODE_ATOMIC | SIZE_CODE[size], int(dst), int(src),
                _check_range(off, 16, "offset"), ATOMIC_ADD | ATOMIC_FETCH)


def _jump(cls: int, op: Jmp, dst: Reg, src: Operand, off: int) -> Insn:
    source, sreg, imm = _operand(src)
    return Insn(cls | op.value | source, int(dst), sreg, _check_range(off, 16, "jump offset"), imm)


def jmp(op: Jmp, dst: Reg, src: Operand, off: int) -> Insn:
    """64-bit compare: if dst OP src goto +off"""
    return _jump(JMP, op, dst, src, off)


def jmp32(op: Jmp, dst: Reg, src: Operand, off: int) -> Insn:
    """32-bit compare of the low halves: if wDST OP wSRC goto +off"""
    return _jump(JMP32, op, dst, src, off)


def ja(off: int) -> Insn:
    return Insn(JMP | JA, 0, 0, _check_range(off, 16, "jump offset"), 0)


def call(helper_id: int) -> Insn:
    return Insn(JMP | CALL, 0, 0, 0, int(helper_id))  # a plain number, also for a Helper


def exit_insn() -> Insn:
    return Insn(JMP | EXIT)
