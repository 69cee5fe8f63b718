"""`hbreak-if LOCATION CONDITION`: a code breakpoint, GDB resolving LOCATION.

The breakpoint is GDB's own breakpoint at LOCATION with the condition (its carrier, kept out
of the program: carriers.py; `bp.catchpoint` and `bp.tracker` are both that breakpoint): GDB
parses the condition at every location exactly as for `break LOCATION if CONDITION`, and
re-resolves the locations on PIE relocation, library loads and exec.  The predicate is
compiled at each address from GDB's AX for the condition there.
"""
from typing import Dict, List, Optional

import gdb

from ...compiler import CompileError, compile_condition, rewrite_registers, stop_on_match
from ...compiler.hazards import flags_as_integers
from .. import carriers
from ..agent import agent_eval_at, compiling, is_program_symbol, settled
from ..callerfacts import FactsAt


def linespec_of(location: str):
    """The location as a linespec for `maint agent-eval -at`, if it is one (not `*ADDRESS`,
    not an explicit `-function F -line N`)."""
    return None if location.lstrip().startswith(("*", "-")) else location


def gdb_condition(tracker: gdb.Breakpoint, condition: Optional[str]) -> Optional[str]:
    """CONDITION as GDB must read it at TRACKER's location: bare register names (rax, eax, ...)
    become $rax, ..., unless a program symbol of that name is in scope at the location's first
    address (GDB's own lookup there, as for the kernel predicate).  Text the rewrite cannot
    read goes to GDB as it is: GDB's parser then names the problem."""
    if not condition:
        return None
    address = min((loc.address for loc in tracker.locations if loc.address), default=None)
    try:
        # At the stop of a hardware breakpoint eflags.RF is set; at GDB's own breakpoint not.
        return flags_as_integers(rewrite_registers(condition, is_program_symbol(address)))
    except (CompileError, RecursionError):
        return condition


class CodeBreakpoint:
    """The kind every other kind is told apart from: each member is one question the GDB
    layer asks of a breakpoint."""

    name = "hbreak-if"          # the command that sets it
    location_word = "at"        # `info hbreak-if`: LOCATION at ADDRESSES
    in_code = True              # armed only where its address is executable
    notes_hits = False          # its predicate notes each stopping hit in the mailbox
    needs_local_kernel = False  # a remote target's agent cannot arm it
    kernel_counts_ignores = True
    reassessed = True           # a new condition may change its tier
    carried = True              # its stops are carried by GDB's own breakpoint (carriers.py)

    def options(self, bp) -> List[str]:
        """The options of the command that sets it again, besides -t, -thread and -ignore."""
        return []

    def condition_text(self, bp) -> Optional[str]:
        return bp.condition

    def gdb_condition(self, bp) -> Optional[str]:
        """The condition as GDB evaluates it at a stop (register names rewritten)."""
        return bp.rewritten

    def own_condition(self, bp) -> str:
        """The condition of the GDB breakpoint that is this one."""
        return carriers.condition(bp)

    def write_own_condition(self, bp) -> None:
        carriers.set_condition(bp)

    def addresses(self, bp) -> List[int]:
        if not bp.tracker.is_valid():
            return []
        return sorted({loc.address for loc in bp.tracker.locations if loc.address})

    def describe_location(self, bp) -> str:
        if not bp.tracker.is_valid() or not bp.tracker.locations:
            return f"{bp.location} (pending)"
        parts = []
        for loc in bp.tracker.locations:
            where = f"{loc.address:#x}"
            if loc.source:
                where += f": file {loc.source[0]}, line {loc.source[1]}"
            parts.append(where)
        return "; ".join(parts)

    def info_lines(self, bp) -> List[str]:
        """Lines of its own in `info hbreak-if`."""
        return []

    def mi_type(self, bp) -> str:
        return "hw breakpoint"

    def mi_record(self, bp, heading, state, tier) -> Dict[str, object]:
        """`bkpt` as -break-insert gives it for a hardware breakpoint, with the tier."""
        fields = dict(heading)
        locations = list(bp.tracker.locations) if bp.tracker.is_valid() else []
        if not locations:
            fields.update(addr="<PENDING>", pending=bp.location)
        elif len(locations) == 1:
            fields.update(_location_fields(locations[0]))
        else:
            fields["addr"] = "<MULTIPLE>"
        fields.update(state)
        fields["original-location"] = bp.location
        fields.update(self.mi_extra(bp))
        fields.update(tier)
        if len(locations) > 1:
            fields["locations"] = [
                {"number": f"{bp.number}.{index}", "enabled": "y" if bp.enabled else "n",
                 **_location_fields(loc)} for index, loc in enumerate(locations, 1)]
        return fields

    def mi_extra(self, bp) -> Dict[str, object]:
        return {}

    def stop_on_match(self, bp):
        """What its predicate does on a match in the kernel tier."""
        return stop_on_match()

    def compile(self, bp, address: int, on_match, may_move_pc: bool = False):
        """The condition compiled at `address`; moving the pc is for user commands only."""
        agent_eval = agent_eval_at(address, linespec_of(bp.location), may_move_pc)
        with compiling():
            return compile_condition(bp.condition or "1", agent_eval,
                                     is_program_symbol(address), on_match=on_match,
                                     callers=FactsAt(address))

    def program(self, bp):
        """A program of its own, the same at every address; None: compiled at each."""
        return None

    def settled(self, bp, address: int) -> bool:
        """Whether GDB has re-resolved the location in the program image that runs."""
        return settled(address, linespec_of(bp.location))

    def perf_shape(self, bp) -> Dict[str, object]:
        """The perf breakpoint's type and length, where not an instruction breakpoint's."""
        return {}

    def before_condition(self, bp) -> None:
        """Before GDB evaluates the condition at a hit."""

    def retried(self, bp, thread) -> bool:
        """Whether this hit is let go to be decided again (it did not decide)."""
        return False

    def stop_heading(self, bp) -> str:
        """The report of a stop, before the frame."""
        return f"\n{self.name} {bp.number}, "

    def refused(self, bp, cause) -> bool:
        """The kernel refused it something: True if it is left unarmed, without a fallback."""
        return False

    def take_condition(self, bp, condition: Optional[str]) -> bool:
        """`condition N EXPR`: whether the condition changed."""
        before = bp.condition, bp.rewritten
        bp.condition, bp.rewritten = condition or None, gdb_condition(bp.tracker, condition)
        try:
            self.write_own_condition(bp)  # GDB parses it at every location
        except gdb.error as error:
            bp.condition, bp.rewritten = before
            gdb.write(f"hbreak-if {bp.number}: condition not changed: {error}\n", gdb.STDERR)
        return True

    def release(self, bp) -> None:
        """It is deleted: what it holds goes."""


def _location_fields(location) -> Dict[str, object]:
    fields: Dict[str, object] = {"addr": f"{location.address:#018x}"}  # as GDB pads it
    if location.function:
        fields["func"] = location.function
    if location.source:
        fields["file"] = location.source[0]
        if location.fullname:
            fields["fullname"] = location.fullname
        fields["line"] = str(location.source[1])
    fields["thread-groups"] = [f"i{number}" for number in location.thread_groups]
    return fields


CODE = CodeBreakpoint()
