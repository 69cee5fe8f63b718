"""The hbreak-if breakpoints of this GDB session.

Each one is a GDB breakpoint of its own, whose number is the hbreak-if's, so GDB's own
delete, disable, enable, ignore, commands and condition apply to it (`catchpoint`): a code
breakpoint's carrier (carriers.py), an hwatch-if's catchpoint on SIGTRAP, silent and
conditional on `$_hbreak_if_hit(N, "COMMAND")`.  COMMAND, in either condition, is the command
that sets it again: `save breakpoints` writes it, and sourcing the file makes it again
(saved.py).  What it is and where (LOCATION, resolved by GDB, or a watched address) is its
kind's (kinds/).
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Set

import gdb

HIT_FUNCTION = "_hbreak_if_hit"  # a catchpoint's condition: is this signal a hit (hits.py)
AT_FUNCTION = "_hbreak_if_at"  # opens a carrier's condition (carriers.py)


@dataclass(eq=False)
class WatchSpec:
    expression: str
    address: int
    value_type: gdb.Type
    kind: str                    # write, read or access (compiler/watch.py)
    gdb_condition: Optional[str]  # $new rewritten to the watched memory
    state: object                # counter_array: the last value seen, the old value of a hit

    @property
    def length(self) -> int:
        return self.value_type.sizeof


@dataclass(eq=False)
class HBreakIf:
    kind: object                 # kinds/: CODE, C_PREDICATE or WATCH
    catchpoint: gdb.Breakpoint
    tracker: Optional[gdb.Breakpoint]  # a code breakpoint's location (kinds/code.py)
    location: str
    condition: Optional[str]
    tier: str
    reason: str
    thread: Optional[gdb.InferiorThread] = None
    stops: int = 0
    hits_outside_open_events: int = 0  # closed events' counts, and steps that landed here
    hits_at_last_stop: int = 0
    software_hits: int = 0
    int3_at: Set[int] = field(default_factory=set)  # locations GDB's int3 serves (fallback.py)
    rewritten: Optional[str] = None  # a code breakpoint's condition as GDB evaluates it
    remote: Optional[gdb.Breakpoint] = None  # GDB's own breakpoint while the program is remote
    local_tier: Optional[tuple] = None  # (tier, reason) to return to when it is local again
    by_agent: bool = False  # armed on a remote target by the agent beside gdbserver
    c_predicate: Optional[object] = None  # a raw C predicate (gdb_plugin.cpred), instead of CONDITION
    ignore_counter: Optional[object] = None  # the ignore count, where the kernel keeps it
    watch: Optional[WatchSpec] = None
    unarmable: Optional[str] = None  # why the kernel refused a watchpoint
    compile_at_next_stop: bool = False  # its predicates let through what GDB had no chance to compile
    notes: list = field(default_factory=list)
    sourced: bool = False  # made again from a saved catchpoint, older than its tracker
    made_temporary: bool = False  # sourced back: GDB saves a tcatch as a catch
    ignore_in_kernel: int = 0  # the ignore count the kernel kept, as last seen: in `command`

    @property
    def software(self) -> bool:
        """GDB's own int3 serves it at every location (the carrier in): a code breakpoint whose
        hits GDB decides, or a uprobe decides over GDB's int3."""
        return self.kind.carried and self.tier.int3

    @property
    def uses_perf(self) -> bool:
        """Hits come from a perf breakpoint (every tier but the software and remote ones)."""
        return not self.software and self.remote is None and self.unarmable is None

    @property
    def sigtrap(self) -> bool:
        """The perf event itself raises SIGTRAP; in kernel-signal the predicate signals."""
        return not self.tier.signals

    def __post_init__(self):
        # Kept, since the catchpoint object is invalid once GDB has deleted it.
        self.number = self.catchpoint.number if self.catchpoint is not None else 0

    @property
    def enabled(self) -> bool:
        return self.catchpoint.is_valid() and self.catchpoint.enabled

    @property
    def temporary(self) -> bool:
        return self.made_temporary or self.catchpoint.temporary

    @property
    def marker(self) -> str:
        return self.marker_of(HIT_FUNCTION)

    def marker_of(self, function: str) -> str:
        """`$FUNCTION(N, "COMMAND")`: a condition that names the command setting it again."""
        quoted = self.command.replace("\\", "\\\\").replace('"', '\\"')
        return f'${function}({self.number}, "{quoted}")'

    @property
    def command(self) -> str:
        """The command that sets this breakpoint again (an ignore count GDB saves itself)."""
        words = [self.kind.name, *self.kind.options(self)]
        if self.catchpoint.is_valid() and self.temporary:
            words.append("-t")
        if self.thread is not None:
            words.append(f"-thread {self.thread.num}")
        if self.ignore_in_kernel:
            words.append(f"-ignore {self.ignore_in_kernel}")  # GDB saves the catchpoint's
        words.append(self.location)
        condition = self.kind.condition_text(self)
        if condition:
            words.append(condition)
        return " ".join(words)

    @property
    def gdb_condition(self) -> Optional[str]:
        """The condition as GDB evaluates it (register names rewritten)."""
        return self.kind.gdb_condition(self)

    def addresses(self):
        return self.kind.addresses(self)

    def wants_thread(self, thread: gdb.InferiorThread) -> bool:
        return self.thread is None or self.thread == thread


class Registry:
    """Breakpoints by number, and by their tracker's number."""

    def __init__(self):
        self._by_number: Dict[int, HBreakIf] = {}
        self._numbers_ever: Set[int] = set()

    def add(self, bp: HBreakIf) -> None:
        self._by_number[bp.number] = bp
        self._numbers_ever.add(bp.number)

    def ever_had(self, number: int) -> bool:
        """Whether an hbreak-if had this number in this session (a deleted one's signal may
        still be on its way)."""
        return number in self._numbers_ever

    def remove(self, bp: HBreakIf) -> None:
        self._by_number.pop(bp.number, None)

    def get(self, number: int) -> Optional[HBreakIf]:
        return self._by_number.get(number)

    def for_gdb_breakpoint(self, gdb_bp: gdb.Breakpoint) -> Optional[HBreakIf]:
        for bp in self._by_number.values():
            if gdb_bp in (bp.catchpoint, bp.tracker):
                return bp
        return None

    def __iter__(self):
        return iter(sorted(self._by_number.values(), key=lambda bp: bp.number))

    def __len__(self):
        return len(self._by_number)


registry = Registry()

