"""A whole BPF_PROG_TYPE_PERF_EVENT program around a compiled condition.

The program decides one of three outcomes at each hit -- match, no match, or unsure (the
condition hit something GDB reports as an error, e.g. unreadable memory) -- and an OnMatch
strategy turns them into what the kernel tier needs:

* ReturnVerdict ("kernel" tier, Linux 6.10+): the return value is the verdict; 0 suppresses
  the hit, anything else delivers the SIGTRAP. Unsure counts as a match: GDB then evaluates
  the full condition and reports the error itself.
* SendSignal ("kernel-signal" tier, older kernels whose return value cannot suppress the
  hit): a match calls bpf_send_signal_thread(signo) and the program returns 0.

A further strategy (e.g. counting hits in a map before deciding) only has to implement emit().
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from ..ebpf import Alu, Insn, Reg, alu64, call, ld_imm64, ld_map_fd, ldx, mov64, st, stx
from ..ebpf.helpers import Helper
from .flow import FlowAssembler
from .lower import CTX, Outcomes, lower
from .result import (KernelAnd, KernelChoice, KernelLeaf, KernelNot, KernelOr, KernelPart,
                     KernelString)
from .stringcode import emit_string

MATCH, NO_MATCH, UNSURE = "match", "no match", "unsure"
MAILBOX_KEY, MAILBOX_VALUE = -8, -16  # the condition's stack use is over at an outcome
PidNamespace = Tuple[int, int]  # st_dev and st_ino of /proc/PID/ns/pid


class OnMatch:
    """How the program ends for each outcome."""
    tier = ""
    context = "perf_event"  # where the program runs: a perf event's overflow, or a uprobe

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        raise NotImplementedError

    def unsure_is_match(self) -> bool:
        """Whether unsure and match end the same way (then they share their code)."""
        return False

    def entry(self, out: FlowAssembler, outcomes: Outcomes) -> None:
        """Code the program runs first, before any prologue and the condition; it falls
        through or leaves through an outcome."""


@dataclass(frozen=True)
class AddedTo(OnMatch):
    """An OnMatch that adds to the ends of another (`then`), for its tier and context."""
    then: OnMatch

    @property
    def tier(self) -> str:
        return self.then.tier

    @property
    def context(self) -> str:
        return self.then.context

    def unsure_is_match(self) -> bool:
        return self.then.unsure_is_match()

    def entry(self, out: FlowAssembler, outcomes: Outcomes) -> None:
        self.then.entry(out, outcomes)

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        self.then.emit(out, outcome)


@dataclass(frozen=True)
class ReturnVerdict(OnMatch):
    match_value: int = 1
    unsure_value: int = 1
    mailbox_fd: Optional[int] = None  # where a hit that stops is also noted (see post_note)
    number: int = 0
    tier = "kernel"

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        value = {MATCH: self.match_value, UNSURE: self.unsure_value, NO_MATCH: 0}[outcome]
        if value and self.mailbox_fd is not None:
            # The hit's SIGTRAP may merge with a single step's (GDB stepping the instruction
            # that made a watched access): the note survives it.
            post_note(out, self.mailbox_fd, self.number)
        out.emit(mov64(Reg.R0, value))
        out.exit()

    def unsure_is_match(self) -> bool:
        return self.match_value == self.unsure_value


@dataclass(frozen=True)
class SendSignal(OnMatch):
    signo: int
    mailbox_fd: Optional[int] = None  # a hash map: (thread id, breakpoint) -> it matched
    number: int = 0
    # The thread ids of the mailbox are those of this pid namespace (a container's, where
    # GDB's thread ids are gdbserver's); else of the initial one.
    pid_namespace: Optional[PidNamespace] = None
    tier = "kernel-signal"

    def emit(self, out: FlowAssembler, outcome: str) -> None:
        if outcome != NO_MATCH:
            if self.mailbox_fd is not None:
                # The signal itself cannot say which breakpoint sent it, and several
                # breakpoints at one address may match at the same hit.
                post_note(out, self.mailbox_fd, self.number, self.pid_namespace)
            out.emit(mov64(Reg.R1, self.signo), call(Helper.SEND_SIGNAL_THREAD))
        out.emit(mov64(Reg.R0, 0))
        out.exit()

    def unsure_is_match(self) -> bool:
        return True


def thread_id(out: FlowAssembler, pid_namespace: Optional[PidNamespace] = None) -> None:
    """r0's low 32 bits = the thread's id (in `pid_namespace`, else the initial one)."""
    if pid_namespace is None:
        out.emit(call(Helper.GET_CURRENT_PID_TGID))
    else:
        # struct bpf_pidns_info {u32 pid (the thread's); u32 tgid} at the key's slot: on a
        # failure (never, for a thread of that namespace) the helper leaves it zeroed.
        device, inode = pid_namespace
        out.emit(ld_imm64(Reg.R1, device), ld_imm64(Reg.R2, inode),
                 mov64(Reg.R3, Reg.R10), alu64(Alu.ADD, Reg.R3, MAILBOX_KEY), mov64(Reg.R4, 8),
                 call(Helper.GET_NS_CURRENT_PID_TGID), ldx(4, Reg.R0, Reg.R10, MAILBOX_KEY))


def post_note(out: FlowAssembler, mailbox_fd: int, number: int,
              pid_namespace: Optional[PidNamespace] = None) -> None:
    """mailbox[thread id << 32 | number] = 1: this thread's hit of breakpoint `number` stops."""
    thread_id(out, pid_namespace)
    out.emit(alu64(Alu.LSH, Reg.R0, 32),
             alu64(Alu.OR, Reg.R0, number), stx(8, Reg.R10, MAILBOX_KEY, Reg.R0),
             st(8, Reg.R10, MAILBOX_VALUE, 1), ld_map_fd(Reg.R1, mailbox_fd),
             mov64(Reg.R2, Reg.R10), alu64(Alu.ADD, Reg.R2, MAILBOX_KEY),
             mov64(Reg.R3, Reg.R10), alu64(Alu.ADD, Reg.R3, MAILBOX_VALUE),
             mov64(Reg.R4, 0), call(Helper.MAP_UPDATE_ELEM))


