"""hbreak-if: conditional hardware breakpoints whose condition is evaluated in the kernel.

The pure layers (ebpf, kernel, compiler) import no `gdb`; the `gdbside` package wires them
into GDB and is loaded by `plugin.py`, the file users `source`.
"""


def hbreak_if(location, condition=None, **options):
    """Set an hbreak-if breakpoint from a script running in GDB; see gdbside.api."""
    from .gdbside.api import hbreak_if as create
    return create(location, condition, **options)


def breakpoints():
    """Handles on every hbreak-if breakpoint of this GDB session."""
    from .gdbside.api import breakpoints as all_breakpoints
    return all_breakpoints()
