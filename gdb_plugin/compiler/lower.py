"""Agent expression -> eBPF.

Each AX stack depth has a fixed home: depths 0-2 live in r7-r9 (callee-saved, so they survive
helper calls), deeper ones in BPF stack slots. The static depth analysis guarantees every
path reaching an op agrees on the depth, so all paths agree on where values are.

Constants stay pending (not yet in a register) until needed, so `x + 8` becomes one `+= 8`
and `-1` (GDB's `const8 255; ext 8`) folds. A comparison directly consumed by `if_goto`, `end`
or `log_not` becomes a conditional jump instead of a 0/1 value.

Where GDB's own evaluation would report an error (unreadable memory, division by zero) or
has no defined answer (INT64_MIN / -1 crashes GDB 13; shift counts outside 0..63 differ
between GDB versions), the code jumps to `unsure`: the predicate lets the hit through and GDB
evaluates the whole condition itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Union

from ..ebpf import Alu, Jmp, Label, Reg, alu64, call, ldx, ld_imm64, load_const, mov32, mov64, stx
from ..ebpf.helpers import Helper
from ..kernel.btf import BtfError, task_thread_offset
from .ax import AxExpr
from .errors import UnsupportedAx
from .flow import FlowAssembler
from .narrowing import gdb_truncates_magnitude
from .registers import pt_regs_field, thread_base
from .stackdepth import analyze

CTX = Reg.R6                       # the perf_event context (struct bpf_perf_event_data *)
SLOT_REGISTERS = (Reg.R7, Reg.R8, Reg.R9)
READ_BUFFER = -8                   # r10-relative destination of bpf_probe_read_user
SPILL_BASE = -16                   # depth 3 + j lives at r10 + SPILL_BASE - 8 * j
BPF_STACK = 512
MAX_DEPTH = len(SLOT_REGISTERS) + (BPF_STACK + SPILL_BASE) // 8 + 1


MASK64 = (1 << 64) - 1
INT64_MIN = 1 << 63

_ALU = {"add": Alu.ADD, "sub": Alu.SUB, "mul": Alu.MUL, "bit_and": Alu.AND,
        "bit_or": Alu.OR, "bit_xor": Alu.XOR}
_FOLD = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "bit_and": lambda a, b: a & b, "bit_or": lambda a, b: a | b,
    "bit_xor": lambda a, b: a ^ b,
    "equal": lambda a, b: int(a == b),
    "less_unsigned": lambda a, b: int(a < b),
    "less_signed": lambda a, b: int(_signed(a) < _signed(b)),
}
# comparison -> (jump when true, jump when false)
_COMPARE = {"equal": (Jmp.EQ, Jmp.NE), "less_signed": (Jmp.SLT, Jmp.SGE),
            "less_unsigned": (Jmp.LT, Jmp.GE)}
_MIRROR = {Jmp.EQ: Jmp.EQ, Jmp.NE: Jmp.NE, Jmp.SLT: Jmp.SGT, Jmp.SGE: Jmp.SLE,
           Jmp.LT: Jmp.GT, Jmp.GE: Jmp.LE}
_INVERSE = {Jmp.EQ: Jmp.NE, Jmp.NE: Jmp.EQ, Jmp.SLT: Jmp.SGE, Jmp.SGE: Jmp.SLT,
            Jmp.SGT: Jmp.SLE, Jmp.SLE: Jmp.SGT, Jmp.LT: Jmp.GE, Jmp.GE: Jmp.LT,
            Jmp.GT: Jmp.LE, Jmp.LE: Jmp.GT}
_SHIFT = {"lsh": Alu.LSH, "rsh_signed": Alu.ARSH, "rsh_unsigned": Alu.RSH}
_REF_BYTES = {"ref8": 1, "ref16": 2, "ref32": 4, "ref64": 8}


def _signed(value: int) -> int:
    value &= MASK64
    return value - (1 << 64) if value & INT64_MIN else value


def _fits_signed64(exact: int) -> bool:
    return -(1 << 63) <= exact < (1 << 63)


def _fits_imm32(value: int) -> bool:
    return -(1 << 31) <= _signed(value) < (1 << 31)


def _extend(value: int, bits: int, signed: bool) -> int:
    if bits >= 64:
        return value & MASK64
    value &= (1 << bits) - 1
    if signed and value & (1 << (bits - 1)):
        value -= 1 << bits
    return value & MASK64


@dataclass(frozen=True)
class Outcomes:
    """Where the lowered condition goes: true, false, or "cannot tell, let GDB decide"."""
    true: Label
    false: Label
    unsure: Label


class _Lowering:
    def __init__(self, expr: AxExpr, out: FlowAssembler, outcomes: Outcomes,
                 value_done: Optional[Label] = None):
        self.expr = expr
        self.out = out
        self.outcomes = outcomes
        # Value mode: `end` leaves the value in VALUE_REGISTER and jumps to value_done.
        self.value_done = value_done
        self.decides_at_end = value_done is None
        self.deciders = ("if_goto", "end") if self.decides_at_end else ("if_goto",)
        self.flow = analyze(expr)
        if self.flow.max_depth > MAX_DEPTH:
            raise UnsupportedAx(f"agent expression needs a stack of {self.flow.max_depth} "
                                f"values; the eBPF predicate has room for {MAX_DEPTH}")
        self.pending: Dict[int, int] = {}       # depth -> constant not yet materialized
        self.labels: Dict[int, Label] = {}       # op index -> label of a jump target
        self.index_of = expr.op_at()
        # A GDB narrowing by magnitude (narrowing.py) decides values it narrows differently.
        self.magnitude = gdb_truncates_magnitude()

    # -- where values live ---------------------------------------------------------------------
    @staticmethod
    def home(k: int) -> Union[Reg, int]:
        if k < len(SLOT_REGISTERS):
            return SLOT_REGISTERS[k]
        return SPILL_BASE - 8 * (k - len(SLOT_REGISTERS))

    def reg_of(self, k: int, scratch: Reg) -> Reg:
        """A register holding depth k's value (its home register, or `scratch`)."""
        home = self.home(k)
        if k in self.pending:
            value = self.pending[k]
            if isinstance(home, Reg):
                del self.pending[k]
                self.out.emit(load_const(home, value))
                return home
            self.out.emit(load_const(scratch, value))
            return scratch
        if isinstance(home, Reg):
            return home
        self.out.emit(ldx(8, scratch, Reg.R10, home))
        return scratch

    def operand(self, k: int, scratch: Reg) -> Union[Reg, int]:
        """Depth k as an immediate if it is a small pending constant, else a register."""
        if k in self.pending and _fits_imm32(self.pending[k]):
            return _signed(self.pending[k])
        return self.reg_of(k, scratch)

    def work_reg(self, k: int) -> Reg:
        """The register to compute depth k's new value in: its home, or r0."""
        home = self.home(k)
        return home if isinstance(home, Reg) else Reg.R0

    def load_into(self, k: int, dst: Reg) -> None:
        """dst := depth k; a pending constant is consumed (the caller pops or overwrites k)."""
        if k in self.pending:
            self.out.emit(load_const(dst, self.pending.pop(k)))
            return
        src = self.reg_of(k, dst)
        if src != dst:
            self.out.emit(mov64(dst, src))

    def store(self, k: int, src: Reg) -> None:
        """Depth k := src (materialized)."""
        self.pending.pop(k, None)
        home = self.home(k)
        if isinstance(home, Reg):
            if home != src:
                self.out.emit(mov64(home, src))
        else:
            self.out.emit(stx(8, Reg.R10, home, src))

    def materialize(self, depth: int) -> None:
        """Put every pending constant below `depth` in its home (the state jumps agree on)."""
        for k in sorted(k for k in self.pending if k < depth):
            value = self.pending.pop(k)
            home = self.home(k)
            if isinstance(home, Reg):
                self.out.emit(load_const(home, value))
            else:
                self.out.emit(load_const(Reg.R0, value))
                self.out.emit(stx(8, Reg.R10, home, Reg.R0))

    def label_for(self, offset: int) -> Label:
        index = self.index_of[offset]
        if index not in self.labels:
            self.labels[index] = self.out.new_label(f"ax{offset}_")
        return self.labels[index]

    # -- driver --------------------------------------------------------------------------------
    def run(self) -> None:
        ops = self.expr.ops
        i = 0
        while i < len(ops):
            depth = self.flow.depth_before[i]
            if i in self.flow.targets:
                if self.out.reachable and ops[i].name == "end" and self.decides_at_end:
                    self.branch_on_value(depth - 1, False, i)
                if self.out.reachable:
                    self.materialize(depth)
                self.pending = {}
                self.out.place(self.label_for(ops[i].offset))
            if depth is None or not self.out.reachable:
                i += 1
                continue
            i += self.lower_op(i, depth)

    def fusable(self, i: int, *names: str) -> bool:
        """Is op i one of `names`, reached only by falling through from op i-1?"""
        ops = self.expr.ops
        return i < len(ops) and ops[i].name in names and i not in self.flow.targets

    def lower_op(self, i: int, d: int) -> int:
        """Emit op i (stack depth d before it); return how many ops were consumed."""
        op = self.expr.ops[i]
        name = op.name
        if name in _COMPARE:
            if self.fusable(i + 1, *self.deciders):
                return 2 + self.branch_on_compare(name, d, False, i + 1)
            if self.fusable(i + 1, "log_not") and self.fusable(i + 2, *self.deciders):
                return 3 + self.branch_on_compare(name, d, True, i + 2)
            self.compare_value(name, d)
        elif name == "log_not":
            if self.fusable(i + 1, *self.deciders):
                return 2 + self.branch_on_value(d - 1, True, i + 1)
            self.log_not(d)
        elif name == "end" and self.value_done is not None:
            self.materialize(d)
            self.out.goto(self.value_done)
        elif name in ("if_goto", "end"):
            return 1 + self.branch_on_value(d - 1, False, i)
        elif name == "goto":
            target = self.index_of[op.arg]
            if self.expr.ops[target].name == "end" and self.decides_at_end:
                # Jumping to `end` is deciding on the value on top.
                return 1 + self.branch_on_value(d - 1, False, target)
            self.materialize(d)
            self.out.goto(self.label_for(op.arg))
        elif name in _ALU:
            self.alu(name, d)
        elif name in ("div_unsigned", "rem_unsigned"):
            self.divide_unsigned(name, d)
        elif name in ("div_signed", "rem_signed"):
            self.divide_signed(name, d)
        elif name in _SHIFT:
            self.shift(name, d)
        elif name == "bit_not":
            self.unary_fold_or_emit(d - 1, lambda v: ~v, lambda r: [alu64(Alu.XOR, r, -1)])
        elif name in ("ext", "zero_ext"):
            self.extend(d - 1, op.arg, signed=name == "ext")
        elif name in _REF_BYTES:
            self.ref(d - 1, _REF_BYTES[name])
        elif name.startswith("const"):
            self.pending[d] = op.arg & MASK64
        elif name == "reg":
            self.reg(d, op.arg)
        elif name == "dup":
            self.copy(d - 1, d)
        elif name == "pick":
            self.copy(d - 1 - op.arg, d)
        elif name == "pop":
            self.pending.pop(d - 1, None)
        elif name == "swap":
            self.permute(d - 2, [1, 0])
        elif name == "rot":
            # a b c -> c a b (gdbserver's ax.cc)
            self.permute(d - 3, [2, 0, 1])
        else:  # analyze() admits only the ops above
            raise UnsupportedAx(f"agent expression op {name!r} has no eBPF lowering")
        return 1

    # -- ops -----------------------------------------------------------------------------------
    def both_pending(self, d: int) -> bool:
        return d - 2 in self.pending and d - 1 in self.pending

    def alu(self, name: str, d: int) -> None:
        a, b = d - 2, d - 1
        if self.magnitude and name == "mul":
            self.guard_wide_factors(d)
        if self.both_pending(d):
            self.pending[a] = _FOLD[name](self.pending[a], self.pending.pop(b)) & MASK64
            return
        dst = self.work_reg(a)
        self.load_into(a, dst)
        self.out.emit(alu64(_ALU[name], dst, self.operand(b, Reg.R1)))
        self.pending.pop(b, None)
        self.store(a, dst)

    def guard_wide_factors(self, d: int) -> None:
        """Factors of 33 bits or more may make a product beyond 64 bits, which a GDB narrowing
        by magnitude would narrow differently: such hits go to GDB."""
        for k in (d - 2, d - 1):
            if k in self.pending:
                if _signed(self.pending[k]) >> 32 not in (0, -1):
                    self.out.goto(self.outcomes.unsure)
                continue
            self.out.emit(mov64(Reg.R3, self.reg_of(k, Reg.R1)), alu64(Alu.ARSH, Reg.R3, 32),
                          alu64(Alu.ADD, Reg.R3, 1))
            self.out.jump_if(Jmp.GT, Reg.R3, 1, self.outcomes.unsure)

    def divide_unsigned(self, name: str, d: int) -> None:
        a, b = d - 2, d - 1
        if b in self.pending and self.pending[b] == 0:
            self.out.goto(self.outcomes.unsure)
            return
        # An immediate divisor is sign-extended; only small positive ones mean the same.
        if b in self.pending and 0 < self.pending[b] < (1 << 31):
            divisor: Union[Reg, int] = self.pending[b]
        else:
            divisor = self.reg_of(b, Reg.R1)
        if isinstance(divisor, Reg):
            self.out.jump_if(Jmp.EQ, divisor, 0, self.outcomes.unsure)
        dst = self.work_reg(a)
        self.load_into(a, dst)
        self.out.emit(alu64(Alu.DIV if name == "div_unsigned" else Alu.MOD, dst, divisor))
        self.pending.pop(b, None)
        self.store(a, dst)

    def divide_signed(self, name: str, d: int) -> None:
        """Signed division through unsigned, without the cpu-v4 SDIV/SMOD (Linux 6.6+)."""
        a, b = d - 2, d - 1
        if b in self.pending and self.pending[b] == 0:
            self.out.goto(self.outcomes.unsure)
            return
        x, y, sign = Reg.R1, Reg.R2, Reg.R3
        divisor = self.pending.get(b)            # known divisors need fewer checks
        self.load_into(a, x)
        out = self.out
        if divisor is None:
            self.load_into(b, y)
        else:
            self.pending.pop(b)
            out.emit(load_const(y, abs(_signed(divisor))))
        if divisor is None:
            out.jump_if(Jmp.EQ, y, 0, self.outcomes.unsure)
        if divisor is None or _signed(divisor) == -1:
            not_minus_one = out.new_label("div")
            if divisor is None:
                out.jump_if(Jmp.NE, y, -1, not_minus_one)
            # INT64_MIN / -1 overflows; GDB 13 itself dies of SIGFPE there.
            out.emit(ld_imm64(Reg.R4, INT64_MIN))
            out.jump_if(Jmp.EQ, x, Reg.R4, self.outcomes.unsure)
            out.place(not_minus_one)
        out.emit(mov64(sign, x))                 # remainder takes the dividend's sign
        if name == "div_signed":                 # quotient is negative iff signs differ
            if divisor is None:
                out.emit(alu64(Alu.XOR, sign, y))
            elif _signed(divisor) < 0:
                out.emit(alu64(Alu.XOR, sign, -1))
        for reg in (x, y) if divisor is None else (x,):
            positive = out.new_label("abs")
            out.jump_if(Jmp.SGE, reg, 0, positive)
            out.emit(alu64(Alu.NEG, reg))
            out.place(positive)
        out.emit(alu64(Alu.DIV if name == "div_signed" else Alu.MOD, x, y))
        done = out.new_label("sign")
        out.jump_if(Jmp.SGE, sign, 0, done)
        out.emit(alu64(Alu.NEG, x))
        out.place(done)
        self.store(a, x)

    def shift(self, name: str, d: int) -> None:
        a, b = d - 2, d - 1
        if b in self.pending:
            count = self.pending[b]
            if count > 63:
                self.out.goto(self.outcomes.unsure)
                return
            if a in self.pending:
                value = self.pending[a]
                if name == "lsh":
                    if self.magnitude and not _fits_signed64(_signed(value) << count):
                        self.out.goto(self.outcomes.unsure)
                        return
                    value <<= count
                elif name == "rsh_signed":
                    value = _signed(value) >> count
                else:
                    value >>= count
                self.pending[a] = value & MASK64
                del self.pending[b]
                return
            amount: Union[Reg, int] = count
        else:
            amount = self.reg_of(b, Reg.R1)
            self.out.jump_if(Jmp.GT, amount, 63, self.outcomes.unsure)
        dst = self.work_reg(a)
        self.load_into(a, dst)
        # Bits shifted out of 64: a GDB narrowing by magnitude decides (narrowing.py).
        guarded = self.magnitude and name == "lsh"
        if guarded:
            self.out.emit(mov64(Reg.R3, dst))
        self.out.emit(alu64(_SHIFT[name], dst, amount))
        if guarded:
            self.out.emit(mov64(Reg.R2, dst), alu64(Alu.ARSH, Reg.R2, amount))
            self.out.jump_if(Jmp.NE, Reg.R2, Reg.R3, self.outcomes.unsure)
        self.pending.pop(b, None)
        self.store(a, dst)

    def unary_fold_or_emit(self, k: int, fold, emit) -> None:
        if k in self.pending:
            self.pending[k] = fold(self.pending[k]) & MASK64
            return
        dst = self.work_reg(k)
        self.load_into(k, dst)
        self.out.emit(*emit(dst))
        self.store(k, dst)

    def extend(self, k: int, bits: int, signed: bool) -> None:
        if bits >= 64:
            return
        if self.magnitude:
            self.guard_magnitude_narrowing(k, bits)
        if signed:
            emit = lambda r: [alu64(Alu.LSH, r, 64 - bits), alu64(Alu.ARSH, r, 64 - bits)]
        elif bits == 32:
            emit = lambda r: [mov32(r, r)]              # a 32-bit move zero-extends
        elif bits < 32:
            emit = lambda r: [alu64(Alu.AND, r, (1 << bits) - 1)]
        else:
            emit = lambda r: [alu64(Alu.LSH, r, 64 - bits), alu64(Alu.RSH, r, 64 - bits)]
        self.unary_fold_or_emit(k, lambda v: _extend(v, bits, signed), emit)

    def guard_magnitude_narrowing(self, k: int, bits: int) -> None:
        """A value of -2**bits or less is narrowed differently by a GDB narrowing by magnitude:
        GDB decides such hits."""
        least = -(1 << bits)
        if k in self.pending:
            if _signed(self.pending[k]) <= least:
                self.out.goto(self.outcomes.unsure)
            return
        value = self.reg_of(k, Reg.R1)
        if _fits_imm32(least):
            self.out.jump_if(Jmp.SLE, value, least, self.outcomes.unsure)
        else:
            self.out.emit(load_const(Reg.R2, least))
            self.out.jump_if(Jmp.SLE, value, Reg.R2, self.outcomes.unsure)

    def log_not(self, d: int) -> None:
        k = d - 1
        if k in self.pending:
            self.pending[k] = int(self.pending[k] == 0)
            return
        value = self.reg_of(k, Reg.R1)
        self.set_flag(k, Jmp.EQ, value, 0)

    def compare_operands(self, name: str, d: int, negate: bool = False):
        """(jump op, register, operand) testing depth d-2 `name` depth d-1."""
        a, b = d - 2, d - 1
        jump = _COMPARE[name][1 if negate else 0]
        if a in self.pending and b not in self.pending and _fits_imm32(self.pending[a]):
            # `3 < x` as `x > 3`: the constant becomes the immediate.
            right: Union[Reg, int] = _signed(self.pending.pop(a))
            left = self.reg_of(b, Reg.R2)
            return _MIRROR[jump], left, right
        left = self.reg_of(a, Reg.R1)
        right = self.operand(b, Reg.R2)
        self.pending.pop(a, None)
        self.pending.pop(b, None)
        return jump, left, right

    def compare_value(self, name: str, d: int) -> None:
        a, b = d - 2, d - 1
        if self.both_pending(d):
            self.pending[a] = _FOLD[name](self.pending[a], self.pending.pop(b))
            return
        jump, left, right = self.compare_operands(name, d)
        self.set_flag(a, jump, left, right)

    def set_flag(self, k: int, jump: Jmp, left: Reg, right: Union[Reg, int]) -> None:
        """Depth k := 1 if `left jump right` else 0."""
        out = self.out
        out.emit(mov64(Reg.R0, 1))
        holds = out.new_label("flag")
        out.jump_if(jump, left, right, holds)
        out.emit(mov64(Reg.R0, 0))
        out.place(holds)
        self.store(k, Reg.R0)

    def branch(self, consumer_index: int, jump: Jmp, left: Reg, right: Union[Reg, int]) -> int:
        """Emit `if left jump right` for the if_goto/end at consumer_index; return how many ops
        after the consumer were folded in."""
        ops = self.expr.ops
        consumer = ops[consumer_index]
        if consumer.name == "end":
            self.out.jump_if(jump, left, right, self.outcomes.true)
            self.out.goto(self.outcomes.false)
            return 0
        # `if_goto A; goto B; A:` (how && and || come out) is one inverted jump to B.
        j = consumer_index + 1
        if (self.fusable(j, "goto") and j + 1 < len(ops)
                and consumer.arg == ops[j + 1].offset):
            self.out.jump_if(_INVERSE[jump], left, right, self.goto_target(ops[j]))
            return 1
        self.out.jump_if(jump, left, right, self.label_for(consumer.arg))
        return 0

    def goto_target(self, op) -> Label:
        return self.label_for(op.arg)

    def static_branch(self, consumer_index: int, taken: bool, depth: int) -> int:
        """A branch on a known value (`depth` values stay below it): a jump, or nothing."""
        consumer = self.expr.ops[consumer_index]
        if consumer.name == "end":
            self.out.goto(self.outcomes.true if taken else self.outcomes.false)
        elif taken:
            self.materialize(depth)
            self.out.goto(self.label_for(consumer.arg))
        return 0

    def branch_on_compare(self, name: str, d: int, negate: bool, consumer_index: int) -> int:
        a, b = d - 2, d - 1
        if self.both_pending(d):
            value = _FOLD[name](self.pending[a], self.pending.pop(b)) ^ int(negate)
            del self.pending[a]
            return self.static_branch(consumer_index, bool(value), a)
        self.materialize(a)                      # the stack left after the jump
        jump, left, right = self.compare_operands(name, d, negate)
        return self.branch(consumer_index, jump, left, right)

    def branch_on_value(self, k: int, when_zero: bool, consumer_index: int) -> int:
        """Branch (if_goto/end at consumer_index) on depth k being (non)zero; k is popped."""
        if k in self.pending:
            value = self.pending.pop(k)
            return self.static_branch(consumer_index, bool(value) != when_zero, k)
        self.materialize(k)
        value = self.reg_of(k, Reg.R1)
        return self.branch(consumer_index, Jmp.EQ if when_zero else Jmp.NE, value, 0)

    def ref(self, k: int, size: int) -> None:
        out = self.out
        address = self.reg_of(k, Reg.R3)
        if address != Reg.R3:
            out.emit(mov64(Reg.R3, address))
        out.emit(mov64(Reg.R1, Reg.R10),
                 alu64(Alu.ADD, Reg.R1, READ_BUFFER),
                 mov64(Reg.R2, size),
                 call(Helper.PROBE_READ_USER))
        self.take_read(k, size)

    def take_read(self, k: int, size: int) -> None:
        """Depth k := the `size` bytes a probe-read helper put at READ_BUFFER (zero-extended,
        like AX refN). A failed read is unsure: GDB reports unreadable memory as an error,
        and an error stops the program."""
        self.out.jump_if(Jmp.NE, Reg.R0, 0, self.outcomes.unsure)
        dst = self.work_reg(k)
        self.out.emit(ldx(size, dst, Reg.R10, READ_BUFFER))
        self.store(k, dst)

    def reg(self, k: int, number: int) -> None:
        member = thread_base(number)
        if member is not None:
            self.thread_base(k, member)
            return
        field = pt_regs_field(number)
        dst = self.work_reg(k)
        self.out.emit(ldx(8, dst, CTX, field.offset))
        if field.mask != MASK64:
            self.out.emit(alu64(Alu.AND, dst, field.mask))
        self.store(k, dst)

    def thread_base(self, k: int, member: str) -> None:
        """current->thread.MEMBER, read with bpf_probe_read_kernel."""
        try:
            offset = task_thread_offset(member)
        except BtfError as error:
            raise UnsupportedAx(f"${member[:2]}_base is read from the kernel's task, and {error}")
        self.out.emit(call(Helper.GET_CURRENT_TASK), mov64(Reg.R3, Reg.R0),
                      alu64(Alu.ADD, Reg.R3, offset), mov64(Reg.R1, Reg.R10),
                      alu64(Alu.ADD, Reg.R1, READ_BUFFER), mov64(Reg.R2, 8),
                      call(Helper.PROBE_READ_KERNEL))
        self.take_read(k, 8)

    def copy(self, src: int, dst: int) -> None:
        if src in self.pending:
            self.pending[dst] = self.pending[src]
            return
        self.store(dst, self.reg_of(src, Reg.R1))

    def permute(self, base: int, order) -> None:
        """Depths base+j := old depth base+order[j]."""
        saved = []
        scratch = (Reg.R1, Reg.R2, Reg.R3)
        for j in range(len(order)):
            k = base + j
            if k in self.pending:
                saved.append(self.pending.pop(k))
            else:
                reg = scratch[j]
                self.load_into(k, reg)
                saved.append(reg)
        for j, source in enumerate(order):
            value = saved[source]
            if isinstance(value, Reg):
                self.store(base + j, value)
            else:
                self.pending[base + j] = value


def lower(expr: AxExpr, out: FlowAssembler, outcomes: Outcomes) -> None:
    """Emit `expr` into `out`, leaving through outcomes.true/false/unsure.

    Expects the context pointer in r6 (CTX). Raises UnsupportedAx for what eBPF cannot do.
    """
    _Lowering(expr, out, outcomes).run()


VALUE_REGISTER = SLOT_REGISTERS[0]      # the home of stack depth 0


def lower_value(expr: AxExpr, out: FlowAssembler, unsure: Label) -> Reg:
    """Emit `expr` into `out` for its value, which is in the returned register where the code
    continues (or it leaves through `unsure`)."""
    done = out.new_label("value")
    _Lowering(expr, out, Outcomes(unsure, unsure, unsure), done).run()
    out.place(done)
    return VALUE_REGISTER
