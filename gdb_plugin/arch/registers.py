"""What an architecture is made of, for the pure layers (the tables are x86_64.py and
aarch64.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

FULL = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class PtRegsField:
    offset: int      # byte offset in the kernel's pt_regs (= in the perf_event BPF context)
    mask: int        # the register's bits; segment selectors share their 8-byte slot


@dataclass(frozen=True)
class SubRegister:
    """A part of a full register GDB has a pseudo-register for (`eax`, `w0`): the low bits of
    `full`, shifted right by `shift`, as GDB's C type `ctype` for it."""
    full: str
    ctype: str
    shift: int = 0


# C types of sub-registers, and the mask each one's bits are taken with first: GDB 16
# truncates a negative integer by its magnitude in a cast, a non-negative one as C does.
MASKS = {"int": "0xffffffff", "unsigned int": "0xffffffff", "short": "0xffff",
         "signed char": "0xff"}


@dataclass(frozen=True)
class Arch:
    name: str                             # as the project names it (`uname -m`)
    machines: Tuple[str, ...]             # what `uname -m` prints
    gdb_names: Tuple[str, ...]            # gdb.Architecture.name()
    syscalls: Dict[str, int]              # perf_event_open, bpf, tgkill
    breakpoint_length: int                # bp_len of an execute perf breakpoint
    debug_registers: str                  # how many breakpoints it has, said to a user
    registers: Dict[int, str]             # GDB's register numbers (AX `reg N`)
    pt_regs: Dict[int, PtRegsField]       # where the predicate reads them
    readable: str                         # which registers those are, said to a user
    first_argument: int                   # GDB's number of the first argument's register
    full_names: Tuple[str, ...]           # registers a bare name in a condition means
    sub_registers: Dict[str, SubRegister]  # pseudo-registers, bare or `$`
    bare_only_sub_registers: Dict[str, SubRegister] = field(default_factory=dict)
    aliases: Dict[str, str] = field(default_factory=dict)         # bare name -> register
    dollar_aliases: Dict[str, str] = field(default_factory=dict)  # `$name` -> register
    thread_bases: Dict[int, str] = field(default_factory=dict)  # GDB number -> thread_struct
    dwarf_registers: Tuple[str, ...] = ()  # DWARF register numbers, for the CFI (elf/cfi.py)
    # The kernel steps a thread over a user breakpoint itself, and there is no resume flag:
    # GDB's side settles and passes it (gdbside/passing.py).
    kernel_steps_over: bool = False
    watch_problem: str = ""               # why hwatch-if is GDB's own watchpoint there
    agent_problem: str = ""               # why the agent beside gdbserver cannot serve it

    def register_name(self, number: int) -> str:
        return self.registers.get(number, f"register {number}")

    def __str__(self) -> str:
        return self.name
