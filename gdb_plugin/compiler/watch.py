"""The part of a watchpoint predicate that runs before the condition.

A data breakpoint traps after the access, so the watched memory already holds
the new value.  Slot 0 of the state map keeps the value the last hit saw, slot 1
the value before this hit (GDB's "Old value"); both are updated at every hit.
Like GDB's own watchpoints, a write watchpoint stops only when the value
changed, a read watchpoint only when it did not (x86 traps reads and writes
alike), an access watchpoint on any access.
"""
from __future__ import annotations

from typing import Callable

from ..ebpf import Alu, Jmp, Reg, alu64, call, ld_map_fd, ldx, load_const, mov64, st, stx
from ..ebpf.helpers import Helper
from .flow import FlowAssembler
from .lower import Outcomes

LAST_SEEN, OLD_VALUE = 0, 1
WRITE, READ, ACCESS = "write", "read", "access"
_VALUE = -8
_KEY = -12
NEW, OLD = Reg.R7, Reg.R8  # callee-saved: they survive the helper calls


def watch_prologue(address: int, length: int, state_fd: int, kind: str
                   ) -> Callable[[FlowAssembler, Outcomes], None]:
    if length not in (1, 2, 4, 8):
        raise ValueError(f"a watched value has 1, 2, 4 or 8 bytes, not {length}")

    def slot(out: FlowAssembler, outcomes: Outcomes, index: int) -> None:
        """r0 = &state[index]"""
        out.emit(st(4, Reg.R10, _KEY, index), ld_map_fd(Reg.R1, state_fd),
                 mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, _KEY),
                 call(Helper.MAP_LOOKUP_ELEM))
        out.jump_if(Jmp.EQ, Reg.R0, 0, outcomes.unsure)

    def emit(out: FlowAssembler, outcomes: Outcomes) -> None:
        out.emit(st(8, Reg.R10, _VALUE, 0), mov64(Reg.R1, Reg.R10),
                 alu64(Alu.ADD, Reg.R1, _VALUE), mov64(Reg.R2, length),
                 load_const(Reg.R3, address), call(Helper.PROBE_READ_USER))
        out.jump_if(Jmp.NE, Reg.R0, 0, outcomes.unsure)
        out.emit(ldx(length, NEW, Reg.R10, _VALUE))
        slot(out, outcomes, LAST_SEEN)
        out.emit(ldx(8, OLD, Reg.R0, 0), stx(8, Reg.R0, 0, NEW))
        slot(out, outcomes, OLD_VALUE)
        out.emit(stx(8, Reg.R0, 0, OLD))
        if kind == WRITE:
            out.jump_if(Jmp.EQ, NEW, OLD, outcomes.false)
        elif kind == READ:
            out.jump_if(Jmp.NE, NEW, OLD, outcomes.false)

    return emit
