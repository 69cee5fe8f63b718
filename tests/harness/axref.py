"""Reference semantics for the condition compiler's tests.

* evaluate_ax: what a GDB agent expression means as a breakpoint condition -- 1 (stop),
  0 (go on) or STOP_UNSURE where GDB's own evaluation would report an error and therefore
  stop (unreadable memory, division by zero) or has no agreed answer (INT64_MIN / -1, shift
  counts outside 0..63). Written from the GDB manual's "Agent Expressions" appendix,
  independently of the compiler.
* run_bpf: an interpreter for the eBPF the compiler emits (ALU64, 32-bit moves, jumps,
  LD_IMM64, stack and context loads, helpers probe_read_user(_str), probe_read_kernel (from the
  same Memory), get_current_task (CURRENT_TASK) and send_signal_thread),
  checking the verifier's basic rules on the way (no backward jumps, no reads of unwritten
  stack, no helper-clobbered register reads, only 8-byte context loads).

Both read registers from {gdb regnum: value} and memory from a Memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

MASK = (1 << 64) - 1
STOP_UNSURE = "unsure"

# struct pt_regs byte offsets by GDB register number (from the kernel's ptrace.h).
PT_REGS_OFFSETS = {15: 0, 14: 8, 13: 16, 12: 24, 6: 32, 1: 40, 11: 48, 10: 56, 9: 64, 8: 72,
                   0: 80, 2: 88, 3: 96, 4: 104, 5: 112, 57: 120, 16: 128, 18: 136, 17: 144,
                   7: 152, 19: 160}
PT_REGS_SIZE = 168
SEGMENT_REGISTERS = (18, 19)      # cs, ss: 16 bits


class Unreadable(Exception):
    pass


@dataclass
class Memory:
    """Readable regions {start address: bytes}; everything else faults."""
    regions: Dict[int, bytes] = field(default_factory=dict)

    def read(self, address: int, size: int) -> bytes:
        for start, data in self.regions.items():
            if start <= address and address + size <= start + len(data):
                return data[address - start:address - start + size]
        raise Unreadable(hex(address))


def _signed(v: int) -> int:
    v &= MASK
    return v - (1 << 64) if v >> 63 else v


def register_value(registers: Dict[int, int], number: int) -> int:
    value = registers.get(number, 0) & MASK
    return value & 0xFFFF if number in SEGMENT_REGISTERS else value


# -- AX ---------------------------------------------------------------------------------------
def evaluate_ax(ops: Sequence[Tuple[int, str, Optional[int]]], registers: Dict[int, int],
                memory: Memory):
    """ops: (offset, name, argument). Returns 1, 0 or STOP_UNSURE."""
    value = ax_value(ops, registers, memory)
    return value if value == STOP_UNSURE else int(value != 0)


def ax_value(ops: Sequence[Tuple[int, str, Optional[int]]], registers: Dict[int, int],
             memory: Memory):
    """The value on top of the stack at `end` (unsigned 64-bit), or STOP_UNSURE."""
    at = {offset: index for index, (offset, _, _) in enumerate(ops)}
    stack: List[int] = []
    pc = 0
    steps = 0
    while True:
        steps += 1
        assert steps < 100_000, "AX program does not terminate"
        offset, name, arg = ops[pc]
        pc += 1
        if name in ("add", "sub", "mul", "bit_and", "bit_or", "bit_xor", "equal",
                    "less_signed", "less_unsigned", "lsh", "rsh_signed", "rsh_unsigned",
                    "div_signed", "div_unsigned", "rem_signed", "rem_unsigned"):
            b = stack.pop()
            a = stack.pop()
            if name == "add":
                r = a + b
            elif name == "sub":
                r = a - b
            elif name == "mul":
                r = a * b
            elif name == "bit_and":
                r = a & b
            elif name == "bit_or":
                r = a | b
            elif name == "bit_xor":
                r = a ^ b
            elif name == "equal":
                r = int(a == b)
            elif name == "less_signed":
                r = int(_signed(a) < _signed(b))
            elif name == "less_unsigned":
                r = int(a < b)
            elif name in ("lsh", "rsh_signed", "rsh_unsigned"):
                if b > 63:
                    return STOP_UNSURE
                if name == "lsh":
                    r = a << b
                elif name == "rsh_signed":
                    r = _signed(a) >> b
                else:
                    r = a >> b
            else:
                if b == 0:
                    return STOP_UNSURE
                if name in ("div_unsigned", "rem_unsigned"):
                    r = a // b if name == "div_unsigned" else a % b
                else:
                    sa, sb = _signed(a), _signed(b)
                    if sa == -(1 << 63) and sb == -1:
                        return STOP_UNSURE
                    q = abs(sa) // abs(sb)          # C truncates toward zero
                    if (sa < 0) != (sb < 0):
                        q = -q
                    r = q if name == "div_signed" else sa - q * sb
            stack.append(r & MASK)
        elif name == "log_not":
            stack.append(int(stack.pop() == 0))
        elif name == "bit_not":
            stack.append(~stack.pop() & MASK)
        elif name in ("ext", "zero_ext"):
            v = stack.pop()
            if arg < 64:
                v &= (1 << arg) - 1
                if name == "ext" and v >> (arg - 1):
                    v -= 1 << arg
            stack.append(v & MASK)
        elif name.startswith("ref"):
            size = int(name[3:]) // 8
            try:
                data = memory.read(stack.pop(), size)
            except Unreadable:
                return STOP_UNSURE
            stack.append(int.from_bytes(data, "little"))
        elif name.startswith("const"):
            stack.append(arg & MASK)
        elif name == "reg":
            stack.append(register_value(registers, arg))
        elif name == "if_goto":
            if stack.pop():
                pc = at[arg]
        elif name == "goto":
            pc = at[arg]
        elif name == "dup":
            stack.append(stack[-1])
        elif name == "pop":
            stack.pop()
        elif name == "swap":
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif name == "pick":
            stack.append(stack[-1 - arg])
        elif name == "rot":
            a, b, c = stack[-3:]
            stack[-3:] = [c, a, b]
        elif name == "end":
            return stack[-1]
        else:
            raise ValueError(f"no reference semantics for {name}")


# -- eBPF -------------------------------------------------------------------------------------
STACK_TOP = 0x7FFF_0000_0000      # fake addresses the interpreter gives r10 and the context
CTX_BASE = 0x6000_0000_0000
CURRENT_TASK = 0xFFFF_8880_0000_0000  # what bpf_get_current_task returns; kernel reads use `memory`


class BpfFault(AssertionError):
    """The program did something the verifier (or the kernel) would not allow."""


@dataclass
class BpfRun:
    r0: int
    signals: List[int]
    steps: int


def _pt_regs_bytes(registers: Dict[int, int]) -> bytes:
    data = bytearray(PT_REGS_SIZE + 16)
    for number, offset in PT_REGS_OFFSETS.items():
        # Segment slots carry other bits above the selector (FRED); make them visible.
        value = registers.get(number, 0) & MASK
        if number in SEGMENT_REGISTERS:
            value |= 0xABCD_0000_0000_0000
        data[offset:offset + 8] = value.to_bytes(8, "little")
    return bytes(data)


def run_bpf(insns, registers: Dict[int, int], memory: Memory, max_steps: int = 100_000) -> BpfRun:
    ctx = _pt_regs_bytes(registers)
    stack = bytearray(512)
    written = [False] * 512
    regs: List[Optional[int]] = [None] * 11
    regs[1] = CTX_BASE
    regs[10] = STACK_TOP
    signals: List[int] = []
    slots = []                          # slot index -> instruction (LD_IMM64 takes two)
    for insn in insns:
        slots.append(insn)
        if insn.slots == 2:
            slots.append(None)

    def get(r: int) -> int:
        if regs[r] is None:
            raise BpfFault(f"read of r{r}, which is not initialized here")
        return regs[r]

    def stack_index(address: int, size: int) -> int:
        index = address - (STACK_TOP - 512)
        if not 0 <= index <= 512 - size:
            raise BpfFault(f"stack access at {address - STACK_TOP} out of bounds")
        return index

    pc, steps = 0, 0
    while True:
        steps += 1
        if steps > max_steps:
            raise BpfFault("program does not terminate")
        insn = slots[pc]
        if insn is None:
            raise BpfFault("jump into the middle of LD_IMM64")
        code, cls = insn.code, insn.code & 7
        op, source = code & 0xF0, code & 0x08
        next_pc = pc + insn.slots
        if code == 0x18:                                   # LD_IMM64
            regs[insn.dst] = insn.imm & MASK
        elif cls in (4, 7):                                # ALU, ALU64
            wide = cls == 7
            if op == 0xB0:                                 # mov
                value = get(insn.src) if source else insn.imm & MASK
                regs[insn.dst] = value & (MASK if wide else 0xFFFFFFFF)
            else:
                if not wide:
                    raise BpfFault("32-bit ALU other than mov is not expected")
                a = get(insn.dst)
                b = get(insn.src) if source else insn.imm & MASK
                if op == 0x00:
                    r = a + b
                elif op == 0x10:
                    r = a - b
                elif op == 0x20:
                    r = a * b
                elif op == 0x30:
                    if insn.off:
                        raise BpfFault("signed division (cpu v4) is not allowed")
                    r = a // b if b else 0
                elif op == 0x90:
                    if insn.off:
                        raise BpfFault("signed modulo (cpu v4) is not allowed")
                    r = a % b if b else a
                elif op == 0x40:
                    r = a | b
                elif op == 0x50:
                    r = a & b
                elif op == 0xA0:
                    r = a ^ b
                elif op == 0x60:
                    r = a << (b & 63)
                elif op == 0x70:
                    r = a >> (b & 63)
                elif op == 0xC0:
                    r = _signed(a) >> (b & 63)
                elif op == 0x80:
                    r = -a
                else:
                    raise BpfFault(f"ALU op {op:#x}")
                regs[insn.dst] = r & MASK
        elif cls in (5, 6):                                # JMP, JMP32
            if cls == 5 and op == 0x80:                    # call
                if insn.imm == 35:                         # get_current_task
                    regs[0] = CURRENT_TASK
                elif insn.imm in (112, 113):               # probe_read_user, _kernel
                    dst, size, src = get(1), get(2), get(3)
                    index = stack_index(dst, size)
                    try:
                        data = memory.read(src, size)
                        regs[0] = 0
                    except Unreadable:
                        data = bytes(size)
                        regs[0] = (-14) & MASK
                    stack[index:index + size] = data
                    for i in range(index, index + size):
                        written[i] = True
                elif insn.imm == 114:                      # probe_read_user_str
                    dst, size, src = get(1), get(2), get(3)
                    index = stack_index(dst, size)
                    data = bytearray()
                    try:
                        while len(data) < size - 1 and (not data or data[-1]):
                            data += memory.read(src + len(data), 1)
                        data = data if data and not data[-1] else data + b"\0"
                        regs[0] = len(data)
                    except Unreadable:
                        data = bytearray(size)
                        regs[0] = (-14) & MASK
                    stack[index:index + len(data)] = data
                    for i in range(index, index + size):
                        written[i] = True
                elif insn.imm == 117:
                    signals.append(get(1))
                    regs[0] = 0
                else:
                    raise BpfFault(f"unexpected helper {insn.imm}")
                for r in range(1, 6):
                    regs[r] = None
            elif cls == 5 and op == 0x90:                  # exit
                return BpfRun(get(0), signals, steps)
            elif cls == 5 and op == 0x00:                  # ja
                if insn.off < 0:
                    raise BpfFault("backward jump")
                next_pc = pc + 1 + insn.off
            else:
                if cls == 6:
                    raise BpfFault("32-bit jumps are not expected")
                a = get(insn.dst)
                b = get(insn.src) if source else insn.imm & MASK
                sa, sb = _signed(a), _signed(b)
                taken = {0x10: a == b, 0x50: a != b, 0x20: a > b, 0x30: a >= b, 0xA0: a < b,
                         0xB0: a <= b, 0x60: sa > sb, 0x70: sa >= sb, 0xC0: sa < sb,
                         0xD0: sa <= sb, 0x40: bool(a & b)}[op]
                if insn.off < 0:
                    raise BpfFault("backward jump")
                if taken:
                    next_pc = pc + 1 + insn.off
        elif cls == 1:                                     # LDX
            size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[code & 0x18]
            base = get(insn.src)
            address = base + insn.off
            if CTX_BASE <= base < CTX_BASE + len(ctx):
                if size != 8:
                    raise BpfFault("context fields of pt_regs are read 8 bytes at a time")
                offset = address - CTX_BASE
                if not 0 <= offset <= PT_REGS_SIZE - 8:
                    raise BpfFault(f"context read at {offset}")
                regs[insn.dst] = int.from_bytes(ctx[offset:offset + 8], "little")
            else:
                index = stack_index(address, size)
                if not all(written[index:index + size]):
                    raise BpfFault(f"read of unwritten stack at {address - STACK_TOP}")
                regs[insn.dst] = int.from_bytes(stack[index:index + size], "little")
        elif cls in (2, 3):                                # ST, STX
            size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[code & 0x18]
            index = stack_index(get(insn.dst) + insn.off, size)
            value = get(insn.src) if cls == 3 else insn.imm & MASK
            stack[index:index + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size,
                                                                                   "little")
            for i in range(index, index + size):
                written[i] = True
        else:
            raise BpfFault(f"unexpected opcode {code:#04x}")
        pc = next_pc
