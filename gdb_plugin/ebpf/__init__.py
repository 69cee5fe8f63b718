"""eBPF instruction set: encoding, decoding, labels and disassembly (no gdb, no kernel)."""
from .asm import Assembler, AssemblyError, Label
from .disasm import disassemble, disassemble_one
from .insn import (Alu, Insn, Jmp, Reg, alu32, alu64, atomic_fetch_add, call, decode_program,
                   encode_program, exit_insn, ja, jmp, jmp32, ld_imm64, ld_map_fd, ldx, load_const,
                   mov32, mov64, st, stx)

__all__ = [
    "Alu", "Assembler", "AssemblyError", "Insn", "Jmp", "Label", "Reg", "alu32", "alu64",
    "atomic_fetch_add", "call", "decode_program", "disassemble", "disassemble_one",
    "encode_program", "exit_insn", "ja", "jmp", "jmp32", "ld_imm64", "ld_map_fd", "ldx",
    "load_const", "mov32", "mov64", "st", "stx",
]
