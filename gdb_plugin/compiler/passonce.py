"""Passing a breakpoint once where the CPU has no resume flag (AArch64).

x86-64 sets eflags.RF so that a thread resumed at a breakpoint runs its instruction without a
hit.  AArch64 has nothing alike, so GDB's side notes, in a hash map, each thread it lets pass:
(thread id << 32 | breakpoint number) -> pc.  The predicate looks first: an entry of this
thread and breakpoint that names the pc of this hit is the hit to pass: the entry becomes 0
(passed: the perf count counted it, GDB's side does not) and the hit ends as "no match" (the
kernel then steps the thread over the breakpoint itself, as at any hit it suppresses).  An
entry naming another pc is stale, the thread went elsewhere: it goes.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ebpf import Alu, Jmp, Reg, alu64, call, ld_map_fd, ldx, mov64, st, stx
from ..ebpf.helpers import Helper
from .flow import FlowAssembler
from .lower import CTX, Outcomes
from .predicate import AddedTo, thread_id

_KEY = -8  # the condition has not used the stack yet


@dataclass(frozen=True)
class PassOnceFirst(AddedTo):
    passes_fd: int      # the map of threads let pass
    number: int         # the breakpoint's
    pc_offset: int      # where the context holds the pc (user_pt_regs)

    def entry(self, out: FlowAssembler, outcomes: Outcomes) -> None:
        decide = out.new_label("decide")
        thread_id(out)
        out.emit(alu64(Alu.LSH, Reg.R0, 32), alu64(Alu.OR, Reg.R0, self.number),
                 stx(8, Reg.R10, _KEY, Reg.R0),
                 ld_map_fd(Reg.R1, self.passes_fd), mov64(Reg.R2, Reg.R10),
                 alu64(Alu.ADD, Reg.R2, _KEY), call(Helper.MAP_LOOKUP_ELEM))
        out.jump_if(Jmp.EQ, Reg.R0, 0, decide)
        stale = out.new_label("stale")
        out.emit(ldx(8, Reg.R1, Reg.R0, 0))
        out.jump_if(Jmp.EQ, Reg.R1, 0, decide)          # passed already
        out.emit(ldx(8, Reg.R2, CTX, self.pc_offset))
        out.jump_if(Jmp.NE, Reg.R1, Reg.R2, stale)
        out.emit(st(8, Reg.R0, 0, 0))
        out.goto(outcomes.false)
        out.place(stale)
        out.emit(ld_map_fd(Reg.R1, self.passes_fd), mov64(Reg.R2, Reg.R10),
                 alu64(Alu.ADD, Reg.R2, _KEY), call(Helper.MAP_DELETE_ELEM))
        out.place(decide)
        self.then.entry(out, outcomes)
