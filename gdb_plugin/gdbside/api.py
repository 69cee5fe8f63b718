"""The Python API for scripts running inside GDB (`gdb -batch -x script.py`)."""
from typing import List, Optional

import gdb

from . import arming
from .cmdline import Request
from .commands import as_gdb_error
from .create import create
from .model import HBreakIf, registry


class HBreakIfBreakpoint:
    """A handle on one hbreak-if breakpoint; all numbers are read live."""

    def __init__(self, bp: HBreakIf):
        self._bp = bp

    @property
    def number(self) -> int:
        return self._bp.number

    @property
    def location(self) -> str:
        return self._bp.location

    @property
    def condition(self) -> Optional[str]:
        return self._bp.condition

    @property
    def tier(self) -> str:
        return self._bp.tier.name

    @property
    def reason(self) -> str:
        return self._bp.reason

    @property
    def hits(self) -> int:
        """How many times a thread reached the location (filtered or not)."""
        return arming.kernel_hits(self._bp)

    @property
    def stops(self) -> int:
        return self._bp.stops

    @property
    def enabled(self) -> bool:
        return self._bp.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._bp.catchpoint.enabled = value

    def is_valid(self) -> bool:
        return registry.get(self._bp.number) is self._bp

    def delete(self) -> None:
        if self.is_valid():
            self._bp.catchpoint.delete()

    def __repr__(self):
        return (f"<hbreak-if {self.number} {self.location} if {self.condition!r}: "
                f"{self.tier} tier, {self.hits} hits, {self.stops} stops>")


def hbreak_if(location: str, condition: Optional[str] = None, *, temporary: bool = False,
              thread: Optional[int] = None, ignore: int = 0) -> HBreakIfBreakpoint:
    """Set an hbreak-if breakpoint, as the command does; raises gdb.GdbError on bad input."""
    request = Request(location=location, condition=condition, temporary=temporary,
                      thread=thread, ignore=ignore)
    return HBreakIfBreakpoint(as_gdb_error(lambda: create(request)))


def breakpoints() -> List[HBreakIfBreakpoint]:
    return [HBreakIfBreakpoint(bp) for bp in registry]


def last_hit() -> Optional[HBreakIfBreakpoint]:
    """The breakpoint behind the latest hbreak-if stop ($_hbreak_if), if it still exists."""
    number = gdb.convenience_variable("_hbreak_if")
    bp = registry.get(int(number)) if number is not None else None
    return HBreakIfBreakpoint(bp) if bp is not None else None
