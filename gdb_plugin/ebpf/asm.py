"""An assembler with symbolic labels: jumps name a label, offsets are resolved at the end."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Union

from .insn import Insn, Jmp, Operand, Reg, ja, jmp, jmp32


@dataclass(frozen=True)
class Label:
    name: str


@dataclass
class _PendingJump:
    target: Label
    make: Callable[[int], Insn]  # offset -> instruction

    slots = 1


class AssemblyError(ValueError):
    pass


@dataclass
class Assembler:
    _items: List[Union[Insn, _PendingJump]] = field(default_factory=list)
    _positions: Dict[Label, int] = field(default_factory=dict)
    _counter: "itertools.count[int]" = field(default_factory=itertools.count)

    def emit(self, *insns: Insn) -> None:
        self._items.extend(insns)

    def new_label(self, hint: str = "L") -> Label:
        return Label(f"{hint}{next(self._counter)}")

    def place(self, label: Label) -> None:
        if label in self._positions:
            raise AssemblyError(f"label {label.name} placed twice")
        self._positions[label] = len(self._items)

    def jump_if(self, op: Jmp, dst: Reg, src: Operand, target: Label, width: int = 64) -> None:
        make_jump = {64: jmp, 32: jmp32}[width]
        self._items.append(_PendingJump(target, lambda off: make_jump(op, dst, src, off)))

    def goto(self, target: Label) -> None:
        self._items.append(_PendingJump(target, ja))

    def assemble(self) -> List[Insn]:
        slot_of = list(itertools.accumulate((item.slots for item in self._items), initial=0))
        program = []
        for index, item in enumerate(self._items):
            if isinstance(item, _PendingJump):
                if item.target not in self._positions:
                    raise AssemblyError(f"jump to label {item.target.name}, which is never placed")
                offset = slot_of[self._positions[item.target]] - slot_of[index + 1]
                item = item.make(offset)
            program.append(item)
        return program
