"""eBPF for GDB's string functions (strings.py): each string read once, compared a word at a
time, with no loop for the verifier to unroll. `$_memeq` reads its N bytes the same way, with
bpf_probe_read_user, into zeroed buffers.

The two strings fill the whole 512-byte BPF stack, one STRING_BUFFER each. A buffer is zeroed
first, so that after bpf_probe_read_user_str (which stops at the NUL and pads nothing) two
buffers are equal word for word exactly when their strings are; a literal is stored into its
buffer. The arguments are computed before that, with the first one's address saved in the
lowest word of the stack while the second is computed (its own values stay well above).
"""
from __future__ import annotations

from typing import List, Optional

from ..ebpf import Alu, Jmp, Reg, alu64, call, ld_imm64, ldx, mov64, st, stx
from ..ebpf.helpers import Helper
from .ax import AxExpr
from .flow import FlowAssembler
from .lower import Outcomes, lower_value
from .result import CharArray, KernelString
from .strings import STRING_BUFFER

BUFFERS = (-2 * STRING_BUFFER, -STRING_BUFFER)      # r10-relative, one per argument
ADDRESSES = (Reg.R8, Reg.R9)                       # callee-saved: they survive the helper
LENGTH = Reg.R7                                    # $_memeq's N, callee-saved too
# Where N waits while the addresses are computed: below the stack their values may spill to,
# above the word _compute_addresses keeps the first address in.
LENGTH_SLOT = BUFFERS[0] + 8
HIGH_BITS = 0x8080808080808080                     # a byte outside ASCII
_WORDS = STRING_BUFFER // 8
_JUMPS = {"==": Jmp.EQ, "!=": Jmp.NE, "<": Jmp.SLT, ">": Jmp.SGT, "<=": Jmp.SLE,
          ">=": Jmp.SGE}
_HOLDS = {"==": int.__eq__, "!=": int.__ne__, "<": int.__lt__, ">": int.__gt__,
          "<=": int.__le__, ">=": int.__ge__}


def _address_expr(arg) -> Optional[AxExpr]:
    """The agent expression of the address an argument is read at (None: not read)."""
    if isinstance(arg, CharArray):
        return arg.address
    return arg if isinstance(arg, AxExpr) else None


def _compute_addresses(part: KernelString, out: FlowAssembler, unsure) -> None:
    """ADDRESSES[k] := the address of argument k, for each argument read at run time."""
    computed = [k for k, arg in enumerate(part.args) if _address_expr(arg) is not None]
    for k in computed:
        value = lower_value(_address_expr(part.args[k]), out, unsure)
        if k != computed[-1]:
            out.emit(stx(8, Reg.R10, BUFFERS[0], value))
        else:
            out.emit(mov64(ADDRESSES[k], value))
    if len(computed) == 2:
        out.emit(ldx(8, ADDRESSES[computed[0]], Reg.R10, BUFFERS[0]))


def _zero(base: int, out: FlowAssembler) -> None:
    out.emit(*(st(8, Reg.R10, base + 8 * w, 0) for w in range(_WORDS)))


def _fill_buffer(part: KernelString, k: int, out: FlowAssembler, unsure) -> None:
    """Buffer k := argument k's string, zero-padded; ADDRESSES[k] := its length with the NUL."""
    base = BUFFERS[k]
    _zero(base, out)
    arg = part.args[k]
    if isinstance(arg, bytes):
        data = arg + b"\0"
        for w in range(0, len(data), 8):
            word = int.from_bytes(data[w:w + 8].ljust(8, b"\0"), "little")
            if word:
                out.emit(ld_imm64(Reg.R1, word), stx(8, Reg.R10, base + w, Reg.R1))
        out.emit(mov64(ADDRESSES[k], len(data)))
        return
    # An array is read to its first NUL or its end, as GDB reads it: the helper adds the NUL.
    size = arg.length + 1 if isinstance(arg, CharArray) else STRING_BUFFER
    out.emit(mov64(Reg.R1, Reg.R10), alu64(Alu.ADD, Reg.R1, base),
             mov64(Reg.R2, size), mov64(Reg.R3, ADDRESSES[k]),
             call(Helper.PROBE_READ_USER_STR))
    # A fault before the NUL is negative (so, unsigned, above any length); a full buffer may
    # have cut a pointer's string short. GDB decides both.
    if isinstance(arg, CharArray):
        out.jump_if(Jmp.GT, Reg.R0, size, unsure)
    else:
        out.jump_if(Jmp.GE, Reg.R0, size, unsure)
    out.emit(mov64(ADDRESSES[k], Reg.R0))