def emit_part(part: Optional[KernelPart], out: FlowAssembler, outcomes: Outcomes) -> None:
    """Code that leaves `part` through outcomes.true/false/unsure; None is true."""
    if part is None:
        out.goto(outcomes.true)
    elif isinstance(part, KernelLeaf):
        lower(part.ax, out, outcomes)
    elif isinstance(part, KernelString):
        emit_string(part, out, outcomes)
    elif isinstance(part, KernelNot):
        emit_part(part.part, out, Outcomes(outcomes.false, outcomes.true, outcomes.unsure))
    elif isinstance(part, (KernelAnd, KernelOr)):
        for sub in part.parts[:-1]:
            following = out.new_label("next")
            if isinstance(part, KernelAnd):
                emit_part(sub, out, Outcomes(following, outcomes.false, outcomes.unsure))
            else:
                emit_part(sub, out, Outcomes(outcomes.true, following, outcomes.unsure))
            out.place(following)
        emit_part(part.parts[-1], out, outcomes)
    elif isinstance(part, KernelChoice):
        then, otherwise = out.new_label("then"), out.new_label("else")
        emit_part(part.cond, out, Outcomes(then, otherwise, outcomes.unsure))
        out.place(then)
        emit_part(part.then, out, outcomes)
        out.place(otherwise)
        emit_part(part.otherwise, out, outcomes)
    else:
        raise TypeError(f"not a kernel part: {part!r}")


def build_program(part: Optional[KernelPart], on_match: OnMatch = ReturnVerdict(),
                  prologue: Optional[Callable[[FlowAssembler, Outcomes], None]] = None
                  ) -> List[Insn]:
    """The predicate's instructions; no kernel part means every hit matches.  A prologue runs
    first (after the OnMatch's entry) and either falls through to the condition or leaves
    through an outcome."""
    out = FlowAssembler()
    out.emit(mov64(CTX, Reg.R1))        # helpers clobber r1-r5; the context must survive
    labels = {outcome: out.new_label(outcome.replace(" ", "_"))
              for outcome in (MATCH, UNSURE, NO_MATCH)}
    if on_match.unsure_is_match():
        labels[UNSURE] = labels[MATCH]
    on_match.entry(out, Outcomes(labels[MATCH], labels[NO_MATCH], labels[UNSURE]))
    if prologue is not None:
        prologue(out, Outcomes(labels[MATCH], labels[NO_MATCH], labels[UNSURE]))
    if part is None:
        out.goto(labels[MATCH])
    else:
        emit_part(part, out, Outcomes(labels[MATCH], labels[NO_MATCH], labels[UNSURE]))
        if out.reachable:
            raise AssertionError("lowered condition falls through")
    for outcome in (MATCH, UNSURE, NO_MATCH):
        if outcome == UNSURE and labels[UNSURE] == labels[MATCH]:
            continue
        out.place(labels[outcome])
        on_match.emit(out, outcome)
    return out.assemble()
