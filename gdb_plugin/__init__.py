"""hbreak-if: conditional hardware breakpoints whose condition is evaluated in the kernel.

The pure layers (ebpf, kernel, compiler) import no `gdb`; the `gdbside` package wires them
into GDB and is loaded by `plugin.py`, the file users `source`.
"""
