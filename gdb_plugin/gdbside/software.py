"""The ptrace tier without a debug register: an internal software breakpoint."""
import gdb

from . import hits


class SoftwareBreakpoint(gdb.Breakpoint):
    """Stops where hbreak-if `owner` would, reporting as it; mirrors its state and commands."""

    def __init__(self, owner):
        super().__init__(owner.location, internal=True)
        self.owner = owner
        self.hits = 0  # GDB's hit_count counts only the stops
        self.silent = True
        self.mirror()

    def mirror(self):
        self.enabled = self.owner.enabled
        self.thread = self.owner.thread.global_num if self.owner.thread is not None else None
        self.commands = self.owner.catchpoint.commands or ""

    def stop(self):
        self.hits += 1
        return hits.accept(self.owner)