def _words(part: KernelString, out: FlowAssembler) -> None:
    """R3 := the OR of every word read at run time; R4 := the OR of the XOR of the two
    buffers' words (for $_streq)."""
    runtime: List[int] = [k for k, arg in enumerate(part.args)
                          if _address_expr(arg) is not None]
    out.emit(mov64(Reg.R3, 0), mov64(Reg.R4, 0))
    for w in range(_WORDS):
        for k, reg in zip(range(len(part.args)), (Reg.R1, Reg.R2)):
            out.emit(ldx(8, reg, Reg.R10, BUFFERS[k] + 8 * w))
            if k in runtime:
                out.emit(alu64(Alu.OR, Reg.R3, reg))
        if len(part.args) == 2:
            out.emit(alu64(Alu.XOR, Reg.R1, Reg.R2), alu64(Alu.OR, Reg.R4, Reg.R1))


def _emit_memeq(part: KernelString, out: FlowAssembler, outcomes: Outcomes) -> None:
    first, second, length = part.args
    if isinstance(length, int):
        if not 0 < length <= STRING_BUFFER:
            out.goto(outcomes.true if length == 0 else outcomes.unsure)
            return
    else:
        value = lower_value(length, out, outcomes.unsure)
        # Unsigned, a negative N (GDB's error) is above the buffer too.
        out.jump_if(Jmp.GT, value, STRING_BUFFER, outcomes.unsure)
        out.jump_if(Jmp.EQ, value, 0, outcomes.true)
        out.emit(stx(8, Reg.R10, LENGTH_SLOT, value))
    pair = KernelString(part.text, part.function, (first, second))
    _compute_addresses(pair, out, outcomes.unsure)
    if isinstance(length, int):
        out.emit(mov64(LENGTH, length))
    else:
        out.emit(ldx(8, LENGTH, Reg.R10, LENGTH_SLOT))
    for k, base in enumerate(BUFFERS):
        _zero(base, out)
        out.emit(mov64(Reg.R1, Reg.R10), alu64(Alu.ADD, Reg.R1, base), mov64(Reg.R2, LENGTH),
                 mov64(Reg.R3, ADDRESSES[k]), call(Helper.PROBE_READ_USER))
        out.jump_if(Jmp.NE, Reg.R0, 0, outcomes.unsure)       # unreadable: GDB's error
    _words(pair, out)
    out.jump_if(Jmp.EQ, Reg.R4, 0, outcomes.true)
    out.goto(outcomes.false)


def emit_string(part: KernelString, out: FlowAssembler, outcomes: Outcomes) -> None:
    """Code that leaves `part` through outcomes.true/false/unsure."""
    if part.function == "$_memeq":
        _emit_memeq(part, out, outcomes)
        return
    if part.function == "$_strlen" and all(isinstance(arg, bytes) for arg in part.args):
        op, value = part.compare
        lengths = [len(arg) for arg in part.args] + ([value] if value is not None else [])
        out.goto(outcomes.true if _HOLDS[op](*lengths) else outcomes.false)
        return
    _compute_addresses(part, out, outcomes.unsure)
    for k in range(len(part.args)):
        _fill_buffer(part, k, out, outcomes.unsure)
    _words(part, out)
    out.emit(ld_imm64(Reg.R1, HIGH_BITS), alu64(Alu.AND, Reg.R3, Reg.R1))
    out.jump_if(Jmp.NE, Reg.R3, 0, outcomes.unsure)
    if part.function == "$_streq":
        out.jump_if(Jmp.EQ, Reg.R4, 0, outcomes.true)
    else:
        op, value = part.compare
        if value is None:                                    # both lengths count their NUL
            out.jump_if(_JUMPS[op], ADDRESSES[0], ADDRESSES[1], outcomes.true)
        else:
            out.emit(alu64(Alu.SUB, ADDRESSES[0], 1))      # the length without the NUL
            out.jump_if(_JUMPS[op], ADDRESSES[0], value, outcomes.true)
    out.goto(outcomes.false)
