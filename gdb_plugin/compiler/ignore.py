"""GDB's ignore count, counted in the kernel: the first K matching hits are let pass.

The count lives in slot 0 of a BPF array map; every match takes one off it
atomically (threads may match at once), and a match stops only when the count
it found was not positive.  Only an exact kernel part may count: a match the
kernel is unsure of (e.g. memory it cannot read) is delivered with the count
untouched, and GDB decides, and counts, that one itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ebpf import Alu, Jmp, Reg, alu64, atomic_fetch_add, call, ld_map_fd, mov64, st
from ..ebpf.helpers import Helper
from .flow import FlowAssembler
from .predicate import MATCH, NO_MATCH, AddedTo

_KEY_SLOT = -4  # the condition's own stack use is over once an outcome is reached


@dataclass(frozen=True)
class IgnoreFirst(AddedTo):
    counter_fd: int

    def unsure_is_match(self) -> bool:
        return False

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        if outcome != MATCH:
            self.then.emit(out, outcome)
            return
        deliver, ignore = out.new_label("deliver"), out.new_label("ignore")
        out.emit(st(4, Reg.R10, _KEY_SLOT, 0),
                 ld_map_fd(Reg.R1, self.counter_fd),
                 mov64(Reg.R2, Reg.R10),
                 alu64(Alu.ADD, Reg.R2, _KEY_SLOT),
                 call(Helper.MAP_LOOKUP_ELEM))
        out.jump_if(Jmp.EQ, Reg.R0, 0, deliver)
        out.emit(mov64(Reg.R1, -1), atomic_fetch_add(8, Reg.R0, 0, Reg.R1))
        out.jump_if(Jmp.SGT, Reg.R1, 0, ignore)
        out.place(deliver)
        self.then.emit(out, MATCH)
        out.place(ignore)
        self.then.emit(out, NO_MATCH)
