"""An Assembler that drops code no path reaches.

The verifier rejects programs with unreachable instructions, and the lowering folds constants
(a jump on a known value becomes unconditional), so code after such a jump must not be emitted
unless a live jump lands there.
"""
from __future__ import annotations

from typing import List, Set

from ..ebpf import Assembler, Insn, Jmp, Label, Reg, exit_insn
from ..ebpf.insn import Operand


class FlowAssembler:
    def __init__(self) -> None:
        self.asm = Assembler()
        self.reachable = True
        self._used: Set[Label] = set()

    def emit(self, *insns: Insn) -> None:
        if self.reachable:
            self.asm.emit(*insns)

    def new_label(self, hint: str = "L") -> Label:
        return self.asm.new_label(hint)

    def jump_if(self, op: Jmp, dst: Reg, src: Operand, target: Label) -> None:
        if self.reachable:
            self.asm.jump_if(op, dst, src, target)
            self._used.add(target)

    def goto(self, target: Label) -> None:
        if self.reachable:
            self.asm.goto(target)
            self._used.add(target)
        self.reachable = False

    def exit(self) -> None:
        self.emit(exit_insn())
        self.reachable = False

    def is_used(self, label: Label) -> bool:
        return label in self._used

    def place(self, label: Label) -> None:
        """Place `label` here; code after it is live if a live jump targets it."""
        self.asm.place(label)
        if label in self._used:
            self.reachable = True

    def assemble(self) -> List[Insn]:
        if self.reachable:
            raise AssertionError("program falls off its end")
        return self.asm.assemble()
