"""Encoding checked against independent sources: LLVM's BPF assembler, and for the
instructions LLVM 14 cannot assemble, byte values from the kernel's instruction-set document."""
import shutil
import subprocess

import pytest

from gdb_plugin.ebpf import (Alu, Assembler, AssemblyError, Jmp, Reg, alu32, alu64, call,
                             decode_program, disassemble, disassemble_one, encode_program,
                             exit_insn, ja, jmp, jmp32, ld_imm64, ld_map_fd, ldx, load_const,
                             mov32, mov64, st, stx, atomic_fetch_add)

R0, R1, R2, R10 = Reg.R0, Reg.R1, Reg.R2, Reg.R10

# (LLVM assembler text, our instruction); the text is also what our disassembler must print.
LLVM_CASES = [
    ("r1 = 4660 ll", ld_imm64(R1, 0x1234)),
    ("r1 = -1 ll", ld_imm64(R1, 0xFFFFFFFFFFFFFFFF)),
    ("r2 = -9223372036854775808 ll", ld_imm64(R2, -(1 << 63))),
    ("r0 = 1", mov64(R0, 1)),
    ("r1 = r2", mov64(R1, R2)),
    ("w1 = 5", mov32(R1, 5)),
    ("r1 = -1", mov64(R1, -1)),
    ("r1 += r2", alu64(Alu.ADD, R1, R2)),
    ("w1 += w2", alu32(Alu.ADD, R1, R2)),
    ("r1 -= 7", alu64(Alu.SUB, R1, 7)),
    ("r1 *= r2", alu64(Alu.MUL, R1, R2)),
    ("w2 *= 3", alu32(Alu.MUL, R2, 3)),
    ("r1 /= r2", alu64(Alu.DIV, R1, R2)),
    ("r1 |= r2", alu64(Alu.OR, R1, R2)),
    ("r1 &= 255", alu64(Alu.AND, R1, 255)),
    ("r1 <<= 63", alu64(Alu.LSH, R1, 63)),
    ("r1 >>= r2", alu64(Alu.RSH, R1, R2)),
    ("w1 >>= 3", alu32(Alu.RSH, R1, 3)),
    ("r1 ^= -1", alu64(Alu.XOR, R1, -1)),
    ("r1 s>>= 3", alu64(Alu.ARSH, R1, 3)),
    ("w1 s>>= w2", alu32(Alu.ARSH, R1, R2)),
    ("r1 = -r1", alu64(Alu.NEG, R1)),
    ("w1 = -w1", alu32(Alu.NEG, R1)),
    ("r0 = *(u8 *)(r1 + 0)", ldx(1, R0, R1, 0)),
    ("r2 = *(u16 *)(r1 + 2)", ldx(2, R2, R1, 2)),
    ("r2 = *(u32 *)(r10 - 4)", ldx(4, R2, R10, -4)),
    ("r2 = *(u64 *)(r1 + 112)", ldx(8, R2, R1, 112)),
    ("*(u64 *)(r10 - 8) = r1", stx(8, R10, -8, R1)),
    ("*(u8 *)(r10 - 1) = r2", stx(1, R10, -1, R2)),
    ("if r2 != 500 goto +1", jmp(Jmp.NE, R2, 500, 1)),
    ("if r1 == r2 goto +3", jmp(Jmp.EQ, R1, R2, 3)),
    ("if r1 > r2 goto +3", jmp(Jmp.GT, R1, R2, 3)),
    ("if r1 >= 4 goto +3", jmp(Jmp.GE, R1, 4, 3)),
    ("if r1 < r2 goto +3", jmp(Jmp.LT, R1, R2, 3)),
    ("if r1 <= 4 goto +3", jmp(Jmp.LE, R1, 4, 3)),
    ("if r1 s> -5 goto -2", jmp(Jmp.SGT, R1, -5, -2)),
    ("if r1 s>= r2 goto +0", jmp(Jmp.SGE, R1, R2, 0)),
    ("if r1 s< 0 goto +9", jmp(Jmp.SLT, R1, 0, 9)),
    ("if r1 s<= r2 goto +9", jmp(Jmp.SLE, R1, R2, 9)),
    ("if w1 == w2 goto +1", jmp32(Jmp.EQ, R1, R2, 1)),
    ("if w1 s< -1 goto +1", jmp32(Jmp.SLT, R1, -1, 1)),
    ("if w1 > 7 goto +1", jmp32(Jmp.GT, R1, 7, 1)),
    ("goto +5", ja(5)),
    ("call 112", call(112)),
    ("exit", exit_insn()),
]

