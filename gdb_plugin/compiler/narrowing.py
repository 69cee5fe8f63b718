"""How the GDB in use narrows an integer that does not fit its type.

C, GDB 13 and GDB 18 keep the low bits of the two's complement: `(short)-70000` is -4464
and `-70000 << 16` is -292552704.  GDB 16 (measured: 16.3) keeps the low bits of the
magnitude when a negative value is at least 2**bits in size: `(short)-70000` is 4464 and
`-70000 << 16` is 292552704; smaller negative values it narrows as C does.  On such a GDB
the predicate leaves exactly those hits to GDB (lower.py): the stops stay GDB's.
"""

_gdb_truncates_magnitude = False


def gdb_truncates_magnitude() -> bool:
    return _gdb_truncates_magnitude


def set_gdb_truncates_magnitude(truncates: bool) -> None:
    """Said once, by the GDB layer, from GDB's own value of `(short)-70000`."""
    global _gdb_truncates_magnitude
    _gdb_truncates_magnitude = truncates
