"""How a uprobe's predicate ends: on a match, what GDB needs to put the thread back.

A uprobe's signal arrives after the kernel ran the probed instruction (undo.py), so on a
match the program keeps a snapshot, by (thread id << 32 | breakpoint number) in a hash map,
then notes the hit in the mailbox, as the kernel-signal tier does, and signals the thread:

    words 0-19  pt_regs up to rsp (general registers, rip = the probed address, eflags)
    word  20    where the instruction stores (0: nowhere)
    word  21    the 8 bytes there before it
    word  22    0 if those bytes were read (else the read's error)

A hit while GDB single-steps the thread over its own breakpoint there (eflags.TF) is no hit:
GDB does not evaluate a breakpoint it steps over.  A thread GDB let through at the address
(`let_through[thread id] == address`: another breakpoint's int3 there is for it) is signalled
whatever the condition, so that GDB sees its trap.  The hits that do not stop are counted in
`hits[number]` (a hit that stops, GDB's breakpoint counts).
"""
from dataclasses import dataclass
from typing import Optional

from ..ebpf import Alu, Jmp, Reg, alu64, atomic_fetch_add, call, ld_map_fd, ldx, mov64, st, stx
from ..ebpf.helpers import Helper
from .flow import FlowAssembler
from .lower import CTX
from .predicate import (MAILBOX_KEY, MAILBOX_VALUE, NO_MATCH, OnMatch, PidNamespace, post_note,
                        thread_id)
from ..arch import X86_64
from .undo import StackStore

EFLAGS_OFFSET, RIP_OFFSET, TRAP_FLAG = 144, 128, 0x100
REGISTER_WORDS = 20            # pt_regs from r15 to rsp
STORE_WORD, BYTES_WORD, READ_WORD = 20, 21, 22
SNAPSHOT_WORDS = 23
_SNAPSHOT = MAILBOX_VALUE - 8 * SNAPSHOT_WORDS  # below the mailbox's key and value
# The uprobe tier is x86-64's (undo.py decodes its instructions).
_OFFSETS = {name: X86_64.pt_regs[number].offset for number, name in X86_64.registers.items()
            if number < 16}


@dataclass(frozen=True)
class SnapshotAndSignal(OnMatch):
    signo: int
    mailbox_fd: int
    snapshots_fd: int
    number: int
    store: Optional[StackStore]
    let_through_fd: int
    hits_fd: int
    pid_namespace: Optional[PidNamespace] = None
    tier = "uprobe"
    context = "uprobe"

    def unsure_is_match(self) -> bool:
        return True

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        done = out.new_label("done")
        out.emit(ldx(8, Reg.R0, CTX, EFLAGS_OFFSET), alu64(Alu.AND, Reg.R0, TRAP_FLAG))
        out.jump_if(Jmp.NE, Reg.R0, 0, done)
        if outcome == NO_MATCH:
            self._count(out)
            thread_id(out, self.pid_namespace)
            out.emit(alu64(Alu.LSH, Reg.R0, 32), alu64(Alu.RSH, Reg.R0, 32),
                     stx(8, Reg.R10, MAILBOX_KEY, Reg.R0), ld_map_fd(Reg.R1, self.let_through_fd),
                     mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, MAILBOX_KEY),
                     call(Helper.MAP_LOOKUP_ELEM))
            out.jump_if(Jmp.EQ, Reg.R0, 0, done)
            out.emit(ldx(8, Reg.R1, Reg.R0, 0), ldx(8, Reg.R2, CTX, RIP_OFFSET))
            out.jump_if(Jmp.NE, Reg.R1, Reg.R2, done)
        self._snapshot(out)
        post_note(out, self.mailbox_fd, self.number, self.pid_namespace)
        out.emit(ld_map_fd(Reg.R1, self.snapshots_fd),
                 mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, MAILBOX_KEY),
                 mov64(Reg.R3, Reg.R10), alu64(Alu.ADD, Reg.R3, _SNAPSHOT),
                 mov64(Reg.R4, 0), call(Helper.MAP_UPDATE_ELEM),
                 mov64(Reg.R1, self.signo), call(Helper.SEND_SIGNAL_THREAD))
        out.place(done)
        out.emit(mov64(Reg.R0, 0))
        out.exit()

    def _count(self, out: FlowAssembler) -> None:
        """hits[number] += 1, if GDB made the entry: a hit that does not stop."""
        counted = out.new_label("counted")
        out.emit(st(8, Reg.R10, MAILBOX_KEY, self.number), ld_map_fd(Reg.R1, self.hits_fd),
                 mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, MAILBOX_KEY),
                 call(Helper.MAP_LOOKUP_ELEM))
        out.jump_if(Jmp.EQ, Reg.R0, 0, counted)
        out.emit(mov64(Reg.R1, 1), atomic_fetch_add(8, Reg.R0, 0, Reg.R1))
        out.place(counted)

    def _snapshot(self, out: FlowAssembler) -> None:
        for word in range(REGISTER_WORDS):
            out.emit(ldx(8, Reg.R0, CTX, 8 * word), stx(8, Reg.R10, _slot(word), Reg.R0))
        if self.store is None:
            out.emit(st(8, Reg.R10, _slot(STORE_WORD), 0), st(8, Reg.R10, _slot(BYTES_WORD), 0),
                     st(8, Reg.R10, _slot(READ_WORD), -1))
            return
        store = self.store
        out.emit(ldx(8, Reg.R3, CTX, _OFFSETS[store.base]))
        if store.index is not None:
            out.emit(ldx(8, Reg.R1, CTX, _OFFSETS[store.index]),
                     alu64(Alu.LSH, Reg.R1, store.scale.bit_length() - 1),
                     alu64(Alu.ADD, Reg.R3, Reg.R1))
        out.emit(alu64(Alu.ADD, Reg.R3, store.displacement),
                 stx(8, Reg.R10, _slot(STORE_WORD), Reg.R3),
                 mov64(Reg.R1, Reg.R10), alu64(Alu.ADD, Reg.R1, _slot(BYTES_WORD)),
                 mov64(Reg.R2, 8), call(Helper.PROBE_READ_USER),
                 stx(8, Reg.R10, _slot(READ_WORD), Reg.R0))


def _slot(word: int) -> int:
    return _SNAPSHOT + 8 * word