# Instructions LLVM 14's assembler rejects; bytes from the kernel's instruction-set
# document (opcode = operation | source | class; regs = src << 4 | dst).
KERNEL_DOC_CASES = [
    # BPF_ALU64 | BPF_X | BPF_MOD = 0x9f
    ("r1 %= r2", alu64(Alu.MOD, R1, R2), "9f 21 00 00 00 00 00 00"),
    # BPF_ALU | BPF_K | BPF_MOD = 0x94
    ("w1 %= 10", alu32(Alu.MOD, R1, 10), "94 01 00 00 0a 00 00 00"),
    # signed division and modulo: DIV/MOD with offset 1
    ("r1 s/= r2", alu64(Alu.SDIV, R1, R2), "3f 21 01 00 00 00 00 00"),
    ("r1 s%= 3", alu64(Alu.SMOD, R1, 3), "97 01 01 00 03 00 00 00"),
    ("w1 s/= w2", alu32(Alu.SDIV, R1, R2), "3c 21 01 00 00 00 00 00"),
    # BPF_JMP | BPF_X | BPF_JSET = 0x4d; BPF_JMP32 | BPF_K | BPF_JSET = 0x46
    ("if r1 & r2 goto +1", jmp(Jmp.SET, R1, R2, 1), "4d 21 01 00 00 00 00 00"),
    ("if w1 & 3 goto +1", jmp32(Jmp.SET, R1, 3, 1), "46 01 01 00 03 00 00 00"),
    # BPF_ST | BPF_MEM | BPF_W = 0x62
    ("*(u32 *)(r10 - 8) = 5", st(4, R10, -8, 5), "62 0a f8 ff 05 00 00 00"),
    # BPF_ST | BPF_MEM | BPF_DW = 0x7a
    ("*(u64 *)(r10 - 16) = -1", st(8, R10, -16, -1), "7a 0a f0 ff ff ff ff ff"),
    # BPF_STX | BPF_ATOMIC | BPF_DW = 0xdb, imm = BPF_ADD | BPF_FETCH
    ("r2 = atomic_fetch_add((u64 *)(r0 + 0), r2)", atomic_fetch_add(8, R0, 0, R2),
     "db 20 00 00 01 00 00 00"),
    # LD_IMM64 with src = BPF_PSEUDO_MAP_FD: the immediate is a map fd
    ("r1 = map_fd(7) ll", ld_map_fd(R1, 7), "18 11 00 00 07 00 00 00 00 00 00 00 00 00 00 00"),
]


@pytest.fixture(scope="module")
def llvm_encodings():
    llvm_mc = shutil.which("llvm-mc")
    assert llvm_mc, "llvm-mc (Debian package llvm) is needed as an independent eBPF encoder"
    source = "\n".join(text for text, _ in LLVM_CASES) + "\n"
    out = subprocess.run([llvm_mc, "-triple", "bpf", "-show-encoding"], input=source,
                         capture_output=True, text=True, check=True).stdout
    encodings = []
    for line in out.splitlines():
        if "# encoding:" in line:
            body = line.split("# encoding:")[1].strip().strip("[]")
            encodings.append(bytes(int(b, 16) for b in body.split(",")))
    assert len(encodings) == len(LLVM_CASES), out
    return encodings


@pytest.mark.parametrize("index", range(len(LLVM_CASES)), ids=[t for t, _ in LLVM_CASES])
def test_encoding_matches_llvm(llvm_encodings, index):
    text, insn = LLVM_CASES[index]
    assert insn.encode() == llvm_encodings[index]
    assert disassemble_one(insn) == text


@pytest.mark.parametrize("text,insn,hex_bytes", KERNEL_DOC_CASES, ids=[c[0] for c in KERNEL_DOC_CASES])
def test_encoding_matches_kernel_document(text, insn, hex_bytes):
    assert insn.encode() == bytes.fromhex(hex_bytes)
    assert disassemble_one(insn) == text


def test_decode_round_trips_every_case():
    program = [insn for _, insn in LLVM_CASES] + [insn for _, insn, _ in KERNEL_DOC_CASES]
    data = encode_program(program)
    assert len(data) == 8 * sum(insn.slots for insn in program)
    assert decode_program(data) == program
    assert encode_program(decode_program(data)) == data


def test_load_const_picks_shortest_form():
    assert load_const(R1, 5) == mov64(R1, 5)
    assert load_const(R1, -(1 << 31)) == mov64(R1, -(1 << 31))
    assert load_const(R1, 1 << 31) == ld_imm64(R1, 1 << 31)
    # A 64-bit pattern with the top bit set is the same register value as its negative form.
    assert load_const(R1, 0xFFFFFFFFFFFFFFFF) == mov64(R1, -1)


@pytest.mark.parametrize("bad", [
    lambda: mov64(R1, 1 << 31),
    lambda: ldx(3, R1, R1, 0),
    lambda: ldx(8, R1, R1, 1 << 15),
    lambda: jmp(Jmp.EQ, R1, 0, -(1 << 15) - 1),
    lambda: ld_imm64(R1, 1 << 64),
])
def test_out_of_range_fields_are_refused(bad):
    with pytest.raises(ValueError):
        bad()


def test_labels_resolve_forward_and_backward_jumps_across_wide_instructions():
    asm = Assembler()
    top, done = asm.new_label("top"), asm.new_label("done")
    asm.place(top)
    asm.emit(ld_imm64(R0, 1 << 40))            # slots 0-1
    asm.jump_if(Jmp.EQ, R0, 0, done)           # slot 2
    asm.jump_if(Jmp.NE, R1, R2, top, width=32)  # slot 3
    asm.goto(done)                             # slot 4
    asm.emit(mov64(R0, 0))                     # slot 5
    asm.place(done)
    asm.emit(exit_insn())                      # slot 6
    assert disassemble(asm.assemble()) == [
        "   0: r0 = 1099511627776 ll",
        "   2: if r0 == 0 goto +3",
        "   3: if w1 != w2 goto -4",
        "   4: goto +1",
        "   5: r0 = 0",
        "   6: exit",
    ]


def test_jump_to_a_label_never_placed_is_an_error():
    asm = Assembler()
    asm.goto(asm.new_label())
    with pytest.raises(AssemblyError, match="never placed"):
        asm.assemble()
