"""The ptrace tier without a debug register: an internal software breakpoint."""
import gdb

from . import hits
from .model import StandIn


class SoftwareBreakpoint(StandIn, gdb.Breakpoint):
    """Stops where hbreak-if `owner` would, reporting as it; mirrors its state and commands."""

    def __init__(self, owner):
        super().__init__(owner.location, internal=True)
        self.owner = owner
        self.hits = 0  # GDB's hit_count counts only the stops
        self.silent = True
        self.mirror()

    def stop(self):
        self.hits += 1
        return hits.accept(self.owner)
